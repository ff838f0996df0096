//! Placement of entries and the refusals: `..`, absolute names, symbolic links.

use std::os::unix::fs::symlink;

use tar::{EntryType, Header};

use super::*;
use crate::cmd::cp::tests::TempDir;

fn rules(prefix: &str, dest: &str) -> Rules {
    Rules {
        prefix: prefix.into(),
        dest: dest.into(),
        base: std::env::temp_dir(),
        symlink_hint: "HINT".into(),
    }
}

/// A tar with entries named exactly as given (no checks), as a tampered stream would have.
fn tar(entries: &[(&str, EntryType, &[u8], &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for &(name, kind, data, link) in entries {
        let mut header = Header::new_gnu();
        let slot = &mut header.as_old_mut().name;
        slot[..name.len()].copy_from_slice(name.as_bytes());
        let slot = &mut header.as_old_mut().linkname;
        slot[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, data).expect("append");
    }
    builder.into_inner().expect("finish")
}

fn run(tar: &[u8], rules: &Rules) -> (Result<Stats, UnpackError>, Vec<String>) {
    let mut warnings = Vec::new();
    let result = unpack(tar, rules, &mut |w| warnings.push(w));
    (result, warnings)
}

#[test]
fn names_lose_the_prefix_and_land_under_the_destination() {
    let r = rules("tmp/dst", "out");
    assert_eq!(place(&r, "tmp/dst").ok(), Some(Placement::Inside("out".into())));
    assert_eq!(place(&r, "tmp/dst/").ok(), Some(Placement::Inside("out".into())));
    assert_eq!(place(&r, "tmp/dst/a/b.txt").ok(), Some(Placement::Inside("out/a/b.txt".into())));
    let file = rules("tmp/f.txt", "copy.txt");
    assert_eq!(place(&file, "tmp/f.txt").ok(), Some(Placement::Inside("copy.txt".into())));
    let root = rules("", "/abs/out");
    assert_eq!(place(&root, "etc/x").ok(), Some(Placement::Inside("/abs/out/etc/x".into())));
}

#[test]
fn dot_dot_entries_are_outside_and_skipped() {
    let r = rules("tmp/dst", "out");
    assert_eq!(
        place(&r, "tmp/dst/../../evil").ok(),
        Some(Placement::Outside("../evil".into())),
        "kubectl's cleaned path, for the warning"
    );
    assert!(matches!(place(&r, "tmp/dst/a/../../../x"), Ok(Placement::Outside(_))));
    assert!(matches!(place(&r, "tmp/dst/a/../b"), Ok(Placement::Inside(p)) if p == "out/b"));
    assert!(matches!(place(&rules("", "/"), "../etc/passwd"), Ok(Placement::Outside(_))));

    let dir = TempDir::new("dotdot");
    let dest = dir.path().join("out").display().to_string();
    let stream = tar(&[
        ("tmp/dst/ok.txt", EntryType::Regular, b"ok", ""),
        ("tmp/dst/../../evil.txt", EntryType::Regular, b"evil", ""),
    ]);
    let (result, warnings) = run(&stream, &rules("tmp/dst", &dest));
    assert_eq!(result.expect("unpacks").skipped, 1);
    assert_eq!(fs::read(dir.path().join("out/ok.txt")).expect("ok.txt"), b"ok");
    assert!(!dir.path().join("evil.txt").exists());
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].ends_with("evil.txt\" is outside target destination, skipping"),
        "{warnings:?}"
    );
}

#[test]
fn absolute_names_and_foreign_prefixes_are_corrupted() {
    let r = rules("tmp/dst", "out");
    assert!(matches!(place(&r, "/etc/passwd"), Err(UnpackError::Corrupted)));
    assert!(matches!(place(&r, "etc/passwd"), Err(UnpackError::Corrupted)));
    assert!(matches!(place(&rules("", "out"), "/etc/passwd"), Err(UnpackError::Corrupted)));

    let dir = TempDir::new("absolute");
    let dest = dir.path().join("out").display().to_string();
    let stream = tar(&[("/etc/evil", EntryType::Regular, b"x", "")]);
    let (result, _) = run(&stream, &rules("", &dest));
    let err = result.expect_err("refused");
    assert_eq!(err.to_string(), "tar contents corrupted");
    assert!(!dir.path().join("out").exists());
}

#[test]
fn symlinks_are_skipped_with_kubectls_warning_and_never_followed() {
    let dir = TempDir::new("symlinks");
    let dest = dir.path().join("out").display().to_string();
    let stream = tar(&[
        ("d", EntryType::Directory, b"", ""),
        ("d/up", EntryType::Symlink, b"", "../.."),
        ("d/abs", EntryType::Symlink, b"", "/etc"),
        ("d/up/evil.txt", EntryType::Regular, b"evil", ""),
        ("d/hard", EntryType::Link, b"", "/etc/passwd"),
    ]);
    let (result, warnings) = run(&stream, &rules("d", &dest));
    let stats = result.expect("unpacks");
    assert_eq!(stats, Stats { files: 1, skipped: 3 });
    assert_eq!(
        warnings[0],
        format!("warning: skipping symlink: \"{dest}/up\" -> \"../..\" (consider using \"HINT\")")
    );
    assert_eq!(warnings[1], format!("warning: skipping symlink: \"{dest}/abs\" -> \"/etc\""));
    assert!(warnings[2].starts_with("warning: skipping hard link"), "{warnings:?}");
    assert!(fs::symlink_metadata(dir.path().join("out/up")).expect("a folder").is_dir());
    assert_eq!(fs::read(dir.path().join("out/up/evil.txt")).expect("inside"), b"evil");
    assert!(fs::symlink_metadata(dir.path().join("out/abs")).is_err());
}

