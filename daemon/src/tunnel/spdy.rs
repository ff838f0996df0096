//! A SPDY/3.1 port-forward tunnel, the client side of spec §6: one task owns the session and
//! the transport; each local connection is an error/data stream pair.
//!
//! Opening a connection sends both SYN_STREAMs and the error stream's half-close at once,
//! without waiting for the replies (kubectl waits a round trip for each). Data for a stream goes
//! into its byte-bounded queue; a full queue pauses reading the tunnel until its reader takes
//! data, and resets that stream only if it takes nothing for `STALL_LIMIT` (the policy is on
//! `STREAM_BUFFER`). PINGs run every
//! `Liveness::interval`; no PING answered within `Liveness::deadline` kills the tunnel, and so
//! does GOAWAY, a transport error or a protocol error.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tether_wire::spdy::{
    Event, HeaderBlock, HeaderCompression, Role, RstStatus, Session, StreamId,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::queue::{ByteQueue, EndReason, PushError};
use super::silence::Silence;
use super::transport::{Reader, Transport};
use super::{
    Chunk, Liveness, Opener, Protocol, STALL_LIMIT, STREAM_BUFFER, Stream, TunnelError, TunnelStats,
};

/// Commands from tunnel users to the session task. Data flows through a bounded queue shared
/// by every connection (they feel the tunnel's backpressure together); resets, probes and closes
/// go through a control queue that is bounded by the number of streams, so a drop never waits.
#[derive(Debug)]
enum Cmd {
    Open { port: u16, reply: oneshot::Sender<Result<Stream, TunnelError>> },
    Data { data: StreamId, bytes: Bytes },
    Fin { data: StreamId },
    Reset { data: StreamId },
    Probe { deadline: Duration },
    Close,
}

/// A connection's way into the session task.
#[derive(Debug)]
pub(crate) struct StreamHandle {
    data: StreamId,
    cmd_tx: mpsc::Sender<Cmd>,
    ctl_tx: mpsc::UnboundedSender<Cmd>,
}

impl StreamHandle {
    pub(crate) async fn send(&self, bytes: Bytes) -> Result<(), TunnelError> {
        let cmd = Cmd::Data { data: self.data, bytes };
        self.cmd_tx.send(cmd).await.map_err(|_| TunnelError::Closed("the tunnel ended".into()))
    }

    pub(crate) async fn finish(&self) -> Result<(), TunnelError> {
        let cmd = Cmd::Fin { data: self.data };
        self.cmd_tx.send(cmd).await.map_err(|_| TunnelError::Closed("the tunnel ended".into()))
    }

    pub(crate) fn reset(&self) {
        let _ended = self.ctl_tx.send(Cmd::Reset { data: self.data });
    }
}

/// Per connection: the session's view.
struct Conn {
    error: StreamId,
    to_local: ByteQueue,
    error_text: Vec<u8>,
    local_fin_sent: bool,
    /// The pod sent at least one byte on the data stream.
    delivered: bool,
    /// The server ended the error stream (FIN or reset).
    error_done: bool,
    /// The data stream ended before any byte and before the error stream did: its FIN waits
    /// for the error stream (see [`ERROR_GRACE`]).
    held_fin: bool,
}

impl Conn {
    fn new(error: StreamId, to_local: ByteQueue) -> Self {
        Self {
            error,
            to_local,
            error_text: Vec::new(),
            local_fin_sent: false,
            delivered: false,
            error_done: false,
            held_fin: false,
        }
    }
}

/// How long the FIN of a data stream that delivered nothing waits for its error stream.
///
/// containerd closes the data stream as its port-forward returns, and only then does the kubelet
/// write the error ("... connect: connection refused") on the error stream and close it. Passed on
/// at once, that FIN is an empty reply to the local client, and the refusal that follows comes
/// too late to replay the connection on a Ready pod. So such a FIN waits until the error stream
/// ends: with text, the connection was refused; without, it was a clean close. The kubelet closes
/// the error stream right after the data stream; the grace only bounds a server that never does.
pub(crate) const ERROR_GRACE: Duration = Duration::from_secs(1);

