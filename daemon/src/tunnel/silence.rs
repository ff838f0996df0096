//! The dead-peer timer of a tunnel: it fires `deadline` after the last sign of life (any bytes
//! or a PONG), or, while a probe is out, at the end of the probe. Only the PONG that answers a probe
//! ends it; bytes read meanwhile may have waited in the kernel while the daemon was frozen.
//!
//! A sign of life only stores the time. The one timer is re-armed when it fires early (life
//! came since it was armed) or when a probe moves the end earlier, so the data path never
//! registers a timer per received chunk.

use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// When a peer has been silent too long.
#[derive(Debug)]
pub(crate) struct Silence {
    last: Instant,
    deadline: Duration,
    /// The end of a probe that only a PONG answers (after a wake from sleep).
    probe_until: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl Silence {
    pub(crate) fn new(deadline: Duration) -> Self {
        let last = Instant::now();
        Self {
            last,
            deadline,
            probe_until: None,
            timer: Box::pin(tokio::time::sleep_until(last + deadline)),
        }
    }

    /// Bytes came: the peer is alive.
    pub(crate) fn heard(&mut self) {
        self.last = Instant::now();
    }

    /// The probe is answered: back to the dead-peer deadline.
    pub(crate) fn probe_answered(&mut self) {
        self.heard();
        self.probe_until = None;
    }

    /// Only the probe's PONG within `within` keeps the peer alive (an earlier end stays).
    pub(crate) fn probe(&mut self, within: Duration) {
        let until = Instant::now() + within;
        self.probe_until = Some(self.probe_until.map_or(until, |u| u.min(until)));
    }

    /// Whether a probe is out.
    #[cfg(test)]
    pub(crate) fn probing(&self) -> bool {
        self.probe_until.is_some()
    }

    /// The last sign of life.
    pub(crate) fn last(&self) -> Instant {
        self.last
    }

    /// How long ago the peer became due (silent past the deadline, or a probe over), if it is.
    pub(crate) fn overdue(&self) -> Option<Duration> {
        Instant::now().checked_duration_since(self.due())
    }

    /// How long the peer has been silent.
    pub(crate) fn silent_for(&self) -> Duration {
        Instant::now() - self.last
    }

    /// A probe out decides alone: it was sent because the silence is in doubt (or already past
    /// the deadline, after a freeze), and it gets its whole time to be answered.
    fn due(&self) -> Instant {
        self.probe_until.unwrap_or(self.last + self.deadline)
    }

    /// Resolves once the peer is dead: silent past the deadline, or a probe unanswered.
    /// Cancel-safe.
    pub(crate) async fn expired(&mut self) {
        loop {
            let due = self.due();
            if due < self.timer.deadline() {
                self.timer.as_mut().reset(due);
            }
            self.timer.as_mut().await;
            let due = self.due();
            if Instant::now() >= due {
                return;
            }
            self.timer.as_mut().reset(due);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn fires_a_deadline_after_the_last_sign_of_life() {
        let mut s = Silence::new(Duration::from_secs(12));
        tokio::time::sleep(Duration::from_secs(10)).await;
        s.heard();
        let start = Instant::now();
        s.expired().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(12), "12 s after the bytes at 10 s");
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_brings_the_end_forward_until_a_pong() {
        let mut s = Silence::new(Duration::from_secs(12));
        s.probe(Duration::from_secs(2));
        let start = Instant::now();
        s.expired().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        s.probe(Duration::from_secs(2));
        assert!(s.probing());
        s.heard();
        assert!(s.probing(), "bytes do not answer a probe");
        s.probe_answered();
        let start = Instant::now();
        s.expired().await;
        assert_eq!(
            Instant::now() - start,
            Duration::from_secs(12),
            "answered: back to the deadline"
        );
    }
}
