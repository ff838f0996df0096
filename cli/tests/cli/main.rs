//! The `tether` binary end to end: against a fake daemon on a temporary socket (forwards, exec,
//! cp and sessions), against no daemon at all, and with its stdout closed.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use tether_testsupport::TempDir;
use tokio::process::Command;

mod fake;
mod real;
mod remote;
mod sessions;

const BIN: &str = env!("CARGO_BIN_EXE_tether");

/// Runs `tether --no-autostart --socket SOCKET ARGS...` with a deadline.
async fn tether(socket: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.arg("--no-autostart").arg("--socket").arg(socket).args(args);
    command
        .env_remove("TETHER_SOCKET")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    let output = tokio::time::timeout(Duration::from_secs(20), command.output()).await;
    output.expect("tether finishes in time").expect("tether runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

#[tokio::test]
async fn forwards_are_created_listed_and_removed() {
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    let s = &daemon.socket;

    let out = tether(s, &["forward", "svc/db", "5432", "-n", "shop"]).await;
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "forward db created: 127.0.0.1:5432 -> svc/db:5432\n")
    );

    let out = tether(s, &["forward", "deploy/web", "8080:80", "--wait", "--timeout", "5s"]).await;
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "127.0.0.1:8080\n"), "{}", stderr(&out));

    // The same spec again: the forward as it is, and a note.
    let out = tether(s, &["forward", "svc/db", "5432", "-n", "shop"]).await;
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "forward db: 127.0.0.1:5432 -> svc/db:5432\n")
    );
    assert!(stderr(&out).contains("forward db already existed"), "{}", stderr(&out));

    // Another spec under the name: the daemon's message, with its one piece of advice.
    let out = tether(s, &["forward", "svc/db", "5433"]).await;
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("a forward of that name exists with spec.ports"), "{err}");
    assert_eq!(err.matches("tether rm").count(), 1, "one hint: {err}");

    let out = tether(s, &["ls"]).await;
    let text = stdout(&out);
    assert!(text.starts_with("NAME   TARGET       PORTS       STATE"), "{text}");
    assert!(text.contains("web    deploy/web   8080:80     Ready        web-0"), "{text}");

    let out = tether(s, &["ls", "-o", "json"]).await;
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(list["items"][0]["namespace"], "shop");
    assert_eq!(list["items"][1]["status"]["phase"], "Ready");

    let out = tether(s, &["pause", "db"]).await;
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "forward db paused; its local ports stay reserved\n")
    );

    let out = tether(s, &["rm", "db", "nope"]).await;
    assert_eq!((code(&out), stdout(&out).as_str()), (1, "forward db deleted\n"));
    assert!(
        stderr(&out).contains("forward nope not found; list the forwards with `tether ls`"),
        "{}",
        stderr(&out)
    );

    let out = tether(s, &["rm", "--all"]).await;
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "forward web deleted\n"));
}

#[tokio::test]
async fn wait_failures_and_rejections_have_their_exit_codes() {
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    let s = &daemon.socket;

    let out = tether(s, &["forward", "pod/broken", "80", "--wait"]).await;
    assert_eq!((code(&out), stdout(&out).as_str()), (4, ""));
    assert!(
        stderr(&out).contains("forward broken failed: Forbidden: pods is forbidden"),
        "{}",
        stderr(&out)
    );

    let out = tether(s, &["forward", "", "80"]).await;
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("failed to create forward : target: must not be empty"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn events_print_the_snapshot_then_stop() {
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    let s = &daemon.socket;
    tether(s, &["forward", "svc/db", "5432", "--wait"]).await;
    tether(s, &["forward", "svc/web", "80", "--wait"]).await;

    let out = tether(s, &["events", "web"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "2024-05-01T12:00:00.000Z web Ready pod=web-0 addresses=127.0.0.1:80\n"
    );
}

#[tokio::test]
async fn daemon_status_and_stop() {
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    let s = daemon.socket.clone();

    let out = tether(&s, &["daemon", "status"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("version: 0.0.0-fake\napi_major: 1\npid: 4242\n"),
        "{}",
        stdout(&out)
    );

    let out = tether(&s, &["daemon", "stop"]).await;
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "tetherd stopped\n"), "{}", stderr(&out));
    tokio::time::timeout(Duration::from_secs(5), daemon.task)
        .await
        .expect("fake stops")
        .expect("fake ends");

    for args in [&["daemon", "status"][..], &["daemon", "stop"]] {
        let out = tether(&s, args).await;
        assert_eq!(code(&out), 3, "{args:?}");
        assert!(stderr(&out).contains("tetherd is not running"), "{}", stderr(&out));
    }
}

#[tokio::test]
async fn no_daemon_and_no_autostart_is_an_error_with_advice() {
    let dir = TempDir::new("cli");
    let out = tether(&dir.join("none.sock"), &["ls"]).await;
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("is the daemon running?"), "{}", stderr(&out));
}

#[tokio::test]
async fn autostart_reports_a_missing_daemon_binary() {
    let dir = TempDir::new("cli");
    let mut command = Command::new(BIN);
    command.arg("--socket").arg(dir.join("tetherd.sock")).arg("ls");
    command.env("TETHER_DAEMON_BIN", dir.join("no-tetherd")).env_remove("TETHER_SOCKET");
    let out = command.output().await.expect("runs");
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("failed to start tetherd"), "{}", stderr(&out));
}

#[test]
fn a_closed_stdout_is_a_clean_exit() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = std::process::Command::new(BIN)
        .args(["completion", "bash"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

/// A daemon in a folder others may write to (or that is not ours) could be anyone's: the CLI
/// refuses it before sending a byte, naming the owner and the mode.
#[tokio::test]
async fn a_socket_in_a_folder_others_may_write_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new("untrusted");
    let daemon = fake::start(dir.path());
    let out = tether(&daemon.socket, &["ls"]).await;
    assert_eq!(code(&out), 0, "trusted while private: {}", stderr(&out));
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = tether(&daemon.socket, &["ls"]).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("with mode 0777"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "nothing of that daemon's answer is shown");
}
