//! Half-open detection: every streaming connection is blackholed (bytes stop, sockets stay
//! open); the time until tetherd's forward reports its tunnel down or leaves Ready, and until
//! it is Ready again, from its event stream (which a status poll could miss). Runs last: the
//! blackholed connections stay stuck (new ones are not affected, so it can repeat).

use std::time::{Duration, Instant};

use tether_proto::pb;
use tether_proto::pb::event::Kind;
use tether_testkit::Fault;

use crate::conn::Dialer;
use crate::measure::latency::one_setup;
use crate::results::HalfOpen;
use crate::world::World;

/// How long to wait for each transition.
const DEADLINE: Duration = Duration::from_secs(60);

/// Measures tetherd's idle echo forward, `plan.drop_repeats` times at different offsets from
/// its ping timer (liveness is checked when a ping is due).
pub async fn run(w: &mut World) -> anyhow::Result<()> {
    for i in 0..w.plan.drop_repeats {
        eprintln!("bench: blackhole {} of {} (up to a minute) ...", i + 1, w.plan.drop_repeats);
        let offset = Duration::from_millis(1700 * i as u64);
        let once = blackhole(w, offset).await?;
        w.results.half_open.push(once);
    }
    Ok(())
}

async fn blackhole(w: &mut World, offset: Duration) -> anyhow::Result<HalfOpen> {
    let port = w.forwards().await?.echo;
    let ready = |s: &pb::ForwardStatus| s.phase() == pb::Phase::Ready;
    w.tetherd
        .wait_status("echo", Duration::from_secs(30), Duration::from_millis(10), ready)
        .await?;
    let d = Dialer::local(port);
    tokio::task::spawn_blocking(move || one_setup(&d, Duration::from_secs(10))).await??;
    tokio::time::sleep(offset).await;
    let mut events = w.tetherd.events("echo").await?;
    let t0 = Instant::now();
    w.inject(Fault::Blackhole).await?;
    let down = |k: &Kind| match k {
        Kind::TunnelDown(_) => true,
        Kind::Status(s) => s.phase() != pb::Phase::Ready,
        _ => false,
    };
    let detected = next(&mut events, t0, down).await?;
    let up = |k: &Kind| matches!(k, Kind::Status(s) if s.phase() == pb::Phase::Ready);
    let ready_again = next(&mut events, t0, up).await.ok();
    Ok(HalfOpen { detected, ready_again })
}

/// Reads events until one satisfies `want`; the time from `t0`.
async fn next(
    events: &mut tonic::Streaming<pb::Event>,
    t0: Instant,
    want: impl Fn(&Kind) -> bool,
) -> anyhow::Result<Duration> {
    loop {
        let left = (t0 + DEADLINE).saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, events.message())
            .await
            .map_err(|_| anyhow::anyhow!("no such event within {DEADLINE:?}"))??
            .ok_or_else(|| anyhow::anyhow!("the event stream ended"))?;
        if event.kind.as_ref().is_some_and(&want) {
            return Ok(t0.elapsed());
        }
    }
}
