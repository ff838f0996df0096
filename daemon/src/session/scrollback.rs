//! A session's kept output and its live fan-out.
//!
//! Output is kept up to a byte budget, oldest first out. Clients join atomically: they get the
//! kept output and a receiver of everything after it, so nothing falls between. A client that
//! reads too slowly misses pieces rather than slowing the session down; the offsets tell it how
//! many bytes it skipped.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::broadcast;

/// One chunk of output, at its offset in the session's whole output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Bytes of output before this piece.
    pub offset: u64,
    /// From stderr (never with a TTY).
    pub stderr: bool,
    /// The bytes.
    pub data: Bytes,
}

/// What attached clients receive live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// New output.
    Output(Piece),
    /// The session changed phase; read its snapshot again.
    Changed,
}

#[derive(Debug)]
struct Inner {
    pieces: VecDeque<Piece>,
    bytes: usize,
    capacity: usize,
    total: u64,
}

/// Kept output plus live fan-out.
#[derive(Debug)]
pub struct Scrollback {
    inner: Mutex<Inner>,
    updates_tx: broadcast::Sender<Update>,
}

/// Pieces a client may fall behind before it skips ahead.
const LIVE: usize = 512;

impl Scrollback {
    /// Keeps at most `capacity` bytes.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let (updates_tx, _) = broadcast::channel(LIVE);
        Self {
            inner: Mutex::new(Inner { pieces: VecDeque::new(), bytes: 0, capacity, total: 0 }),
            updates_tx,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends output and sends it to attached clients.
    pub fn push(&self, stderr: bool, data: Bytes) {
        if data.is_empty() {
            return;
        }
        let mut inner = self.lock();
        let piece = Piece { offset: inner.total, stderr, data };
        inner.total += piece.data.len() as u64;
        inner.bytes += piece.data.len();
        inner.pieces.push_back(piece.clone());
        while inner.bytes > inner.capacity && inner.pieces.len() > 1 {
            if let Some(old) = inner.pieces.pop_front() {
                inner.bytes -= old.data.len();
            }
        }
        // Sent under the lock, so a joining client sees each piece exactly once.
        let _nobody = self.updates_tx.send(Update::Output(piece));
    }

    /// Tells attached clients the session changed.
    pub fn changed(&self) {
        let _guard = self.lock();
        let _nobody = self.updates_tx.send(Update::Changed);
    }

    /// The kept output, the bytes of output so far, and a receiver of what follows.
    pub fn join(&self) -> (Vec<Piece>, u64, broadcast::Receiver<Update>) {
        let inner = self.lock();
        (inner.pieces.iter().cloned().collect(), inner.total, self.updates_tx.subscribe())
    }

    /// A receiver of what follows, without the kept output.
    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.updates_tx.subscribe()
    }

    /// The most bytes it keeps.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.lock().capacity
    }

    /// Bytes of output so far.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.lock().total
    }

    /// The last `n` bytes of output (stdout and stderr interleaved).
    #[must_use]
    pub fn tail(&self, n: usize) -> Vec<u8> {
        let inner = self.lock();
        // Find the first piece (and where in it) the tail starts, then copy forward once.
        let (mut first, mut skip, mut len) = (inner.pieces.len(), 0, 0);
        for (i, piece) in inner.pieces.iter().enumerate().rev() {
            if len >= n {
                break;
            }
            let take = (n - len).min(piece.data.len());
            (first, skip, len) = (i, piece.data.len() - take, len + take);
        }
        let mut out = Vec::with_capacity(len);
        for piece in inner.pieces.iter().skip(first) {
            out.extend_from_slice(&piece.data[std::mem::take(&mut skip)..]);
        }
        out
    }

    /// Seeds the output of a restored session (its stored tail, counted as `total` bytes).
    pub fn seed(&self, tail: Bytes, total: u64) {
        let mut inner = self.lock();
        inner.total = total.saturating_sub(tail.len() as u64);
        drop(inner);
        self.push(false, tail);
        let mut inner = self.lock();
        inner.total = inner.total.max(total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_within_the_budget() {
        let sb = Scrollback::new(10);
        sb.push(false, Bytes::from_static(b"hello "));
        sb.push(true, Bytes::from_static(b"world"));
        sb.push(false, Bytes::from_static(b"!!"));
        let (kept, _, _) = sb.join();
        let text: Vec<u8> = kept.iter().flat_map(|p| p.data.to_vec()).collect();
        assert_eq!(text, b"world!!");
        assert_eq!(kept[0].offset, 6);
        assert_eq!(sb.total(), 13);
        assert_eq!(sb.tail(4), b"ld!!");
    }

    #[tokio::test]
    async fn joiners_get_the_past_then_everything_after() {
        let sb = Scrollback::new(100);
        sb.push(false, Bytes::from_static(b"before"));
        let (past, total, mut live) = sb.join();
        assert_eq!(total, 6);
        sb.push(false, Bytes::from_static(b"after"));
        assert_eq!(past.len(), 1);
        assert_eq!(
            live.recv().await.expect("live"),
            Update::Output(Piece { offset: 6, stderr: false, data: Bytes::from_static(b"after") })
        );
    }

    #[tokio::test]
    async fn a_slow_client_lags_instead_of_blocking() {
        let sb = Scrollback::new(1 << 20);
        let (_, _, mut slow) = sb.join();
        for i in 0..(LIVE + 10) {
            sb.push(false, Bytes::from(vec![b'x'; 10 + i % 3]));
        }
        assert!(
            matches!(slow.recv().await, Err(broadcast::error::RecvError::Lagged(_))),
            "the writer never waited"
        );
    }
}
