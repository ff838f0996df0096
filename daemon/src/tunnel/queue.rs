//! A queue of chunks bounded in bytes, from a tunnel's session task to one local reader.
//!
//! The session must never wait on a reader (that would stall every stream of the tunnel, as
//! spdystream does), so pushing never blocks: it fails once the reader has left more than the
//! budget unread, and the session then resets that one stream.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::Chunk;

/// Why a stream ended without a `Fin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The kubelet wrote error text: it could not reach the pod's port, or the copy failed.
    Remote(String),
    /// The pod (or kubelet) reset the stream without saying why.
    Reset,
    /// The tunnel died.
    Tunnel(String),
    /// The local reader fell too far behind and the stream was reset.
    SlowReader,
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Remote(text) => f.write_str(text),
            Self::Reset => f.write_str("the pod reset the connection"),
            Self::Tunnel(why) => write!(f, "the tunnel ended: {why}"),
            Self::SlowReader => f.write_str("the local reader fell more than 4 MiB behind"),
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
        let shared = Arc::new(Shared::default());
        (Self { shared: shared.clone(), budget }, QueueReceiver { shared })
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
        if state.bytes + len > self.budget {
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
                        state.bytes -= b.len();
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

    #[tokio::test]
    async fn a_slow_reader_makes_pushes_fail_instead_of_waiting() {
        let (tx, mut rx) = ByteQueue::new(8);
        tx.push(Chunk::Data(Bytes::from_static(b"12345"))).expect("fits");
        assert_eq!(tx.push(Chunk::Data(Bytes::from_static(b"6789"))), Err(PushError::Full));
        assert!(rx.recv().await.is_some());
        tx.push(Chunk::Data(Bytes::from_static(b"6789"))).expect("room again");
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
        assert_eq!(reader.await.expect("task"), Some(Chunk::Fin));
    }
}
