//! A queue of received byte chunks that frames are cut from, without copying whole payloads.
//!
//! Input arrives in arbitrary pieces (TCP reads, or WebSocket messages as small as zero bytes in
//! kubectl's tunnel). A frame body that lies inside one chunk is handed out as a slice of it; only
//! a body that straddles chunks is assembled into a new buffer.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Received bytes not yet decoded, as a queue of chunks.
#[derive(Debug, Default, Clone)]
pub struct ChunkBuf {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl ChunkBuf {
    /// An empty buffer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a chunk; empty chunks are ignored.
    pub fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    /// Bytes buffered.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is buffered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first `N` bytes, if buffered, without consuming them.
    #[must_use]
    pub fn peek<const N: usize>(&self) -> Option<[u8; N]> {
        if self.len < N {
            return None;
        }
        let mut out = [0u8; N];
        let mut filled = 0;
        for chunk in &self.chunks {
            let n = (N - filled).min(chunk.len());
            out[filled..filled + n].copy_from_slice(&chunk[..n]);
            filled += n;
            if filled == N {
                break;
            }
        }
        Some(out)
    }

    /// Removes and returns the first `n` bytes, or `None` if fewer are buffered.
    pub fn take(&mut self, n: usize) -> Option<Bytes> {
        if n > self.len {
            return None;
        }
        if n == 0 {
            return Some(Bytes::new());
        }
        self.len -= n;
        let front_len = self.chunks.front().map_or(0, Bytes::len);
        if n <= front_len {
            let front = self.chunks.front_mut()?;
            let out = front.split_to(n);
            if front.is_empty() {
                self.chunks.pop_front();
            }
            return Some(out);
        }
        let mut out = BytesMut::with_capacity(n);
        while out.len() < n {
            let front = self.chunks.front_mut()?;
            let want = (n - out.len()).min(front.len());
            out.extend_from_slice(&front.split_to(want));
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
        Some(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn take_within_one_chunk_is_a_slice_of_it() {
        let chunk = Bytes::from_static(b"hello world");
        let mut buf = ChunkBuf::new();
        buf.push(chunk.clone());
        let hello = buf.take(5).expect("buffered");
        assert_eq!(hello.as_ptr(), chunk.as_ptr(), "no copy for a body inside one chunk");
        assert_eq!(buf.len(), 6);
    }

    #[test]
    fn peek_and_take_span_chunks_and_skip_empty_ones() {
        let mut buf = ChunkBuf::new();
        for part in [&b"ab"[..], b"", b"c", b"defg"] {
            buf.push(Bytes::copy_from_slice(part));
        }
        assert_eq!(buf.peek::<4>(), Some(*b"abcd"));
        assert_eq!(buf.peek::<8>(), None);
        assert_eq!(buf.take(5).as_deref(), Some(&b"abcde"[..]));
        assert_eq!(buf.take(3), None);
        assert_eq!(buf.take(2).as_deref(), Some(&b"fg"[..]));
        assert!(buf.is_empty());
    }

    proptest! {
        #[test]
        fn any_cut_yields_the_same_bytes(data in proptest::collection::vec(any::<u8>(), 0..200),
                                         cuts in proptest::collection::vec(0usize..50, 0..20),
                                         takes in proptest::collection::vec(0usize..40, 1..20)) {
            let mut buf = ChunkBuf::new();
            let mut rest = &data[..];
            for c in cuts {
                let c = c.min(rest.len());
                buf.push(Bytes::copy_from_slice(&rest[..c]));
                rest = &rest[c..];
            }
            buf.push(Bytes::copy_from_slice(rest));
            let mut out = Vec::new();
            for t in takes.into_iter().chain([usize::MAX]) {
                let t = t.min(buf.len());
                out.extend_from_slice(&buf.take(t).expect("within length"));
            }
            prop_assert_eq!(out, data);
        }
    }
}
