//! One forward's supervisor: keeps a tunnel to a usable pod of its target, and serves the local
//! listeners through whichever tunnel is current.
//!
//! It is one state machine ([`step::Step`]): every input (the user, the pod watch, a dial, the
//! tunnel's health, a timer, a pause of the daemon) arrives through one wait
//! ([`Supervisor::next`]) and is handled by one method ([`Supervisor::on`]). `attempt` has one
//! owner, and the forward's state is set in one place ([`Supervisor::enter`]).
//!
//! - The pod comes from a watch, never from polling; when it stops being usable the next Ready
//!   pod is dialed at once, and new local connections wait (up to `hold`) instead of failing. A
//!   `pod/` target keeps serving while its pod terminates, until the container is gone.
//! - A dead tunnel is replaced at once, then with exponential backoff and jitter.
//! - While a probe is out (a connection waits on a quiet tunnel, or the daemon was frozen or the
//!   machine slept), a standby tunnel is dialed after a short grace; whichever answers first
//!   serves, and connections the dead one never delivered are replayed on the new one.
//! - 403 and an unusable kubeconfig are final (`Failed`); 401 after a credential refresh and 404
//!   back off, never spin.

mod conn;
mod serving;
mod step;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::events::{Event, EventKind, LiveCounters, Status, now_ms};
use super::spec::{ForwardSpec, TargetKind};
use super::state::{Backoff, Desired, ForwardState, Reason};
use super::wake::Pause;
use crate::cluster::resolve::{choose_pod, container_port};
use crate::cluster::{ClusterError, ClusterFactory, PodInfo};
use crate::tunnel::Tunnel;
use serving::no_such_port;
use step::{Dial, Input, Resolution, Step, pods_changed};

/// Tunables of every supervisor.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long a new local connection waits for a tunnel before it is closed.
    pub hold: Duration,
    /// Retry delays.
    pub backoff: Backoff,
    /// How long a replaced tunnel keeps serving its in-flight connections.
    pub drain: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            hold: Duration::from_secs(30),
            backoff: Backoff::default(),
            drain: Duration::from_secs(60),
        }
    }
}

/// How long a pod-set wait lasts before the target is checked again.
const RECHECK: Duration = Duration::from_secs(30);

/// What a forward shares with the registry and the API.
#[derive(Debug)]
pub struct Shared {
    /// The spec.
    pub spec: ForwardSpec,
    /// The bound local port of each mapping.
    pub local_ports: Vec<u16>,
    /// The current status.
    pub status: watch::Sender<Status>,
    /// Counters.
    pub counters: LiveCounters,
    /// Unix seconds of creation.
    pub created_at: u64,
    /// The tunnel in use, for dialing without a local listener.
    pub(crate) active: watch::Receiver<Option<Active>>,
}

impl Shared {
    /// `ADDRESS:PORT` of each mapping.
    #[must_use]
    pub fn local_addresses(&self) -> Vec<String> {
        self.local_ports
            .iter()
            .map(|p| std::net::SocketAddr::new(self.spec.address, *p).to_string())
            .collect()
    }
}

/// The tunnel new connections use right now.
#[derive(Debug, Clone)]
pub(crate) struct Active {
    pub(crate) tunnel: Tunnel,
    pub(crate) pod: String,
    /// The container port of each mapping on that pod.
    pub(crate) ports: Vec<u16>,
}

/// Everything a supervisor needs from the daemon.
#[derive(Debug, Clone)]
pub struct Context {
    /// Reaches clusters.
    pub factory: Arc<dyn ClusterFactory>,
    /// Where events go.
    pub events_tx: broadcast::Sender<Event>,
    /// Sleeps and freezes of the daemon.
    pub pauses: broadcast::Sender<Pause>,
    /// Tunables.
    pub settings: Settings,
    /// Owns every task.
    pub tracker: TaskTracker,
}

/// Runs a forward until `cancel`: accept loops on `listeners`, and the state machine.
pub(crate) async fn run(
    ctx: Context,
    fwd: Arc<Shared>,
    listeners: Vec<Arc<TcpListener>>,
    active_tx: watch::Sender<Option<Active>>,
    desired_rx: watch::Receiver<Desired>,
    cancel: CancellationToken,
) {
    let active_rx = active_tx.subscribe();
    for (index, listener) in listeners.into_iter().enumerate() {
        let accept = conn::accept_loop(
            ctx.clone(),
            fwd.clone(),
            listener,
            index,
            active_rx.clone(),
            desired_rx.clone(),
            cancel.clone(),
        );
        ctx.tracker.spawn(accept.in_current_span());
    }
    let mut sup = Supervisor {
        pauses: ctx.pauses.subscribe(),
        ctx,
        fwd,
        active_tx,
        desired_rx,
        cancel,
        step: Step::Paused,
        resolution: None,
        attempt: 0,
        tunnels_opened: 0,
    };
    sup.desired();
    loop {
        let input = sup.next().await;
        if !sup.on(input) {
            break;
        }
    }
    sup.drop_tunnel();
}

