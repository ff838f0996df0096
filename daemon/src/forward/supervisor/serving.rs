//! The serving side of the supervisor: a tunnel in use, the pods changing under it, its health
//! (probes, a standby tunnel dialed while it is in doubt, the one that answers first), and the
//! daemon's sleeps and freezes.

use std::time::Duration;

use tokio::time::Instant;

use super::super::events::{Event, EventKind, now_ms};
use super::super::state::{ForwardState, Reason};
use super::super::wake::{Pause, PauseKind};
use super::step::{Dial, Serving, Standby, Step};
use super::{Active, Supervisor};
use crate::cluster::resolve::PortError;
use crate::cluster::{ClusterError, PodInfo};
use crate::tunnel::{Health, ProbeCause, Tunnel};

impl Supervisor {
    /// Starts serving through `tunnel`.
    pub(super) fn serve(
        &mut self,
        tunnel: Tunnel,
        pod: PodInfo,
        ports: Vec<u16>,
        started: Instant,
    ) {
        if !self.usable(&pod) {
            // The pod changed while the tunnel was being opened.
            tunnel.close();
            return self.choose();
        }
        let protocol = tunnel.protocol().as_str();
        if self.tunnels_opened > 0 {
            self.fwd.counters.reconnects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.tunnels_opened += 1;
        self.attempt = 0;
        self.active_tx.send_replace(Some(Active {
            tunnel: tunnel.clone(),
            pod: pod.name.clone(),
            ports: ports.clone(),
        }));
        self.enter(ForwardState::Ready, Some(pod.name.clone()), Some(protocol));
        let setup_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.emit(EventKind::TunnelUp { pod: pod.name.clone(), protocol, setup_ms });
        let mut health = tunnel.health();
        let now = health.borrow_and_update().clone();
        self.step =
            Step::Serving(Box::new(Serving { tunnel, health, pod, ports, standby: Standby::None }));
        if now != Health::Alive {
            self.health(now);
        }
    }

    pub(super) fn pods_changed(&mut self) {
        match &self.step {
            Step::Serving(serving) if !self.usable(&serving.pod) => {
                let name = serving.pod.name.clone();
                self.retire(Reason::PodGone(name));
            }
            Step::Dialing(dial) if !self.usable(&dial.pod) => self.choose(),
            Step::Waiting { .. } => self.choose(),
            Step::Serving(_)
            | Step::Dialing(_)
            | Step::Resolving(_)
            | Step::Paused
            | Step::Failed => {}
        }
    }

    /// The pod in use stopped being usable: new connections go elsewhere, while the ones in
    /// flight may finish on the old tunnel (up to `drain`).
    pub(super) fn retire(&mut self, reason: Reason) {
        let Step::Serving(serving) = std::mem::replace(&mut self.step, Step::Paused) else {
            return;
        };
        self.emit(EventKind::TunnelDown { pod: serving.pod.name.clone(), reason: reason.clone() });
        self.drain(serving.tunnel, serving.pod.name.clone(), false);
        self.lost(reason);
    }

    /// Lets `tunnel` finish its connections; reports its death when `watch_death` (a tunnel
    /// replaced while a probe of it was out).
    pub(super) fn drain(&self, tunnel: Tunnel, pod: String, watch_death: bool) {
        let (deadline, events_tx, forward) =
            (self.ctx.settings.drain, self.ctx.events_tx.clone(), self.fwd.spec.name.clone());
        self.ctx.tracker.spawn(async move {
            let dead = tunnel.dead();
            tokio::select! {
                () = dead.cancelled() => {}
                () = tokio::time::sleep(deadline) => tunnel.close(),
            }
            if let (true, Some(end)) = (watch_death, tunnel.end()) {
                let reason = Reason::from_end(&end);
                let kind = EventKind::TunnelDown { pod, reason };
                let _receivers = events_tx.send(Event { time_ms: now_ms(), forward, kind });
            }
        });
    }

    /// The tunnel in use became doubtful, alive again, or dead.
    pub(super) fn health(&mut self, health: Health) {
        let Step::Serving(serving) = &mut self.step else { return };
        match health {
            Health::Alive => serving.standby = Standby::None,
            Health::Probing { .. } => {
                if matches!(serving.standby, Standby::None) {
                    let grace = standby_grace(serving.tunnel.stats().rtt());
                    serving.standby = Standby::Due(Instant::now() + grace);
                }
            }
            Health::Dead(end) => {
                let reason = Reason::from_end(&end);
                let Step::Serving(serving) = std::mem::replace(&mut self.step, Step::Paused) else {
                    return;
                };
                tracing::info!(pod = %serving.pod.name, %reason, "tunnel lost");
                self.emit(EventKind::TunnelDown { pod: serving.pod.name, reason: reason.clone() });
                match serving.standby {
                    // The replacement is on its way: it becomes the main dial.
                    Standby::Dialing(dial) => {
                        self.reconnecting(1, reason);
                        self.step = Step::Dialing(dial);
                    }
                    Standby::None | Standby::Due(_) => self.lost(reason),
                }
            }
        }
    }

    pub(super) fn timer(&mut self) {
        match &mut self.step {
            Step::Waiting { .. } => self.choose(),
            Step::Serving(serving) => {
                if !matches!(*serving.health.borrow(), Health::Probing { .. }) {
                    serving.standby = Standby::None;
                    return;
                }
                let Some(resolution) = &self.resolution else { return };
                tracing::debug!(pod = %serving.pod.name, "the tunnel is in doubt: dialing a standby");
                let (pod, ports) = (serving.pod.clone(), serving.ports.clone());
                serving.standby = Standby::Dialing(Dial::start(&resolution.cluster, pod, ports));
            }
            Step::Paused | Step::Failed | Step::Resolving(_) | Step::Dialing(_) => {}
        }
    }

    /// A standby is up: it takes over if the tunnel in use is still in doubt.
    pub(super) fn standby_dialed(&mut self, result: Result<Tunnel, ClusterError>) {
        let Step::Serving(serving) = &mut self.step else { return };
        let Standby::Dialing(dial) = std::mem::replace(&mut serving.standby, Standby::None) else {
            return;
        };
        let tunnel = match result {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(error = %e, "the standby tunnel failed");
                return;
            }
        };
        if !matches!(*serving.health.borrow(), Health::Probing { .. }) {
            // The probe was answered first: the tunnel in use is fine.
            tunnel.close();
            return;
        }
        let Step::Serving(old) = std::mem::replace(&mut self.step, Step::Paused) else { return };
        tracing::info!(pod = %old.pod.name, "a standby tunnel answered first: it takes over");
        self.drain(old.tunnel, old.pod.name, true);
        self.serve(tunnel, dial.pod, dial.ports, dial.started);
    }

