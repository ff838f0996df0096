//! One forward's supervisor: keeps a tunnel to a Ready pod of its target, and serves the local
//! listeners through whichever tunnel is current.
//!
//! - The pod comes from a watch, never from polling; when it stops being usable the next Ready
//!   pod is dialed at once, and new local connections wait (up to `hold`) instead of failing.
//! - A dead tunnel (GOAWAY, reset, no pong within the deadline) is replaced, first retry
//!   immediate, then exponential backoff with jitter. Its in-flight connections close at once.
//! - 403 is final (`Failed`); 401 after a credential refresh and 404 back off, never spin.
//! - After a wake from sleep every tunnel is probed with a short deadline.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::events::{Event, EventKind, LiveCounters, Status, now_ms};
use super::relay::relay;
use super::spec::ForwardSpec;
use super::state::{Backoff, Desired, ForwardState, Reason};
use crate::cluster::resolve::{choose_pod, container_port};
use crate::cluster::{Cluster, ClusterError, ClusterFactory, PodInfo, Resolved};
use crate::tunnel::Tunnel;

/// Tunables of every supervisor.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long a new local connection waits for a tunnel before it is closed.
    pub hold: Duration,
    /// Retry delays.
    pub backoff: Backoff,
    /// How long a probed tunnel has to answer after a wake from sleep.
    pub wake_probe: Duration,
    /// How long a replaced tunnel keeps serving its in-flight connections.
    pub drain: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            hold: Duration::from_secs(30),
            backoff: Backoff::default(),
            wake_probe: Duration::from_secs(3),
            drain: Duration::from_secs(60),
        }
    }
}

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
    /// Wakes from sleep.
    pub wake_tx: broadcast::Sender<Duration>,
    /// Tunables.
    pub settings: Settings,
    /// Owns every task.
    pub tracker: TaskTracker,
}

struct Supervisor {
    ctx: Context,
    fwd: Arc<Shared>,
    active_tx: watch::Sender<Option<Active>>,
    desired_rx: watch::Receiver<Desired>,
    cancel: CancellationToken,
    tunnels_opened: u64,
}

/// Runs a forward until `cancel`: accept loops on `listeners`, and the tunnel manager.
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
        let accept = accept_loop(
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
    let mut sup = Supervisor { ctx, fwd, active_tx, desired_rx, cancel, tunnels_opened: 0 };
    sup.manage().await;
    sup.active_tx.send_replace(None);
}

impl Supervisor {
    fn emit(&self, kind: EventKind) {
        let event = Event { time_ms: now_ms(), forward: self.fwd.spec.name.clone(), kind };
        // Nobody watching is fine.
        let _receivers = self.ctx.events_tx.send(event);
    }

