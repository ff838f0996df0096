//! A SPDY/3.1 port-forward tunnel, the client side of spec §6: one task owns the session and
//! the transport; each local connection is an error/data stream pair.
//!
//! Opening a connection sends both SYN_STREAMs and the error stream's half-close at once,
//! without waiting for the replies (kubectl waits a round trip for each). Data for a stream goes
//! into its byte-bounded queue; a full queue pauses reading the tunnel until its reader takes
//! data, and resets that stream only if it takes nothing for `STALL_LIMIT` (the policy is on
//! `STREAM_BUFFER`). Liveness (`pulse`): PINGs every `Liveness::interval`, dead after
//! `Liveness::deadline` of silence, and probes when a connection waits on a quiet tunnel or the
//! daemon was frozen. GOAWAY, a transport error or a protocol error also end the tunnel.

mod flow;
mod pulse;
mod streams;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tether_wire::spdy::{
    Event, HeaderBlock, HeaderCompression, Role, RstStatus, Session, StreamId,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::queue::{ByteQueue, EndReason};
use super::transport::{Reader, Transport};
use super::{
    Health, Liveness, Opener, ProbeCause, Protocol, STREAM_BUFFER, Stream, TunnelEnd, TunnelError,
    TunnelStats,
};
use flow::{Stall, WriteState, at, room_or_deadline, written};
use pulse::Pulse;
use streams::Conn;

/// How long the FIN of a data stream that delivered nothing waits for its error stream.
///
/// containerd closes the data stream as its port-forward returns, and only then does the kubelet
/// write the error ("... connect: connection refused") on the error stream and close it. Passed on
/// at once, that FIN is an empty reply to the local client, and the refusal that follows comes
/// too late to replay the connection on a Ready pod. So such a FIN waits until the error stream
/// ends: with text, the connection was refused; without, it was a clean close. The kubelet closes
/// the error stream right after the data stream; the grace only bounds a server that never does.
pub(crate) const ERROR_GRACE: Duration = Duration::from_secs(1);

/// Commands from tunnel users to the session task. Data flows through a bounded queue shared
/// by every connection (they feel the tunnel's backpressure together); resets, probes and closes
/// go through a control queue that is bounded by the number of streams, so a drop never waits.
#[derive(Debug)]
enum Cmd {
    Open { port: u16, reply: oneshot::Sender<Result<Stream, TunnelError>> },
    Data { data: StreamId, bytes: Bytes },
    Fin { data: StreamId },
    Reset { data: StreamId },
    Probe { cause: ProbeCause },
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

/// The handle users hold; the session task does the work.
#[derive(Debug)]
pub(crate) struct SpdyTunnel {
    cmd_tx: mpsc::Sender<Cmd>,
    ctl_tx: mpsc::UnboundedSender<Cmd>,
    protocol: Protocol,
    dead: CancellationToken,
    health: watch::Receiver<Health>,
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
        let stats = Arc::new(TunnelStats::default());
        let pulse = Pulse::new(liveness, stats.clone());
        let health = pulse.health();
        let task = Task {
            // Stored header blocks: no 300 KiB deflate context per tunnel (see tether-wire).
            spdy: Session::with_header_compression(Role::Client, HeaderCompression::Stored),
            conns: HashMap::new(),
            unreplied: 0,
            next_request: 0,
            cmd_tx: cmd_tx.clone(),
            ctl_tx: ctl_tx.clone(),
            stats: stats.clone(),
            liveness,
            pulse,
            outgoing: Vec::new(),
            outgoing_len: 0,
            stall: None,
            held: VecDeque::new(),
        };
        let span = tracing::debug_span!("tunnel", protocol = protocol.as_str());
        tracker.spawn(task.run(transport, cmd_rx, ctl_rx, dead.clone()).instrument(span));
        Self { cmd_tx, ctl_tx, protocol, dead, health, stats }
    }

    fn closed(&self) -> TunnelError {
        let why = match &*self.health.borrow() {
            Health::Dead(end) => end.to_string(),
            Health::Alive | Health::Probing { .. } => "the tunnel ended".to_owned(),
        };
        TunnelError::Closed(why)
    }
}

#[async_trait::async_trait]
impl Opener for SpdyTunnel {
    async fn open(&self, port: u16) -> Result<Stream, TunnelError> {
        let (reply, rx) = oneshot::channel();
        self.cmd_tx.send(Cmd::Open { port, reply }).await.map_err(|_| self.closed())?;
        rx.await.map_err(|_| self.closed())?
    }

    fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn dead(&self) -> &CancellationToken {
        &self.dead
    }

    fn health(&self) -> watch::Receiver<Health> {
        self.health.clone()
    }

