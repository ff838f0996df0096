//! Port-forward over SPDY, raw or tunnelled, as the kubelet/CRI serves it (spec §6): stream
//! pairs matched by `requestid`, one TCP connection per pair, FIN on both streams at a normal
//! end. On failure, as containerd and the kubelet order it by default: FIN on the data stream,
//! then the error text, then FIN on the error stream (or, with the other
//! [`PortForwardErrorOrder`], the text first and then RST on both).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tether_wire::spdy::{Event, HeaderBlock, Role, RstStatus, Session as Spdy, StreamId};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Session;
use super::spdy::Transport;
use crate::config::PortForwardErrorOrder;
use crate::runtime::Pod;

/// From a forwarding task to the session loop.
enum Up {
    Data(StreamId, Bytes),
    Done { data: StreamId, error: StreamId },
    Failed { data: StreamId, error: StreamId, text: String },
}

/// From the session loop to a forwarding task.
enum Down {
    Data(Bytes),
    Fin,
}

#[derive(Default)]
struct Pair {
    port: u16,
    error: Option<StreamId>,
    data: Option<StreamId>,
    since: Option<Instant>,
}

const PAIR_TIMEOUT: Duration = Duration::from_secs(30);

struct Loop {
    spdy: Spdy,
    pod: Arc<Pod>,
    up_tx: mpsc::Sender<Up>,
    pairs: HashMap<String, Pair>,
    to_tasks: HashMap<StreamId, mpsc::Sender<Down>>,
    cluster: Arc<crate::Cluster>,
}

pub(super) async fn serve(session: Session, mut transport: Transport) {
    let (up_tx, mut up_rx) = mpsc::channel::<Up>(256);
    let close = session.ctx.entry.close.clone();
    let mut state = Loop {
        spdy: Spdy::with_header_compression(
            Role::Server,
            session.ctx.cluster.config.header_compression(),
        ),
        pod: session.pod.clone(),
        up_tx,
        pairs: HashMap::new(),
        to_tasks: HashMap::new(),
        cluster: session.ctx.cluster.clone(),
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let keep_going = tokio::select! {
            received = transport.recv() => match received {
                Ok(Some(bytes)) => {
                    state.spdy.receive(bytes);
                    state.events(&mut up_rx, &mut transport).await
                }
                _ => false,
            },
            Some(up) = up_rx.recv() => { state.up(up); true }
            _ = tick.tick() => { state.expire(); true }
            () = close.cancelled() => { state.spdy.go_away(0); let _gone = transport.send(&mut state.spdy).await; transport.close().await; false }
        };
        if !keep_going || transport.send(&mut state.spdy).await.is_err() {
            break;
        }
    }
}

impl Loop {
    /// Hands `msg` to a forwarding task. While the pod is slow to take it the session reads
    /// nothing more (as spdystream's reader waits on a full stream), but what pods send still
    /// goes out: in the kubelet, writes come from each stream's copier, not from the reader, so
    /// a pod that echoes while its input waits cannot wedge the connection.
    async fn deliver(
        &mut self,
        tx: mpsc::Sender<Down>,
        msg: Down,
        up_rx: &mut mpsc::Receiver<Up>,
        transport: &mut Transport,
    ) -> bool {
        let send = tx.send(msg);
        tokio::pin!(send);
        loop {
            tokio::select! {
                _gone = &mut send => return true,
                Some(up) = up_rx.recv() => {
                    self.up(up);
                    if transport.send(&mut self.spdy).await.is_err() {
                        return false;
                    }
                }
            }
        }
    }

    /// Handles every decoded event; false when the session is over.
    async fn events(&mut self, up_rx: &mut mpsc::Receiver<Up>, transport: &mut Transport) -> bool {
        loop {
            let event = match super::spdy::next_event(&mut self.spdy) {
                Ok(Some(e)) => e,
                Ok(None) => return true,
                Err(()) => return false,
            };
            match event {
                Event::StreamOpened { stream_id, headers, .. } => self.opened(stream_id, &headers),
                Event::Data { stream_id, data, fin } => {
                    if let Some(tx) = self.to_tasks.get(&stream_id).cloned() {
                        // Waiting here stalls reading for a slow pod, as spdystream does.
                        if !data.is_empty()
                            && !self.deliver(tx.clone(), Down::Data(data), up_rx, transport).await
                        {
                            return false;
                        }
                        if fin && !self.deliver(tx, Down::Fin, up_rx, transport).await {
                            return false;
                        }
                    }
                }
                Event::Reset { stream_id, .. } => {
                    self.to_tasks.remove(&stream_id);
                }
                Event::GoAway { .. } => return false,
                Event::StreamReplied { .. } | Event::Headers { .. } | Event::Pong { .. } => {}
            }
        }
    }

    fn opened(&mut self, id: StreamId, headers: &HeaderBlock) {
        let port = headers.get("port").and_then(|p| p.parse::<u16>().ok()).filter(|p| *p > 0);
        let kind = headers.get("streamtype");
        let (Some(port), Some(kind @ ("error" | "data"))) = (port, kind) else {
            self.spdy.reset(id, RstStatus::CANCEL);
            return;
        };
        if self.spdy.reply(id, &HeaderBlock::new(), false).is_err() {
            return;
        }
        // Clients without requestid pair by stream id: the data stream comes two before error.
        let key = headers.get("requestid").map_or_else(
            || if kind == "error" { id.saturating_sub(2) } else { id }.to_string(),
            str::to_owned,
        );
        let pair = self.pairs.entry(key.clone()).or_default();
        pair.port = port;
        pair.since.get_or_insert_with(Instant::now);
        if kind == "error" {
            pair.error = Some(id)
        } else {
            pair.data = Some(id)
        }
        if let (Some(error), Some(data)) = (pair.error, pair.data) {
            self.pairs.remove(&key);
            self.start(port, data, error);
        }
    }

