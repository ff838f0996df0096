//! Forwards that do not drop: pod kills, pods gone for a while, dropped and reset connections,
//! blackholes, expired tokens and refused permissions, observed through data and states.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tether_proto::pb;
use tether_testkit::{AuthMode, Fault, PortForwardErrorOrder};
use tether_testsupport::until_async;

use crate::harness::{Options, World, echo_roundtrip, payload};

/// Keeps `threads` clients doing echo round trips on `port` until `stop`; counts successes and
/// failures.
fn traffic(
    port: u16,
    threads: usize,
    stop: Arc<AtomicBool>,
) -> (Arc<AtomicU32>, Arc<AtomicU32>, Vec<std::thread::JoinHandle<()>>) {
    let ok = Arc::new(AtomicU32::new(0));
    let failed = Arc::new(AtomicU32::new(0));
    let handles = (0..threads)
        .map(|t| {
            let (ok, failed, stop) = (ok.clone(), failed.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let data = payload(t as u64 * 1000 + i, 2048);
                    match echo_roundtrip(port, &data) {
                        Ok(back) if back == data => ok.fetch_add(1, Ordering::SeqCst),
                        other => {
                            eprintln!("connection failed: {:?}", other.map(|b| b.len()));
                            failed.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                    i += 1;
                }
            })
        })
        .collect();
    (ok, failed, handles)
}

async fn pod_kill_with_zero_failures(target: &str, error_order: PortForwardErrorOrder) {
    let mut w = World::start("kill", Options { error_order, ..Options::default() }).await;
    let port = w.forward("echo", target, &[":tcp"]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, handles) = traffic(port, 4, stop.clone());
    // Round trips succeed before the kill, and as many again after the switch to a new pod.
    let served = |at_least: u32| {
        let ok = ok.clone();
        async move {
            let what = format!("{at_least} round trips succeed");
            until_async(Duration::from_secs(20), &what, async || {
                let n = ok.load(Ordering::SeqCst);
                if n >= at_least { Ok(()) } else { Err(n) }
            })
            .await;
        }
    };
    served(20).await;
    let pod = w.get("echo").await.status.expect("status").pod;
    w.inject(Fault::DeletePod { namespace: "default".into(), name: pod.clone() }).await;
    w.wait_phase("echo", Duration::from_secs(20), |s| {
        s.phase() == pb::Phase::Ready && !s.pod.is_empty() && s.pod != pod
    })
    .await;
    served(ok.load(Ordering::SeqCst) + 20).await;
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.join().expect("client thread");
    }
    let (ok, failed) = (ok.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    assert_eq!(
        failed, 0,
        "{target}, {error_order:?}: connections failed across the pod kill ({ok} succeeded)"
    );
    w.shutdown().await;
}

