//! Noticing that the daemon did not run: a sleep of the machine, or a freeze of the process
//! (SIGSTOP, a frozen cgroup, a paused VM). Every forward then probes its tunnel at once.
//!
//! A tick runs every [`PERIOD`]. Each time, three clocks are read through [`Clocks`]:
//! - one that stops while the machine sleeps (`CLOCK_MONOTONIC` on Linux, `CLOCK_UPTIME_RAW`
//!   on macOS),
//! - one that counts sleep (`CLOCK_BOOTTIME` on Linux, `CLOCK_MONOTONIC` on macOS), and
//! - the wall clock.
//!
//! The sleep-counting clock running ahead of the other by more than [`THRESHOLD`] is a sleep. A
//! tick later than [`THRESHOLD`] on any clock is a freeze: the process did not run, whatever the
//! clocks did (a SIGSTOP suspends no clock; a VM may stop them all but the wall clock). A wall
//! clock stepped by NTP may look like a freeze; the cost of that is one probe per tunnel.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// How often the clocks are read.
pub const PERIOD: Duration = Duration::from_secs(1);
/// A pause longer than this is noticed.
pub const THRESHOLD: Duration = Duration::from_secs(2);

/// What kind of pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseKind {
    /// The machine slept.
    Sleep,
    /// The process did not run, but the machine did.
    Freeze,
}

/// A time the daemon did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// Sleep or freeze.
    pub kind: PauseKind,
    /// How long, as the clocks tell.
    pub length: Duration,
}

/// One reading of the clocks, each since an arbitrary start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readings {
    /// Stops while the machine sleeps.
    pub awake: Duration,
    /// Counts sleep too; `None` where no such clock exists.
    pub boot: Option<Duration>,
    /// The wall clock.
    pub wall: Duration,
}

/// Where readings come from: the system's clocks, or a test's.
pub trait Clocks: Send + Sync + std::fmt::Debug + 'static {
    /// Reads every clock now.
    fn read(&self) -> Readings;
}

/// The system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClocks;

impl Clocks for SystemClocks {
    fn read(&self) -> Readings {
        let wall =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let (awake, boot) = system::read();
        Readings { awake, boot, wall }
    }
}

#[cfg(target_os = "linux")]
mod system {
    use std::time::Duration;

    use nix::time::{ClockId, clock_gettime};

    pub(super) fn read() -> (Duration, Option<Duration>) {
        let get = |id| clock_gettime(id).ok().map(Duration::from);
        let awake = get(ClockId::CLOCK_MONOTONIC).unwrap_or_default();
        (awake, get(ClockId::CLOCK_BOOTTIME))
    }
}

#[cfg(target_os = "macos")]
mod system {
    use std::time::Duration;

    use nix::time::{ClockId, clock_gettime};

    /// On macOS `CLOCK_UPTIME_RAW` stops during sleep and `CLOCK_MONOTONIC` does not.
    pub(super) fn read() -> (Duration, Option<Duration>) {
        let get = |id| clock_gettime(id).ok().map(Duration::from);
        let uptime_raw = ClockId::from_raw(nix::libc::CLOCK_UPTIME_RAW);
        let awake = get(uptime_raw).unwrap_or_default();
        (awake, get(ClockId::CLOCK_MONOTONIC))
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod system {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// No sleep-counting clock: freezes and sleeps show as late ticks only.
    pub(super) fn read() -> (Duration, Option<Duration>) {
        static START: OnceLock<Instant> = OnceLock::new();
        (START.get_or_init(Instant::now).elapsed(), None)
    }
}

/// What happened between two readings taken `period` apart (as scheduled), if anything.
#[must_use]
pub fn classify(before: Readings, after: Readings, period: Duration) -> Option<Pause> {
    let awake = after.awake.saturating_sub(before.awake);
    let boot = match (before.boot, after.boot) {
        (Some(b), Some(a)) => a.saturating_sub(b),
        _ => awake,
    };
    // A wall clock set back is no pause; one set forward may be.
    let wall = after.wall.saturating_sub(before.wall);
    let slept = boot.saturating_sub(awake);
    if slept > THRESHOLD {
        return Some(Pause { kind: PauseKind::Sleep, length: slept });
    }
    let late = awake.max(boot).max(wall).saturating_sub(period);
    (late > THRESHOLD).then_some(Pause { kind: PauseKind::Freeze, length: late })
}

/// Sends on `pause_tx` after each sleep or freeze, until `cancel`.
pub async fn watch(
    clocks: Arc<dyn Clocks>,
    pause_tx: broadcast::Sender<Pause>,
    cancel: CancellationToken,
) {
    let mut last = clocks.read();
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = cancel.cancelled() => return,
        }
        let now = clocks.read();
        if let Some(pause) = classify(last, now, PERIOD) {
            tracing::info!(
                kind = ?pause.kind,
                length_ms = pause.length.as_millis() as u64,
                "the daemon did not run for a while: probing every tunnel"
            );
            let _no_forwards = pause_tx.send(pause);
        }
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(awake: u64, boot: u64, wall: u64) -> Readings {
        let ms = Duration::from_millis;
        Readings { awake: ms(awake), boot: Some(ms(boot)), wall: ms(wall) }
    }

    #[test]
    fn a_tick_on_time_is_nothing() {
        assert_eq!(classify(at(0, 0, 0), at(1000, 1000, 1000), PERIOD), None);
        assert_eq!(classify(at(0, 0, 0), at(2900, 2900, 2900), PERIOD), None, "1.9 s late");
    }

    #[test]
    fn boottime_running_ahead_is_a_sleep() {
        let p = classify(at(0, 0, 0), at(1000, 61_000, 61_000), PERIOD).expect("a sleep");
        assert_eq!(p, Pause { kind: PauseKind::Sleep, length: Duration::from_secs(60) });
    }

    #[test]
    fn a_late_tick_with_clocks_in_step_is_a_freeze() {
        // SIGSTOP for 20 s: every clock ran on, the tick came 20 s late.
        let p = classify(at(0, 0, 0), at(21_000, 21_000, 21_000), PERIOD).expect("a freeze");
        assert_eq!(p, Pause { kind: PauseKind::Freeze, length: Duration::from_secs(20) });
    }

    #[test]
    fn a_machine_whose_clocks_show_no_jump_is_caught_by_the_wall_clock() {
        // A VM paused with its monotonic clocks: only the wall clock moved on.
        let p = classify(at(0, 0, 0), at(1000, 1000, 31_000), PERIOD).expect("a freeze");
        assert_eq!(p.kind, PauseKind::Freeze);
        assert_eq!(p.length, Duration::from_secs(30));
        let no_boot = Readings { boot: None, ..at(0, 0, 0) };
        let later = Readings { boot: None, ..at(9000, 0, 9000) };
        assert_eq!(classify(no_boot, later, PERIOD).map(|p| p.kind), Some(PauseKind::Freeze));
    }

    #[test]
    fn a_wall_clock_set_back_is_nothing() {
        assert_eq!(classify(at(0, 0, 100_000), at(1000, 1000, 0), PERIOD), None);
    }

    #[test]
    fn the_system_clocks_read() {
        let r = SystemClocks.read();
        assert!(r.awake > Duration::ZERO);
        #[cfg(any(target_os = "linux", target_os = "macos"))]
        assert!(r.boot.is_some_and(|b| b >= r.awake), "the sleep-counting clock is ahead");
    }
}
