//! Sessions under faults: attach sessions re-join after a drop or a blackhole, exec sessions
//! become `Lost` with their output kept (or run again with on-drop), and a daemon SIGKILL and
//! restart keeps both kinds as promised.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use nix::sys::signal::Signal;
use tether_daemon::session::Record as SessionRecord;
use tether_daemon::store::{SledStore, Store as _};
use tether_proto::pb;
use tether_testkit::Fault;
use tether_testsupport::{TempDir, until_async};

use crate::harness::{
    Options, World, connect, signal, socket_in, start_cluster, store_in, temp_dir,
};
use crate::session_harness::{Attached, create, get, process, wait_session};

const SECS_30: Duration = Duration::from_secs(30);

/// The sessions a SIGKILL of `daemon` right now would leave in its store under `dir`: the store
/// is copied while the daemon is stopped (SIGSTOP), then the copy is opened as a restarted
/// daemon would open it. A copy that does not open holds nothing.
async fn left_by_a_kill(daemon: &Child, dir: &Path) -> Vec<SessionRecord> {
    let copy = TempDir::new("e2e-store");
    signal(daemon, Signal::SIGSTOP);
    let copied = copy_tree(&store_in(dir), &copy.join("store"));
    signal(daemon, Signal::SIGCONT);
    copied.expect("copy the store");
    let open = tokio::task::spawn_blocking(move || {
        let (store, report) = SledStore::open(&copy.join("store")).ok()?;
        report.moved_aside.is_none().then(|| store.sessions().ok()).flatten()
    });
    open.await.ok().flatten().unwrap_or_default()
}

/// Copies the folder `from` to `to`, recursively.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

fn attach_spec(cluster: &tether_testkit::TestCluster) -> pb::ProcessSpec {
    let mut spec = process(cluster, "pod/toolbox", &[]);
    (spec.stdin, spec.tty) = (true, true);
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attach_session_rejoins_after_a_drop_and_a_blackhole() {
    let mut w = World::start("attach-faults", Options::default()).await;
    let s = create(
        &mut w.client,
        attach_spec(&w.cluster),
        pb::SessionKind::Attach,
        pb::RestartPolicy::Never,
    )
    .await;
    assert_eq!(s.phase(), pb::SessionPhase::Running, "{s:?}");
    let mut a = Attached::open(&mut w.client, &s.id).await;
    a.type_line("echo $((6*7))").await;
    a.read_until("42", SECS_30).await;
    for (round, fault) in [(1, Fault::CloseStreams), (2, Fault::Blackhole)] {
        assert!(w.inject(fault.clone()).await >= 1, "{fault:?} hit the attach stream");
        // A blackhole is noticed by the liveness deadline (3 s here); the client stays attached.
        let s = wait_session(&mut w.client, &s.id, SECS_30, |s| {
            s.restarts >= round && s.phase() == pb::SessionPhase::Running
        })
        .await;
        assert_eq!(s.attached, 1);
        let n = 6 + round;
        a.type_line(&format!("echo $((6*{n}))")).await;
        a.read_until(&(6 * n).to_string(), SECS_30).await;
    }
    let phases: Vec<_> = a.changes.iter().map(pb::Session::phase).collect();
    assert!(
        phases.contains(&pb::SessionPhase::Reconnecting),
        "the client saw the re-join: {phases:?}"
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_sessions_are_lost_on_a_drop_with_output_kept_or_run_again_on_drop() {
    let mut w = World::start("exec-drop", Options::default()).await;
    let once = process(&w.cluster, "toolbox", &["sh", "-c", "echo started; exec sleep 60"]);
    let lost = create(&mut w.client, once, pb::SessionKind::Exec, pb::RestartPolicy::Never).await;
    let again = process(&w.cluster, "toolbox", &["sh", "-c", "echo run; exec sleep 60"]);
    let rerun =
        create(&mut w.client, again, pb::SessionKind::Exec, pb::RestartPolicy::OnDrop).await;
    wait_session(&mut w.client, &lost.id, SECS_30, |s| s.output_bytes == 8).await;
    wait_session(&mut w.client, &rerun.id, SECS_30, |s| s.output_bytes == 4).await;
    assert!(w.inject(Fault::ResetStreams).await >= 2);
    let s = wait_session(&mut w.client, &lost.id, SECS_30, |s| s.phase() == pb::SessionPhase::Lost)
        .await;
    assert!(!s.reason.is_empty(), "a lost session says why: {s:?}");
    let a = Attached::open(&mut w.client, &lost.id).await;
    assert_eq!(a.replay, b"started\n", "the output before the drop is kept");
    let s = wait_session(&mut w.client, &rerun.id, SECS_30, |s| s.output_bytes == 8).await;
    assert_eq!((s.phase(), s.restarts), (pb::SessionPhase::Running, 1));
    let b = Attached::open(&mut w.client, &rerun.id).await;
    assert_eq!(b.replay, b"run\nrun\n", "the command ran again after the drop");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_daemon_sigkill_exec_sessions_are_lost_with_output_and_attach_sessions_rejoin() {
    let cluster = start_cluster(&Options::default()).await;
    let dir = temp_dir("session-restart");
    let socket = socket_in(&dir);
    let mut daemon = crate::restart::tetherd(&dir);
    let mut client = connect(&socket).await;
    let exec_spec = process(&cluster, "toolbox", &["sh", "-c", "echo before; exec sleep 60"]);
    let ex = create(&mut client, exec_spec, pb::SessionKind::Exec, pb::RestartPolicy::Never).await;
    let at = create(
        &mut client,
        attach_spec(&cluster),
        pb::SessionKind::Attach,
        pb::RestartPolicy::Never,
    )
    .await;
    let mut a = Attached::open(&mut client, &at.id).await;
    a.type_line("echo $((7*7))").await;
    a.read_until("49", SECS_30).await;
    wait_session(&mut client, &ex.id, SECS_30, |s| s.output_bytes == 7).await;
    // Output is saved every second while it changes: wait until a kill would leave both.
    let shown = get(&mut client, &at.id).await.output_bytes;
    until_async(SECS_30, "the store holds both sessions' output", async || {
        let stored = left_by_a_kill(&daemon, &dir).await;
        let bytes = |id: &str| stored.iter().find(|r| r.id == id).map(|r| r.output_bytes);
        let (exec, attach) = (bytes(&ex.id), bytes(&at.id));
        if exec == Some(7) && attach >= Some(shown) { Ok(()) } else { Err((exec, attach)) }
    })
    .await;
    daemon.kill().expect("SIGKILL");
    let _reaped = daemon.wait();
    let mut daemon = crate::restart::tetherd(&dir);
    let mut client = connect(&socket).await;
    let s = get(&mut client, &ex.id).await;
    assert_eq!(s.phase(), pb::SessionPhase::Lost, "{s:?}");
    assert!(s.reason.contains("daemon restarted"), "{}", s.reason);
    let replay = Attached::open(&mut client, &ex.id).await.replay;
    assert_eq!(replay, b"before\n", "the last output survives the restart");
    wait_session(&mut client, &at.id, SECS_30, |s| s.phase() == pb::SessionPhase::Running).await;
    let mut a = Attached::open(&mut client, &at.id).await;
    assert!(String::from_utf8_lossy(&a.replay).contains("49"), "the attach's output was kept too");
    a.type_line("echo $((7*8))").await;
    a.read_until("56", SECS_30).await;
    daemon.kill().expect("SIGKILL");
    let _reaped = daemon.wait();
    drop(cluster);
}
