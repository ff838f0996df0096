//! The slow cases of a dead tunnel, with the daemon's real liveness settings (pings every 4 s,
//! dead after 12 s): a daemon frozen while its tunnel was blackholed, connections arriving on a
//! blackholed tunnel, and a wake from sleep told by the clocks. Each must recover well before
//! the 12 s dead-peer deadline; the bench measures how fast (`docs/BENCHMARKS.md`), and these
//! tests only bound it far enough from 12 s that the old behaviour fails them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tether_daemon::forward::wake::{Clocks, Readings, SystemClocks};
use tether_proto::client::Client;
use tether_proto::pb;
use tether_testkit::Fault;
use tether_testsupport::until_async;

use crate::harness::{
    Options, World, connect, echo_roundtrip, local_port, payload, signal, socket_in, spec_for,
    start_cluster, temp_dir,
};
use crate::restart::tetherd;

/// Well under the 12 s dead-peer deadline that the old code waited for.
const BOUND: Duration = Duration::from_secs(6);

fn real_liveness() -> Options {
    Options { liveness: tether_daemon::tunnel::Liveness::default(), ..Options::default() }
}

/// The counters of the forward `echo`, as they are now.
async fn echo_stats(client: &mut Client) -> pb::ForwardStats {
    let req = pb::GetForwardRequest { name: "echo".into() };
    let forward = client.forwards.get_forward(req).await.expect("get").into_inner().forward;
    forward.and_then(|f| f.stats).expect("stats")
}

/// One echo round trip on a new connection: how long it took, or why it failed.
fn timed_echo(port: u16, seed: u64) -> Result<Duration, String> {
    let data = payload(seed, 512);
    let started = Instant::now();
    match echo_roundtrip(port, &data) {
        Ok(back) if back == data => Ok(started.elapsed()),
        Ok(back) => Err(format!("{} bytes came back", back.len())),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_frozen_for_20_s_while_its_tunnel_was_blackholed_serves_at_once_on_thaw() {
    let cluster = start_cluster(&real_liveness()).await;
    let dir = temp_dir("freeze");
    let mut daemon = tetherd(&dir);
    let mut client = connect(&socket_in(&dir)).await;
    let req = pb::CreateForwardRequest {
        spec: Some(spec_for(&cluster, "echo", "svc/echo", &[":70"])),
        wait_ready: true,
        wait_timeout_ms: 30_000,
    };
    let created = client.forwards.create_forward(req).await.expect("create").into_inner();
    let status = created.forward.and_then(|f| f.status).expect("status");
    assert_eq!(status.phase(), pb::Phase::Ready, "{status:?}");
    let port = local_port(&status.local_addresses[0]);
    tokio::task::spawn_blocking(move || timed_echo(port, 1)).await.expect("task").expect("echo");
    let sent = echo_stats(&mut client).await.bytes_out;
    // A transfer in flight when the daemon stops: its echo lands in the kernel's buffer during
    // the freeze, and is read at the thaw. Those stale bytes must not count as life.
    let in_flight = std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(40))).expect("timeout");
        let mut reader = tcp.try_clone().expect("clone");
        let echoed = std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ended = reader.read_to_end(&mut sink);
        });
        let _sent = tcp.write_all(&payload(7, 8 << 20));
        let _ended = echoed.join();
    });
    until_async(Duration::from_secs(10), "the daemon relays the transfer", async || {
        let stats = echo_stats(&mut client).await;
        if stats.connections_active >= 1 && stats.bytes_out > sent { Ok(()) } else { Err(stats) }
    })
    .await;

    signal(&daemon, Signal::SIGSTOP);
    cluster.inject(Fault::Blackhole).await.expect("blackhole");
    tokio::time::sleep(Duration::from_secs(20)).await;
    signal(&daemon, Signal::SIGCONT);
    let thawed = Instant::now();
    let served = tokio::task::spawn_blocking(move || timed_echo(port, 2)).await.expect("task");
    let after = thawed.elapsed();
    eprintln!("served again {after:?} after the thaw ({served:?})");
    served.expect("the first request after the thaw is served, not failed");
    assert!(after < BOUND, "served {after:?} after the thaw: the old 12 s wait");

    daemon.kill().expect("kill");
    let _reaped = daemon.wait();
    let _ended = tokio::task::spawn_blocking(move || in_flight.join()).await;
    cluster.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_every_100_ms_across_a_blackhole_never_fails_nor_waits_long() {
    let mut w = World::start("blackhole-load", real_liveness()).await;
    let port = w.forward("echo", "svc/echo", &[":70"]).await;
    let client = std::thread::spawn(move || {
        let mut results = Vec::new();
        let started = Instant::now();
        let mut seed = 0;
        while started.elapsed() < Duration::from_secs(9) {
            let attempt = Instant::now();
            results.push((seed, timed_echo(port, seed)));
            seed += 1;
            // One new connection every 100 ms, however long the last one took.
            let next = Duration::from_millis(100).saturating_sub(attempt.elapsed());
            std::thread::sleep(next);
        }
        results
    });
    // About a second of requests is served before the blackhole.
    until_async(Duration::from_secs(5), "ten requests reach the forward", async || {
        let stats = w.get("echo").await.stats.expect("stats");
        if stats.connections_total >= 10 { Ok(()) } else { Err(stats) }
    })
    .await;
    w.inject(Fault::Blackhole).await;
    let results =
        tokio::task::spawn_blocking(move || client.join().expect("client")).await.expect("task");
    let failed: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
    let longest = results.iter().filter_map(|(_, r)| r.as_ref().ok()).max().copied();
    eprintln!("{} requests, {} failed, longest {longest:?}", results.len(), failed.len());
    assert!(failed.is_empty(), "requests failed across the blackhole: {failed:?}");
    let longest = longest.expect("requests were made");
    assert!(longest < BOUND, "a request waited {longest:?}: the old 12 s wait");
    let stats = w.get("echo").await.stats.expect("stats");
    assert!(stats.reconnects >= 1, "the dead tunnel was replaced: {stats:?}");
    w.shutdown().await;
}

