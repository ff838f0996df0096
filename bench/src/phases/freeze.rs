//! The two slow cases of a dead tunnel (issue 10): a daemon frozen while its tunnel is
//! blackholed (SIGSTOP for 20 s, then SIGCONT: the time until a new connection is served), and
//! new connections arriving on a blackholed tunnel (one every 100 ms: the longest wait and the
//! failures). Both leave stuck connections behind, so they run just before half-open.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tether_proto::pb;
use tether_testkit::Fault;
use tokio::sync::oneshot;

use crate::conn::Dialer;
use crate::results::{BlackholeLoad, Freeze};
use crate::world::World;

/// How long the daemon is stopped.
const FROZEN: Duration = Duration::from_secs(20);
/// How long a request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// One new connection this often, during the blackhole phase.
const EVERY: Duration = Duration::from_millis(100);
/// The transfer in flight has started once this much of it is written.
const FIRST_WRITE: usize = 64 * 1024;

/// One echo round trip on a new connection: how long it took, served or not.
fn echo(dialer: &Dialer, seed: u8) -> (Duration, Result<(), String>) {
    let started = Instant::now();
    let data = [seed; 512];
    let mut back = [0u8; 512];
    let served = dialer
        .dial(REQUEST_TIMEOUT)
        .and_then(|mut c| c.echo(&data, &mut back))
        .map_err(|e| e.to_string());
    (started.elapsed(), served)
}

/// A transfer in flight when the daemon stops: its echo lands in the kernel's buffer during the
/// freeze and is read at the thaw (stale bytes, which must not count as life). The receiver
/// hears once it is dialed and its first bytes are written, or why it could not be.
fn in_flight(
    dialer: Dialer,
) -> (std::thread::JoinHandle<()>, oneshot::Receiver<Result<(), String>>) {
    let (started, started_rx) = oneshot::channel();
    let thread = std::thread::spawn(move || {
        use std::io::{Read as _, Write as _};
        let data = vec![7u8; 8 << 20];
        let (first, rest) = data.split_at(FIRST_WRITE);
        let conn =
            dialer.dial(REQUEST_TIMEOUT * 2).and_then(|mut c| c.write_all(first).map(|()| c));
        let mut conn = match conn {
            Ok(conn) => {
                let _heard = started.send(Ok(()));
                conn
            }
            Err(e) => {
                let _heard = started.send(Err(e.to_string()));
                return;
            }
        };
        let _sent = conn.write_all(rest);
        let mut sink = vec![0u8; 64 * 1024];
        while matches!(conn.read(&mut sink), Ok(1..)) {}
    });
    (thread, started_rx)
}

async fn ready(w: &mut World) -> anyhow::Result<u16> {
    let port = w.forwards().await?.echo;
    let ready = |s: &pb::ForwardStatus| s.phase() == pb::Phase::Ready;
    let retry = Duration::from_millis(10);
    w.tetherd.wait_status("echo", Duration::from_secs(30), retry, ready).await?;
    Ok(port)
}

/// Both measurements, `repeats` times each.
pub async fn run(w: &mut World, repeats: usize) -> anyhow::Result<()> {
    for i in 0..repeats {
        eprintln!("bench: freeze {} of {repeats} (tetherd stopped {FROZEN:?}) ...", i + 1);
        let once = freeze(w).await?;
        w.results.freeze.push(once);
    }
    eprintln!("bench: a new connection every {EVERY:?} across a blackhole ...");
    let load = blackhole_load(w).await?;
    w.results.blackhole_load = Some(load);
    Ok(())
}

async fn freeze(w: &mut World) -> anyhow::Result<Freeze> {
    let port = ready(w).await?;
    let dialer = Dialer::local(port);
    let d = dialer.clone();
    tokio::task::spawn_blocking(move || echo(&d, 1)).await?.1.map_err(anyhow::Error::msg)?;
    let (transfer, started) = in_flight(dialer.clone());
    match tokio::time::timeout(REQUEST_TIMEOUT, started).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => anyhow::bail!("the transfer to freeze in flight failed to start: {e}"),
        Ok(Err(_)) => anyhow::bail!("the transfer to freeze in flight ended before it started"),
        Err(_) => anyhow::bail!(
            "the transfer to freeze in flight did not start within {REQUEST_TIMEOUT:?}"
        ),
    }
    let pid = Pid::from_raw(w.tetherd.pid());
    kill(pid, Signal::SIGSTOP)?;
    let blackholed = w.inject(Fault::Blackhole).await;
    tokio::time::sleep(FROZEN).await;
    kill(pid, Signal::SIGCONT)?;
    blackholed?;
    let thawed = Instant::now();
    // Requests until one is served: the first is the one that counts.
    let failures = tokio::task::spawn_blocking(move || {
        let mut failed = 0u32;
        while thawed.elapsed() < REQUEST_TIMEOUT * 2 {
            match echo(&dialer, 2).1 {
                Ok(()) => return Ok(failed),
                Err(_) => failed += 1,
            }
        }
        Err(anyhow::anyhow!("not served within {:?} of the thaw", REQUEST_TIMEOUT * 2))
    })
    .await??;
    let served_after = thawed.elapsed();
    let _ended = tokio::task::spawn_blocking(move || transfer.join()).await;
    Ok(Freeze { served_after, failed: failures })
}

async fn blackhole_load(w: &mut World) -> anyhow::Result<BlackholeLoad> {
    let port = ready(w).await?;
    let dialer = Dialer::local(port);
    let client = std::thread::spawn(move || {
        let started = Instant::now();
        let mut results = Vec::new();
        while started.elapsed() < Duration::from_secs(10) {
            let attempt = Instant::now();
            results.push(echo(&dialer, 3));
            std::thread::sleep(EVERY.saturating_sub(attempt.elapsed()));
        }
        results
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    w.inject(Fault::Blackhole).await?;
    let results = tokio::task::spawn_blocking(move || client.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the client thread panicked"))?;
    // Failed requests count too: a request that waited 9 s and then failed waited 9 s.
    let longest = results.iter().map(|r| r.0).max().unwrap_or_default();
    let failed = results.iter().filter(|r| r.1.is_err()).count();
    Ok(BlackholeLoad { requests: results.len(), failed, longest })
}
