//! Test doubles behind the real traits: a cluster whose pods, dials and tunnels a test scripts,
//! and tunnels whose health and pods it controls. Supervisor and registry tests drive these
//! under tokio's paused time.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Cluster, ClusterError, ClusterFactory, PodInfo, PodSelector, PodWatch, Resolved};
use crate::forward::spec::Target;
use crate::tunnel::{
    ByteQueue, Chunk, EndReason, Health, Opener, PodSender, ProbeCause, Protocol, Refusal,
    RefusalKind, STREAM_BUFFER, Stream, Tunnel, TunnelEnd, TunnelError, TunnelStats,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a fake pod does with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PodBehavior {
    /// Sends every byte back; a half-close ends it.
    Echo,
    /// Refuses the connection after its first bytes, as a pod going away does.
    Refuse,
}

/// A Running pod with a `tcp` port 7000.
pub(crate) fn pod(name: &str, ready: bool) -> PodInfo {
    PodInfo {
        name: name.into(),
        uid: format!("{name}-uid"),
        phase: "Running".into(),
        ready,
        scheduled: true,
        ports: vec![(Some("tcp".into()), 7000)],
        containers: vec!["main".into()],
        ..PodInfo::default()
    }
}

/// A cluster of one namespace whose pod set and dials the test controls.
#[derive(Debug)]
pub(crate) struct FakeCluster {
    pods: watch::Sender<Result<Vec<PodInfo>, ClusterError>>,
    /// When each dial was made.
    pub(crate) dials: Mutex<Vec<Instant>>,
    /// Failures for the next dials, in order; an empty queue dials successfully.
    pub(crate) failures: Mutex<VecDeque<ClusterError>>,
    /// How each pod serves connections (echo when absent).
    pub(crate) behavior: Mutex<HashMap<String, PodBehavior>>,
    /// Every tunnel opened, in order.
    pub(crate) tunnels: Mutex<Vec<Arc<FakeTunnel>>>,
    /// Whether tunnels answer probes.
    pub(crate) answer_probes: Mutex<bool>,
    /// How long a dial takes.
    pub(crate) dial_time: Duration,
}

impl FakeCluster {
    pub(crate) fn new(pods: Vec<PodInfo>) -> Arc<Self> {
        Arc::new(Self {
            pods: watch::channel(Ok(pods)).0,
            dials: Mutex::default(),
            failures: Mutex::default(),
            behavior: Mutex::default(),
            tunnels: Mutex::default(),
            answer_probes: Mutex::new(true),
            dial_time: Duration::from_millis(20),
        })
    }

    /// Replaces the pod set, as a watch event would.
    pub(crate) fn set_pods(&self, pods: Vec<PodInfo>) {
        let _old = self.pods.send_replace(Ok(pods));
    }

    pub(crate) fn dial_count(&self) -> usize {
        lock(&self.dials).len()
    }

    pub(crate) fn dial_times(&self) -> Vec<Instant> {
        lock(&self.dials).clone()
    }

    /// The last tunnel opened.
    pub(crate) fn tunnel(&self) -> Arc<FakeTunnel> {
        lock(&self.tunnels).last().cloned().expect("a tunnel was opened")
    }

    pub(crate) fn tunnel_count(&self) -> usize {
        lock(&self.tunnels).len()
    }
}

#[async_trait::async_trait]
impl Cluster for FakeCluster {
    fn namespace(&self) -> &str {
        "default"
    }

    async fn resolve(&self, _target: &Target) -> Result<Resolved, ClusterError> {
        Ok(Resolved { pods: PodSelector::Labels("app=fake".into()), service_ports: None })
    }

    async fn watch_pods(&self, _selector: &PodSelector) -> Result<PodWatch, ClusterError> {
        Ok(self.pods.subscribe())
    }

    async fn pod_for(&self, target: &Target) -> Result<PodInfo, ClusterError> {
        Err(ClusterError::NotFound(target.to_string()))
    }

    async fn remote_command(
        &self,
        request: crate::exec::Request,
    ) -> Result<crate::exec::Process, ClusterError> {
        Err(ClusterError::NotFound(format!("{request:?}")))
    }

    async fn port_forward(
        &self,
        pod: &str,
        _probe_port: u16,
        _hint: Option<Protocol>,
    ) -> Result<Tunnel, ClusterError> {
        lock(&self.dials).push(Instant::now());
        tokio::time::sleep(self.dial_time).await;
        if let Some(failure) = lock(&self.failures).pop_front() {
            return Err(failure);
        }
        let behavior = lock(&self.behavior).get(pod).copied().unwrap_or(PodBehavior::Echo);
        let tunnel = Arc::new(FakeTunnel::new(behavior, *lock(&self.answer_probes)));
        lock(&self.tunnels).push(tunnel.clone());
        Ok(Tunnel::new(tunnel))
    }
}

/// Hands out the one fake cluster.
#[derive(Debug)]
pub(crate) struct FakeFactory(pub(crate) Arc<FakeCluster>);

#[async_trait::async_trait]
impl ClusterFactory for FakeFactory {
    async fn cluster(
        &self,
        _kubeconfig: Option<&str>,
        _context: Option<&str>,
        _namespace: Option<&str>,
    ) -> Result<Arc<dyn Cluster>, ClusterError> {
        Ok(self.0.clone())
    }
}

/// A tunnel to one fake pod.
#[derive(Debug)]
pub(crate) struct FakeTunnel {
    behavior: PodBehavior,
    answer_probes: bool,
    health: watch::Sender<Health>,
    dead: CancellationToken,
    stats: TunnelStats,
    /// Every probe asked of it.
    pub(crate) probes: Mutex<Vec<ProbeCause>>,
    /// Streams opened on it.
    pub(crate) opened: Mutex<usize>,
}

impl FakeTunnel {
    fn new(behavior: PodBehavior, answer_probes: bool) -> Self {
        Self {
            behavior,
            answer_probes,
            health: watch::channel(Health::Alive).0,
            dead: CancellationToken::new(),
            stats: TunnelStats::default(),
            probes: Mutex::default(),
            opened: Mutex::new(0),
        }
    }

    /// Sets its health, as its liveness would.
    pub(crate) fn set_health(&self, health: Health) {
        let dead = matches!(health, Health::Dead(_));
        self.health.send_replace(health);
        if dead {
            self.dead.cancel();
        }
    }

    /// Ends it with `end`.
    pub(crate) fn kill(&self, end: TunnelEnd) {
        self.set_health(Health::Dead(end));
    }

    pub(crate) fn probe_causes(&self) -> Vec<ProbeCause> {
        lock(&self.probes).clone()
    }
}

#[async_trait::async_trait]
impl Opener for FakeTunnel {
    async fn open(&self, _port: u16) -> Result<Stream, TunnelError> {
        if self.dead.is_cancelled() {
            return Err(TunnelError::Closed("dead".into()));
        }
        *lock(&self.opened) += 1;
        let (to_local, from_pod) = ByteQueue::new(STREAM_BUFFER);
        let (tx, rx) = mpsc::channel(16);
        let (behavior, dead, health) = (self.behavior, self.dead.clone(), self.health.subscribe());
        tokio::spawn(fake_pod(behavior, rx, to_local, dead, health));
        Ok(Stream { to_pod: PodSender::channel(tx), from_pod })
    }

    fn protocol(&self) -> Protocol {
        Protocol::WebSocketTunnel
    }

    fn dead(&self) -> &CancellationToken {
        &self.dead
    }

    fn health(&self) -> watch::Receiver<Health> {
        self.health.subscribe()
    }

    fn probe(&self, cause: ProbeCause) {
        lock(&self.probes).push(cause);
        if self.dead.is_cancelled() {
            return;
        }
        self.health.send_replace(Health::Probing { cause, since: Instant::now() });
        if self.answer_probes {
            self.health.send_replace(Health::Alive);
        }
    }

    fn close(&self) {
        if !self.dead.is_cancelled() {
            self.kill(TunnelEnd::Closed);
        }
    }

    fn stats(&self) -> &TunnelStats {
        &self.stats
    }
}

/// One connection at a fake pod.
async fn fake_pod(
    behavior: PodBehavior,
    mut rx: mpsc::Receiver<Chunk>,
    to_local: ByteQueue,
    dead: CancellationToken,
    health: watch::Receiver<Health>,
) {
    let mut answered = false;
    loop {
        let chunk = tokio::select! {
            c = rx.recv() => c,
            () = dead.cancelled() => {
                let end = match &*health.borrow() {
                    Health::Dead(end) => end.clone(),
                    Health::Alive | Health::Probing { .. } => TunnelEnd::Closed,
                };
                to_local.close(Some(EndReason::Tunnel { end, acknowledged: true }));
                return;
            }
        };
        match (behavior, chunk) {
            (_, None) => return,
            (PodBehavior::Echo, Some(chunk)) => {
                answered = true;
                let fin = chunk == Chunk::Fin;
                let _gone = to_local.push(chunk);
                if fin {
                    return;
                }
            }
            (PodBehavior::Refuse, Some(_)) if !answered => {
                let text = "error forwarding port 7000 to pod x, uid : failed to connect to \
                            localhost:7000 inside namespace: connect: connection refused";
                let refusal = Refusal { kind: RefusalKind::PortRefused, text: text.into() };
                to_local.close(Some(EndReason::Refused(refusal)));
                return;
            }
            (PodBehavior::Refuse, Some(_)) => {}
        }
    }
}