/// The system's clocks, with a sleep of the machine added on demand: the sleep-counting clock
/// and the wall clock jump ahead, the awake clock does not.
#[derive(Debug, Default)]
struct SleepyClocks {
    slept_ms: AtomicU64,
}

impl Clocks for SleepyClocks {
    fn read(&self) -> Readings {
        let slept = Duration::from_millis(self.slept_ms.load(Ordering::SeqCst));
        let now = SystemClocks.read();
        Readings { boot: now.boot.map(|b| b + slept), wall: now.wall + slept, ..now }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_told_by_the_clocks_probes_the_tunnel_and_replaces_a_dead_one() {
    let clocks = Arc::new(SleepyClocks::default());
    let opts = Options { clocks: Some(clocks.clone()), ..real_liveness() };
    let mut w = World::start("wake", opts).await;
    let port = w.forward("echo", "svc/echo", &[":70"]).await;
    let mut events = w
        .client
        .forwards
        .watch_events(pb::WatchEventsRequest { names: vec!["echo".into()] })
        .await
        .expect("watch")
        .into_inner();
    w.inject(Fault::Blackhole).await;
    let slept = Instant::now();
    clocks.slept_ms.store(60_000, Ordering::SeqCst);
    let down = tokio::time::timeout(BOUND, async {
        loop {
            let event = events.message().await.expect("stream").expect("an event");
            if let Some(pb::event::Kind::TunnelDown(down)) = event.kind {
                return down;
            }
        }
    })
    .await
    .expect("the tunnel was probed and replaced well before the dead-peer deadline");
    assert_eq!(down.reason_kind(), pb::ReasonKind::Wake, "{down:?}");
    eprintln!("tunnel down {:?} after the wake: {}", slept.elapsed(), down.reason);
    w.wait_phase("echo", BOUND, |s| s.phase() == pb::Phase::Ready).await;
    tokio::task::spawn_blocking(move || timed_echo(port, 3)).await.expect("task").expect("echo");
    w.shutdown().await;
}
