//! The connections of a SPDY tunnel: data from the pod into each one's queue, the error stream's
//! text, FINs held for the error stream, and resets. Every removal goes through `forget`, which
//! keeps the count of streams the server has not answered yet.

use bytes::Bytes;
use tether_wire::spdy::{RstStatus, StreamId};
use tokio::time::Instant;

use super::super::queue::{ByteQueue, EndReason, PushError};
use super::super::{Chunk, Refusal, STALL_LIMIT};
use super::flow::Stall;
use super::{ERROR_GRACE, Task};

/// Per connection: the session's view.
pub(super) struct Conn {
    pub(super) error: StreamId,
    pub(super) to_local: ByteQueue,
    pub(super) error_text: Vec<u8>,
    pub(super) local_fin_sent: bool,
    /// The server answered the data stream's SYN_STREAM: it knows the connection.
    pub(super) replied: bool,
    /// The pod sent at least one byte on the data stream.
    delivered: bool,
    /// The server ended the error stream (FIN or reset).
    error_done: bool,
    /// The data stream ended before any byte and before the error stream did: its FIN waits
    /// for the error stream (see [`ERROR_GRACE`]).
    held_fin: bool,
}

impl Conn {
    pub(super) fn new(error: StreamId, to_local: ByteQueue) -> Self {
        Self {
            error,
            to_local,
            error_text: Vec::new(),
            local_fin_sent: false,
            replied: false,
            delivered: false,
            error_done: false,
            held_fin: false,
        }
    }
}

impl Task {
    /// Removes a connection, keeping the count of unanswered streams right.
    pub(super) fn forget(&mut self, data: StreamId) -> Option<Conn> {
        let conn = self.conns.remove(&data)?;
        if !conn.replied {
            self.unreplied -= 1;
        }
        Some(conn)
    }

    /// The server answered a stream we opened.
    pub(super) fn replied(&mut self, id: StreamId) {
        if let Some(conn) = self.conns.get_mut(&id)
            && !conn.replied
        {
            conn.replied = true;
            self.unreplied -= 1;
        }
    }

    pub(super) fn data(&mut self, id: StreamId, data: Bytes, fin: bool) {
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
                    self.kill(data_id, EndReason::Refused(Refusal::classify(text)));
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
    pub(super) fn release_expired(&mut self) {
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

    pub(super) fn reset(&mut self, id: StreamId) {
        if let Some(conn) = self.forget(id) {
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
            let text = String::from_utf8_lossy(error_text).into_owned();
            EndReason::Refused(Refusal::classify(text))
        }
    }

    /// Ends a connection abnormally: its queue closes with `why`, both streams are reset.
    pub(super) fn kill(&mut self, data: StreamId, why: EndReason) {
        if let Some(conn) = self.forget(data) {
            conn.to_local.close(Some(why));
            self.spdy.reset(data, RstStatus::CANCEL);
            self.spdy.reset(conn.error, RstStatus::CANCEL);
        }
    }

    /// Forgets a connection once both directions have finished.
    pub(super) fn maybe_forget(&mut self, data: StreamId) {
        let done = self.conns.get(&data).is_some_and(|c| c.local_fin_sent && !c.held_fin)
            && !self.spdy.is_open(data);
        if done {
            self.forget(data);
        }
    }
}
