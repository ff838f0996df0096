//! The daemon as a process: SIGKILL right after a create, then a restart, restores the forward
//! on the same local port; SIGTERM drains and exits cleanly.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use tether_proto::pb;
use tether_testsupport::wait_child;

use crate::harness::{
    Options, connect, echo_roundtrip, layout_in, local_port, payload, signal, socket_in, spec_for,
    start_cluster, temp_dir,
};

/// `tetherd` as a process, rooted at `dir` as a world's daemon is ([`layout_in`]).
pub fn tetherd(dir: &std::path::Path) -> Child {
    let layout = layout_in(dir);
    Command::new(env!("CARGO_BIN_EXE_tetherd"))
        .arg("--socket")
        .arg(layout.socket)
        .arg("--state-dir")
        .arg(layout.state_dir)
        .env("TETHER_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tetherd starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_restore_forwards_on_the_same_ports() {
    let cluster = start_cluster(&Options::default()).await;
    let dir = temp_dir("restart");
    let socket = socket_in(&dir);
    let mut daemon = tetherd(&dir);
    let mut client = connect(&socket).await;
    let req = pb::CreateForwardRequest {
        spec: Some(spec_for(&cluster, "echo", "svc/echo", &[":70"])),
        wait_ready: false,
        wait_timeout_ms: 0,
    };
    let created = client
        .forwards
        .create_forward(req)
        .await
        .expect("create")
        .into_inner()
        .forward
        .expect("forward");
    let port = local_port(&created.status.expect("status").local_addresses[0]);
    // Killed right after the create returned: the forward must already be stored.
    daemon.kill().expect("SIGKILL");
    let _reaped = daemon.wait();
    let mut daemon = tetherd(&dir);
    let mut client = connect(&socket).await;
    let listed = client.all_forwards().await.expect("list");
    assert_eq!(listed.len(), 1, "the forward was restored");
    let status = listed[0].status.clone().expect("status");
    assert_eq!(local_port(&status.local_addresses[0]), port, "on the same local port");
    let data = payload(9, 50_000);
    let d = data.clone();
    let back = tokio::task::spawn_blocking(move || echo_roundtrip(port, &d))
        .await
        .expect("task")
        .expect("echo after restart");
    assert_eq!(back, data);
    // SIGTERM drains and exits 0, and removes its socket, even with a client following events.
    let mut events = client
        .forwards
        .watch_events(pb::WatchEventsRequest { names: vec![] })
        .await
        .expect("watch")
        .into_inner();
    events.message().await.expect("stream").expect("the first event");
    signal(&daemon, Signal::SIGTERM);
    let status =
        tokio::task::spawn_blocking(move || wait_child(&mut daemon, Duration::from_secs(15)))
            .await
            .expect("task");
    assert_eq!(status.map(|s| s.success()), Some(true), "clean exit after SIGTERM");
    assert!(!socket.exists(), "the socket is removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_daemon_at_a_time_and_private_files() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = temp_dir("single");
    let socket = socket_in(&dir);
    let mut first = tetherd(&dir);
    let _client = connect(&socket).await;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600, "socket 0600");
    assert_eq!(mode(&dir.join("run")), 0o700, "folder 0700");
    let mut second = tetherd(&dir);
    let status =
        tokio::task::spawn_blocking(move || wait_child(&mut second, Duration::from_secs(10)))
            .await
            .expect("task");
    assert_eq!(status.map(|s| s.success()), Some(false), "a second daemon refuses to start");
    first.kill().expect("kill");
    let _reaped = first.wait();
    // The stale socket of the killed daemon is reclaimed by the next one.
    assert!(socket.exists(), "a killed daemon leaves its socket");
    let mut third = tetherd(&dir);
    let _client = connect(&socket).await;
    third.kill().expect("kill");
    let _reaped = third.wait();
}
