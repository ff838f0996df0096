//! The phases of a run, in the order they run: memory first (before any forward), half-open
//! last (it leaves stuck connections behind).

pub mod conns;
pub mod drops;
pub mod exec;
pub mod freeze;
pub mod halfopen;
pub mod memory;
pub mod perf;
pub mod podkill;
pub mod podready;
pub mod slow;

use crate::args::{Phase, WayKind};
use crate::world::World;

/// Runs every phase the plan names; a failed phase is recorded and the run goes on.
pub async fn run_all(w: &mut World) -> anyhow::Result<()> {
    let plan = w.plan.clone();
    let tetherd = plan.uses(WayKind::Tetherd);
    if plan.has(Phase::Memory) && tetherd {
        eprintln!("bench: memory ...");
        let r = memory::run(w).await;
        w.record("memory", r);
    }
    if tetherd {
        // Every later tetherd phase needs these; without them the run is pointless.
        w.forwards().await?;
    }
    if [Phase::Throughput, Phase::Setup, Phase::Rtt].iter().any(|p| plan.has(*p)) {
        let r = perf::run(w).await;
        w.record("performance", r);
    }
    if plan.has(Phase::Conns) && tetherd {
        let r = conns::run(w).await;
        w.record("concurrent connections", r);
    }
    if plan.has(Phase::SlowReader) {
        let r = slow::run(w).await;
        w.record("slow reader", r);
    }
    if plan.has(Phase::Exec) {
        let r = exec::run(w).await;
        w.record("exec", r);
    }
    if plan.has(Phase::Drop) {
        let r = drops::run(w).await;
        w.record("drop", r);
    }
    if plan.has(Phase::PodKill) {
        let r = podkill::run(w).await;
        w.record("pod kill", r);
    }
    if plan.has(Phase::PodReady) && tetherd {
        let r = podready::run(w).await;
        w.record("pod ready", r);
    }
    if plan.has(Phase::Freeze) && tetherd {
        let r = freeze::run(w, plan.drop_repeats.min(2)).await;
        w.record("freeze", r);
    }
    if plan.has(Phase::HalfOpen) && tetherd {
        let r = halfopen::run(w).await;
        w.record("half-open", r);
    }
    Ok(())
}
