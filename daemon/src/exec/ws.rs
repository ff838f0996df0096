//! Remote commands over the WebSocket channel protocols, the client side of spec §4.4: stdin on
//! channel 0, resize JSON on channel 4, the exit status on channel 3, v5 CLOSE for stdin EOF,
//! pings with a deadline. The outcome counts only if the server closes with 1000.
//!
//! Reading and writing run concurrently: a process that echoes its stdin (`cat`) fills both
//! directions at once, and a loop that either reads or writes would deadlock with the server.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tether_wire::channel::{ChannelCodec, ExitOutcome, Frame, MessageKind, TerminalSize, id};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::{Ending, Input, Output, Process, QUEUE, Request};
use crate::tunnel::Liveness;
use crate::tunnel::transport::Ws;

/// Starts the process's task on an upgraded WebSocket speaking `codec`.
pub(crate) fn start(
    ws: Ws,
    codec: ChannelCodec,
    request: &Request,
    liveness: Liveness,
    cancel: &CancellationToken,
    tracker: &TaskTracker,
) -> Process {
    let (input, input_rx) = mpsc::channel(QUEUE);
    let (output_tx, output) = mpsc::channel(QUEUE);
    let protocol = if codec.version().has_close() { "websocket-v5" } else { "websocket-v4" };
    let shared = Shared {
        codec,
        liveness,
        seen: Mutex::new(Instant::now()),
        stdin_closed: AtomicBool::new(false),
    };
    let (size, cancel) = (request.size, cancel.clone());
    let span = tracing::debug_span!("exec", pod = %request.pod, protocol);
    tracker.spawn(run(ws, shared, input_rx, output_tx, size, cancel).instrument(span));
    Process { input, output, protocol }
}

/// What the reading and the writing halves share.
struct Shared {
    codec: ChannelCodec,
    liveness: Liveness,
    /// When the server last showed it is alive (any message, or a write it was slow to take).
    seen: Mutex<Instant>,
    stdin_closed: AtomicBool,
}

impl Shared {
    fn saw(&self) {
        *self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
    }

    fn silent_for(&self) -> Duration {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).elapsed()
    }

    /// How long one write may stay blocked before the connection counts as stalled: long
    /// enough for a process that is slow to read its stdin.
    fn stall_limit(&self) -> Duration {
        (self.liveness.deadline * 4).max(Duration::from_secs(60))
    }
}

async fn run(
    ws: Ws,
    shared: Shared,
    mut input_rx: mpsc::Receiver<Input>,
    output_tx: mpsc::Sender<Output>,
    size: Option<TerminalSize>,
    cancel: CancellationToken,
) {
    let (mut sink, stream) = ws.split();
    let ending = {
        let mut writer = Writer { sink: &mut sink, shared: &shared };
        tokio::select! {
            ending = read(stream, &shared, &output_tx) => Some(ending),
            ending = writer.serve(&mut input_rx, size) => ending,
            () = cancel.cancelled() => Some(Ending::Lost("the daemon is shutting down".into())),
        }
    };
    if let Some(ending) = ending {
        let _gone = output_tx.send(Output::End(ending)).await;
    }
    let _closed = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
}

struct Writer<'a> {
    sink: &'a mut SplitSink<Ws, Message>,
    shared: &'a Shared,
}

