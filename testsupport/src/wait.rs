//! Waits for a condition, with a deadline: a probe polled every [`EVERY`] until it holds, and a
//! failure that names what never happened, and what was seen last, once the deadline passes.
//! Use these instead of a sleep that guesses how long something takes.

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// How often a probe is polled.
pub const EVERY: Duration = Duration::from_millis(20);

/// Polls `probe` until it returns `Ok`, and returns that. After `timeout` the test fails with
/// `what` (phrased as the condition: "the web pods are gone") and the last `Err` seen.
#[track_caller]
pub fn until<T, E: Debug>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe() {
            Ok(done) => return done,
            Err(last) => last,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}; last seen: {last:?}"
        );
        std::thread::sleep(EVERY);
    }
}

/// [`until`] for an async probe, under tokio's clock. A probe that does not answer by the
/// deadline fails the test too.
pub async fn until_async<T, E: Debug>(
    timeout: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Result<T, E>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let Ok(answer) = tokio::time::timeout_at(deadline, probe()).await else {
            panic!("timed out after {timeout:?} waiting until {what}: the probe did not answer");
        };
        let last = match answer {
            Ok(done) => return done,
            Err(last) => last,
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}; last seen: {last:?}"
        );
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_returns_what_the_probe_found() {
        let mut calls = 0;
        let found = until(Duration::from_secs(5), "the third call", || {
            calls += 1;
            if calls == 3 { Ok(calls) } else { Err(calls) }
        });
        assert_eq!(found, 3);
    }

    #[test]
    #[should_panic(expected = "waiting until never; last seen: \"still not\"")]
    fn until_fails_at_the_deadline_with_the_last_state() {
        until(Duration::from_millis(50), "never", || Err::<(), _>("still not"));
    }

    #[tokio::test(start_paused = true)]
    async fn until_async_polls_under_tokio_time() {
        let mut calls = 0;
        let found = until_async(Duration::from_secs(5), "the third call", async || {
            calls += 1;
            if calls == 3 { Ok(calls) } else { Err(calls) }
        })
        .await;
        assert_eq!(found, 3);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "the probe did not answer")]
    async fn until_async_fails_when_the_probe_hangs() {
        until_async(Duration::from_secs(1), "an answer", async || {
            std::future::pending::<Result<(), ()>>().await
        })
        .await;
    }
}
