//! `tether session` against the fake SessionService: new prints the id, ls lists, attach replays
//! and streams and exits with the session's code, kill ends it.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use tether_proto::pb;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use tether_testsupport::TempDir;

use super::{BIN, code, fake, stderr, stdout, tether};

/// Runs `tether ... session attach ID` with `input` piped to its stdin.
async fn attach(socket: &Path, id: &str, input: &[u8]) -> Output {
    let mut command = Command::new(BIN);
    command.args(["--no-autostart", "--socket"]).arg(socket).args(["session", "attach", id]);
    command.env_remove("TETHER_SOCKET").env("NO_COLOR", "1").kill_on_drop(true);
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).await.expect("write");
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output()).await;
    output.expect("attach finishes in time").expect("runs")
}

#[tokio::test]
async fn sessions_are_created_listed_attached_and_killed() {
    let dir = TempDir::new("cli");
    let daemon = fake::start(dir.path());
    let s = &daemon.socket;

    let out =
        tether(s, &["session", "new", "-t", "toolbox", "--restart", "never", "--", "sh"]).await;
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "s1\n"), "{}", stderr(&out));
    let out = tether(s, &["session", "new", "--no-stdin", "-n", "shop", "deploy/web"]).await;
    assert_eq!(stdout(&out), "s2\n", "{}", stderr(&out));
    {
        let script = daemon.sessions.script();
        let (shell, attach) = (&script.sessions[0], &script.sessions[1]);
        assert_eq!(shell.kind, i32::from(pb::SessionKind::Exec));
        assert_eq!(shell.restart, i32::from(pb::RestartPolicy::Never));
        let spec = shell.spec.clone().expect("spec");
        assert!(spec.tty && spec.stdin);
        assert_eq!(spec.command, ["sh"]);
        assert_eq!(attach.kind, i32::from(pb::SessionKind::Attach));
        let spec = attach.spec.clone().expect("spec");
        assert!(!spec.stdin && spec.command.is_empty() && spec.namespace == "shop");
    }

    let out = tether(s, &["session", "ls"]).await;
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "ID   KIND     TARGET       POD       PHASE     ATTACHED   OUTPUT   AGE\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("\ns1   Exec     toolbox      toolbox   Running   0          0B"),
        "{text}"
    );
    let out = tether(s, &["session", "ls", "-o", "json"]).await;
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(list["items"][1]["kind"], "Attach");

    let out = attach(s, "s1", b"hi\nbye\n").await;
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\nhi\nbye\n");
    assert_eq!(stderr(&out), "tether: session s1 exited with code 5\n");

    let out = tether(s, &["session", "kill", "s2"]).await;
    assert_eq!((code(&out), stdout(&out).as_str()), (0, "session s2 killed\n"));
    let out = tether(s, &["session", "attach", "s2"]).await;
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("session s2 not found; list the sessions with `tether session ls`"),
        "{}",
        stderr(&out)
    );
}
