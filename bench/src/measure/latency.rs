//! Latency: new connections each carrying one 1-byte echo, and 1-byte round trips on one
//! persistent connection (TCP_NODELAY on the client socket).

use std::time::{Duration, Instant};

use crate::conn::Dialer;

/// Timeout of a connect, read or write.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Round trips before the timed ones, on the persistent connection.
pub const WARMUP: usize = 50;

/// Samples and failures of a latency run.
#[derive(Debug, Default)]
pub struct Samples {
    pub times: Vec<Duration>,
    pub failures: usize,
    pub first_error: Option<String>,
}

impl Samples {
    fn fail(&mut self, e: &dyn std::fmt::Display) {
        self.failures += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }
}

/// One new connection: connect, send one byte, read it back. The time to the byte.
pub fn one_setup(dialer: &Dialer, timeout: Duration) -> std::io::Result<Duration> {
    let start = Instant::now();
    let mut conn = dialer.dial(timeout)?;
    let mut back = [0u8; 1];
    conn.echo(b"x", &mut back)?;
    Ok(start.elapsed())
}

/// `count` sequential new connections, each timed from connect to its echoed byte.
pub fn setup(dialer: &Dialer, count: usize, deadline: Instant) -> Samples {
    let mut s = Samples::default();
    for _ in 0..count {
        if Instant::now() >= deadline {
            s.fail(&"deadline passed");
            break;
        }
        match one_setup(dialer, IO_TIMEOUT) {
            Ok(t) => s.times.push(t),
            Err(e) => s.fail(&e),
        }
    }
    s
}

/// `count` 1-byte round trips on one connection, after a warm-up.
pub fn round_trips(dialer: &Dialer, count: usize, deadline: Instant) -> Samples {
    let mut s = Samples::default();
    let mut conn = match dialer.dial(IO_TIMEOUT) {
        Ok(c) => c,
        Err(e) => {
            s.fail(&e);
            return s;
        }
    };
    let mut back = [0u8; 1];
    for i in 0..WARMUP + count {
        if Instant::now() >= deadline {
            s.fail(&"deadline passed");
            break;
        }
        let byte = [(i % 251) as u8];
        let start = Instant::now();
        match conn.echo(&byte, &mut back) {
            Ok(()) if i >= WARMUP => s.times.push(start.elapsed()),
            Ok(()) => {}
            Err(e) => {
                // A broken connection ends the run: the rest would fail the same way.
                s.fail(&e);
                break;
            }
        }
    }
    s
}

/// What [`poll_serving`] saw.
#[derive(Debug)]
pub struct Served {
    /// From `since` to the first success.
    pub after: Duration,
    /// Failed attempts before it.
    pub failures: usize,
    /// The longest failed attempt and its error (a connection accepted, then left hanging).
    pub slowest_failure: Option<(Duration, String)>,
}

/// From `since`, tries a new connection with a 1-byte echo every `every` until one succeeds. A
/// connection the forwarder holds while it reconnects counts from when it was opened; one left
/// hanging fails after 10 s.
pub fn poll_serving(
    dialer: &Dialer,
    since: Instant,
    every: Duration,
    deadline: Instant,
) -> anyhow::Result<Served> {
    let mut failures = 0;
    let mut slowest: Option<(Duration, String)> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        anyhow::ensure!(!left.is_zero(), "not serving again after {failures} attempts");
        let started = Instant::now();
        match one_setup(dialer, left.min(IO_TIMEOUT)) {
            Ok(_) => {
                let after = since.elapsed();
                return Ok(Served { after, failures, slowest_failure: slowest });
            }
            Err(e) => {
                failures += 1;
                let took = started.elapsed();
                if slowest.as_ref().is_none_or(|(t, _)| took > *t) {
                    slowest = Some((took, e.to_string()));
                }
            }
        }
        std::thread::sleep(every);
    }
}
