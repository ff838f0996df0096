//! Many concurrent connections on one tetherd forward: open them all, then one round trip on
//! each while all stay open, and count failures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::results::Conns;
use crate::world::World;

/// Deadline of each connect and each round trip.
const STEP: Duration = Duration::from_secs(30);

/// Runs `plan.conns` connections through tetherd's echo forward.
pub async fn run(w: &mut World) -> anyhow::Result<()> {
    let port = w.forwards().await?.echo;
    let n = w.plan.conns;
    eprintln!("bench: {n} concurrent connections through tetherd ...");
    let start = Instant::now();
    let barrier = Arc::new(Barrier::new(n));
    let mut set = JoinSet::new();
    for i in 0..n {
        let barrier = barrier.clone();
        set.spawn(async move {
            let opened = tokio::time::timeout(STEP, TcpStream::connect(("127.0.0.1", port))).await;
            // Every task waits, connected or not, so all connections are open at once.
            barrier.wait().await;
            let mut tcp =
                opened.map_err(|_| "connect timed out".to_owned())?.map_err(|e| e.to_string())?;
            let sent = u32::try_from(i).unwrap_or(u32::MAX).to_be_bytes();
            let mut back = [0u8; 4];
            let trip = async {
                tcp.set_nodelay(true)?;
                tcp.write_all(&sent).await?;
                tcp.read_exact(&mut back).await?;
                std::io::Result::Ok(())
            };
            match tokio::time::timeout(STEP, trip).await {
                Ok(Ok(())) if back == sent => Ok(tcp),
                Ok(Ok(())) => Err("wrong bytes came back".to_owned()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("round trip timed out".to_owned()),
            }
        });
    }
    let mut open = Vec::with_capacity(n);
    let mut first_error = None;
    let deadline = tokio::time::Instant::now() + 3 * STEP;
    while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, set.join_next()).await {
        match joined {
            Ok(Ok(tcp)) => open.push(tcp),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    let elapsed = start.elapsed();
    // Failed tasks and those still running at the deadline.
    let failures = n - open.len();
    if !set.is_empty() {
        first_error.get_or_insert_with(|| format!("{} still running at the deadline", set.len()));
    }
    set.abort_all();
    drop(open);
    if let Some(e) = &first_error {
        w.results.notes.push(format!("{n} concurrent connections: first failure: {e}"));
    }
    w.results.conns = Some(Conns { count: n, failures, elapsed });
    Ok(())
}
