//! A slow consumer: the first bytes of a bulk download read at a fixed, low rate, as a client
//! writing to a slow disk does. The pod sends faster than that; the forwarder must hold back
//! (backpressure) or buffer, not drop the connection.

use crate::args::WayKind;
use crate::conn::Dialer;
use crate::measure::bulk::slow_read;
use crate::results::SlowReader;
use crate::world::World;

/// The reading rate, bytes/s.
pub const RATE: u64 = 16_000_000;

/// tetherd, then kubectl, each on a fresh connection.
pub async fn run(w: &mut World) -> anyhow::Result<()> {
    let limit = w.plan.bytes.min(if w.plan.quick { 16 << 20 } else { 64 << 20 });
    if w.plan.uses(WayKind::Tetherd) {
        eprintln!("bench: slow reader through tetherd ...");
        let port = w.forwards().await?.source;
        let outcome = read(port, limit).await?;
        w.results.slow_reader.insert(WayKind::Tetherd, outcome);
    }
    if w.plan.uses(WayKind::Kubectl) {
        eprintln!("bench: slow reader through kubectl ...");
        let pf = w.kubectl.start("svc/bulk", &["7100"]).await?;
        let outcome = read(pf.ports[0], limit).await?;
        tokio::task::spawn_blocking(move || drop(pf)).await?;
        w.results.slow_reader.insert(WayKind::Kubectl, outcome);
    }
    Ok(())
}

async fn read(port: u16, limit: u64) -> anyhow::Result<SlowReader> {
    let dialer = Dialer::local(port);
    let result = tokio::task::spawn_blocking(move || slow_read(&dialer, limit, RATE)).await?;
    Ok(match result {
        Ok(elapsed) => SlowReader { limit, read: limit, elapsed: Some(elapsed), error: None },
        Err((read, e)) => SlowReader { limit, read, elapsed: None, error: Some(e) },
    })
}