mod flow;

use flow::{Stall, WriteState, held_until, room_or_deadline, written};

/// The handle users hold; the session task does the work.
#[derive(Debug)]
pub(crate) struct SpdyTunnel {
    cmd_tx: mpsc::Sender<Cmd>,
    ctl_tx: mpsc::UnboundedSender<Cmd>,
    protocol: Protocol,
    dead: CancellationToken,
    death: Arc<Mutex<String>>,
    stats: Arc<TunnelStats>,
}

/// Capacity of the command queue from all local connections to the session task.
const COMMANDS: usize = 512;
/// How many commands the session takes before it writes out.
const BATCH: usize = 64;
/// Bytes produced but not yet handed to the writer above which local data waits.
const UNSENT: usize = 1 << 20;

impl SpdyTunnel {
    /// Starts the session task on `transport`, under `parent` and `tracker`.
    pub(crate) fn start(
        transport: Transport,
        protocol: Protocol,
        liveness: Liveness,
        parent: &CancellationToken,
        tracker: &TaskTracker,
    ) -> Self {
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMANDS);
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        let dead = parent.child_token();
        let death = Arc::new(Mutex::new(String::new()));
        let stats = Arc::new(TunnelStats::default());
        let task = Task {
            // Stored header blocks: no 300 KiB deflate context per tunnel (see tether-wire).
            spdy: Session::with_header_compression(Role::Client, HeaderCompression::Stored),
            conns: HashMap::new(),
            next_request: 0,
            cmd_tx: cmd_tx.clone(),
            ctl_tx: ctl_tx.clone(),
            stats: stats.clone(),
            liveness,
            silence: Silence::new(liveness.deadline),
            outgoing: Vec::new(),
            outgoing_len: 0,
            stall: None,
            held: VecDeque::new(),
        };
        let (d, why) = (dead.clone(), death.clone());
        let span = tracing::debug_span!("tunnel", protocol = protocol.as_str());
        tracker.spawn(task.run(transport, cmd_rx, ctl_rx, d, why).instrument(span));
        Self { cmd_tx, ctl_tx, protocol, dead, death, stats }
    }
}

