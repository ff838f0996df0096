//! The liveness of one SPDY tunnel: PINGs and their round trips, the dead-peer timer, and
//! probes. A probe is a PING that only its own PONG (or a later one) answers: bytes read
//! meanwhile may have waited in the kernel while the daemon was frozen, so they prove nothing.
//!
//! Probes come from three places: a local connection waiting on a tunnel that has been quiet
//! for `Liveness::quiet` (demand), the supervisor after a wake or a freeze, and the tunnel
//! itself when it reads bytes, or its timer fires, well past the dead-peer deadline (it was
//! frozen: the bytes are stale).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tether_wire::spdy::Session;
use tokio::sync::watch;
use tokio::time::Instant;

use super::super::silence::Silence;
use super::super::{Health, Liveness, ProbeCause, TunnelEnd, TunnelStats};

/// A timer this late was not scheduled late: the process did not run.
const FREEZE_MARGIN: Duration = Duration::from_secs(1);
/// Round-trip samples above this are not round trips (a PONG that waited out a freeze).
const RTT_CAP: Duration = Duration::from_secs(5);
/// PINGs remembered for their round trip.
const PINGS: usize = 16;

/// PINGs, PONGs and the verdict on the peer.
#[derive(Debug)]
pub(super) struct Pulse {
    liveness: Liveness,
    silence: Silence,
    sent: VecDeque<(u32, Instant)>,
    srtt: Option<Duration>,
    health: watch::Sender<Health>,
    stats: Arc<TunnelStats>,
}

impl Pulse {
    pub(super) fn new(liveness: Liveness, stats: Arc<TunnelStats>) -> Self {
        Self {
            liveness,
            silence: Silence::new(liveness.deadline),
            sent: VecDeque::new(),
            srtt: None,
            health: watch::channel(Health::Alive).0,
            stats,
        }
    }

    pub(super) fn health(&self) -> watch::Receiver<Health> {
        self.health.subscribe()
    }

    /// Records the end; the health watch says `Dead` from now on.
    pub(super) fn died(&self, end: TunnelEnd) {
        self.health.send_replace(Health::Dead(end));
    }

    /// Sends a PING and remembers when.
    pub(super) fn ping(&mut self, spdy: &mut Session) -> u32 {
        let id = spdy.ping();
        if self.sent.len() == PINGS {
            self.sent.pop_front();
        }
        self.sent.push_back((id, Instant::now()));
        id
    }

    /// Starts a probe (or makes the one out stricter: a PONG to this new PING is needed).
    pub(super) fn probe(&mut self, spdy: &mut Session, cause: ProbeCause) {
        let floor = self.ping(spdy);
        let deadline = self.liveness.probe_deadline(self.srtt);
        let since = self.silence.probe(floor.into(), cause, deadline);
        tracing::debug!(?cause, deadline_ms = deadline.as_millis() as u64, "probing the tunnel");
        self.health.send_replace(Health::Probing { cause, since });
    }

    /// Bytes came. Stale ones (read past the deadline: the daemon was frozen) start a probe
    /// instead of counting as life.
    pub(super) fn bytes(&mut self, spdy: &mut Session) {
        if !self.silence.probing() && self.silence.overdue().is_some() {
            self.probe(spdy, ProbeCause::Freeze);
        } else {
            self.silence.heard();
        }
    }

    /// A PONG came: a round trip, life, and the answer to a probe when it is recent enough.
    pub(super) fn pong(&mut self, id: u32) {
        let now = Instant::now();
        while let Some(&(sent_id, at)) = self.sent.front() {
            if sent_id > id {
                break;
            }
            self.sent.pop_front();
            if sent_id == id {
                self.sample(now - at);
            }
        }
        if self.silence.pong(id.into()) {
            self.health.send_replace(Health::Alive);
        }
    }

    fn sample(&mut self, rtt: Duration) {
        if rtt > RTT_CAP {
            return;
        }
        let srtt = self.srtt.map_or(rtt, |s| (s * 7 + rtt) / 8);
        self.srtt = Some(srtt);
        let us = u64::try_from(srtt.as_micros()).unwrap_or(u64::MAX).max(1);
        self.stats.rtt_us.store(us, Ordering::Relaxed);
    }

    /// The tunnel read nothing on purpose (a stalled reader) and data was taken: alive.
    pub(super) fn resumed(&mut self) {
        self.silence.heard();
    }

