//! Port-forward over the legacy WebSocket channel protocol (spec §7.2): one WebSocket per
//! connection, channel 0 for data and 1 for errors, each opened by the server with the port.
//!
//! This reaches clusters without the SPDY tunnel, even through proxies that pass only
//! WebSocket. The protocol has no half-close, so a local half-close is held until the pod
//! answers and closes. WebSocket pings with a deadline detect a dead connection; a probe (after
//! a wake or a freeze) makes every connection ping at once, and only a PONG carrying that probe's
//! number answers it.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tether_wire::portforward::{self, ClientDecoder, ClientEvent};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::end::Refusal;
use super::queue::{ByteQueue, EndReason, PushError};
use super::silence::Silence;
use super::transport::Ws;
use super::{
    Chunk, Health, Liveness, Opener, PodSender, ProbeCause, Protocol, STREAM_BUFFER, Stream,
    TunnelEnd, TunnelError, TunnelStats,
};

/// Opens one upgraded WebSocket per connection.
#[async_trait::async_trait]
pub(crate) trait Dialer: Send + Sync + std::fmt::Debug + 'static {
    /// A WebSocket speaking the binary channel protocol, forwarding `port`.
    async fn dial(&self, port: u16) -> Result<Ws, TunnelError>;
}

/// A "tunnel" that dials per connection.
#[derive(Debug)]
pub(crate) struct LegacyTunnel {
    dialer: Arc<dyn Dialer>,
    liveness: Liveness,
    dead: CancellationToken,
    health: watch::Sender<Health>,
    /// The latest probe: its number and cause; connections ping when it changes.
    probes: watch::Sender<(u64, ProbeCause)>,
    stats: Arc<TunnelStats>,
    tracker: TaskTracker,
}

impl LegacyTunnel {
    pub(crate) fn new(
        dialer: Arc<dyn Dialer>,
        liveness: Liveness,
        parent: &CancellationToken,
        tracker: &TaskTracker,
    ) -> Self {
        Self {
            dialer,
            liveness,
            dead: parent.child_token(),
            health: watch::channel(Health::Alive).0,
            probes: watch::channel((0, ProbeCause::Demand)).0,
            stats: Arc::new(TunnelStats::default()),
            tracker: tracker.clone(),
        }
    }
}

#[async_trait::async_trait]
impl Opener for LegacyTunnel {
    async fn open(&self, port: u16) -> Result<Stream, TunnelError> {
        if self.dead.is_cancelled() {
            return Err(TunnelError::Closed(TunnelEnd::Closed.to_string()));
        }
        let ws = self.dialer.dial(port).await?;
        let (to_local, from_pod) = ByteQueue::new(STREAM_BUFFER);
        let (to_pod, rx) = mpsc::channel(16);
        self.stats.streams.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let conn = Connection {
            ws,
            port,
            to_local,
            rx,
            stats: self.stats.clone(),
            liveness: self.liveness,
            probes: self.probes.subscribe(),
        };
        let dead = self.dead.clone();
        self.tracker.spawn(conn.run(dead).instrument(tracing::debug_span!("legacy-conn", port)));
        Ok(Stream { to_pod: PodSender::channel(to_pod), from_pod })
    }

    fn protocol(&self) -> Protocol {
        Protocol::WebSocketChannels
    }

    fn dead(&self) -> &CancellationToken {
        &self.dead
    }

    fn health(&self) -> watch::Receiver<Health> {
        self.health.subscribe()
    }

    /// Every open connection pings now and ends unless its PONG comes in time; a new
    /// connection dials a fresh WebSocket, which proves the path by itself.
    fn probe(&self, cause: ProbeCause) {
        self.probes.send_modify(|(n, c)| {
            *n += 1;
            *c = cause;
        });
    }

    fn close(&self) {
        self.health.send_replace(Health::Dead(TunnelEnd::Closed));
        self.dead.cancel();
    }

    fn stats(&self) -> &TunnelStats {
        &self.stats
    }
}

struct Connection {
    ws: Ws,
    port: u16,
    to_local: ByteQueue,
    rx: mpsc::Receiver<Chunk>,
    stats: Arc<TunnelStats>,
    liveness: Liveness,
    probes: watch::Receiver<(u64, ProbeCause)>,
}

type Sink = SplitSink<Ws, Message>;
type Source = SplitStream<Ws>;

impl Connection {
    /// Reads and writes at once, so that neither side's wait stops the other (a pod echoing a
    /// large upload would deadlock one loop doing both); ends when either side ends.
    async fn run(self, dead: CancellationToken) {
        let Self { ws, port, to_local, rx, stats, liveness, probes } = self;
        let (mut sink, source) = ws.split();
        let ends = Ends { port, liveness, probes };
        let why = tokio::select! {
            why = read(source, &ends, &to_local, &stats) => why,
            why = write(&mut sink, rx, &ends, &stats) => why,
            () = dead.cancelled() => Some(ended(TunnelEnd::Closed, true)),
        };
        to_local.close(why);
        let _gone = sink.close().await;
    }
}

/// What both halves of a connection need.
struct Ends {
    port: u16,
    liveness: Liveness,
    probes: watch::Receiver<(u64, ProbeCause)>,
}