    fn probe(&self, cause: ProbeCause) {
        let _dead = self.ctl_tx.send(Cmd::Probe { cause });
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
    /// Connections whose data stream the server has not answered (SYN_REPLY) yet.
    unreplied: usize,
    next_request: u64,
    cmd_tx: mpsc::Sender<Cmd>,
    ctl_tx: mpsc::UnboundedSender<Cmd>,
    stats: Arc<TunnelStats>,
    liveness: Liveness,
    pulse: Pulse,
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
    ) {
        let (mut reader, writer) = transport.split();
        let mut write = WriteState::Idle(writer);
        let end = self.serve(&mut reader, &mut write, &mut cmd_rx, &mut ctl_rx, &dead).await;
        tracing::debug!(reason = %end, "tunnel ended");
        self.pulse.died(end.clone());
        dead.cancel();
        let ids: Vec<StreamId> = self.conns.keys().copied().collect();
        for id in ids {
            if let Some(conn) = self.forget(id) {
                let acknowledged = conn.replied;
                conn.to_local.close(Some(EndReason::Tunnel { end: end.clone(), acknowledged }));
            }
        }
        cmd_rx.close();
        while let Ok(cmd) = cmd_rx.try_recv() {
            if let Cmd::Open { reply, .. } = cmd {
                let _gone = reply.send(Err(TunnelError::Closed(end.to_string())));
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

    /// Runs until the tunnel ends; returns how.
    async fn serve(
        &mut self,
        reader: &mut Reader,
        write: &mut WriteState,
        cmd_rx: &mut mpsc::Receiver<Cmd>,
        ctl_rx: &mut mpsc::UnboundedReceiver<Cmd>,
        dead: &CancellationToken,
    ) -> TunnelEnd {
        let mut ping = tokio::time::interval(self.liveness.interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            self.take_transmit();
            self.start_write(write);
            let stalled = self.stall.as_ref().map(|s| (s.room.clone(), s.until));
            let reading = stalled.is_none();
            let demand_at = self.pulse.demand_at(self.unreplied);
            let held_at = self.held.front().map(|h| h.1);
            let step = tokio::select! {
                (writer, result) = written(write) => match result {
                    Ok(()) => {
                        *write = WriteState::Idle(writer);
                        Ok(())
                    }
                    Err(e) => {
                        *write = WriteState::Gone;
                        Err(TunnelEnd::Transport(e.to_string()))
                    }
                },
                ready = room_or_deadline(stalled) => self.resume(ready),
                () = at(held_at) => { self.release_expired(); Ok(()) }
                received = reader.recv(), if reading => self.received(received),
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
                    None => Err(TunnelEnd::Closed),
                },
                Some(cmd) = ctl_rx.recv() => self.command(cmd),
                _ = ping.tick() => { self.pulse.ping(&mut self.spdy); Ok(()) }
                () = at(demand_at) => { self.pulse.demand(&mut self.spdy, self.unreplied); Ok(()) }
                // Exactly at the deadline, not at the next ping. A paused tunnel reads nothing on
                // purpose; the stall has its own limit.
                () = self.pulse.due(), if reading => match self.pulse.verdict(&mut self.spdy) {
                    Some(end) => Err(end),
                    None => Ok(()),
                },
                () = dead.cancelled() => Err(TunnelEnd::Closed),
            };
            if let Err(end) = step {
                if end == TunnelEnd::Closed {
                    self.spdy.go_away(0);
                }
                return end;
            }
        }
    }

    /// Bytes from the server, or its end.
    fn received(&mut self, received: std::io::Result<Option<Bytes>>) -> Result<(), TunnelEnd> {
        match received {
            Ok(Some(bytes)) => {
                // Any bytes prove the server alive (a PONG may queue behind data), unless they
                // are stale: read past the deadline, after a freeze.
                self.pulse.bytes(&mut self.spdy);
                self.stats.add_in(bytes.len());
                self.spdy.receive(bytes);
                self.events()
            }
            Ok(None) => Err(TunnelEnd::ServerClosed),
            Err(e) => Err(TunnelEnd::Transport(e.to_string())),
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
    fn resume(&mut self, ready: bool) -> Result<(), TunnelEnd> {
        let Some(stall) = self.stall.take() else { return Ok(()) };
        // Pongs queued behind the paused bytes could not be read, and data came just before.
        self.pulse.resumed();
        if ready {
            self.data(stall.data, stall.chunk, stall.fin);
        } else if self.conns.contains_key(&stall.data) {
            tracing::warn!(stream = stall.data, "local reader stuck: resetting its connection");
            self.kill(stall.data, EndReason::SlowReader);
        }
        self.events()
    }

    fn command(&mut self, cmd: Cmd) -> Result<(), TunnelEnd> {
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
                if let Some(conn) = self.forget(data) {
                    self.spdy.reset(data, RstStatus::CANCEL);
                    self.spdy.reset(conn.error, RstStatus::CANCEL);
                }
            }
            Cmd::Probe { cause } => self.pulse.probe(&mut self.spdy, cause),
            Cmd::Close => return Err(TunnelEnd::Closed),
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
        self.unreplied += 1;
        self.stats.streams.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let handle =
            StreamHandle { data, cmd_tx: self.cmd_tx.clone(), ctl_tx: self.ctl_tx.clone() };
        Ok(Stream { to_pod: super::PodSender::spdy(handle), from_pod })
    }

    fn events(&mut self) -> Result<(), TunnelEnd> {
        while self.stall.is_none() {
            let event = match self.spdy.poll_event() {
                Ok(Some(e)) => e,
                Ok(None) if self.spdy.is_closed() => return Err(TunnelEnd::GoAway),
                Ok(None) => return Ok(()),
                Err(e) => return Err(TunnelEnd::Protocol(e.to_string())),
            };
            match event {
                Event::Data { stream_id, data, fin } => self.data(stream_id, data, fin),
                Event::Reset { stream_id, .. } => self.reset(stream_id),
                Event::Pong { id } => self.pulse.pong(id),
                Event::GoAway { .. } => return Err(TunnelEnd::GoAway),
                Event::StreamReplied { stream_id, .. } => self.replied(stream_id),
                Event::Headers { .. } | Event::StreamOpened { .. } => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
