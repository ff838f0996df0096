//! Bulk transfers: download everything `source` sends, upload to `sink` and check its count.

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use tether_testkit::workload::{fill_pattern, pattern_byte};

use crate::conn::Dialer;

/// Read and write timeout of one call on a bulk connection.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Buffer per read or write: a whole number of pattern periods (251 bytes).
const BUFFER: usize = 251 * 1024;

/// Connects to a `source` and reads to the end; the time from connecting to the last byte.
/// The end of the stream is not timed: after a pod closes, the kubelet (and the testkit, like
/// containerd) gives the other direction one more second before it ends the stream.
pub fn download(dialer: &Dialer, expected: u64, deadline: Instant) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut conn = dialer.dial(IO_TIMEOUT)?;
    let mut buf = vec![0u8; BUFFER];
    let mut total = 0u64;
    let mut last_byte = None;
    loop {
        let n = conn.read(&mut buf).map_err(|e| {
            anyhow::anyhow!("{e} after {total} of {expected} bytes ({})", mbps(total, start))
        })?;
        if n == 0 {
            break;
        }
        // One byte per read keeps the check cheap next to the transfer it measures.
        anyhow::ensure!(buf[0] == pattern_byte(total), "wrong byte at offset {total}");
        total += n as u64;
        if total >= expected && last_byte.is_none() {
            last_byte = Some(start.elapsed());
        }
        anyhow::ensure!(Instant::now() < deadline, "download passed its deadline at {total} bytes");
    }
    anyhow::ensure!(total == expected, "downloaded {total} bytes, expected {expected}");
    last_byte.ok_or_else(|| anyhow::anyhow!("nothing to download"))
}

/// Connects to a `sink`, writes `bytes`, half-closes and reads its answer (`<count> <sha256>`);
/// the time from connecting to the answer's end of line.
pub fn upload(dialer: &Dialer, bytes: u64, deadline: Instant) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut conn = dialer.dial(IO_TIMEOUT)?;
    let mut buf = vec![0u8; BUFFER];
    fill_pattern(&mut buf, 0);
    let mut sent = 0u64;
    while sent < bytes {
        let n = usize::try_from((bytes - sent).min(BUFFER as u64))?;
        conn.write_all(&buf[..n]).map_err(|e| {
            anyhow::anyhow!("{e} after {sent} of {bytes} bytes ({})", mbps(sent, start))
        })?;
        sent += n as u64;
        anyhow::ensure!(Instant::now() < deadline, "upload passed its deadline at {sent} bytes");
    }
    conn.flush()?;
    conn.finish_writing()?;
    let mut answer = Vec::new();
    while !answer.contains(&b'\n') {
        let n = conn.read(&mut buf)?;
        anyhow::ensure!(n > 0, "the sink closed without a full answer: {answer:?}");
        answer.extend_from_slice(&buf[..n]);
    }
    let elapsed = start.elapsed();
    // Whatever follows (nothing, then the end) is not timed.
    let _rest = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    let count: u64 = answer
        .split_whitespace()
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("the sink answered {answer:?}"))?;
    anyhow::ensure!(count == bytes, "the sink got {count} bytes of {bytes}");
    Ok(elapsed)
}

fn mbps(bytes: u64, start: Instant) -> String {
    format!("{:.0} MB/s so far", megabytes_per_sec(bytes, start.elapsed()))
}

/// MB/s (10^6 bytes per second).
pub fn megabytes_per_sec(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9)
}

/// Reads the first `limit` bytes from a `source` no faster than `rate` bytes/s (a consumer
/// slower than the pod, such as a dump onto a slow disk), then closes. The bytes read before
/// an error, or the time taken.
pub fn slow_read(dialer: &Dialer, limit: u64, rate: u64) -> Result<Duration, (u64, String)> {
    let start = Instant::now();
    let mut conn = dialer.dial(IO_TIMEOUT).map_err(|e| (0, e.to_string()))?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0u64;
    while total < limit {
        let want = usize::try_from(limit - total).unwrap_or(buf.len()).min(buf.len());
        let n = conn.read(&mut buf[..want]).map_err(|e| (total, e.to_string()))?;
        if n == 0 {
            return Err((total, "the stream ended early".to_owned()));
        }
        if buf[0] != pattern_byte(total) {
            return Err((total, format!("wrong byte at offset {total}")));
        }
        total += n as u64;
        let due = Duration::from_secs_f64(total as f64 / rate as f64);
        std::thread::sleep(due.saturating_sub(start.elapsed()));
    }
    Ok(start.elapsed())
}
