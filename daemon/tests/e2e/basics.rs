//! A forward that works: data integrity over many concurrent connections, services and
//! deployments, the fallback path, and pause and resume. Bad input is `bad_input`'s.

use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tether_proto::pb;

use crate::harness::{Options, World, echo_exact, echo_roundtrip, http_get, payload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_connections_carry_checksummed_data() {
    let mut w = World::start("hundred", Options::default()).await;
    let port = w.forward("echo", "svc/echo", &[":70"]).await;
    let handles: Vec<_> = (0..100u64)
        .map(|i| {
            tokio::task::spawn_blocking(move || {
                let data = payload(i, 64 * 1024 + (i as usize) * 517);
                let back = echo_roundtrip(port, &data).expect("round trip");
                (Sha256::digest(&data), Sha256::digest(&back), data.len(), back.len())
            })
        })
        .collect();
    for h in handles {
        let (sent, got, sent_len, got_len) = h.await.expect("task");
        assert_eq!((sent_len, sent), (got_len, got), "corruption or loss");
    }
    let fwd = w.get("echo").await;
    let stats = fwd.stats.expect("stats");
    assert_eq!(stats.connections_total, 100);
    assert!(stats.bytes_out >= 100 * 64 * 1024, "{stats:?}");
    assert_eq!(fwd.status.expect("status").protocol, "websocket-tunnel");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_deployments_and_pods_resolve_like_kubectl() {
    let mut w = World::start("targets", Options::default()).await;
    let pods = w.cluster.cluster().ready_pods("default", "app=web");
    let svc = w.forward("svc", "svc/web", &[":80"]).await;
    let deploy = w.forward("deploy", "deploy/web", &[":http"]).await;
    let pod = w.forward("pod", &format!("pod/{}", pods[0]), &[":8080"]).await;
    for port in [svc, deploy] {
        let name =
            tokio::task::spawn_blocking(move || http_get(port)).await.expect("task").expect("GET");
        assert!(pods.contains(&name), "{name} is a web pod");
    }
    let name =
        tokio::task::spawn_blocking(move || http_get(pod)).await.expect("task").expect("GET");
    assert_eq!(name, pods[0]);
    let listed = w.client.all_forwards().await.expect("list");
    assert_eq!(listed.len(), 3);
    w.shutdown().await;
}

/// What the API server's audit log would show of tetherd: who it is, tidy queries, and the
/// tunnel protocol it negotiated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_sees_a_user_agent_and_tidy_queries() {
    let mut w = World::start("audit", Options::default()).await;
    let port = w.forward("web", "svc/web", &[":80"]).await;
    tokio::task::spawn_blocking(move || http_get(port)).await.expect("task").expect("served");
    let requests = w.cluster.cluster().requests();
    assert!(!requests.is_empty());
    let agent = format!("tether/{} (linux/amd64)", tether_proto::VERSION);
    for r in &requests {
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!(r.user_agent, agent, "{r:?}");
        }
        assert!(r.user_agent.starts_with("tether/"), "{r:?}");
        assert!(!r.target.contains("?&"), "a stray '&': {r:?}");
    }
    let upgrades = w.cluster.cluster().upgrades_by_protocol();
    assert_eq!(upgrades.get("websocket:SPDY/3.1+portforward.k8s.io"), Some(&1), "{upgrades:?}");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_cluster_forces_the_fallback() {
    let mut w = World::start("old", Options { old_cluster: true, ..Options::default() }).await;
    let port = w.forward("echo", "svc/echo", &[":70"]).await;
    // The legacy protocol cannot carry a half-close: read back exactly what was sent.
    let data = payload(7, 300_000);
    let back = tokio::task::spawn_blocking(move || echo_exact(port, &data).map(|b| (b, data)))
        .await
        .expect("task")
        .expect("echo");
    assert_eq!(back.0, back.1);
    let web = w.forward("web", "svc/web", &[":80"]).await;
    let name =
        tokio::task::spawn_blocking(move || http_get(web)).await.expect("task").expect("GET");
    assert!(name.starts_with("web-"), "{name}");
    let status = w.get("echo").await.status.expect("status");
    assert_eq!(
        status.protocol, "websocket",
        "no tunnel on an old cluster: legacy channel protocol"
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_forward_serves_again_after_resume() {
    let mut w = World::start("pause", Options::default()).await;
    let port = w.forward("echo", "svc/echo", &[":70"]).await;
    let name = || "echo".to_owned();
    w.client.forwards.pause_forward(pb::PauseForwardRequest { name: name() }).await.expect("pause");
    w.wait_phase("echo", Duration::from_secs(10), |s| s.phase() == pb::Phase::Paused).await;
    w.client
        .forwards
        .resume_forward(pb::ResumeForwardRequest { name: name() })
        .await
        .expect("resume");
    w.wait_phase("echo", Duration::from_secs(15), |s| s.phase() == pb::Phase::Ready).await;
    let data = payload(8, 4096);
    let d = data.clone();
    let back = tokio::task::spawn_blocking(move || echo_exact(port, &d)).await.expect("task");
    assert_eq!(back.expect("echo after resume"), data);
    w.shutdown().await;
}