    /// Resolves when the peer is due: silent past the deadline, or a probe over. Cancel-safe.
    pub(super) async fn due(&mut self) {
        self.silence.expired().await;
    }

    /// What being due means: a probe unanswered, a dead peer, or (when the timer itself fires
    /// well past its time) a freeze, which starts a probe instead.
    pub(super) fn verdict(&mut self, spdy: &mut Session) -> Option<TunnelEnd> {
        if !self.silence.probing() && self.silence.overdue().is_some_and(|l| l > FREEZE_MARGIN) {
            self.probe(spdy, ProbeCause::Freeze);
            return None;
        }
        Some(self.silence.end())
    }

    /// When a connection waiting on this tunnel should probe it: `quiet` after the last sign of
    /// life, while some stream is unanswered and no probe is out.
    pub(super) fn demand_at(&self, unreplied: usize) -> Option<Instant> {
        (unreplied > 0 && !self.silence.probing())
            .then(|| self.silence.last() + self.liveness.quiet)
    }

    /// The demand timer fired: probe unless the tunnel spoke meanwhile.
    pub(super) fn demand(&mut self, spdy: &mut Session, unreplied: usize) {
        let quiet = self.silence.silent_for() >= self.liveness.quiet;
        if unreplied > 0 && !self.silence.probing() && quiet {
            self.probe(spdy, ProbeCause::Demand);
        }
    }
}

#[cfg(test)]
mod tests {
    use tether_wire::spdy::Role;

    use super::*;

    fn pulse() -> (Pulse, Session, watch::Receiver<Health>) {
        let pulse = Pulse::new(Liveness::default(), Arc::new(TunnelStats::default()));
        let health = pulse.health();
        (pulse, Session::new(Role::Client), health)
    }

    #[tokio::test(start_paused = true)]
    async fn only_a_pong_to_the_probe_or_later_answers_it() {
        let (mut p, mut spdy, health) = pulse();
        let before = p.ping(&mut spdy);
        p.probe(&mut spdy, ProbeCause::Freeze);
        assert!(matches!(*health.borrow(), Health::Probing { cause: ProbeCause::Freeze, .. }));
        // The PONG to a PING sent before the freeze waited in the kernel: it proves nothing.
        p.pong(before);
        assert!(matches!(*health.borrow(), Health::Probing { .. }), "a stale PONG");
        p.bytes(&mut spdy);
        assert!(matches!(*health.borrow(), Health::Probing { .. }), "bytes do not answer");
        p.pong(before + 2);
        assert_eq!(*health.borrow(), Health::Alive);
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_read_past_the_deadline_start_a_probe_instead_of_counting() {
        let (mut p, mut spdy, health) = pulse();
        tokio::time::advance(Duration::from_secs(20)).await;
        p.bytes(&mut spdy);
        assert!(matches!(*health.borrow(), Health::Probing { cause: ProbeCause::Freeze, .. }));
        p.due().await;
        let end = p.verdict(&mut spdy).expect("the probe is over");
        assert!(matches!(end, TunnelEnd::ProbeUnanswered { cause: ProbeCause::Freeze, .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_timer_is_a_freeze_and_an_on_time_one_a_dead_peer() {
        let (mut p, mut spdy, _health) = pulse();
        p.due().await;
        let end = p.verdict(&mut spdy);
        assert!(matches!(end, Some(TunnelEnd::DeadPeer { .. })), "{end:?}");
        let (mut p, mut spdy, health) = pulse();
        // The timer could not fire while the process was stopped: it fires 8 s late.
        tokio::time::advance(Duration::from_secs(20)).await;
        p.due().await;
        assert_eq!(p.verdict(&mut spdy), None, "a probe, not a verdict");
        assert!(matches!(*health.borrow(), Health::Probing { cause: ProbeCause::Freeze, .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn demand_waits_for_quiet_and_an_unanswered_stream() {
        let (mut p, mut spdy, health) = pulse();
        assert_eq!(p.demand_at(0), None, "nothing waits: no probe");
        let at = p.demand_at(1).expect("a stream waits");
        assert_eq!(at - Instant::now(), Liveness::default().quiet);
        p.demand(&mut spdy, 1);
        assert_eq!(*health.borrow(), Health::Alive, "not quiet yet");
        tokio::time::advance(Liveness::default().quiet).await;
        p.demand(&mut spdy, 1);
        assert!(matches!(*health.borrow(), Health::Probing { cause: ProbeCause::Demand, .. }));
        assert_eq!(p.demand_at(1), None, "one probe at a time");
    }
}