    /// The daemon did not run for a while: the tunnel in use must prove itself, and a backoff
    /// in progress ends now.
    pub(super) fn paused(&mut self, pause: Pause) {
        match &self.step {
            Step::Serving(serving) => {
                let cause = match pause.kind {
                    PauseKind::Sleep => ProbeCause::Wake,
                    PauseKind::Freeze => ProbeCause::Freeze,
                };
                serving.tunnel.probe(cause);
            }
            Step::Waiting { .. } => self.choose(),
            Step::Paused | Step::Failed | Step::Resolving(_) | Step::Dialing(_) => {}
        }
    }
}

/// How long a probe may go unanswered before a standby is dialed: a few round trips, so that a
/// tunnel that answers costs no upgrade.
fn standby_grace(rtt: Option<Duration>) -> Duration {
    let rtt = rtt.unwrap_or(Duration::from_millis(30));
    rtt.saturating_mul(3).clamp(Duration::from_millis(50), Duration::from_millis(500))
}

/// A port the target lacks, in kubectl's words.
pub(super) fn no_such_port(e: &PortError, target: &str) -> Reason {
    Reason::NoSuchPort(match e {
        PortError::NoServicePort(port) => {
            format!("Service {target} does not have a service port {port}")
        }
        PortError::NoContainerPort { pod, name } => {
            format!("Pod '{pod}' does not have a named port '{name}'")
        }
    })
}
