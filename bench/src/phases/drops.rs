//! Drops: the cluster closes (then resets) every stream; how long until a new connection
//! through the forward succeeds again. kubectl is expected to exit; that is all it gets.

use std::time::{Duration, Instant};

use tether_proto::pb;
use tether_testkit::Fault;

use crate::args::WayKind;
use crate::conn::Dialer;
use crate::measure::latency::{Served, one_setup, poll_serving};
use crate::results::Recovery;
use crate::world::World;

/// Poll period while waiting to serve again.
const POLL: Duration = Duration::from_millis(10);
/// A failed attempt this long was a connection left hanging, not refused.
const HUNG: Duration = Duration::from_secs(1);
/// How long kubectl gets to exit after the drop.
const KUBECTL_EXIT: Duration = Duration::from_secs(10);

/// Close, then reset, each `plan.drop_repeats` times for tetherd and once for kubectl.
pub async fn run(w: &mut World) -> anyhow::Result<()> {
    let faults = [("close-streams", Fault::CloseStreams), ("reset-streams", Fault::ResetStreams)];
    for (name, fault) in faults {
        eprintln!("bench: {name} ...");
        let mut rec = Recovery { fault: name, ..Recovery::default() };
        if w.plan.uses(WayKind::Tetherd) {
            for i in 0..w.plan.drop_repeats {
                let served = tetherd_once(w, fault.clone()).await?;
                rec.tetherd.push(served.after);
                rec.tetherd_failed_attempts += served.failures;
                if let Some((took, e)) = served.slowest_failure.filter(|(t, _)| *t > HUNG) {
                    let took = crate::report::dur(took);
                    let text =
                        format!("{name} #{}: a new connection hung {took}, then: {e}", i + 1);
                    w.results.notes.push(text);
                }
            }
        }
        if w.plan.uses(WayKind::Kubectl) {
            rec.kubectl = Some(kubectl_once(w, fault.clone()).await?);
        }
        w.results.drops.push(rec);
    }
    Ok(())
}

async fn tetherd_once(w: &mut World, fault: Fault) -> anyhow::Result<Served> {
    let port = w.forwards().await?.echo;
    let ready = |s: &pb::ForwardStatus| s.phase() == pb::Phase::Ready;
    w.tetherd.wait_status("echo", Duration::from_secs(30), POLL, ready).await?;
    let dialer = Dialer::local(port);
    let d = dialer.clone();
    tokio::task::spawn_blocking(move || one_setup(&d, Duration::from_secs(10))).await??;
    let t0 = Instant::now();
    w.inject(fault).await?;
    let deadline = t0 + Duration::from_secs(60);
    let result = tokio::task::spawn_blocking(move || poll_serving(&dialer, t0, POLL, deadline));
    let served = result.await??;
    // Let the other forwards settle before the next drop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(served)
}

async fn kubectl_once(w: &mut World, fault: Fault) -> anyhow::Result<String> {
    let mut pf = w.kubectl.start("svc/echo", &["70"]).await?;
    let dialer = Dialer::local(pf.ports[0]);
    let d = dialer.clone();
    tokio::task::spawn_blocking(move || one_setup(&d, Duration::from_secs(10))).await??;
    let name = fault_name(&fault);
    let t0 = Instant::now();
    w.inject(fault).await?;
    let outcome = tokio::task::spawn_blocking(move || {
        if let Some(status) = pf.wait_exit(KUBECTL_EXIT) {
            let last = pf.log().lines().last().unwrap_or_default().to_owned();
            let text =
                format!("exits after {} ms ({status}): does not recover", t0.elapsed().as_millis());
            return (text, Some(last));
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let text = match poll_serving(&dialer, t0, POLL, deadline) {
            Ok(s) => format!("keeps running; serves after {} ms", s.after.as_millis()),
            Err(_) => "keeps running but does not serve".to_owned(),
        };
        drop(pf);
        (text, None)
    })
    .await?;
    if let Some(last) = outcome.1 {
        w.results.notes.push(format!("kubectl after {name}: {last}"));
    }
    Ok(outcome.0)
}

fn fault_name(fault: &Fault) -> &'static str {
    match fault {
        Fault::CloseStreams => "close-streams",
        Fault::ResetStreams => "reset-streams",
        _ => "fault",
    }
}
