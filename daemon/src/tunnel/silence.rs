//! The dead-peer timer of a tunnel, and its probe: it fires `deadline` after the last sign of
//! life (any bytes or a PONG), or, while a probe is out, at the end of the probe. Only a PONG
//! numbered at or after the probe's PING answers it; bytes read meanwhile may have waited in the
//! kernel while the daemon was frozen. Both kinds of tunnel keep their liveness here, so they
//! decide alike.
//!
//! A sign of life only stores the time. The one timer is re-armed when it fires early (life
//! came since it was armed) or when a probe moves the end earlier, so the data path never
//! registers a timer per received chunk.

use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, Sleep};

use super::end::{ProbeCause, TunnelEnd};

/// A probe out.
#[derive(Debug, Clone, Copy)]
struct Probe {
    /// The PONG to this PING number, or to a later one, answers it.
    floor: u64,
    cause: ProbeCause,
    /// When the first probe still out was sent.
    since: Instant,
    /// When it is over, unanswered.
    until: Instant,
}

/// When a peer has been silent too long.
#[derive(Debug)]
pub(crate) struct Silence {
    last: Instant,
    deadline: Duration,
    probe: Option<Probe>,
    timer: Pin<Box<Sleep>>,
}

impl Silence {
    pub(crate) fn new(deadline: Duration) -> Self {
        let last = Instant::now();
        Self {
            last,
            deadline,
            probe: None,
            timer: Box::pin(tokio::time::sleep_until(last + deadline)),
        }
    }

    /// Bytes came: the peer is alive.
    pub(crate) fn heard(&mut self) {
        self.last = Instant::now();
    }

    /// A probe's PING numbered `floor` was sent: only a PONG to it (or a later one) within
    /// `within` keeps the peer alive. A probe already out keeps its earlier end and start, and
    /// needs the newer PONG. Returns when the first probe still out was sent.
    pub(crate) fn probe(&mut self, floor: u64, cause: ProbeCause, within: Duration) -> Instant {
        let now = Instant::now();
        let (since, until) = match self.probe {
            Some(p) => (p.since, p.until.min(now + within)),
            None => (now, now + within),
        };
        self.probe = Some(Probe { floor, cause, since, until });
        since
    }

    /// A PONG numbered `n` came: life, unless a probe is out that it does not answer. Returns
    /// whether it answered a probe.
    pub(crate) fn pong(&mut self, n: u64) -> bool {
        match self.probe {
            Some(p) if n >= p.floor => {
                self.probe = None;
                self.heard();
                true
            }
            Some(_) => false,
            None => {
                self.heard();
                false
            }
        }
    }

    /// Whether a probe is out.
    pub(crate) fn probing(&self) -> bool {
        self.probe.is_some()
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

    /// How the tunnel ends once due: its probe unanswered, or the peer silent.
    pub(crate) fn end(&self) -> TunnelEnd {
        match self.probe {
            Some(p) => TunnelEnd::ProbeUnanswered { cause: p.cause, waited: p.since.elapsed() },
            None => TunnelEnd::DeadPeer { silent: self.silent_for() },
        }
    }

    /// A probe out decides alone: it was sent because the silence is in doubt (or already past
    /// the deadline, after a freeze), and it gets its whole time to be answered.
    fn due(&self) -> Instant {
        self.probe.map_or(self.last + self.deadline, |p| p.until)
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
        s.probe(1, ProbeCause::Demand, Duration::from_secs(2));
        let start = Instant::now();
        s.expired().await;
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        assert!(matches!(s.end(), TunnelEnd::ProbeUnanswered { cause: ProbeCause::Demand, .. }));
        s.probe(3, ProbeCause::Freeze, Duration::from_secs(2));
        assert!(s.probing());
        s.heard();
        assert!(s.probing(), "bytes do not answer a probe");
        assert!(!s.pong(1), "an older PONG does not answer it");
        assert!(s.probing());
        assert!(s.pong(3));
        let start = Instant::now();
        s.expired().await;
        assert_eq!(
            Instant::now() - start,
            Duration::from_secs(12),
            "answered: back to the deadline"
        );
    }
}
