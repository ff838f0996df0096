//! A queue of chunks bounded in bytes, from a tunnel's session task to one local reader.
//!
//! Pushing never blocks: once the reader has left the budget or more unread, a push fails with
//! [`PushError::Full`] and the session decides (see `super::spdy`: it pauses reading the tunnel
//! until [`Room::wait`] says the reader took data, and resets the stream if that takes too
//! long). The budget is soft: a push is accepted whenever the queue holds less than the budget,
//! so one chunk may take it over by its own size.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::Chunk;
use super::end::{Refusal, TunnelEnd};

/// Why a stream ended without a `Fin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The kubelet wrote error text: it could not reach the pod's port, or the copy failed.
    Refused(Refusal),
    /// The pod (or kubelet) reset the stream without saying why.
    Reset,
    /// The tunnel ended. `acknowledged` says whether the server had answered the stream's
    /// SYN_STREAM: a stream it never acknowledged was never delivered, whatever was sent on it.
    Tunnel {
        /// How the tunnel ended.
        end: TunnelEnd,
        /// The server had accepted the stream.
        acknowledged: bool,
    },
    /// The local reader took nothing for too long while its buffer was full, and the stream was
    /// reset so that the tunnel's other connections could go on.
    SlowReader,
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(refusal) => f.write_str(&refusal.text),
            Self::Reset => f.write_str("the pod reset the connection"),
            Self::Tunnel { end, .. } => write!(f, "the tunnel ended: {end}"),
            Self::SlowReader => write!(
                f,
                "the local reader took nothing for {:?} with {} MiB waiting",
                super::STALL_LIMIT,
                super::STREAM_BUFFER >> 20
            ),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    chunks: VecDeque<Chunk>,
    bytes: usize,
    closed: bool,
    error: Option<EndReason>,
    reader_gone: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    notify: Notify,
    /// Wakes a [`Room::wait`] when the reader takes data or leaves.
    room: Notify,
    budget: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending side, held by the session task.
#[derive(Debug)]
pub struct ByteQueue {
    shared: Arc<Shared>,
    budget: usize,
}

/// The receiving side, held by the local connection.
#[derive(Debug)]
pub struct QueueReceiver {
    shared: Arc<Shared>,
}

/// Why a push failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The reader left more than the budget unread.
    Full,
    /// The reader is gone.
    Gone,
}

impl ByteQueue {
    /// A queue that holds at most `budget` unread bytes.
    #[must_use]
    pub fn new(budget: usize) -> (Self, QueueReceiver) {
        let shared = Arc::new(Shared { budget, ..Shared::default() });
        (Self { shared: shared.clone(), budget }, QueueReceiver { shared })
    }

    /// A handle that waits until a push would be accepted again.
    #[must_use]
    pub fn room(&self) -> Room {
        Room { shared: self.shared.clone() }
    }

    /// Queues a chunk without waiting.
    ///
    /// # Errors
    /// [`PushError::Full`] over budget, [`PushError::Gone`] when the reader dropped its end.
    pub fn push(&self, chunk: Chunk) -> Result<(), PushError> {
        let mut state = self.shared.lock();
        if state.reader_gone {
            return Err(PushError::Gone);
        }
        let len = match &chunk {
            Chunk::Data(b) => b.len(),
            Chunk::Fin => 0,
        };
        if len > 0 && state.bytes >= self.budget {
            return Err(PushError::Full);
        }
        state.bytes += len;
        state.chunks.push_back(chunk);
        drop(state);
        self.shared.notify.notify_one();
        Ok(())
    }

    /// Ends the queue; `error` says why when the stream did not end normally.
    pub fn close(&self, error: Option<EndReason>) {
        let mut state = self.shared.lock();
        state.closed = true;
        if state.error.is_none() {
            state.error = error;
        }
        drop(state);
        self.shared.notify.notify_one();
    }
}

impl Drop for ByteQueue {
    fn drop(&mut self) {
        self.close(None);
    }
}

impl QueueReceiver {
    /// The next chunk, or `None` once the queue is closed and drained.
    pub async fn recv(&mut self) -> Option<Chunk> {
        loop {
            let notified = self.shared.notify.notified();
            {
                let mut state = self.shared.lock();
                if let Some(chunk) = state.chunks.pop_front() {
                    if let Chunk::Data(b) = &chunk {
                        let was_full = state.bytes >= self.shared.budget;
                        state.bytes -= b.len();
                        if was_full && state.bytes < self.shared.budget {
                            drop(state);
                            self.shared.room.notify_one();
                        }
                    }
                    return Some(chunk);
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Why the queue ended abnormally, if it did.
    #[must_use]
    pub fn error(&self) -> Option<EndReason> {
        self.shared.lock().error.clone()
    }
}

impl Drop for QueueReceiver {
    fn drop(&mut self) {
        self.shared.lock().reader_gone = true;
        self.shared.room.notify_one();
    }
}

/// Waits for room in a full queue; see [`ByteQueue::room`].
#[derive(Debug, Clone)]
pub struct Room {
    shared: Arc<Shared>,
}

impl Room {
    /// Returns once the queue holds less than its budget or the reader is gone.
    pub async fn wait(&self) {
        loop {
            let notified = self.shared.room.notified();
            {
                let state = self.shared.lock();
                if state.bytes < self.shared.budget || state.reader_gone {
                    return;
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[tokio::test]
    async fn delivers_in_order_then_ends() {
        let (tx, mut rx) = ByteQueue::new(10);
        tx.push(Chunk::Data(Bytes::from_static(b"abc"))).expect("fits");
        tx.push(Chunk::Fin).expect("fits");
        drop(tx);
        assert_eq!(rx.recv().await, Some(Chunk::Data(Bytes::from_static(b"abc"))));
        assert_eq!(rx.recv().await, Some(Chunk::Fin));
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.error(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_makes_pushes_fail_until_it_takes_data() {
        let (tx, mut rx) = ByteQueue::new(8);
        tx.push(Chunk::Data(Bytes::from_static(b"12345"))).expect("fits");
        tx.push(Chunk::Data(Bytes::from_static(b"678"))).expect("soft budget: under 8 before");
        assert_eq!(tx.push(Chunk::Data(Bytes::from_static(b"9"))), Err(PushError::Full));
        let room = tx.room();
        let waited = tokio::time::timeout(std::time::Duration::from_secs(1), room.wait()).await;
        assert!(waited.is_err(), "no room while the reader takes nothing");
        let waiter = tokio::spawn(async move { room.wait().await });
        assert!(rx.recv().await.is_some());
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .expect("room after a read")
            .expect("no panic");
        tx.push(Chunk::Data(Bytes::from_static(b"6789"))).expect("room again");
        assert!(rx.recv().await.is_some());
        tx.close(Some(EndReason::Reset));
        assert!(rx.recv().await.is_some());
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.error(), Some(EndReason::Reset));
        drop(rx);
        assert_eq!(tx.push(Chunk::Fin), Err(PushError::Gone));
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_push() {
        let (tx, mut rx) = ByteQueue::new(100);
        let reader = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        tx.push(Chunk::Fin).expect("fits");
        let woke = tokio::time::timeout(std::time::Duration::from_secs(5), reader).await;
        assert_eq!(woke.expect("woken, not hanging").expect("task"), Some(Chunk::Fin));
    }
}
