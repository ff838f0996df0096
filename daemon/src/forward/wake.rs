//! Detecting that the machine slept: `CLOCK_BOOTTIME` counts suspended time and
//! `CLOCK_MONOTONIC` does not, so a jump in their difference is a wake from sleep.

use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// How often the clocks are compared.
const PERIOD: Duration = Duration::from_secs(1);
/// How much suspended time counts as a sleep.
const THRESHOLD: Duration = Duration::from_secs(2);

/// Suspended time so far: boot time minus monotonic time (the two readings are taken one after
/// the other, so it can come out a hair negative: it saturates at zero).
fn suspended() -> Option<Duration> {
    use nix::time::{ClockId, clock_gettime};
    let mono = Duration::from(clock_gettime(ClockId::CLOCK_MONOTONIC).ok()?);
    let boot = Duration::from(clock_gettime(ClockId::CLOCK_BOOTTIME).ok()?);
    Some(boot.saturating_sub(mono))
}

/// Whether suspended time grew by more than the threshold between two readings.
#[must_use]
pub fn slept(before: Duration, after: Duration) -> Option<Duration> {
    after.checked_sub(before).filter(|d| *d > THRESHOLD)
}

/// Sends on `wake_tx` after each sleep, until `cancel`.
pub async fn watch(wake_tx: broadcast::Sender<Duration>, cancel: CancellationToken) {
    let Some(mut last) = suspended() else {
        tracing::warn!(
            "CLOCK_BOOTTIME is unavailable: wake from sleep will be noticed by pings only"
        );
        return;
    };
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = cancel.cancelled() => return,
        }
        let Some(now) = suspended() else { continue };
        if let Some(slept) = slept(last, now) {
            tracing::info!(
                slept_ms = slept.as_millis() as u64,
                "woke from sleep: probing every tunnel"
            );
            let _no_forwards = wake_tx.send(slept);
        }
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jumps_over_the_threshold_count() {
        let s = Duration::from_secs;
        assert_eq!(slept(s(10), s(10)), None);
        assert_eq!(slept(s(10), s(11)), None);
        assert_eq!(slept(s(10), s(70)), Some(s(60)));
        assert_eq!(slept(s(10), s(5)), None);
        assert!(suspended().is_some(), "Linux has CLOCK_BOOTTIME");
    }
}