    fn start(&mut self, port: u16, data: StreamId, error: StreamId) {
        let (down_tx, down_rx) = mpsc::channel(64);
        self.to_tasks.insert(data, down_tx);
        let (pod, up) = (self.pod.clone(), self.up_tx.clone());
        self.cluster.tracker.spawn(async move {
            match super::pf::connect(&pod, port).await {
                Ok(tcp) => forward(tcp, (port, pod.uid.clone()), data, error, down_rx, up).await,
                Err(text) => {
                    let _gone = up.send(Up::Failed { data, error, text }).await;
                }
            }
        });
    }

    fn up(&mut self, up: Up) {
        match up {
            Up::Data(id, bytes) => {
                let _gone = self.spdy.send_data(id, bytes, false);
            }
            Up::Done { data, error } => {
                self.to_tasks.remove(&data);
                let _gone = self.spdy.finish(data);
                let _gone = self.spdy.finish(error);
            }
            Up::Failed { data, error, text } => {
                self.to_tasks.remove(&data);
                let order =
                    *self.cluster.error_order.lock().unwrap_or_else(PoisonError::into_inner);
                match order {
                    // containerd's `defer stream.Close()`, then the kubelet's error text and its
                    // deferred `errorStream.Close()`.
                    PortForwardErrorOrder::DataCloseFirst => {
                        let _gone = self.spdy.finish(data);
                        let _gone = self.spdy.send_data(error, Bytes::from(text), false);
                        let _gone = self.spdy.finish(error);
                    }
                    PortForwardErrorOrder::ErrorFirst => {
                        let _gone = self.spdy.send_data(error, Bytes::from(text), false);
                        self.spdy.reset(data, RstStatus::CANCEL);
                        self.spdy.reset(error, RstStatus::CANCEL);
                    }
                }
            }
        }
    }

    /// Pairs whose partner never came get the kubelet's timeout error.
    fn expire(&mut self) {
        let now = Instant::now();
        let stale: Vec<String> = self
            .pairs
            .iter()
            .filter(|(_, p)| p.since.is_some_and(|t| now - t > PAIR_TIMEOUT))
            .map(|(k, _)| k.clone())
            .collect();
        for key in stale {
            if let Some(pair) = self.pairs.remove(&key) {
                if let Some(error) = pair.error {
                    let _gone = self.spdy.send_data(
                        error,
                        Bytes::from_static(b"timed out waiting for streams"),
                        false,
                    );
                    self.spdy.reset(error, RstStatus::CANCEL);
                }
                if let Some(data) = pair.data {
                    self.spdy.reset(data, RstStatus::CANCEL);
                }
                tracing::debug!(port = pair.port, "stream pair timed out");
            }
        }
    }
}

/// Copies between the pod's socket and the data stream. A client half-close is passed on and
/// the pod's answer is relayed to its end; when the pod closes first, the client direction gets
/// one more second (as containerd gives it), then both streams are finished.
async fn forward(
    tcp: tokio::net::TcpStream,
    (port, uid): (u16, String),
    data: StreamId,
    error: StreamId,
    mut down: mpsc::Receiver<Down>,
    up: mpsc::Sender<Up>,
) {
    let (mut reader, mut writer) = tcp.into_split();
    // True when the client half-closed; false when the stream was reset or the session ended.
    let to_pod = async move {
        let mut half_closed = false;
        while let Some(msg) = down.recv().await {
            match msg {
                Down::Data(bytes) => {
                    if writer.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Down::Fin => {
                    half_closed = true;
                    break;
                }
            }
        }
        let _closed = writer.shutdown().await;
        half_closed
    };
    let up2 = up.clone();
    // A read error (the pod reset the connection) is reported as containerd does: error text on
    // the error stream, then RST; a clean EOF finishes both streams.
    let from_pod = async move {
        let mut buf = BytesMut::new();
        loop {
            buf.reserve(32 * 1024);
            match reader.read_buf(&mut buf).await {
                Ok(0) => return None,
                Ok(_) => {
                    if up2.send(Up::Data(data, buf.split().freeze())).await.is_err() {
                        return None;
                    }
                }
                Err(e) => return Some(format!("read tcp4 127.0.0.1->127.0.0.1:{port}: {e}")),
            }
        }
    };
    tokio::pin!(to_pod, from_pod);
    let failure = tokio::select! {
        half_closed = &mut to_pod => if half_closed { from_pod.await } else { return },
        failure = &mut from_pod => {
            let _late = tokio::time::timeout(Duration::from_secs(1), to_pod).await;
            failure
        }
    };
    let up_msg = match failure {
        None => Up::Done { data, error },
        Some(detail) => Up::Failed {
            data,
            error,
            text: format!("error forwarding port {port} to pod {uid}, uid : {detail}"),
        },
    };
    let _gone = up.send(up_msg).await;
}