#[test]
fn existing_symlinks_in_the_destination_are_not_written_through() {
    let dir = TempDir::new("existing");
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).expect("outside");
    fs::create_dir_all(dir.path().join("out")).expect("out");
    symlink(&outside, dir.path().join("out/link")).expect("link");
    symlink(outside.join("file"), dir.path().join("out/file")).expect("file link");
    let dest = dir.path().join("out").display().to_string();
    let stream = tar(&[
        ("d/link/x", EntryType::Regular, b"x", ""),
        ("d/file", EntryType::Regular, b"y", ""),
    ]);
    let (result, warnings) = run(&stream, &rules("d", &dest));
    assert_eq!(result.expect("unpacks").skipped, 2);
    assert!(warnings.iter().all(|w| w.contains("is behind the symbolic link")), "{warnings:?}");
    assert_eq!(fs::read_dir(&outside).expect("outside").count(), 0);
}

/// `cd dst && tether cp toolbox:data .` wrote through `dst/link` before: the guard compared
/// paths as strings and `.` never matched. Every spelling of the destination, from the folder
/// it is relative to, must skip the entries behind the link.
#[test]
fn links_are_not_written_through_however_the_destination_is_spelled() {
    let dir = TempDir::new("spellings");
    let outside = dir.path().join("outside");
    fs::create_dir_all(&outside).expect("outside");
    let dst = dir.path().join("dst");
    fs::create_dir_all(dst.join("sub")).expect("dst");
    symlink(&outside, dst.join("link")).expect("link");
    symlink(&dst, dir.path().join("dst-link")).expect("a symlinked destination folder");
    let absolute = dst.display().to_string();
    let cases: [(&Path, &str); 6] = [
        (&dst, "."),
        (&dst, "./"),
        (&dst, "sub/.."),
        (&dst, "sub/../."),
        (dir.path(), &absolute),
        (dir.path(), "dst-link"),
    ];
    for (base, dest) in cases {
        let mut r = rules("data", dest);
        r.base = base.to_owned();
        let stream = tar(&[
            ("data/link/evil.txt", EntryType::Regular, b"evil", ""),
            ("data/ok.txt", EntryType::Regular, b"ok", ""),
        ]);
        let (result, warnings) = run(&stream, &r);
        let stats = result.expect("unpacks");
        assert_eq!(stats.skipped, 1, "{dest}: {warnings:?}");
        assert!(warnings[0].contains("is behind the symbolic link"), "{dest}: {warnings:?}");
        assert_eq!(fs::read_dir(&outside).expect("outside").count(), 0, "{dest}: wrote outside");
        assert_eq!(fs::read(dst.join("ok.txt")).expect("written inside"), b"ok", "{dest}");
        fs::remove_file(dst.join("ok.txt")).expect("reset");
    }
}

#[test]
fn a_path_the_guard_cannot_relate_to_the_destination_is_skipped() {
    let base = std::env::temp_dir();
    assert!(symlink_on_the_way(&base, "out", "elsewhere/x").is_some(), "fails closed");
    assert!(symlink_on_the_way(&base, "out", "out/../x").is_some(), "fails closed");
}

#[test]
fn files_and_folders_are_written() {
    let dir = TempDir::new("files");
    let dest = dir.path().join("out").display().to_string();
    let stream = tar(&[
        ("tmp/src/", EntryType::Directory, b"", ""),
        ("tmp/src/empty/", EntryType::Directory, b"", ""),
        ("tmp/src/a/b.txt", EntryType::Regular, b"hello", ""),
    ]);
    let (result, warnings) = run(&stream, &rules("tmp/src", &dest));
    assert_eq!(result.expect("unpacks"), Stats { files: 1, skipped: 0 });
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(dir.path().join("out/empty").is_dir());
    assert_eq!(fs::read(dir.path().join("out/a/b.txt")).expect("b.txt"), b"hello");
}

#[test]
fn a_truncated_stream_is_a_read_error() {
    let mut stream = tar(&[("d/a", EntryType::Regular, &[7; 2000], "")]);
    stream.truncate(1024);
    let dir = TempDir::new("truncated");
    let (result, _) = run(&stream, &rules("d", &dir.path().display().to_string()));
    assert!(matches!(result, Err(UnpackError::Read(_) | UnpackError::Write { .. })), "{result:?}");
}