// The kubelet with containerd closes a refused connection's data stream before it writes why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_target_survives_a_pod_kill_with_zero_failures() {
    pod_kill_with_zero_failures("svc/echo", PortForwardErrorOrder::DataCloseFirst).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_target_survives_a_pod_kill_when_the_error_comes_first() {
    pod_kill_with_zero_failures("svc/echo", PortForwardErrorOrder::ErrorFirst).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_target_survives_a_pod_kill_with_zero_failures() {
    pod_kill_with_zero_failures("deploy/echo", PortForwardErrorOrder::DataCloseFirst).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_target_survives_a_pod_kill_when_the_error_comes_first() {
    pod_kill_with_zero_failures("deploy/echo", PortForwardErrorOrder::ErrorFirst).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_target_waits_for_its_pod_to_come_back() {
    let mut w = World::start("podwait", Options::default()).await;
    let pod = w.cluster.cluster().ready_pods("default", "app=echo")[0].clone();
    let port = w.forward("one", &format!("pod/{pod}"), &[":7000"]).await;
    let injected = {
        let cluster = w.cluster.cluster().clone();
        let pod = pod.clone();
        tokio::spawn(async move {
            cluster.inject(Fault::RecreatePod { namespace: "default".into(), name: pod }).await
        })
    };
    w.wait_phase("one", Duration::from_secs(20), |s| s.phase() == pb::Phase::Reconnecting).await;
    // A connection made while the pod is away is held, then served by the new pod.
    let data = payload(1, 10_000);
    let back = tokio::task::spawn_blocking(move || echo_roundtrip(port, &data).map(|b| (b, data)))
        .await
        .expect("task")
        .expect("held, then served");
    assert_eq!(back.0, back.1);
    injected.await.expect("task").expect("recreated");
    let status =
        w.wait_phase("one", Duration::from_secs(20), |s| s.phase() == pb::Phase::Ready).await;
    assert_eq!(status.pod, pod, "the same name came back");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pod_gone_for_twenty_seconds_then_back() {
    let mut w =
        World::start("gone", Options { hold: Duration::from_secs(40), ..Options::default() }).await;
    let port = w.forward("echo", "svc/echo", &[":70"]).await;
    w.inject(Fault::RecreateDelay { millis: 20_000 }).await;
    let started = Instant::now();
    w.inject(Fault::DeletePods { namespace: "default".into(), selector: "app=echo".into() }).await;
    let status = w
        .wait_phase("echo", Duration::from_secs(10), |s| s.phase() == pb::Phase::Reconnecting)
        .await;
    assert_ne!(status.reason_kind(), pb::ReasonKind::Unspecified, "{status:?}");
    let data = payload(2, 4096);
    let back = tokio::task::spawn_blocking(move || echo_roundtrip(port, &data).map(|b| (b, data)))
        .await
        .expect("task")
        .expect("held across the gap");
    assert_eq!(back.0, back.1);
    assert!(started.elapsed() >= Duration::from_secs(19), "the pods were really gone for 20 s");
    w.wait_phase("echo", Duration::from_secs(10), |s| s.phase() == pb::Phase::Ready).await;
    w.shutdown().await;
}

async fn survives(fault: Fault) {
    let mut w = World::start("drop", Options::default()).await;
    let port = w.forward("echo", "svc/echo", &[":70"]).await;
    let data = payload(3, 100_000);
    let d = data.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || echo_roundtrip(port, &d))
            .await
            .expect("task")
            .expect("echo"),
        data
    );
    assert!(w.inject(fault.clone()).await >= 1, "the tunnel is a streaming connection");
    w.wait_phase("echo", Duration::from_secs(10), |s| s.phase() == pb::Phase::Ready).await;
    let d = data.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || echo_roundtrip(port, &d))
            .await
            .expect("task")
            .expect("echo after"),
        data
    );
    let stats = w.get("echo").await.stats.expect("stats");
    assert!(stats.reconnects >= 1, "{fault:?}: {stats:?}");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_server_close_is_survived() {
    survives(Fault::CloseStreams).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_is_survived() {
    survives(Fault::ResetStreams).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackhole_is_detected_within_the_deadline_and_in_flight_connections_close() {
    use std::io::{Read as _, Write as _};
    let opts = Options::default();
    let deadline = opts.liveness.deadline;
    let mut w = World::start("blackhole", opts).await;
    let port = w.forward("echo", "svc/echo", &[":70"]).await;
    let mut in_flight = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    in_flight.write_all(b"ping").expect("write");
    let mut buf = [0u8; 4];
    in_flight.read_exact(&mut buf).expect("echoed");
    in_flight.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let started = Instant::now();
    w.inject(Fault::Blackhole).await;
    let reader = std::thread::spawn(move || in_flight.read(&mut buf));
    until_async(deadline * 3, "the dead tunnel is replaced", async || {
        let stats = w.get("echo").await.stats.expect("stats");
        if stats.reconnects > 0 { Ok(()) } else { Err(stats) }
    })
    .await;
    let detected = started.elapsed();
    assert!(detected <= deadline + Duration::from_secs(2), "detected after {detected:?}");
    let closed = reader.join().expect("reader");
    // A read timeout (WouldBlock/TimedOut) would mean it was left hanging, not closed.
    let cut = match &closed {
        Ok(n) => *n == 0,
        Err(e) => {
            !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
        }
    };
    assert!(cut, "the in-flight connection was closed: {closed:?}");
    w.wait_phase("echo", Duration::from_secs(10), |s| s.phase() == pb::Phase::Ready).await;
    let data = payload(4, 1000);
    let d = data.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || echo_roundtrip(port, &d))
            .await
            .expect("task")
            .expect("echo"),
        data
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed() {
    let mut w = World::start("token", Options { auth: AuthMode::Exec, ..Options::default() }).await;
    let port = w.forward("echo", "svc/echo", &[":70"]).await;
    w.inject(Fault::ExpireTokens).await;
    w.inject(Fault::CloseStreams).await;
    w.wait_phase("echo", Duration::from_secs(15), |s| {
        s.phase() == pb::Phase::Ready && s.attempt == 0
    })
    .await;
    let data = payload(5, 5000);
    let d = data.clone();
    assert_eq!(
        tokio::task::spawn_blocking(move || echo_roundtrip(port, &d))
            .await
            .expect("task")
            .expect("echo"),
        data
    );
    assert!(w.get("echo").await.stats.expect("stats").reconnects >= 1);
    w.shutdown().await;
}

/// An API server that cannot reach the node's kubelet answers 500 with a Status: that is its
/// real answer, so no other protocol is tried (one upgrade per attempt, where kubectl makes two
/// and tetherd used to make three), and the reason says so once, in the cluster's terms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_kubelet_ends_negotiation_and_is_named_once() {
    let mut w = World::start("kubelet", Options::default()).await;
    w.forward("echo", "svc/echo", &[":70"]).await;
    w.inject(Fault::RejectUpgrades { status: 500 }).await;
    let before = w.cluster.cluster().upgrade_requests();
    w.inject(Fault::CloseStreams).await;
    let status = w
        .wait_phase("echo", Duration::from_secs(15), |s| {
            s.phase() == pb::Phase::Reconnecting && s.attempt >= 4
        })
        .await;
    let upgrades = w.cluster.cluster().upgrade_requests() - before;
    let attempts = u64::from(status.attempt);
    assert!(
        upgrades <= attempts + 1,
        "{upgrades} upgrades for {attempts} attempts: a Status must end the negotiation"
    );
    let reason = &status.reason;
    assert_eq!(reason.matches("error dialing backend").count(), 1, "once: {reason}");
    assert!(reason.contains("could not reach the node's kubelet"), "{reason}");
    w.inject(Fault::RejectUpgrades { status: 0 }).await;
    w.wait_phase("echo", Duration::from_secs(30), |s| s.phase() == pb::Phase::Ready).await;
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_fails_without_a_hot_loop() {
    let mut w = World::start("forbidden", Options::default()).await;
    w.forward("echo", "svc/echo", &[":70"]).await;
    w.inject(Fault::RejectUpgrades { status: 403 }).await;
    // Closes the tunnel (under load it may be re-dialling already, and then meets the 403).
    w.inject(Fault::CloseStreams).await;
    let status =
        w.wait_phase("echo", Duration::from_secs(15), |s| s.phase() == pb::Phase::Failed).await;
    assert_eq!(status.reason_kind(), pb::ReasonKind::Forbidden, "{status:?}");
    // The API server's words, and what the user needs, once; no fallback after a real answer.
    assert!(status.reason.contains("cannot create resource \"pods/portforward\""), "{status:?}");
    assert!(status.reason.contains("needs `create` on `pods/portforward`"), "{status:?}");
    let before = w.cluster.cluster().upgrade_requests();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(w.cluster.cluster().upgrade_requests(), before, "a failed forward does not retry");
    w.inject(Fault::RejectUpgrades { status: 0 }).await;
    w.client
        .forwards
        .resume_forward(pb::ResumeForwardRequest { name: "echo".into() })
        .await
        .expect("resume");
    w.wait_phase("echo", Duration::from_secs(15), |s| s.phase() == pb::Phase::Ready).await;
    w.shutdown().await;
}
