//! `tether exec` and `tether cp` against the fake SessionService: output byte for byte as kubectl
//! prints it against the emulated cluster, exit codes, and the tars that go each way.

use std::fs;
use std::io::Read as _;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use tether_testsupport::TempDir;

use super::{BIN, code, fake, stderr, stdout};

/// Runs `tether --no-autostart --socket SOCKET ARGS...` in `cwd` with `input` on stdin (none:
/// /dev/null).
async fn run(socket: &Path, cwd: &Path, args: &[&str], input: Option<Vec<u8>>) -> Output {
    let mut command = Command::new(BIN);
    command.arg("--no-autostart").arg("--socket").arg(socket).args(args).current_dir(cwd);
    command.env_remove("TETHER_SOCKET").env_remove("KUBECONFIG").env("NO_COLOR", "1");
    command.stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    command.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = command.spawn().expect("tether runs");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("stdin");
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
    }
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await;
    output.expect("tether finishes in time").expect("tether runs")
}

#[tokio::test]
async fn exec_pipes_10_mib_of_stdin_through_and_back() {
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    let input: Vec<u8> = (0..10 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let out = run(
        &daemon.socket,
        dir.path(),
        &["exec", "-i", "toolbox", "--", "cat"],
        Some(input.clone()),
    )
    .await;
    assert_eq!((code(&out), stderr(&out).as_str()), (0, ""));
    assert!(out.stdout == input, "cat echoed {} of {} bytes", out.stdout.len(), input.len());
    let started = daemon.sessions.script().started.clone();
    assert!(started[0].stdin && !started[0].tty, "{started:?}");
}

#[tokio::test]
async fn exec_output_and_exit_codes_are_kubectls() {
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    let s = &daemon.socket;
    let cases: [(&[&str], i32, &str, &str); 7] = [
        (&["toolbox", "--", "exit", "3"], 3, "out\n", "err\ncommand terminated with exit code 3\n"),
        (&["toolbox", "--", "exit", "0"], 0, "out\n", "err\n"),
        (
            &["toolbox", "--", "exit", "255"],
            255,
            "out\n",
            "err\ncommand terminated with exit code 255\n",
        ),
        (
            &["toolbox", "--", "no-such-command"],
            1,
            "",
            "error: Internal error occurred: error executing command in container: failed to exec \
             in container: failed to start exec: OCI runtime exec failed: exec failed: unable to \
             start container process: exec: \"no-such-command\": executable file not found in \
             $PATH: unknown\n",
        ),
        (
            &["toolbox", "-c", "nope", "--", "true"],
            1,
            "",
            "Error from server (BadRequest): container nope is not valid for pod toolbox\n",
        ),
        (
            &["nopod", "--", "true"],
            1,
            "",
            "Error from server (NotFound): pods \"nopod\" not found\n",
        ),
        (&["toolbox", "--", "warn"], 0, "", "warning: stdin EOF cannot be signalled\n"),
    ];
    for (args, want_code, want_out, want_err) in cases {
        let args: Vec<&str> = ["exec"].iter().chain(args).copied().collect();
        let out = run(s, dir.path(), &args, None).await;
        assert_eq!(
            (code(&out), stdout(&out).as_str(), stderr(&out).as_str()),
            (want_code, want_out, want_err),
            "{args:?}"
        );
    }
}

#[tokio::test]
async fn exec_without_a_terminal_runs_without_a_tty_as_kubectl_does() {
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    let s = &daemon.socket;
    let out = run(s, dir.path(), &["exec", "-it", "toolbox", "--", "tty"], Some(Vec::new())).await;
    assert_eq!(
        (code(&out), stdout(&out).as_str(), stderr(&out).as_str()),
        (
            1,
            "not a tty\n",
            "Unable to use a TTY - input is not a terminal or the right kind of file\n\
             command terminated with exit code 1\n"
        )
    );
    let out = run(s, dir.path(), &["exec", "-t", "toolbox", "--", "tty"], None).await;
    assert_eq!(stderr(&out), "command terminated with exit code 1\n", "-t alone: no warning");
    let out = run(s, dir.path(), &["exec", "-itq", "toolbox", "--", "tty"], Some(Vec::new())).await;
    assert_eq!(stderr(&out), "command terminated with exit code 1\n", "-q: no warning");
    let started = daemon.sessions.script().started.clone();
    assert!(started[0].stdin && !started[0].tty && started[0].size.is_none(), "{:?}", started[0]);
    assert!(!started[1].stdin && !started[1].tty, "{:?}", started[1]);
}

#[tokio::test]
async fn exec_sends_the_target_flags_and_an_absolute_kubeconfig() {
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    let args = [
        "exec",
        "-n",
        "shop",
        "--context",
        "kind",
        "--kubeconfig",
        "rel/cfg",
        "deploy/web",
        "-c",
        "app",
        "--",
        "exit",
        "0",
    ];
    let out = run(&daemon.socket, dir.path(), &args, None).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let spec = daemon.sessions.script().started[0].clone();
    assert_eq!(
        (
            spec.target.as_str(),
            spec.namespace.as_str(),
            spec.context.as_str(),
            spec.container.as_str()
        ),
        ("deploy/web", "shop", "kind", "app")
    );
    assert_eq!(Path::new(&spec.kubeconfig), dir.join("rel/cfg"));
    assert_eq!(spec.command, ["exit", "0"]);
}

/// The entries of a tar: name and data (empty for folders and links).
fn entries(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar);
    let entries = archive.entries().expect("entries").map(|entry| {
        let mut entry = entry.expect("entry");
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("data");
        (name, data)
    });
    entries.collect()
}

