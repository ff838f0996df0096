//! Copying between a local TCP connection and a tunnel stream, without copying payloads:
//! reads land in a `BytesMut` that is frozen and handed to the tunnel, and data from the pod is
//! written straight from the received buffers. A half-close passes through in both directions.
//!
//! Until the pod sends its first byte, the relay keeps (references to) what it sent, up to
//! [`REPLAY_LIMIT`]: a connection that was never delivered (the pod's port refused because the
//! pod is going away, or a tunnel that died before the server acknowledged the stream) can then
//! be replayed on another pod or tunnel without the client noticing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::events::LiveCounters;
use crate::tunnel::{Chunk, EndReason, Stream};

/// How much one read from the local socket may take.
const READ: usize = 64 * 1024;
/// Below this much spare room a new read buffer is allocated. Reads go into the room left
/// after the previous read's bytes were split off, so a connection exchanging small messages
/// allocates one buffer per 64 KiB, not one per message (a 64 KiB allocation per round trip
/// cost page faults and tripled the daemon's CPU per round trip).
const MIN_ROOM: usize = 4 * 1024;
/// How many unanswered bytes are kept for a replay.
pub const REPLAY_LIMIT: usize = 256 * 1024;

/// How a relay ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Bytes to the pod (including a replayed preface).
    pub bytes_out: u64,
    /// Bytes from the pod.
    pub bytes_in: u64,
    /// Why it ended abnormally.
    pub error: Option<String>,
    /// When the connection can be replayed on another pod: what the client sent so far, and
    /// whether it had half-closed.
    pub replay: Option<(Vec<Bytes>, bool)>,
    /// The pod refused it (its port, or itself, going away): a replay goes to another pod. A
    /// replay after a dead tunnel may go to the same pod through a new tunnel.
    pub refused_by_pod: bool,
}

/// Whether an ended stream may be replayed elsewhere (when nothing came back): nothing was
/// sent; or the kubelet says the pod never took the connection (its port refused, the pod gone);
/// or the tunnel died before the server acknowledged the stream.
fn replayable(reason: &EndReason, sent: u64) -> bool {
    match reason {
        EndReason::Refused(refusal) => sent == 0 || refusal.undelivered(),
        EndReason::Reset => sent == 0,
        EndReason::Tunnel { acknowledged, .. } => sent == 0 || !acknowledged,
        EndReason::SlowReader => false,
    }
}

/// What both directions of a relay share.
#[derive(Debug, Default)]
struct Shared {
    /// Bytes sent to the pod.
    sent: AtomicU64,
    /// The client half-closed.
    finished: AtomicBool,
    /// `log` is `None` for good: uploads skip its lock.
    unlogged: AtomicBool,
    /// What was sent while nothing has come back; `None` once the pod answered or it grew past
    /// [`REPLAY_LIMIT`].
    log: Mutex<Option<(Vec<Bytes>, usize)>>,
}

impl Shared {
    fn record(&self, chunk: &Bytes) {
        self.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if self.unlogged.load(Ordering::Relaxed) {
            return;
        }
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((chunks, size)) = log.as_mut() {
            if *size + chunk.len() > REPLAY_LIMIT {
                *log = None;
                self.unlogged.store(true, Ordering::Relaxed);
            } else {
                *size += chunk.len();
                chunks.push(chunk.clone());
            }
        }
    }

    fn answered(&self) {
        *self.log.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.unlogged.store(true, Ordering::Relaxed);
    }
}

/// Relays until both directions have finished or one fails. `preface` goes to the pod before
/// anything read from `tcp` (the first bytes of a replayed connection), followed by a
/// half-close when `local_eof`.
pub async fn relay(
    tcp: &mut TcpStream,
    stream: Stream,
    preface: Vec<Bytes>,
    local_eof: bool,
    counters: &LiveCounters,
) -> Outcome {
    let Stream { mut to_pod, mut from_pod } = stream;
    let (mut rd, mut wr) = tcp.split();
    let shared = Shared { log: Mutex::new(Some((Vec::new(), 0))), ..Shared::default() };
    let up = async {
        for chunk in &preface {
            shared.record(chunk);
            to_pod.send(chunk.clone()).await.map_err(|e| e.to_string())?;
        }
        if local_eof {
            shared.finished.store(true, Ordering::Relaxed);
            return to_pod.finish().await.map_err(|e| e.to_string());
        }
        let mut buf = BytesMut::with_capacity(READ);
        loop {
            if buf.capacity() - buf.len() < MIN_ROOM {
                buf.reserve(READ);
            }
            let n = rd
                .read_buf(&mut buf)
                .await
                .map_err(|e| format!("the local connection failed: {e}"))?;
            if n == 0 {
                shared.finished.store(true, Ordering::Relaxed);
                return to_pod.finish().await.map_err(|e| e.to_string());
            }
            counters.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
            let chunk = buf.split().freeze();
            shared.record(&chunk);
            to_pod.send(chunk).await.map_err(|e| e.to_string())?;
        }
    };
    let down = async {
        let mut received = 0u64;
        while let Some(chunk) = from_pod.recv().await {
            match chunk {
                Chunk::Data(bytes) => {
                    if received == 0 {
                        shared.answered();
                    }
                    received += bytes.len() as u64;
                    counters.bytes_in.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    if let Err(e) = wr.write_all(&bytes).await {
                        return (received, Some(Err(format!("the local connection failed: {e}"))));
                    }
                }
                Chunk::Fin => {
                    let _closed = wr.shutdown().await;
                    return (received, None);
                }
            }
        }
        (received, Some(Ok(from_pod.error().unwrap_or(EndReason::Reset))))
    };
    tokio::pin!(up, down);
    let mut outcome = Outcome::default();
    let mut up_done = false;
    loop {
        tokio::select! {
            r = &mut up, if !up_done => {
                up_done = true;
                if let Err(e) = r {
                    outcome.error = Some(e);
                    break;
                }
            }
            (received, end) = &mut down => {
                outcome.bytes_in = received;
                match end {
                    // The pod finished; the client may still be sending.
                    None if !up_done => {
                        if let Err(e) = (&mut up).await {
                            outcome.error = Some(e);
                        }
                    }
                    None => {}
                    Some(Err(local)) => outcome.error = Some(local),
                    Some(Ok(reason)) => {
                        let sent = shared.sent.load(Ordering::Relaxed);
                        let log = shared.log.lock().unwrap_or_else(PoisonError::into_inner).take();
                        if let (0, Some((chunks, _))) = (received, log)
                            && replayable(&reason, sent)
                        {
                            outcome.replay = Some((chunks, shared.finished.load(Ordering::Relaxed)));
                        }
                        outcome.refused_by_pod = matches!(reason, EndReason::Refused(_));
                        outcome.error = Some(reason.to_string());
                    }
                }
                break;
            }
        }
    }
    outcome.bytes_out = shared.sent.load(Ordering::Relaxed);
    outcome
}