/// The connection ended with the tunnel's kind of end. `acknowledged` is false until the server
/// sent its first message (the port prefix): until then it may never have seen the connection.
fn ended(end: TunnelEnd, acknowledged: bool) -> EndReason {
    EndReason::Tunnel { end, acknowledged }
}

/// A probe's PING payload: its number.
fn probe_payload(n: u64) -> Bytes {
    Bytes::copy_from_slice(&n.to_be_bytes())
}

/// Delivers what the pod sends to the local reader until the connection ends; `Some(reason)`
/// when it ended abnormally. While the reader's queue is full the WebSocket is not read (this
/// connection is the only one on it, so nothing else waits).
async fn read(
    mut source: Source,
    ends: &Ends,
    to_local: &ByteQueue,
    stats: &TunnelStats,
) -> Option<EndReason> {
    let Ok(mut decoder) = ClientDecoder::new(&[ends.port]) else {
        return Some(ended(TunnelEnd::Protocol("bad port".into()), false));
    };
    let mut silence = Silence::new(ends.liveness.deadline);
    let mut probes = ends.probes.clone();
    probes.mark_unchanged();
    let mut pending: Option<Bytes> = None;
    let mut acknowledged = false;
    let room = to_local.room();
    loop {
        let reading = pending.is_none();
        tokio::select! {
            () = room.wait(), if !reading => {
                silence.heard();
                if let Some(data) = pending.take() {
                    pending = match deliver(to_local, data) {
                        Ok(rest) => rest,
                        Err(why) => return Some(why),
                    };
                }
            }
            Ok(()) = probes.changed() => {
                let (n, cause) = *probes.borrow_and_update();
                silence.probe(n, cause, ends.liveness.probe_deadline(stats.rtt()));
            }
            msg = source.next(), if reading => match msg {
                Some(Ok(Message::Binary(b))) => {
                    acknowledged = true;
                    silence.heard();
                    stats.add_in(b.len());
                    match decoder.decode(b) {
                        Ok(Some(ClientEvent::Data { data, .. })) => {
                            pending = match deliver(to_local, data) {
                                Ok(rest) => rest,
                                Err(why) => return Some(why),
                            };
                        }
                        Ok(Some(ClientEvent::Error { message, .. })) => {
                            let text = String::from_utf8_lossy(&message).into_owned();
                            return Some(EndReason::Refused(Refusal::classify(text)));
                        }
                        Ok(None) => {}
                        Err(e) => return Some(ended(TunnelEnd::Protocol(e.to_string()), true)),
                    }
                }
                Some(Ok(Message::Pong(payload))) => {
                    // A regular PING's PONG is empty: number 0, which answers no probe.
                    let n = <[u8; 8]>::try_from(payload.as_ref()).map_or(0, u64::from_be_bytes);
                    silence.pong(n);
                }
                Some(Ok(Message::Close(_))) | None => {
                    let _gone = to_local.push(Chunk::Fin);
                    return None;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    return Some(ended(TunnelEnd::Transport(e.to_string()), acknowledged));
                }
            },
            // At the deadline exactly; a connection paused for its reader reads nothing on
            // purpose (and its reader is alive).
            () = silence.expired(), if reading => return Some(ended(silence.end(), acknowledged)),
        }
    }
}

/// Queues `data` for the local reader: `Ok(Some(data))` back when its queue is full (the
/// connection then waits for room), `Err(Reset)` with the reader gone.
fn deliver(to_local: &ByteQueue, data: Bytes) -> Result<Option<Bytes>, EndReason> {
    match to_local.push(Chunk::Data(data.clone())) {
        Ok(()) => Ok(None),
        Err(PushError::Full) => Ok(Some(data)),
        Err(PushError::Gone) => Err(EndReason::Reset),
    }
}

/// Sends the local connection's bytes and the pings (a probe's at once); ends when the local
/// side is gone.
async fn write(
    sink: &mut Sink,
    mut rx: mpsc::Receiver<Chunk>,
    ends: &Ends,
    stats: &TunnelStats,
) -> Option<EndReason> {
    let mut ping = tokio::time::interval(ends.liveness.interval);
    let mut probes = ends.probes.clone();
    probes.mark_unchanged();
    let mut local_open = true;
    let failed = |e: &dyn std::fmt::Display| Some(ended(TunnelEnd::Transport(e.to_string()), true));
    loop {
        tokio::select! {
            chunk = rx.recv(), if local_open => match chunk {
                Some(Chunk::Data(bytes)) => {
                    stats.add_out(bytes.len());
                    let msg = portforward::encode(portforward::data_channel(0), &bytes);
                    if let Err(e) = sink.send(Message::Binary(msg)).await {
                        return failed(&e);
                    }
                }
                // No half-close in this protocol: keep reading until the pod closes.
                Some(Chunk::Fin) => local_open = false,
                None => return None,
            },
            Ok(()) = probes.changed() => {
                let n = probes.borrow_and_update().0;
                if let Err(e) = sink.send(Message::Ping(probe_payload(n))).await {
                    return failed(&e);
                }
            }
            _ = ping.tick() => {
                if let Err(e) = sink.send(Message::Ping(Bytes::new())).await {
                    return failed(&e);
                }
            }
        }
    }
}