impl Writer<'_> {
    /// Sends one message; a write the server is slow to take counts as a sign of life, one
    /// blocked past the stall limit as a dead connection.
    async fn put(&mut self, msg: Message) -> Result<(), Ending> {
        let started = Instant::now();
        match tokio::time::timeout(self.shared.stall_limit(), self.sink.send(msg)).await {
            Ok(Ok(())) => {
                if started.elapsed() > self.shared.liveness.interval {
                    self.shared.saw();
                }
                Ok(())
            }
            Ok(Err(e)) => Err(Ending::Lost(format!("the connection failed: {e}"))),
            Err(_) => Err(Ending::Lost(format!(
                "the server took no input for {:?}",
                self.shared.stall_limit()
            ))),
        }
    }

    async fn send(&mut self, channel: u8, payload: &[u8]) -> Result<(), Ending> {
        let codec = self.shared.codec;
        let bytes = codec.encode(channel, payload);
        let msg = match codec.message_kind() {
            MessageKind::Binary => Message::Binary(bytes),
            MessageKind::Text => Message::Text(String::from_utf8_lossy(&bytes).into_owned().into()),
        };
        self.put(msg).await
    }

    /// Passes input on and pings, until the client goes away (`None`) or the connection dies.
    async fn serve(
        &mut self,
        input_rx: &mut mpsc::Receiver<Input>,
        size: Option<TerminalSize>,
    ) -> Option<Ending> {
        self.inner(input_rx, size).await.err()
    }

    async fn inner(
        &mut self,
        input_rx: &mut mpsc::Receiver<Input>,
        size: Option<TerminalSize>,
    ) -> Result<Option<Ending>, Ending> {
        if let Some(size) = size {
            self.send(id::RESIZE, &size.encode()).await?;
        }
        let mut ping = tokio::time::interval(self.shared.liveness.interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                input = input_rx.recv() => match input {
                    Some(Input::Stdin(bytes)) if !self.shared.stdin_closed.load(Ordering::SeqCst) => self.send(id::STDIN, &bytes).await?,
                    Some(Input::Stdin(_)) => {}
                    Some(Input::Resize(size)) => self.send(id::RESIZE, &size.encode()).await?,
                                        Some(Input::CloseStdin) => {
                        if !self.close_stdin().await? {
                            // v4: the stream is closing; the reader sees the end.
                            while input_rx.recv().await.is_some() {}
                            return Ok(None);
                        }
                    }
                    // The client went away: the process ends with the connection.
                    None => return Ok(None),
                },
                _ = ping.tick() => {
                    let silent = self.shared.silent_for();
                    if silent > self.shared.liveness.deadline {
                        return Err(Ending::Lost(format!("no answer to pings for {silent:?}")));
                    }
                    self.put(Message::Ping(Bytes::new())).await?;
                }
            }
        }
    }

    /// Ends stdin: the v5 CLOSE signal (`true`: the stream stays open), or (v4) the end of the
    /// stream itself (`false`).
    async fn close_stdin(&mut self) -> Result<bool, Ending> {
        if self.shared.stdin_closed.swap(true, Ordering::SeqCst) {
            return Ok(true);
        }
        if let Some(close) = self.shared.codec.encode_close(id::STDIN) {
            self.put(Message::Binary(close)).await?;
            return Ok(true);
        }
        // The warning is the reader's to send: it owns the output's order.
        let _closing = self.sink.close().await;
        Ok(false)
    }
}

const V4_EOF: &str = "this cluster speaks v4.channel.k8s.io, which cannot signal the end of stdin: the stream is closed instead; output sent before that is kept, but the exit status may be lost";

/// Reads until the connection ends; the ending.
async fn read(
    mut stream: SplitStream<Ws>,
    shared: &Shared,
    output_tx: &mpsc::Sender<Output>,
) -> Ending {
    let mut status = Vec::new();
    let mut warned = false;
    loop {
        let msg = stream.next().await;
        shared.saw();
        if !warned
            && shared.stdin_closed.load(Ordering::SeqCst)
            && !shared.codec.version().has_close()
        {
            warned = true;
            let _gone = output_tx.send(Output::Warning(V4_EOF.into())).await;
        }
        let (kind, payload) = match msg {
            Some(Ok(Message::Binary(b))) => (MessageKind::Binary, b),
            Some(Ok(Message::Text(t))) => (MessageKind::Text, Bytes::from(t)),
            Some(Ok(Message::Close(frame))) => {
                return closed(shared, &status, frame.map(|f| u16::from(f.code)));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Ending::Lost(format!("the connection dropped: {e}")),
            None => return Ending::Lost("the connection dropped".into()),
        };
        if payload.is_empty() {
            continue;
        }
        let frame = match shared.codec.decode(kind, payload) {
            Ok(f) => f,
            Err(e) => return Ending::Lost(format!("protocol error: {e}")),
        };
        let out = match frame {
            Frame::Data { channel: id::STDOUT, payload } if !payload.is_empty() => {
                Output::Stdout(payload)
            }
            Frame::Data { channel: id::STDERR, payload } if !payload.is_empty() => {
                Output::Stderr(payload)
            }
            Frame::Data { channel: id::ERROR, payload } => {
                status.extend_from_slice(&payload);
                continue;
            }
            _ => continue,
        };
        // Waiting here slows the server down when the client reads slowly: backpressure.
        if output_tx.send(out).await.is_err() {
            return Ending::Lost("the client went away".into());
        }
    }
}

/// The outcome at a close frame: authoritative only with code 1000 (spec §4.4).
///
/// A v4/v5 server writes a status for every end, success included, so a clean close without
/// one is a dropped connection (an apiserver going away), not an exit. kubectl reports exit 0
/// there; the daemon says the outcome is unknown, and an attach session re-joins.
fn closed(shared: &Shared, status: &[u8], code: Option<u16>) -> Ending {
    let version = shared.codec.version();
    let stdin_closed = shared.stdin_closed.load(Ordering::SeqCst);
    match code {
        Some(1000) | None if !status.is_empty() || !version.has_json_status() => {
            super::exited(version, status)
        }
        Some(1000) | None if stdin_closed && !version.has_close() => Ending::Exited(ExitOutcome::Error {
            reason: Some("StdinClosed".into()),
            message: "the stream was closed to end stdin (v4.channel.k8s.io); the exit status is unknown".into(),
            code: None,
        }),
        Some(1000) | None => Ending::Lost("the server closed the stream without an exit status".into()),
        Some(other) => Ending::Lost(format!("the server closed the stream with code {other}")),
    }
}