/// Why a cluster call failed, as the supervisor reacts.
#[derive(Debug, Clone)]
enum Fail {
    /// Retrying cannot help (403, a bad kubeconfig).
    Final(Reason),
    /// Back off and try again.
    Retry(Reason),
}

impl From<ClusterError> for Fail {
    fn from(e: ClusterError) -> Self {
        let text = e.to_string();
        match e {
            ClusterError::Forbidden(_) => Self::Final(Reason::Forbidden(text)),
            ClusterError::Config(_) | ClusterError::CredentialPlugin(_) => {
                Self::Final(Reason::Other(text))
            }
            ClusterError::Unauthorized(_) => Self::Retry(Reason::Unauthorized(text)),
            ClusterError::NotFound(_) | ClusterError::Rejected { code: 404, .. } => {
                Self::Retry(Reason::NotFound(text))
            }
            ClusterError::Rejected { .. }
            | ClusterError::Connection(_)
            | ClusterError::Kubelet(_)
            | ClusterError::Protocol(_) => Self::Retry(Reason::Connection(text)),
        }
    }
}

struct Supervisor {
    ctx: Context,
    fwd: Arc<Shared>,
    active_tx: watch::Sender<Option<Active>>,
    desired_rx: watch::Receiver<Desired>,
    cancel: CancellationToken,
    pauses: broadcast::Receiver<Pause>,
    step: Step,
    /// The resolved target and its pod watch, kept across tunnels.
    resolution: Option<Resolution>,
    /// Failed tries since the forward last served; the one owner of the count.
    attempt: u32,
    tunnels_opened: u64,
}

