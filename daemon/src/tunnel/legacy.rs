//! Port-forward over the legacy WebSocket channel protocol (spec §7.2): one WebSocket per
//! connection, channel 0 for data and 1 for errors, each opened by the server with the port.
//!
//! This reaches clusters without the SPDY tunnel, even through proxies that pass only
//! WebSocket. The protocol has no half-close, so a local half-close is held until the pod
//! answers and closes. WebSocket pings with a deadline detect a dead connection.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tether_wire::portforward::{self, ClientDecoder, ClientEvent};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::queue::{ByteQueue, EndReason, PushError};
use super::silence::Silence;
use super::transport::Ws;
use super::{
    Chunk, Liveness, Opener, PodSender, Protocol, STREAM_BUFFER, Stream, TunnelError, TunnelStats,
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
    death: Mutex<String>,
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
            death: Mutex::new(String::new()),
            stats: Arc::new(TunnelStats::default()),
            tracker: tracker.clone(),
        }
    }
}

#[async_trait::async_trait]
impl Opener for LegacyTunnel {
    async fn open(&self, port: u16) -> Result<Stream, TunnelError> {
        if self.dead.is_cancelled() {
            return Err(TunnelError::Closed(self.death()));
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

    fn death(&self) -> String {
        self.death.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn probe(&self, _deadline: Duration) {
        // Every connection pings on its own; a new dial proves the path.
    }

    fn close(&self) {
        *self.death.lock().unwrap_or_else(PoisonError::into_inner) = "closed".into();
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
}

type Sink = SplitSink<Ws, Message>;
type Source = SplitStream<Ws>;

impl Connection {
    /// Reads and writes at once, so that neither side's wait stops the other (a pod echoing a
    /// large upload would deadlock one loop doing both); ends when either side ends.
    async fn run(self, dead: CancellationToken) {
        let Self { ws, port, to_local, rx, stats, liveness } = self;
        let (mut sink, source) = ws.split();
        let why = tokio::select! {
            why = read(source, port, &to_local, &stats, liveness) => why,
            why = write(&mut sink, rx, &stats, liveness) => why,
            () = dead.cancelled() => Some(EndReason::Tunnel("the tunnel was closed".into())),
        };
        to_local.close(why);
        let _gone = sink.close().await;
    }
}

fn tunnel(why: &str) -> Option<EndReason> {
    Some(EndReason::Tunnel(why.to_owned()))
}

/// Delivers what the pod sends to the local reader until the connection ends; `Some(reason)`
/// when it ended abnormally. While the reader's queue is full the WebSocket is not read (this
/// connection is the only one on it, so nothing else waits).
async fn read(
    mut source: Source,
    port: u16,
    to_local: &ByteQueue,
    stats: &TunnelStats,
    liveness: Liveness,
) -> Option<EndReason> {
    let Ok(mut decoder) = ClientDecoder::new(&[port]) else { return tunnel("bad port") };
    let mut silence = Silence::new(liveness.deadline);
    let mut pending: Option<Bytes> = None;
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
            msg = source.next(), if reading => match msg {
                Some(Ok(Message::Binary(b))) => {
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
                            return Some(EndReason::Remote(String::from_utf8_lossy(&message).into_owned()));
                        }
                        Ok(None) => {}
                        Err(e) => return tunnel(&e.to_string()),
                    }
                }
                Some(Ok(Message::Pong(_))) => silence.answered(),
                Some(Ok(Message::Close(_))) | None => {
                    let _gone = to_local.push(Chunk::Fin);
                    return None;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return tunnel(&format!("the connection failed: {e}")),
            },
            // At the deadline exactly; a connection paused for its reader reads nothing on
            // purpose (and its reader is alive).
            () = silence.expired(), if reading => return tunnel("no answer to pings"),
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

/// Sends the local connection's bytes and the pings; ends when the local side is gone.
async fn write(
    sink: &mut Sink,
    mut rx: mpsc::Receiver<Chunk>,
    stats: &TunnelStats,
    liveness: Liveness,
) -> Option<EndReason> {
    let mut ping = tokio::time::interval(liveness.interval);
    let mut local_open = true;
    loop {
        tokio::select! {
            chunk = rx.recv(), if local_open => match chunk {
                Some(Chunk::Data(bytes)) => {
                    stats.add_out(bytes.len());
                    let msg = portforward::encode(portforward::data_channel(0), &bytes);
                    if let Err(e) = sink.send(Message::Binary(msg)).await {
                        return tunnel(&format!("the connection failed: {e}"));
                    }
                }
                // No half-close in this protocol: keep reading until the pod closes.
                Some(Chunk::Fin) => local_open = false,
                None => return None,
            },
            _ = ping.tick() => {
                if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    return tunnel("the connection failed");
                }
            }
        }
    }
}
