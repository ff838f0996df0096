//! Against the real tetherd (started by the CLI itself) and the emulated cluster: forward,
//! list, bad input that changes nothing, remove, and stop.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use tether_testsupport::{TempDir, beside, require};
use tokio::process::Command;

use super::BIN;

/// The tetherd built beside `tether`: `cargo test --workspace` builds it, `cargo test -p
/// tether-cli` alone does not. Missing, the test fails (or skips under TETHER_ALLOW_SKIP=1).
#[track_caller]
fn tetherd() -> Option<PathBuf> {
    let how = "build it with `cargo build -p tether-daemon` (`cargo test --workspace` does)";
    require(beside(Path::new(BIN), "tetherd"), "tetherd beside tether", how)
}

async fn run(dir: &Path, daemon: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env("TETHER_SOCKET", dir.join("run/tetherd.sock"))
        .env("TETHER_STATE_DIR", dir.join("state"))
        .env("TETHER_DAEMON_BIN", daemon)
        .env_remove("KUBECONFIG")
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("tether finished in time")
        .expect("tether runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_ls_bad_input_rm_and_stop_against_the_real_daemon() {
    let Some(daemon) = tetherd() else { return };
    let exe = tether_testkit::config::locate_testkit_exe().expect("tether-testkit is built");
    let cluster = tether_testkit::TestCluster::start(tether_testkit::Config::new(exe))
        .await
        .expect("cluster");
    assert!(cluster.wait_ready("app=web", 2, Duration::from_secs(30)).await.is_some());
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let tmp = TempDir::new("cli-real");
    let dir = tmp.path();

    // `tether forward svc/web PORT` named web, waiting for it or not.
    let web = |port, wait: bool| {
        let mut args = vec!["forward", "svc/web", port, "--kubeconfig", kubeconfig.as_str()];
        args.extend(["-n", "default", "--name", "web"]);
        if wait {
            args.push("--wait");
        }
        args
    };
    let out = run(dir, &daemon, &web(":80", true)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = text(&out.stdout).trim().to_owned();
    let address = first.clone();
    let body = tokio::task::spawn_blocking(move || {
        let mut tcp = std::net::TcpStream::connect(&address).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        tcp.write_all(b"GET / HTTP/1.0\r\n\r\n").expect("write");
        let mut raw = String::new();
        tcp.read_to_string(&mut raw).expect("read");
        raw
    })
    .await
    .expect("task");
    assert!(body.starts_with("HTTP/1.0 200") && body.contains("web-"), "{body}");

    // The same forward again, as a script or an IDE would: the same address, and a note.
    let out = run(dir, &daemon, &web(":80", true)).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), first, "the same local address");
    assert!(text(&out.stderr).contains("already existed"), "{}", text(&out.stderr));
    // The same name with another port: refused, naming the field, with one hint that names
    // the forward (not the target).
    let out = run(dir, &daemon, &web(":81", false)).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("spec.ports :80, not :81"), "{err}");
    assert_eq!(err.matches("tether rm").count(), 1, "{err}");
    assert!(err.contains("tether rm web`"), "{err}");
    // Without a name, twice: the derived name, no error.
    for _ in 0..2 {
        let unnamed = ["forward", "svc/web", ":80", "--kubeconfig", &kubeconfig, "-n", "default"];
        let out = run(dir, &daemon, &unnamed).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("forward svc-web-80"), "{}", text(&out.stdout));
    }
    let out = run(dir, &daemon, &["rm", "svc-web-80"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    let before = run(dir, &daemon, &["ls", "-o", "json"]).await;
    assert!(text(&before.stdout).contains("\"web\""), "{}", text(&before.stdout));
    for (args, field) in [
        (vec!["forward", "job/x", "80"], "target"),
        (vec!["forward", "svc/web", "70000"], "ports"),
        (vec!["forward", "svc/web", "80", "--address", "nowhere"], "address"),
    ] {
        let out = run(dir, &daemon, &args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(field), "{args:?}: {}", text(&out.stderr));
    }
    let after = run(dir, &daemon, &["ls", "-o", "json"]).await;
    assert_eq!(
        text(&before.stdout).replace(char::is_numeric, ""),
        text(&after.stdout).replace(char::is_numeric, ""),
        "bad input changed nothing"
    );

    let out = run(dir, &daemon, &["rm", "web"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(dir, &daemon, &["rm", "web"]).await;
    assert_eq!(out.status.code(), Some(1), "removing twice fails");
    let out = run(dir, &daemon, &["daemon", "stop"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(dir, &daemon, &["daemon", "status"]).await;
    assert_eq!(out.status.code(), Some(3), "not running after stop");
    cluster.shutdown(Duration::from_secs(5)).await;
}