/// The next pause of the daemon; never, once nobody can send one.
async fn next_pause(pauses: &mut broadcast::Receiver<Pause>) -> Pause {
    loop {
        match pauses.recv().await {
            Ok(p) => return p,
            // Several pauses came at once: one probe covers them.
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

impl Supervisor {
    /// Waits for the next input. Every arm is one call; the step owns its futures.
    async fn next(&mut self) -> Input {
        let pods = self.resolution.as_mut().map(|r| &mut r.pods);
        tokio::select! {
            () = self.cancel.cancelled() => Input::Cancelled,
            changed = self.desired_rx.changed() => match changed {
                Ok(()) => Input::Desired,
                Err(_) => Input::Cancelled,
            },
            changed = pods_changed(pods) => Input::Pods(changed),
            input = self.step.next() => input,
            pause = next_pause(&mut self.pauses) => Input::Paused(pause),
        }
    }

    /// Handles one input; false when the forward ends.
    fn on(&mut self, input: Input) -> bool {
        match input {
            Input::Cancelled => return false,
            Input::Desired => self.desired(),
            Input::Pods(true) => self.pods_changed(),
            Input::Pods(false) => {
                self.resolution = None;
                self.lost(Reason::Connection("the pod watch ended".into()));
            }
            Input::Resolved(result) => self.resolved(result),
            Input::Dialed(result) => self.dialed(result),
            Input::Health(health) => self.health(health),
            Input::StandbyDialed(result) => self.standby_dialed(result),
            Input::Timer => self.timer(),
            Input::Paused(pause) => self.paused(pause),
        }
        true
    }

    fn emit(&self, kind: EventKind) {
        let event = Event { time_ms: now_ms(), forward: self.fwd.spec.name.clone(), kind };
        // Nobody watching is fine.
        let _receivers = self.ctx.events_tx.send(event);
    }

    /// The one place the forward's state is set.
    fn enter(&self, state: ForwardState, pod: Option<String>, protocol: Option<&'static str>) {
        let changed = self.fwd.status.send_if_modified(|s| {
            if s.state == state && s.pod == pod {
                return false;
            }
            *s = Status {
                state: state.clone(),
                pod: pod.clone(),
                local_addresses: s.local_addresses.clone(),
                since_ms: now_ms(),
                protocol,
            };
            true
        });
        if changed {
            tracing::info!(forward = %self.fwd.spec.name, state = state.name(), ?pod, "state");
            self.emit(EventKind::Status(self.fwd.status.borrow().clone()));
        }
    }

    /// The user paused or resumed (a resume also restarts a failed forward).
    fn desired(&mut self) {
        let desired = *self.desired_rx.borrow_and_update();
        match (desired, &self.step) {
            (Desired::Paused, Step::Paused) => self.enter(ForwardState::Paused, None, None),
            (Desired::Paused, _) => {
                self.drop_tunnel();
                self.step = Step::Paused;
                self.enter(ForwardState::Paused, None, None);
            }
            (Desired::Running, Step::Paused | Step::Failed) => {
                self.attempt = 0;
                if self.tunnels_opened == 0 {
                    self.enter(ForwardState::Connecting, None, None);
                }
                self.choose();
            }
            (Desired::Running, _) => {}
        }
    }

    /// Closes the tunnel in use (and any standby); new connections wait.
    fn drop_tunnel(&mut self) {
        self.active_tx.send_replace(None);
        if let Step::Serving(serving) = &self.step {
            serving.tunnel.close();
        }
    }

    /// Starts resolving the target.
    fn resolve(&mut self) {
        let (factory, spec) = (self.ctx.factory.clone(), self.fwd.spec.clone());
        self.step = Step::Resolving(Box::pin(async move {
            let cluster = factory
                .cluster(
                    spec.kubeconfig.as_deref(),
                    spec.context.as_deref(),
                    spec.namespace.as_deref(),
                )
                .await?;
            let resolved = cluster.resolve(&spec.target).await?;
            let pods = cluster.watch_pods(&resolved.pods).await?;
            Ok(Resolution { cluster, resolved, pods })
        }));
    }

    fn resolved(&mut self, result: Result<Resolution, ClusterError>) {
        match result {
            Ok(resolution) => {
                self.resolution = Some(resolution);
                self.choose();
            }
            Err(e) => self.failed(e),
        }
    }

    /// A cluster call failed: final, or a retry after a backoff.
    fn failed(&mut self, e: ClusterError) {
        match Fail::from(e) {
            Fail::Final(reason) => {
                self.active_tx.send_replace(None);
                self.step = Step::Failed;
                self.enter(ForwardState::Failed { reason }, None, None);
            }
            Fail::Retry(reason) => self.retry(reason),
        }
    }

    /// Try number `attempt` failed, or is about to be made: new connections wait, and the
    /// state says why.
    fn reconnecting(&mut self, attempt: u32, reason: Reason) {
        self.attempt = attempt;
        self.active_tx.send_replace(None);
        self.enter(ForwardState::Reconnecting { attempt, reason }, None, None);
    }

    /// One more failed try: shows it, and waits the backoff (a change of the pods ends the wait).
    fn retry(&mut self, reason: Reason) {
        self.reconnecting(self.attempt + 1, reason);
        let delay = self.ctx.settings.backoff.delay(self.attempt, rand::random());
        self.step = Step::Waiting { until: Instant::now() + delay };
    }

    /// The tunnel in use is gone: the first retry is immediate.
    fn lost(&mut self, reason: Reason) {
        self.reconnecting(1, reason);
        self.choose();
    }

    /// Picks a pod from the watch and dials it, or waits for the pods to change.
    fn choose(&mut self) {
        let Some(resolution) = &mut self.resolution else { return self.resolve() };
        let set = resolution.pods.borrow_and_update().clone();
        let pods = match set {
            Ok(pods) => pods,
            Err(e) => return self.failed(e),
        };
        match self.pick(&pods) {
            Ok((pod, ports)) => self.dial(pod, ports),
            Err(reason) => {
                self.reconnecting(self.attempt + 1, reason);
                // A usable pod appearing ends this wait at once.
                self.step = Step::Waiting { until: Instant::now() + RECHECK };
            }
        }
    }

    /// The best usable pod and the container port of each mapping on it.
    fn pick(&self, pods: &[PodInfo]) -> Result<(PodInfo, Vec<u16>), Reason> {
        let target = &self.fwd.spec.target;
        let Some(pod) = choose_pod(pods) else {
            return Err(if pods.is_empty() {
                Reason::NotFound(format!("no pod for {target} yet"))
            } else {
                Reason::NoReadyPod(format!("{} pod(s) of {target}, none Ready", pods.len()))
            });
        };
        let service_ports =
            self.resolution.as_ref().and_then(|r| r.resolved.service_ports.as_deref());
        let ports = self
            .fwd
            .spec
            .ports
            .iter()
            .map(|m| container_port(&m.remote, service_ports, pod))
            .collect::<Result<Vec<u16>, _>>()
            .map_err(|e| no_such_port(&e, &self.fwd.spec.target.name))?;
        Ok((pod.clone(), ports))
    }

    fn dial(&mut self, pod: PodInfo, ports: Vec<u16>) {
        let Some(resolution) = &self.resolution else { return self.resolve() };
        self.step = Step::Dialing(Dial::start(&resolution.cluster, pod, ports));
    }

    fn dialed(&mut self, result: Result<Tunnel, ClusterError>) {
        let Step::Dialing(dial) = std::mem::replace(&mut self.step, Step::Paused) else { return };
        match result {
            Ok(tunnel) => self.serve(tunnel, dial.pod, dial.ports, dial.started),
            Err(e) => self.failed(e),
        }
    }

    /// Whether `pod` still serves, by the watch's latest word: a `pod/` target serves while its
    /// container runs (terminating or not Ready, as kubectl does); other targets need it Ready
    /// and not terminating, so new connections move to a Ready pod at once.
    fn usable(&self, pod: &PodInfo) -> bool {
        let Some(resolution) = &self.resolution else { return false };
        let pods = resolution.pods.borrow();
        let Ok(set) = pods.as_ref() else { return true };
        let pod_target = self.fwd.spec.target.kind == TargetKind::Pod;
        set.iter().any(|p| {
            p.name == pod.name
                && p.uid == pod.uid
                && if pod_target { p.phase == "Running" } else { p.ready && !p.terminating }
        })
    }
}
