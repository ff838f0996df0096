//! From a new pod turning Ready to its use: every echo pod is deleted and replaced only after a
//! delay; a client keeps opening connections (tetherd holds them meanwhile); the time from the
//! first replacement turning Ready to the first echo served.

use std::time::{Duration, Instant};

use serde_json::Value;
use tether_proto::pb;
use tether_testkit::Fault;
use tether_testkit::store::Resource;
use tokio::sync::broadcast::error::RecvError;

use crate::cluster::{RECREATE_DELAY, ready_echo_pods};
use crate::conn::Dialer;
use crate::measure::latency::poll_serving;
use crate::world::World;

/// How long the replacements wait.
const GAP: Duration = Duration::from_secs(3);

/// Measures tetherd.
pub async fn run(w: &mut World) -> anyhow::Result<()> {
    eprintln!("bench: new pod Ready to first use ...");
    let port = w.forwards().await?.echo;
    let ready = |s: &pb::ForwardStatus| s.phase() == pb::Phase::Ready;
    w.tetherd
        .wait_status("echo", Duration::from_secs(30), Duration::from_millis(10), ready)
        .await?;
    w.inject(Fault::RecreateDelay { millis: millis(GAP) }).await?;
    let measured = measure(w, port).await;
    w.inject(Fault::RecreateDelay { millis: millis(RECREATE_DELAY) }).await?;
    w.wait_echo_pods("", Duration::from_secs(30)).await?;
    w.results.pod_ready = Some(measured?);
    Ok(())
}

async fn measure(w: &mut World, port: u16) -> anyhow::Result<Duration> {
    w.inject(Fault::DeletePods { namespace: "default".into(), selector: "app=echo".into() })
        .await?;
    let not_ready = |s: &pb::ForwardStatus| s.phase() != pb::Phase::Ready;
    let every = Duration::from_millis(10);
    w.tetherd.wait_status("echo", Duration::from_secs(20), every, not_ready).await?;
    // The store's own change feed: the Ready transition is seen as it is written.
    let store = w.cluster.cluster().store();
    let (_, mut changes) = store.watch(Resource::Pods, Some(store.resource_version()))?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(60);
    let dialer = Dialer::local(port);
    let client = tokio::task::spawn_blocking(move || poll_serving(&dialer, start, every, deadline));
    let pod_ready = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, changes.recv()).await {
            Ok(Ok(change)) if ready_echo(&change.object) => break Instant::now(),
            Ok(Ok(_)) => {}
            // Missed changes: look at the pods themselves.
            Ok(Err(RecvError::Lagged(_))) if !ready_echo_pods(&w.cluster).is_empty() => {
                break Instant::now();
            }
            Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Err(RecvError::Closed)) => anyhow::bail!("the cluster stopped"),
            Err(_) => anyhow::bail!("no echo pod came back"),
        }
    };
    let served = start + client.await??.after;
    // Saturates if this task saw the change later than tetherd served through the pod.
    Ok(served.saturating_duration_since(pod_ready))
}

/// A Ready echo pod that is not being deleted.
fn ready_echo(pod: &Value) -> bool {
    let meta = &pod["metadata"];
    let ready = pod["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
    meta["labels"]["app"] == "echo" && meta["deletionTimestamp"].is_null() && ready
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
