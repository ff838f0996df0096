//! Memory: tetherd's RSS at rest, with one idle forward, and per idle proxied connection; and
//! kubectl's with one forward and per connection, for comparison. Runs before any other
//! forward exists.

use std::time::Duration;

use crate::conn::Dialer;
use crate::proc::tree_rss_kib;
use crate::results::Memory;
use crate::world::World;

/// Quiet time before each reading.
const SETTLE: Duration = Duration::from_secs(1);

/// Further idle forwards, for the marginal cost of one.
pub const MORE_FORWARDS: usize = 4;

/// Measures tetherd, then kubectl.
pub async fn run(w: &mut World) -> anyhow::Result<()> {
    let pid = w.tetherd.pid();
    tokio::time::sleep(SETTLE).await;
    let rest = tree_rss_kib(pid)?;
    let mut threads = vec![crate::proc::threads(pid)?];
    let ports = w.tetherd.forward("idle-0", "svc/echo", &[":70"]).await?;
    tokio::time::sleep(SETTLE).await;
    let with_forward = tree_rss_kib(pid)?;
    threads.push(crate::proc::threads(pid)?);
    let (per_conn, failures) = idle_growth(pid, ports[0], w.plan.idle_conns).await?;
    tokio::time::sleep(SETTLE).await;
    let before_more = tree_rss_kib(pid)?;
    for i in 1..=MORE_FORWARDS {
        w.tetherd.forward(&format!("idle-{i}"), "svc/echo", &[":70"]).await?;
    }
    tokio::time::sleep(SETTLE).await;
    let with_more = tree_rss_kib(pid)?;
    threads.push(crate::proc::threads(pid)?);
    for i in 0..=MORE_FORWARDS {
        w.tetherd.delete(&format!("idle-{i}")).await?;
    }
    w.results.notes.push(format!(
        "tetherd threads: {} at rest, {} with one forward, {} with {} forwards",
        threads[0],
        threads[1],
        threads[2],
        MORE_FORWARDS + 1
    ));
    w.results.memory = Some(Memory {
        rest_kib: Some(rest),
        forward_kib: with_forward,
        forward_increase_kib: Some(with_forward.saturating_sub(rest)),
        next_forward_kib: Some(with_more.saturating_sub(before_more) as f64 / MORE_FORWARDS as f64),
        per_conn_kib: per_conn,
        conns: w.plan.idle_conns,
        conn_failures: failures,
    });
    if w.plan.uses(crate::args::WayKind::Kubectl) {
        let pf = w.kubectl.start("svc/echo", &["70"]).await?;
        tokio::time::sleep(SETTLE).await;
        let with_forward = tree_rss_kib(pf.pid())?;
        let (per_conn, failures) = idle_growth(pf.pid(), pf.ports[0], w.plan.idle_conns).await?;
        tokio::task::spawn_blocking(move || drop(pf)).await?;
        w.results.kubectl_memory = Some(Memory {
            rest_kib: None,
            forward_kib: with_forward,
            forward_increase_kib: None,
            next_forward_kib: None,
            per_conn_kib: per_conn,
            conns: w.plan.idle_conns,
            conn_failures: failures,
        });
    }
    Ok(())
}

/// Opens `n` connections through `port`, one echo round trip each so they reach the pod, and
/// returns the RSS increase of `pid` per connection while they sit idle, and the failures.
async fn idle_growth(pid: i32, port: u16, n: usize) -> anyhow::Result<(f64, usize)> {
    tokio::task::spawn_blocking(move || {
        let before = tree_rss_kib(pid)?;
        let dialer = Dialer::local(port);
        let mut conns = Vec::with_capacity(n);
        let mut failures = 0;
        for _ in 0..n {
            let opened = dialer.dial(Duration::from_secs(10)).and_then(|mut c| {
                c.echo(b"x", &mut [0u8; 1])?;
                Ok(c)
            });
            match opened {
                Ok(c) => conns.push(c),
                Err(_) => failures += 1,
            }
        }
        std::thread::sleep(SETTLE);
        let after = tree_rss_kib(pid)?;
        let open = conns.len().max(1) as f64;
        drop(conns);
        Ok((after.saturating_sub(before) as f64 / open, failures))
    })
    .await?
}