    fn set_state(&self, state: ForwardState, pod: Option<String>, protocol: Option<&'static str>) {
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

    /// Waits `delay` unless something that deserves a retry happens first. False on cancel or
    /// pause.
    async fn wait(&mut self, delay: Duration, pods: Option<&mut crate::cluster::PodWatch>) -> bool {
        let changed = async {
            match pods {
                Some(p) => {
                    let _ended = p.changed().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = changed => true,
            () = self.cancel.cancelled() => false,
            _ = self.desired_rx.changed() => *self.desired_rx.borrow() == Desired::Running,
        }
    }

    /// The whole life of the forward.
    async fn manage(&mut self) {
        let mut attempt = 0u32;
        let mut reason: Option<Reason> = None;
        while !self.cancel.is_cancelled() {
            if *self.desired_rx.borrow_and_update() == Desired::Paused {
                self.active_tx.send_replace(None);
                self.set_state(ForwardState::Paused, None, None);
                tokio::select! {
                    _ = self.desired_rx.changed() => {}
                    () = self.cancel.cancelled() => return,
                }
                attempt = 0;
                reason = None;
                continue;
            }
            match reason.take() {
                None if self.tunnels_opened == 0 => {
                    self.set_state(ForwardState::Connecting, None, None)
                }
                None => {}
                Some(r) => self.set_state(
                    ForwardState::Reconnecting { attempt: attempt.max(1), reason: r },
                    None,
                    None,
                ),
            }
            match self.connect_and_serve(&mut attempt).await {
                // Cancelled or paused: the top of the loop tells which.
                Ok(()) => continue,
                Err(Fail::Final(r)) => {
                    self.active_tx.send_replace(None);
                    self.set_state(ForwardState::Failed { reason: r }, None, None);
                    // Only the user (resume) or shutdown ends a failure: no hot loop.
                    tokio::select! {
                        _ = self.desired_rx.changed() => {}
                        () = self.cancel.cancelled() => return,
                    }
                    attempt = 0;
                }
                Err(Fail::Retry(r)) => {
                    attempt += 1;
                    reason = Some(r.clone());
                    self.set_state(ForwardState::Reconnecting { attempt, reason: r }, None, None);
                    let delay = self.ctx.settings.backoff.delay(attempt, rand::random());
                    if !self.wait(delay, None).await && self.cancel.is_cancelled() {
                        return;
                    }
                }
            }
        }
    }

    /// Resolves the target and keeps a tunnel up; `Ok` when cancelled or paused.
    async fn connect_and_serve(&mut self, attempt: &mut u32) -> Result<(), Fail> {
        let spec = self.fwd.spec.clone();
        let cluster = self
            .ctx
            .factory
            .cluster(spec.kubeconfig.as_deref(), spec.context.as_deref(), spec.namespace.as_deref())
            .await
            .map_err(Fail::from)?;
        let resolved = cluster.resolve(&spec.target).await.map_err(Fail::from)?;
        let mut pods = cluster.watch_pods(&resolved.pods).await.map_err(Fail::from)?;
        loop {
            if self.cancel.is_cancelled() || *self.desired_rx.borrow() == Desired::Paused {
                return Ok(());
            }
            let set = pods.borrow_and_update().clone();
            let chosen = match set {
                Err(e) => {
                    let fail = Fail::from(e);
                    if let Fail::Final(_) = fail {
                        return Err(fail);
                    }
                    *attempt += 1;
                    self.note_waiting(*attempt, fail.reason());
                    let delay = self.ctx.settings.backoff.delay(*attempt, rand::random());
                    if !self.wait(delay, Some(&mut pods)).await {
                        return Ok(());
                    }
                    continue;
                }
                Ok(set) => self.pick(&set, &resolved),
            };
            let (pod, ports) = match chosen {
                Ok(c) => c,
                Err(r) => {
                    *attempt += 1;
                    self.note_waiting(*attempt, r);
                    // A Ready pod appearing wakes this at once; the timeout re-checks the target.
                    if !self.wait(Duration::from_secs(30), Some(&mut pods)).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            let started = Instant::now();
            let hint = None;
            let tunnel = match cluster.port_forward(&pod.name, ports[0], hint).await {
                Ok(t) => t,
                Err(e) => {
                    let fail = Fail::from(e);
                    if let Fail::Final(_) = fail {
                        return Err(fail);
                    }
                    *attempt += 1;
                    self.note_waiting(*attempt, fail.reason());
                    let delay = self.ctx.settings.backoff.delay(*attempt, rand::random());
                    if !self.wait(delay, Some(&mut pods)).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            *attempt = 0;
            let why = self.serve(&cluster, tunnel, pod, ports, started, &mut pods).await;
            match why {
                None => return Ok(()),
                Some(r) => {
                    // The first retry is immediate.
                    *attempt = 1;
                    self.set_state(
                        ForwardState::Reconnecting { attempt: 1, reason: r },
                        None,
                        None,
                    );
                }
            }
        }
    }

    fn note_waiting(&self, attempt: u32, reason: Reason) {
        self.active_tx.send_replace(None);
        self.set_state(ForwardState::Reconnecting { attempt, reason }, None, None);
    }

    /// The best Ready pod and the container port of each mapping on it.
    fn pick(&self, pods: &[PodInfo], resolved: &Resolved) -> Result<(PodInfo, Vec<u16>), Reason> {
        let target = &self.fwd.spec.target;
        let Some(pod) = choose_pod(pods) else {
            return Err(if pods.is_empty() {
                Reason::NotFound(format!("no pod for {target} yet"))
            } else {
                Reason::NoReadyPod(format!("{} pod(s) of {target}, none Ready", pods.len()))
            });
        };
        let ports = self
            .fwd
            .spec
            .ports
            .iter()
            .map(|m| container_port(&m.remote, resolved.service_ports.as_deref(), pod))
            .collect::<Result<Vec<u16>, _>>()
            .map_err(|e| Reason::NotFound(e.to_string()))?;
        Ok((pod.clone(), ports))
    }

    /// Serves through `tunnel` until it dies, its pod stops being usable, or the forward ends.
    /// Returns why it stopped (`None`: cancelled or paused).
    async fn serve(
        &mut self,
        cluster: &Arc<dyn Cluster>,
        tunnel: Tunnel,
        pod: PodInfo,
        ports: Vec<u16>,
        started: Instant,
        pods: &mut crate::cluster::PodWatch,
    ) -> Option<Reason> {
        let _ = cluster;
        let protocol = tunnel.protocol().as_str();
        if self.tunnels_opened > 0 {
            self.fwd.counters.reconnects.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.tunnels_opened += 1;
        self.active_tx.send_replace(Some(Active {
            tunnel: tunnel.clone(),
            pod: pod.name.clone(),
            ports,
        }));
        self.set_state(ForwardState::Ready, Some(pod.name.clone()), Some(protocol));
        let setup_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.emit(EventKind::TunnelUp { pod: pod.name.clone(), protocol, setup_ms });
        let mut wake_rx = self.ctx.wake_tx.subscribe();
        let dead = tunnel.dead();
        let reason = loop {
            tokio::select! {
                () = dead.cancelled() => {
                    let why = tunnel.death();
                    break Some(if why.contains("ping") { Reason::DeadPeer } else { Reason::Connection(why) });
                }
                changed = pods.changed() => {
                    if changed.is_err() {
                        break Some(Reason::Connection("the pod watch ended".into()));
                    }
                    let usable = pods.borrow().as_ref().map_or(true, |set| {
                        set.iter().any(|p| p.name == pod.name && p.uid == pod.uid && p.ready && !p.terminating)
                    });
                    if !usable {
                        break Some(Reason::PodGone(pod.name.clone()));
                    }
                }
                woke = wake_rx.recv() => {
                    if woke.is_ok() {
                        tunnel.probe(self.ctx.settings.wake_probe);
                    }
                }
                _ = self.desired_rx.changed() => {
                    if *self.desired_rx.borrow() == Desired::Paused {
                        tunnel.close();
                        break None;
                    }
                }
                () = self.cancel.cancelled() => {
                    tunnel.close();
                    break None;
                }
            }
        };
        // New connections wait for the next tunnel from here on.
        self.active_tx.send_replace(None);
        if let Some(r) = &reason {
            self.emit(EventKind::TunnelDown { pod: pod.name.clone(), reason: r.to_string() });
            if matches!(r, Reason::PodGone(_)) {
                // Connections already in flight may finish while the pod terminates.
                let drain = self.ctx.settings.drain;
                self.ctx.tracker.spawn(async move {
                    let dead = tunnel.dead();
                    tokio::select! {
                        () = dead.cancelled() => {}
                        () = tokio::time::sleep(drain) => tunnel.close(),
                    }
                });
            }
        }
        reason
    }
}

/// How a connection attempt failed.
#[derive(Debug, Clone)]
enum Fail {
    /// Retrying cannot help (403, a bad kubeconfig).
    Final(Reason),
    /// Back off and try again.
    Retry(Reason),
}

impl Fail {
    fn reason(self) -> Reason {
        match self {
            Self::Final(r) | Self::Retry(r) => r,
        }
    }
}

impl From<ClusterError> for Fail {
    fn from(e: ClusterError) -> Self {
        let text = e.to_string();
        match e {
            ClusterError::Forbidden(_) => Self::Final(Reason::Forbidden(text)),
            ClusterError::Config(_) => Self::Final(Reason::Other(text)),
            ClusterError::Unauthorized(_) => Self::Retry(Reason::Unauthorized(text)),
            ClusterError::NotFound(_) | ClusterError::Rejected { code: 404, .. } => {
                Self::Retry(Reason::NotFound(text))
            }
            ClusterError::Rejected { .. } => Self::Retry(Reason::Connection(text)),
            ClusterError::Connection(_) | ClusterError::Protocol(_) => {
                Self::Retry(Reason::Connection(text))
            }
        }
    }
}

/// Accepts local connections; each is served by its own task.
async fn accept_loop(
    ctx: Context,
    fwd: Arc<Shared>,
    listener: Arc<TcpListener>,
    index: usize,
    active_rx: watch::Receiver<Option<Active>>,
    desired_rx: watch::Receiver<Desired>,
    cancel: CancellationToken,
) {
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = cancel.cancelled() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "failed to accept a local connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if *desired_rx.borrow() == Desired::Paused {
            // The port stays reserved while paused; connections are refused politely.
            drop(tcp);
            continue;
        }
        next_id += 1;
        let conn =
            Conn { ctx: ctx.clone(), fwd: fwd.clone(), index, id: next_id, peer: peer.to_string() };
        let span = tracing::debug_span!("conn", forward = %fwd.spec.name, id = next_id);
        ctx.tracker.spawn(conn.serve(tcp, active_rx.clone(), cancel.clone()).instrument(span));
    }
}

struct Conn {
    ctx: Context,
    fwd: Arc<Shared>,
    index: usize,
    id: u64,
    peer: String,
}

/// How many times a connection is replayed on another pod before it fails.
const REPLAYS: u32 = 3;

impl Conn {
    fn emit(&self, kind: EventKind) {
        let event = Event { time_ms: now_ms(), forward: self.fwd.spec.name.clone(), kind };
        let _receivers = self.ctx.events_tx.send(event);
    }

    /// The current tunnel, waiting for one up to `hold`; `None` after the hold or on cancel.
    async fn tunnel(
        &self,
        active_rx: &mut watch::Receiver<Option<Active>>,
        deadline: Instant,
        avoid: Option<&str>,
    ) -> Option<Active> {
        loop {
            let current = active_rx.borrow_and_update().clone();
            if let Some(a) = current
                && !a.tunnel.dead().is_cancelled()
                && avoid.is_none_or(|pod| pod != a.pod)
            {
                return Some(a);
            }
            if tokio::time::timeout_at(deadline, active_rx.changed()).await.is_err() {
                return None;
            }
        }
    }

    async fn serve(
        self,
        mut tcp: TcpStream,
        mut active_rx: watch::Receiver<Option<Active>>,
        cancel: CancellationToken,
    ) {
        use std::sync::atomic::Ordering;
        let _nodelay = tcp.set_nodelay(true);
        let counters = &self.fwd.counters;
        counters.connections.fetch_add(1, Ordering::Relaxed);
        counters.active.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.ctx.settings.hold;
        let (mut preface, mut eof, mut avoid) = (Vec::new(), false, None::<String>);
        let mut opened = false;
        let mut result = (0, 0, Some("no tunnel became ready in time".to_owned()));
        for replay in 0..=REPLAYS {
            let hold_until =
                if replay == 0 { deadline } else { Instant::now() + self.ctx.settings.hold };
            let active = tokio::select! {
                a = self.tunnel(&mut active_rx, hold_until, avoid.as_deref()) => a,
                () = cancel.cancelled() => None,
            };
            let Some(active) = active else { break };
            let stream = match active.tunnel.open(active.ports[self.index]).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "tunnel refused a stream; waiting for the next one");
                    avoid = None;
                    continue;
                }
            };
            if !opened {
                opened = true;
                self.emit(EventKind::Opened {
                    id: self.id,
                    peer: self.peer.clone(),
                    pod: active.pod.clone(),
                });
            }
            let outcome = tokio::select! {
                o = relay(&mut tcp, stream, std::mem::take(&mut preface), eof, counters) => o,
                () = cancel.cancelled() => break,
            };
            result = (outcome.bytes_out, outcome.bytes_in, outcome.error.clone());
            match outcome.replay {
                Some((chunks, finished)) if replay < REPLAYS => {
                    tracing::debug!(pod = %active.pod, error = ?outcome.error, "replaying the connection on another pod");
                    preface = chunks;
                    eof = finished;
                    avoid = Some(active.pod.clone());
                }
                _ => break,
            }
        }
        if result.2.is_some() {
            // An abnormal end shows as a reset, not as a clean close the client could trust.
            let _ignored = socket_reset(&tcp);
        }
        counters.active.fetch_sub(1, Ordering::Relaxed);
        let (bytes_out, bytes_in, error) = result;
        self.emit(EventKind::Closed { id: self.id, bytes_out, bytes_in, error });
    }
}

/// Makes dropping `tcp` send RST.
fn socket_reset(tcp: &TcpStream) -> std::io::Result<()> {
    tcp.set_zero_linger()
}
