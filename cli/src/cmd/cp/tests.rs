//! kubectl's file-spec grammar, its path rules, and the tar kubectl would send.

use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;

use super::pack;
use super::spec::{self, Copy, FileSpec, parse, plan};
pub use tether_testsupport::TempDir;

fn remote(namespace: Option<&str>, pod: &str, path: &str) -> FileSpec {
    FileSpec::Remote { namespace: namespace.map(Into::into), pod: pod.into(), path: path.into() }
}

#[test]
fn file_specs_parse_as_kubectl_reads_them() {
    assert_eq!(parse("dir/file"), Ok(FileSpec::Local("dir/file".into())));
    assert_eq!(parse("dir/"), Ok(FileSpec::Local("dir".into())));
    assert_eq!(parse("/"), Ok(FileSpec::Local("/".into())));
    assert_eq!(parse("web-0:/tmp/x"), Ok(remote(None, "web-0", "/tmp/x")));
    assert_eq!(parse("shop/web-0:/tmp/x/"), Ok(remote(Some("shop"), "web-0", "/tmp/x")));
    assert_eq!(parse("web-0:a:b"), Ok(remote(None, "web-0", "a:b")), "the first colon splits");
    assert_eq!(parse("web-0:"), Ok(remote(None, "web-0", "")));
    assert_eq!(parse("web-0:c\\d"), Ok(remote(None, "web-0", "c/d")));
    assert_eq!(parse("/web-0:x"), Ok(remote(None, "web-0", "x")), "an empty namespace is -n's");
    for bad in [":x", "a/b/c:x", "ns/:x"] {
        assert_eq!(parse(bad), Err(spec::BAD_FORMAT), "{bad}");
    }
}

#[test]
fn one_side_must_be_local_and_the_other_remote() {
    assert_eq!(
        plan("src", "ns/p:/dst"),
        Ok(Copy::ToPod {
            src: "src".into(),
            namespace: Some("ns".into()),
            pod: "p".into(),
            dest: "/dst".into()
        })
    );
    assert_eq!(
        plan("p:/var/log/", "."),
        Ok(Copy::FromPod {
            namespace: None,
            pod: "p".into(),
            src: "/var/log".into(),
            dest: ".".into()
        })
    );
    assert_eq!(plan("a:x", "b:y"), Err("one of src or dest must be a local file specification"));
    assert_eq!(plan("x", "y"), Err("one of src or dest must be a remote file specification"));
    assert_eq!(plan("file", "p:"), Err("filepath can not be empty"));
    assert_eq!(plan("", "p:/x"), Err("filepath can not be empty"));
}

#[test]
fn go_path_rules() {
    for (path, want) in [
        ("", "."),
        ("a//b/./c/", "a/b/c"),
        ("/../a", "/a"),
        ("../../a/../b", "../../b"),
        ("a/../..", ".."),
        ("/", "/"),
    ] {
        assert_eq!(spec::clean(path), want, "clean({path:?})");
    }
    assert_eq!(
        (spec::base("/tmp/x/"), spec::base("/"), spec::base("")),
        ("x".into(), "/".into(), ".".into())
    );
    assert_eq!(
        (spec::dir("/tmp/x"), spec::dir("x"), spec::dir("/x")),
        ("/tmp".into(), ".".into(), "/".into())
    );
    assert_eq!(spec::join("out", "/a"), "out/a");
    assert_eq!(spec::join("out", ""), "out");
}

#[test]
fn uploads_land_like_kubectls() {
    // An existing folder keeps the source's name inside it.
    assert_eq!(spec::upload_target("src", "/tmp/dst", true), ("src".into(), "/tmp/dst".into()));
    assert_eq!(spec::upload_target("a/b.txt", "/tmp", true), ("b.txt".into(), "/tmp".into()));
    // Anything else is renamed to the destination.
    assert_eq!(spec::upload_target("src", "/tmp/dst", false), ("dst".into(), "/tmp".into()));
    assert_eq!(spec::upload_target("a.txt", "x", false), ("x".into(), ".".into()));
    assert_eq!(spec::upload_target(".", "/srv", true), ("srv".into(), "/".into()));
}

#[test]
fn download_prefixes_match_gnu_tar_names() {
    assert_eq!(spec::download_prefix("/tmp/dst"), "tmp/dst");
    assert_eq!(spec::download_prefix("/tmp/dst/"), "tmp/dst");
    assert_eq!(spec::download_prefix("rel/x"), "rel/x");
    assert_eq!(spec::download_prefix("../../etc"), "etc");
    assert_eq!(spec::download_prefix("/"), "");
    assert_eq!(spec::download_prefix("."), "");
}

/// The entries of a tar: name, type, link target, data.
fn entries(tar: &[u8]) -> Vec<(String, tar::EntryType, String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar);
    let mut out = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let link = entry.link_name_bytes().map(|l| String::from_utf8_lossy(&l).into_owned());
        let kind = entry.header().entry_type();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("data");
        out.push((name, kind, link.unwrap_or_default(), data));
    }
    out
}

#[test]
fn packs_a_tree_as_kubectl_does() {
    let dir = TempDir::new("pack");
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("sub")).expect("sub");
    fs::create_dir_all(src.join("empty")).expect("empty");
    fs::write(src.join("a.txt"), "hello").expect("a");
    fs::write(src.join("sub/b.txt"), "b").expect("b");
    symlink("a.txt", src.join("link")).expect("link");
    let long = "n".repeat(150);
    fs::write(src.join(&long), "long").expect("long");
    let plain = |file: fs::File| Box::new(file) as Box<dyn Read>;
    let mut warnings = Vec::new();
    let tar = pack::pack(&src, "dst", Vec::new(), &plain, &mut |w| warnings.push(w)).expect("pack");
    let got = entries(&tar);
    let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
    let long_name = format!("dst/{long}");
    assert_eq!(names, ["dst/a.txt", "dst/empty", "dst/link", &long_name, "dst/sub/b.txt"]);
    assert_eq!(got[0].3, b"hello");
    assert_eq!(got[1].1, tar::EntryType::Directory, "empty folders get an entry");
    assert_eq!((got[2].1, got[2].2.as_str()), (tar::EntryType::Symlink, "a.txt"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(pack::total_size(&src), 5 + 1 + 4);

    let file =
        pack::pack(&src.join("a.txt"), "x.txt", Vec::new(), &plain, &mut |_| {}).expect("pack");
    assert_eq!(entries(&file).into_iter().map(|e| e.0).collect::<Vec<_>>(), ["x.txt"]);
}

#[tokio::test]
async fn the_chunk_writer_sends_32k_chunks() {
    let (chunk_tx, mut chunk_rx) = tokio::sync::mpsc::channel(64);
    let writer = tokio::task::spawn_blocking(move || {
        let mut w = pack::ChunkWriter::new(chunk_tx);
        std::io::Write::write_all(&mut w, &[1; 70_000])?;
        std::io::Write::flush(&mut w)
    });
    let mut sizes = Vec::new();
    while let Some(chunk) = chunk_rx.recv().await {
        sizes.push(chunk.len());
    }
    writer.await.expect("joins").expect("writes");
    assert_eq!(sizes, [32 * 1024, 32 * 1024, 70_000 - 64 * 1024]);
}
