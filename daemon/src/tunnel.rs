//! Port-forward tunnels: many TCP connections carried to one pod.
//!
//! A [`Tunnel`] opens streams to remote ports. Two kinds exist:
//! - [`spdy::SpdyTunnel`]: one SPDY/3.1 session, tunnelled in WebSocket binary messages
//!   (`SPDY/3.1+portforward.k8s.io`) or on the raw upgraded connection; every stream is an
//!   error/data stream pair, opened without waiting a round trip. Liveness comes from SPDY PINGs.
//! - [`legacy::LegacyTunnel`]: the legacy WebSocket channel protocol, which carries one
//!   connection per WebSocket, so each stream dials its own upgrade.
//!
//! A stream is a pair of queues of [`Chunk`]s. Data from the pod waits in a per-stream queue
//! bounded in bytes ([`queue::ByteQueue`]); see [`STREAM_BUFFER`] for what happens when one fills.
//!
//! A tunnel reports its [`Health`]: alive, probing (a PING is out because a connection waits on
//! a quiet tunnel, or the daemon was frozen, or the machine woke), or dead with a [`TunnelEnd`].

mod end;
pub(crate) mod legacy;
pub(crate) mod queue;
mod silence;
pub(crate) mod spdy;
pub(crate) mod transport;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use end::{Health, ProbeCause, Refusal, RefusalKind, TunnelEnd};
pub use queue::{ByteQueue, EndReason, QueueReceiver};

/// Bytes of data from the pod a stream holds for its local reader before the tunnel pauses.
///
/// The policy when it fills: the tunnel stops reading from the server (TCP backpressure, as
/// kubectl's port-forward applies to every stream at once) until that reader takes data, so a
/// reader that is slower than the pod, or briefly busy, loses nothing. Uploads, new connections
/// and pings go on meanwhile. A reader that takes nothing for [`STALL_LIMIT`] is reset
/// ([`EndReason::SlowReader`]) so the tunnel's other connections can go on.
pub const STREAM_BUFFER: usize = 4 << 20;

/// How long a full stream may pause its tunnel without its reader taking anything.
pub const STALL_LIMIT: Duration = Duration::from_secs(2);

/// How a tunnel reaches the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// SPDY/3.1 inside WebSocket binary messages (Kubernetes 1.31+).
    WebSocketTunnel,
    /// The legacy WebSocket channel protocol, one WebSocket per connection.
    WebSocketChannels,
    /// SPDY/3.1 on the upgraded connection itself.
    Spdy,
}

impl Protocol {
    /// The name shown to users.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebSocketTunnel => "websocket-tunnel",
            Self::WebSocketChannels => "websocket",
            Self::Spdy => "spdy",
        }
    }
}

/// One piece of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Bytes.
    Data(Bytes),
    /// The sender will write no more (a half-close).
    Fin,
}

/// Errors of tunnels and their streams.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TunnelError {
    /// The tunnel has died or was closed.
    #[error("failed to use the tunnel: it is closed ({0})")]
    Closed(String),
    /// The pod refused the connection (error text from the kubelet).
    #[error("failed to reach the pod's port: {0}")]
    Remote(String),
    /// Dialing a new upgraded connection failed (legacy protocol).
    #[error("failed to open a connection to the pod: {0}")]
    Dial(String),
}

/// Liveness and traffic figures of one tunnel.
#[derive(Debug, Default)]
pub struct TunnelStats {
    /// Bytes sent to the pod.
    pub bytes_out: AtomicU64,
    /// Bytes received from the pod.
    pub bytes_in: AtomicU64,
    /// Streams opened.
    pub streams: AtomicU64,
    /// Smoothed round trip of PINGs, in microseconds; 0 until one was measured.
    pub rtt_us: AtomicU64,
}