fn local_tree(dir: &Path) {
    fs::create_dir_all(dir.join("src/sub")).expect("src");
    fs::write(dir.join("src/a.txt"), "hello").expect("a");
    fs::write(dir.join("src/sub/b.txt"), "b").expect("b");
}

#[tokio::test]
async fn cp_uploads_a_tar_where_kubectl_would() {
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    daemon.sessions.script().dirs.push("/tmp/dst".into());
    local_tree(dir.path());
    let s = &daemon.socket;

    let out = run(s, dir.path(), &["cp", "src", "toolbox:/tmp/dst"], None).await;
    assert_eq!((code(&out), stderr(&out).as_str()), (0, ""));
    let out = run(
        s,
        dir.path(),
        &["cp", "src/a.txt", "shop/toolbox:/tmp/new.txt", "--no-preserve"],
        None,
    )
    .await;
    assert_eq!((code(&out), stderr(&out).as_str()), (0, ""));

    let script = daemon.sessions.script();
    let tests: Vec<&[String]> = script.started.iter().map(|s| &s.command[..]).collect();
    assert_eq!(tests[0], ["test", "-d", "/tmp/dst"]);
    let (command, tar) = &script.uploads[0];
    assert_eq!(command, &["tar", "-xmf", "-", "-C", "/tmp/dst"]);
    assert_eq!(
        entries(tar),
        [("src/a.txt".into(), b"hello".to_vec()), ("src/sub/b.txt".into(), b"b".to_vec())]
    );
    let (command, tar) = &script.uploads[1];
    assert_eq!(
        command,
        &["tar", "--no-same-permissions", "--no-same-owner", "-xmf", "-", "-C", "/tmp"]
    );
    assert_eq!(entries(tar), [("new.txt".into(), b"hello".to_vec())]);
    assert_eq!(script.started[3].namespace, "shop", "the spec's namespace");
}

#[tokio::test]
async fn cp_upload_failures_exit_1_with_advice() {
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    local_tree(dir.path());
    let s = &daemon.socket;
    let out = run(s, dir.path(), &["cp", "src/a.txt", "toolbox:/nodir/x"], None).await;
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.starts_with("tar: /nodir: Cannot open: No such file or directory\n"), "{err}");
    assert!(
        err.contains(
            "error: tar in the container failed (exit code 2); check that the folder /nodir"
        ),
        "{err}"
    );

    let out = run(s, dir.path(), &["cp", "nope", "toolbox:/tmp"], None).await;
    assert_eq!(
        (code(&out), stderr(&out).as_str()),
        (1, "error: nope doesn't exist in local filesystem\n")
    );
    let out = run(s, dir.path(), &["cp", "src", "nopod:/tmp"], None).await;
    assert_eq!(
        (code(&out), stderr(&out).as_str()),
        (1, "Error from server (NotFound): pods \"nopod\" not found\n")
    );
    let out = run(s, dir.path(), &["cp", "a", "b"], None).await;
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).starts_with("error: one of src or dest must be a remote file specification")
    );
}

/// A tar as GNU tar writes `tar cf - /tmp/dst`, plus a tampered `../` entry and a symlink.
fn remote_tar(extra: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for &(name, kind, data, link) in extra {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, data).expect("append");
    }
    builder.into_inner().expect("tar")
}

#[tokio::test]
async fn cp_downloads_and_refuses_what_would_escape() {
    use tar::EntryType::{Directory, Regular, Symlink};
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    let big = vec![7_u8; 300_000];
    let tar = remote_tar(&[
        ("tmp/dst/", Directory, b"", ""),
        ("tmp/dst/a.txt", Regular, b"hello", ""),
        ("tmp/dst/sub/big", Regular, &big, ""),
        ("tmp/dst/link", Symlink, b"", "/etc/passwd"),
        ("tmp/dst/../../evil.txt", Regular, b"evil", ""),
    ]);
    daemon.sessions.script().downloads.insert("/tmp/dst".into(), tar);
    let bad = remote_tar(&[("/etc/passwd", Regular, b"x", "")]);
    daemon.sessions.script().downloads.insert("/tmp/bad".into(), bad);
    let s = &daemon.socket;

    let out = run(s, dir.path(), &["cp", "toolbox:/tmp/dst/", "out"], None).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(fs::read(dir.join("out/a.txt")).expect("a.txt"), b"hello");
    assert!(fs::read(dir.join("out/sub/big")).expect("big") == big);
    assert!(fs::symlink_metadata(dir.join("out/link")).is_err());
    assert!(
        !dir.join("evil.txt").exists() && !dir.parent().expect("parent").join("evil.txt").exists()
    );
    assert_eq!(
        stderr(&out),
        "tar: Removing leading `/' from member names\n\
         warning: skipping symlink: \"out/link\" -> \"/etc/passwd\" (consider using \"tether exec \
         toolbox -- tar cf - /tmp/dst | tar xf -\")\n\
         warning: file \"../evil.txt\" is outside target destination, skipping\n"
    );

    let out = run(s, dir.path(), &["cp", "toolbox:/tmp/bad", "bad"], None).await;
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).ends_with("error: tar contents corrupted\n"), "{}", stderr(&out));
    assert!(!dir.join("bad").exists());

    let out = run(s, dir.path(), &["cp", "toolbox:/tmp/none", "none"], None).await;
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.starts_with("tar: /tmp/none: Cannot stat: No such file or directory\n"), "{err}");
    assert!(
        err.contains(
            "error: tar in the container failed (exit code 2); check that /tmp/none exists"
        ),
        "{err}"
    );
}