#[async_trait::async_trait]
impl Opener for SpdyTunnel {
    async fn open(&self, port: u16) -> Result<Stream, TunnelError> {
        let (reply, rx) = oneshot::channel();
        let closed = || TunnelError::Closed(self.death());
        self.cmd_tx.send(Cmd::Open { port, reply }).await.map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn dead(&self) -> &CancellationToken {
        &self.dead
    }

    fn death(&self) -> String {
        self.death.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn probe(&self, deadline: Duration) {
        let _dead = self.ctl_tx.send(Cmd::Probe { deadline });
    }

    fn close(&self) {
        let _dead = self.ctl_tx.send(Cmd::Close);
    }

    fn stats(&self) -> &TunnelStats {
        &self.stats
    }
}

impl Drop for SpdyTunnel {
    fn drop(&mut self) {
        self.close();
    }
}

struct Task {
    spdy: Session,
    /// Keyed by the data stream id.
    conns: HashMap<StreamId, Conn>,
    next_request: u64,
    cmd_tx: mpsc::Sender<Cmd>,
    ctl_tx: mpsc::UnboundedSender<Cmd>,
    stats: Arc<TunnelStats>,
    liveness: Liveness,
    silence: Silence,
    /// Frames produced and not yet handed to the writer, and their size.
    outgoing: Vec<Bytes>,
    outgoing_len: usize,
    /// While `Some`, the tunnel is not read: a stream's reader must take data first.
    stall: Option<Stall>,
    /// Data streams whose FIN waits for their error stream, oldest first, with their deadline.
    held: VecDeque<(StreamId, Instant)>,
}

impl Task {
    async fn run(
        mut self,
        transport: Transport,
        mut cmd_rx: mpsc::Receiver<Cmd>,
        mut ctl_rx: mpsc::UnboundedReceiver<Cmd>,
        dead: CancellationToken,
        death: Arc<Mutex<String>>,
    ) {
        let (mut reader, writer) = transport.split();
        let mut write = WriteState::Idle(writer);
        let why = self.serve(&mut reader, &mut write, &mut cmd_rx, &mut ctl_rx, &dead).await;
        tracing::debug!(reason = %why, "tunnel ended");
        *death.lock().unwrap_or_else(PoisonError::into_inner) = why.clone();
        dead.cancel();
        for (_, conn) in self.conns.drain() {
            conn.to_local.close(Some(EndReason::Tunnel(why.clone())));
        }
        cmd_rx.close();
        while let Ok(cmd) = cmd_rx.try_recv() {
            if let Cmd::Open { reply, .. } = cmd {
                let _gone = reply.send(Err(TunnelError::Closed(why.clone())));
            }
        }
        // The batch in flight, a last one (the GOAWAY when we closed), then close.
        self.take_transmit();
        let last = std::mem::take(&mut self.outgoing);
        let _closed = tokio::time::timeout(Duration::from_secs(1), write.finish(last)).await;
    }

    /// Starts writing what is pending when the writer is idle.
    fn start_write(&mut self, write: &mut WriteState) {
        if self.outgoing.is_empty() {
            return;
        }
        if write.start(&mut self.outgoing) {
            self.stats.add_out(self.outgoing_len);
            self.outgoing_len = 0;
        }
    }

    /// Runs until the tunnel ends; returns why.
    async fn serve(
        &mut self,
        reader: &mut Reader,
        write: &mut WriteState,
        cmd_rx: &mut mpsc::Receiver<Cmd>,
        ctl_rx: &mut mpsc::UnboundedReceiver<Cmd>,
        dead: &CancellationToken,
    ) -> String {
        let mut ping = tokio::time::interval(self.liveness.interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            self.take_transmit();
            self.start_write(write);
            let stalled = self.stall.as_ref().map(|s| (s.room.clone(), s.until));
            let reading = stalled.is_none();
            let step = tokio::select! {
                (writer, result) = written(write) => match result {
                    Ok(()) => {
                        *write = WriteState::Idle(writer);
                        Ok(())
                    }
                    Err(e) => {
                        *write = WriteState::Gone;
                        Err(format!("the connection failed: {e}"))
                    }
                },
                ready = room_or_deadline(stalled) => self.resume(ready),
                () = held_until(self.held.front().map(|h| h.1)) => { self.release_expired(); Ok(()) }
                received = reader.recv(), if reading => match received {
                    Ok(Some(bytes)) => {
                        // Any bytes prove the server alive (a PONG may queue behind data).
                        self.silence.heard();
                        self.stats.add_in(bytes.len());
                        self.spdy.receive(bytes);
                        self.events()
                    }
                    Ok(None) => Err("the server closed the connection".to_owned()),
                    Err(e) => Err(format!("the connection failed: {e}")),
                },
                // Local data waits while the writer is behind: backpressure on the uploaders.
                cmd = cmd_rx.recv(), if self.outgoing_len < UNSENT => match cmd {
                    Some(cmd) => {
                        let mut step = self.command(cmd);
                        for _ in 0..BATCH {
                            let Ok(cmd) = cmd_rx.try_recv() else { break };
                            if step.is_ok() { step = self.command(cmd); }
                        }
                        step
                    }
                    None => Err("closed".to_owned()),
                },
                Some(cmd) = ctl_rx.recv() => self.command(cmd),
                _ = ping.tick() => { self.spdy.ping(); Ok(()) }
                // Exactly at the deadline, not at the next ping: a blackhole is noticed at most
                // `deadline` after the last sign of life. A paused tunnel reads nothing on
                // purpose; the stall has its own limit.
                () = self.silence.expired(), if reading => Err(format!(
                    "no answer to pings for {:?}", self.silence.silent_for()
                )),
                () = dead.cancelled() => Err("closed".to_owned()),
            };
            if let Err(why) = step {
                if why == "closed" {
                    self.spdy.go_away(0);
                }
                return why;
            }
        }
    }

    /// Moves what the session produced to the writer's next batch.
    fn take_transmit(&mut self) {
        while let Some(chunk) = self.spdy.poll_transmit() {
            self.outgoing_len += chunk.len();
            self.outgoing.push(chunk);
        }
    }

    /// Ends a stall: delivers what did not fit when the reader took data, or resets the stream
    /// when it did not in time; then goes on with the events already received.
    fn resume(&mut self, ready: bool) -> Result<(), String> {
        let Some(stall) = self.stall.take() else { return Ok(()) };
        // Pongs queued behind the paused bytes could not be read, and data came just before.
        self.silence.heard();
        if ready {
            self.data(stall.data, stall.chunk, stall.fin);
        } else if self.conns.contains_key(&stall.data) {
            tracing::warn!(stream = stall.data, "local reader stuck: resetting its connection");
            self.kill(stall.data, EndReason::SlowReader);
        }
        self.events()
    }

    fn command(&mut self, cmd: Cmd) -> Result<(), String> {
        match cmd {
            Cmd::Open { port, reply } => {
                let _gone = reply.send(self.open(port));
            }
            Cmd::Data { data, bytes } => {
                // A stream the server reset is gone from the session; its data is dropped.
                let _gone = self.spdy.send_data(data, bytes, false);
            }
            Cmd::Fin { data } => {
                if let Some(conn) = self.conns.get_mut(&data) {
                    conn.local_fin_sent = true;
                }
                let _gone = self.spdy.finish(data);
                self.maybe_forget(data);
            }
            Cmd::Reset { data } => {
                if let Some(conn) = self.conns.remove(&data) {
                    self.spdy.reset(data, RstStatus::CANCEL);
                    self.spdy.reset(conn.error, RstStatus::CANCEL);
                }
            }
            Cmd::Probe { deadline } => {
                self.silence.probe(deadline);
                self.spdy.ping();
            }
            Cmd::Close => return Err("closed".to_owned()),
        }
        Ok(())
    }

    fn open(&mut self, port: u16) -> Result<Stream, TunnelError> {
        let request = self.next_request.to_string();
        self.next_request += 1;
        let port_text = port.to_string();
        let headers = |kind| {
            HeaderBlock::from_pairs([
                ("streamtype", kind),
                ("port", port_text.as_str()),
                ("requestid", request.as_str()),
            ])
        };
        let closed = |e: tether_wire::spdy::SessionError| TunnelError::Closed(e.to_string());
        let error = self.spdy.open_stream(&headers("error"), false).map_err(closed)?;
        // The error stream only carries text from the server.
        self.spdy.finish(error).map_err(closed)?;
        let data = self.spdy.open_stream(&headers("data"), false).map_err(closed)?;
        let (to_local, from_pod) = ByteQueue::new(STREAM_BUFFER);
        self.conns.insert(data, Conn::new(error, to_local));
        self.stats.streams.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let handle =
            StreamHandle { data, cmd_tx: self.cmd_tx.clone(), ctl_tx: self.ctl_tx.clone() };
        Ok(Stream { to_pod: super::PodSender::spdy(handle), from_pod })
    }

    fn events(&mut self) -> Result<(), String> {
        while self.stall.is_none() {
            let event = match self.spdy.poll_event() {
                Ok(Some(e)) => e,
                Ok(None) if self.spdy.is_closed() => return Err("the server went away".to_owned()),
                Ok(None) => return Ok(()),
                Err(e) => return Err(format!("protocol error: {e}")),
            };
            match event {
                Event::Data { stream_id, data, fin } => self.data(stream_id, data, fin),
                Event::Reset { stream_id, .. } => self.reset(stream_id),
                Event::Pong { .. } => {
                    self.silence.answered();
                }
                Event::GoAway { .. } => return Err("the server sent GOAWAY".to_owned()),
                Event::StreamReplied { .. }
                | Event::Headers { .. }
                | Event::StreamOpened { .. } => {}
            }
        }
        Ok(())
    }

    fn data(&mut self, id: StreamId, data: Bytes, fin: bool) {
        if let Some(conn) = self.conns.get_mut(&id) {
            conn.delivered |= !data.is_empty();
            // A FIN before any byte may be a refusal whose text is still to come.
            let hold = fin && !conn.delivered && !conn.error_done;
            let fin = fin && !hold;
            let pushed = if data.is_empty() {
                Ok(())
            } else {
                conn.to_local.push(Chunk::Data(data.clone()))
            };
            let pushed =
                pushed.and_then(|()| if fin { conn.to_local.push(Chunk::Fin) } else { Ok(()) });
            match pushed {
                Ok(()) if hold => {
                    conn.held_fin = true;
                    self.held.push_back((id, Instant::now() + ERROR_GRACE));
                }
                Ok(()) => {}
                Err(PushError::Full) => {
                    let (room, until) = (conn.to_local.room(), Instant::now() + STALL_LIMIT);
                    self.stall = Some(Stall { data: id, chunk: data, fin, room, until });
                    return;
                }
                Err(PushError::Gone) => self.kill(id, EndReason::Reset),
            }
            if fin {
                self.maybe_forget(id);
            }
            return;
        }
        // Text on an error stream: the kubelet could not forward this connection.
        if let Some((&data_id, conn)) = self.conns.iter_mut().find(|(_, c)| c.error == id) {
            conn.error_text.extend_from_slice(&data);
            if fin {
                conn.error_done = true;
                if !conn.error_text.is_empty() {
                    let text = String::from_utf8_lossy(&conn.error_text).into_owned();
                    self.kill(data_id, EndReason::Remote(text));
                } else if conn.held_fin {
                    self.release(data_id);
                }
            }
        }
    }

    /// Passes on a held FIN: the error stream ended without text, or never ended in time.
    fn release(&mut self, data: StreamId) {
        let Some(conn) = self.conns.get_mut(&data) else { return };
        if !std::mem::take(&mut conn.held_fin) {
            return;
        }
        if conn.to_local.push(Chunk::Fin).is_err() {
            self.kill(data, EndReason::Reset);
            return;
        }
        self.maybe_forget(data);
    }

    /// Releases the held FINs whose grace is over.
    fn release_expired(&mut self) {
        let now = Instant::now();
        while let Some(&(data, until)) = self.held.front() {
            if until > now {
                break;
            }
            self.held.pop_front();
            if self.conns.get(&data).is_some_and(|c| c.held_fin) {
                tracing::debug!(stream = data, "no end of the error stream: a clean close");
                self.release(data);
            }
        }
    }

    fn reset(&mut self, id: StreamId) {
        if let Some(conn) = self.conns.remove(&id) {
            conn.to_local.close(Some(Self::reason(&conn.error_text)));
            self.spdy.reset(conn.error, RstStatus::CANCEL);
            return;
        }
        let found = self.conns.iter_mut().find(|(_, c)| c.error == id).map(|(d, c)| {
            c.error_done = true;
            (*d, c.held_fin && c.error_text.is_empty(), Self::reason(&c.error_text))
        });
        match found {
            // The data stream had ended cleanly; the error stream says nothing more.
            Some((data_id, true, _)) => self.release(data_id),
            Some((data_id, false, reason)) => self.kill(data_id, reason),
            None => {}
        }
    }

    /// The reason for a reset: the error stream's text when there is some.
    fn reason(error_text: &[u8]) -> EndReason {
        if error_text.is_empty() {
            EndReason::Reset
        } else {
            EndReason::Remote(String::from_utf8_lossy(error_text).into_owned())
        }
    }

    /// Ends a connection abnormally: its queue closes with `why`, both streams are reset.
    fn kill(&mut self, data: StreamId, why: EndReason) {
        if let Some(conn) = self.conns.remove(&data) {
            conn.to_local.close(Some(why));
            self.spdy.reset(data, RstStatus::CANCEL);
            self.spdy.reset(conn.error, RstStatus::CANCEL);
        }
    }

    /// Forgets a connection once both directions have finished.
    fn maybe_forget(&mut self, data: StreamId) {
        let done = self.conns.get(&data).is_some_and(|c| c.local_fin_sent && !c.held_fin)
            && !self.spdy.is_open(data);
        if done {
            self.conns.remove(&data);
        }
    }
}

#[cfg(test)]
mod tests;