impl TunnelStats {
    /// The smoothed round trip, once measured.
    #[must_use]
    pub fn rtt(&self) -> Option<Duration> {
        match self.rtt_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    pub(crate) fn add_out(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_in(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// One forwarded connection through a tunnel.
#[derive(Debug)]
pub struct Stream {
    /// Bytes to the pod. Dropping it before [`PodSender::finish`] resets the stream.
    pub to_pod: PodSender,
    /// Chunks from the pod; the end of the queue without a `Fin` means the stream was reset or
    /// the tunnel died. `error()` then says why.
    pub from_pod: QueueReceiver,
}

/// The sending half of a [`Stream`].
#[derive(Debug)]
pub struct PodSender {
    kind: SenderKind,
    finished: bool,
}

#[derive(Debug)]
enum SenderKind {
    /// Straight into the SPDY session task's queue, tagged with the stream.
    Spdy(spdy::StreamHandle),
    /// To the connection's own task (legacy protocol).
    Channel(mpsc::Sender<Chunk>),
}

impl PodSender {
    fn spdy(handle: spdy::StreamHandle) -> Self {
        Self { kind: SenderKind::Spdy(handle), finished: false }
    }

    pub(crate) fn channel(tx: mpsc::Sender<Chunk>) -> Self {
        Self { kind: SenderKind::Channel(tx), finished: false }
    }

    /// Sends bytes, waiting while the tunnel is congested.
    ///
    /// # Errors
    /// When the tunnel is gone.
    pub async fn send(&mut self, bytes: Bytes) -> Result<(), TunnelError> {
        match &self.kind {
            SenderKind::Spdy(h) => h.send(bytes).await,
            SenderKind::Channel(tx) => tx
                .send(Chunk::Data(bytes))
                .await
                .map_err(|_| TunnelError::Closed("the connection ended".into())),
        }
    }

    /// Half-closes: the pod sees the end of its input.
    ///
    /// # Errors
    /// When the tunnel is gone.
    pub async fn finish(&mut self) -> Result<(), TunnelError> {
        self.finished = true;
        match &self.kind {
            SenderKind::Spdy(h) => h.finish().await,
            SenderKind::Channel(tx) => tx
                .send(Chunk::Fin)
                .await
                .map_err(|_| TunnelError::Closed("the connection ended".into())),
        }
    }
}

impl Drop for PodSender {
    fn drop(&mut self) {
        if let (false, SenderKind::Spdy(h)) = (self.finished, &self.kind) {
            h.reset();
        }
    }
}

/// A live tunnel to one pod.
#[derive(Debug, Clone)]
pub struct Tunnel {
    inner: Arc<dyn Opener>,
}

/// What a tunnel implementation provides.
#[async_trait::async_trait]
pub(crate) trait Opener: Send + Sync + std::fmt::Debug + 'static {
    async fn open(&self, port: u16) -> Result<Stream, TunnelError>;
    fn protocol(&self) -> Protocol;
    fn dead(&self) -> &CancellationToken;
    fn health(&self) -> watch::Receiver<Health>;
    fn probe(&self, cause: ProbeCause);
    fn close(&self);
    fn stats(&self) -> &TunnelStats;
}

impl Tunnel {
    pub(crate) fn new(inner: Arc<dyn Opener>) -> Self {
        Self { inner }
    }

    /// Opens a stream to `port` on the pod.
    ///
    /// # Errors
    /// When the tunnel is dead or (legacy protocol) the dial fails. A refused port shows later,
    /// as the end of `from_pod` with [`QueueReceiver::error`] set.
    pub async fn open(&self, port: u16) -> Result<Stream, TunnelError> {
        self.inner.open(port).await
    }

    /// The protocol in use.
    #[must_use]
    pub fn protocol(&self) -> Protocol {
        self.inner.protocol()
    }

    /// Cancelled when the tunnel dies (peer gone, dead-peer deadline, close).
    #[must_use]
    pub fn dead(&self) -> CancellationToken {
        self.inner.dead().clone()
    }

    /// How the tunnel is doing; `Dead` says how it ended.
    #[must_use]
    pub fn health(&self) -> watch::Receiver<Health> {
        self.inner.health()
    }

    /// How it ended, once dead.
    #[must_use]
    pub fn end(&self) -> Option<TunnelEnd> {
        match &*self.inner.health().borrow() {
            Health::Dead(end) => Some(end.clone()),
            Health::Alive | Health::Probing { .. } => None,
        }
    }

    /// Sends a PING now; unless a PONG to it (or a later one) comes within the probe deadline
    /// (see [`Liveness::probe_deadline`]), the tunnel dies with [`TunnelEnd::ProbeUnanswered`].
    /// Bytes that arrive meanwhile do not count: they may have waited in the kernel.
    pub fn probe(&self, cause: ProbeCause) {
        self.inner.probe(cause);
    }

    /// Closes the tunnel (GOAWAY, then the connection); its streams end.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Traffic figures.
    #[must_use]
    pub fn stats(&self) -> &TunnelStats {
        self.inner.stats()
    }
}

/// Liveness settings of a tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// How often to ping.
    pub interval: Duration,
    /// A tunnel that sends nothing (no PONG, no data) this long is dead; checked exactly.
    pub deadline: Duration,
    /// A connection waiting on a tunnel that has heard nothing this long probes it.
    pub quiet: Duration,
    /// The shortest time a probe waits for its PONG.
    pub probe_floor: Duration,
}

impl Default for Liveness {
    fn default() -> Self {
        // An idle tunnel: three missed pings, so a blackhole is found 8 to 12 s after its last
        // sign of life with one PING every 4 s. A tunnel someone waits on: probed once it has
        // been quiet for 1 s, dead 1 s (or ten round trips) after an unanswered probe.
        Self {
            interval: Duration::from_secs(4),
            deadline: Duration::from_secs(12),
            quiet: Duration::from_secs(1),
            probe_floor: Duration::from_secs(1),
        }
    }
}

impl Liveness {
    /// How long a probe waits: ten smoothed round trips, at least `probe_floor`, at most half
    /// the dead-peer deadline.
    #[must_use]
    pub fn probe_deadline(&self, rtt: Option<Duration>) -> Duration {
        let derived = rtt.map_or(Duration::ZERO, |r| r.saturating_mul(10));
        derived.max(self.probe_floor).min((self.deadline / 2).max(self.probe_floor))
    }
}
