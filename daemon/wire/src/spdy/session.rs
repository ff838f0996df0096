//! The SPDY/3.1 session state machine, client or server role, as spdystream behaves (spec §8.3).
//!
//! Feed received bytes with [`Session::receive`], take [`Event`]s from [`Session::poll_event`],
//! act with `open_stream`, `reply`, `send_data`, `reset`, `ping` and `go_away`, and write out what
//! [`Session::poll_transmit`] returns. PINGs from the peer are echoed, SETTINGS and WINDOW_UPDATE
//! are ignored (Kubernetes has no flow control), and a SYN_STREAM whose id goes backwards is reset
//! with PROTOCOL_ERROR. A frame error fails the session for good.

use std::collections::{HashMap, VecDeque};

use bytes::{Bytes, BytesMut};

use super::{
    ChunkBuf, FLAG_FIN, FLAG_UNIDIRECTIONAL, Frame, FrameError, HeaderBlock, HeaderCompression,
    HeaderCompressor, HeaderDecompressor, HeaderError, HeaderRole, MAX_DATA_LEN, RstStatus,
    StreamId, decode_frame, encode_data_header,
};

/// Which end of the connection this session is; it fixes the parity of stream and ping ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Creates odd stream and ping ids.
    Client,
    /// Creates even stream and ping ids.
    Server,
}

/// Something the peer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The peer opened a stream; answer with [`Session::reply`] or [`Session::reset`].
    StreamOpened {
        /// The new stream.
        stream_id: StreamId,
        /// Its headers (`streamtype`, `port`, `requestid` in Kubernetes).
        headers: HeaderBlock,
        /// The peer will send nothing on it.
        fin: bool,
    },
    /// The peer accepted a stream this side opened.
    StreamReplied {
        /// The stream.
        stream_id: StreamId,
        /// Reply headers (empty in Kubernetes).
        headers: HeaderBlock,
        /// The peer will send nothing more on it.
        fin: bool,
    },
    /// Extra headers on a stream.
    Headers {
        /// The stream.
        stream_id: StreamId,
        /// The headers.
        headers: HeaderBlock,
        /// The peer will send nothing more on it.
        fin: bool,
    },
    /// Bytes on a stream; `fin` means the peer has finished writing it (data may then be empty).
    Data {
        /// The stream.
        stream_id: StreamId,
        /// The payload.
        data: Bytes,
        /// End of the peer's side of the stream.
        fin: bool,
    },
    /// The peer reset a stream: EOF for readers, and nothing more may be sent on it.
    Reset {
        /// The stream.
        stream_id: StreamId,
        /// Why.
        status: RstStatus,
    },
    /// The peer answered one of this side's pings.
    Pong {
        /// The ping id.
        id: u32,
    },
    /// The peer is going away. The session reads nothing more, as spdystream stops reading.
    GoAway {
        /// The last stream of ours the peer processed.
        last_good_stream_id: StreamId,
        /// 0 OK, 1 PROTOCOL_ERROR, 2 INTERNAL_ERROR.
        status: u32,
    },
}

/// Errors from the session: the peer broke the protocol, or the caller misused a stream.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    /// A frame was malformed; the connection must be dropped.
    #[error("failed to read SPDY session")]
    Frame(#[from] FrameError),
    /// A header block was malformed; the connection must be dropped.
    #[error("failed to read SPDY session")]
    Header(#[from] HeaderError),
    /// The session failed earlier or received GOAWAY.
    #[error("failed to use SPDY session: it has gone away")]
    GoneAway,
    /// No stream ids are left (2^31 used).
    #[error("failed to open SPDY stream: stream ids are exhausted")]
    StreamIdsExhausted,
    /// The stream is unknown or already closed.
    #[error("failed to use SPDY stream {0}: it is not open")]
    UnknownStream(StreamId),
    /// This side already finished writing the stream.
    #[error("failed to write SPDY stream {0}: this side has already finished it")]
    StreamFinished(StreamId),
    /// Only a stream the peer opened can be replied to, and only once.
    #[error(
        "failed to reply to SPDY stream {0}: it was not opened by the peer or was already replied"
    )]
    CannotReply(StreamId),
}

#[derive(Debug, Clone, Copy, Default)]
struct StreamState {
    local: bool,
    replied: bool,
    local_fin: bool,
    remote_fin: bool,
}

/// One SPDY/3.1 connection's state.
#[derive(Debug)]
pub struct Session {
    role: Role,
    input: ChunkBuf,
    inflate: HeaderDecompressor,
    deflate: HeaderCompressor,
    streams: HashMap<StreamId, StreamState>,
    next_stream_id: u32,
    next_ping_id: u32,
    /// The lowest id a new peer stream may have (spdystream's `receivedStreamId`).
    min_peer_stream_id: u32,
    last_peer_stream_id: StreamId,
    small: BytesMut,
    queue: VecDeque<Bytes>,
    pending_len: usize,
    goaway_sent: bool,
    closed: bool,
}

const COALESCE_BELOW: usize = 1024;
const MAX_ID: u32 = 0x7fff_ffff;

impl Session {
    /// A new session for `role` that compresses its header blocks as spdystream does.
    #[must_use]
    pub fn new(role: Role) -> Self {
        Self::with_header_compression(role, HeaderCompression::Deflate)
    }

    /// A new session for `role` that sends its header blocks compressed as `kind` says.
    #[must_use]
    pub fn with_header_compression(role: Role, kind: HeaderCompression) -> Self {
        let first = match role {
            Role::Client => 1,
            Role::Server => 2,
        };
        Self {
            role,
            input: ChunkBuf::new(),
            inflate: HeaderDecompressor::new(),
            deflate: HeaderCompressor::with(kind),
            streams: HashMap::new(),
            next_stream_id: first,
            next_ping_id: first,
            min_peer_stream_id: 0,
            last_peer_stream_id: 0,
            small: BytesMut::new(),
            queue: VecDeque::new(),
            pending_len: 0,
            goaway_sent: false,
            closed: false,
        }
    }

    /// This session's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// Queues received bytes, cut anywhere (zero-length chunks are fine).
    pub fn receive(&mut self, chunk: Bytes) {
        if !self.closed {
            self.input.push(chunk);
        }
    }

    /// Decodes the next event; `Ok(None)` when more bytes are needed or the session has closed.
    ///
    /// # Errors
    /// A malformed frame or header block fails the session; drop the connection.
    pub fn poll_event(&mut self) -> Result<Option<Event>, SessionError> {
        while !self.closed {
            let frame = match decode_frame(&mut self.input) {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.fail(e.into())),
            };
            match self.handle(frame) {
                Ok(Some(event)) => return Ok(Some(event)),
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(None)
    }

    fn fail(&mut self, error: SessionError) -> SessionError {
        self.closed = true;
        self.input = ChunkBuf::new();
        error
    }

    fn handle(&mut self, frame: Frame) -> Result<Option<Event>, SessionError> {
        Ok(match frame {
            Frame::SynStream { stream_id, flags, header_block, .. } => {
                let headers = self.inflate.decompress(&header_block, HeaderRole::Request)?;
                self.peer_opened(stream_id, flags).then_some(Event::StreamOpened {
                    stream_id,
                    headers,
                    fin: flags & FLAG_FIN != 0,
                })
            }
            Frame::SynReply { stream_id, flags, header_block } => {
                let headers = self.inflate.decompress(&header_block, HeaderRole::Response)?;
                let fin = flags & FLAG_FIN != 0;
                match self.streams.get_mut(&stream_id) {
                    Some(s) if s.local && !s.replied => {
                        s.replied = true;
                        s.remote_fin |= fin;
                        self.reap(stream_id);
                        Some(Event::StreamReplied { stream_id, headers, fin })
                    }
                    _ => None,
                }
            }
            Frame::Headers { stream_id, flags, header_block } => {
                let role =
                    if stream_id % 2 == 0 { HeaderRole::Request } else { HeaderRole::Response };
                let headers = self.inflate.decompress(&header_block, role)?;
                let fin = flags & FLAG_FIN != 0;
                match self.streams.get_mut(&stream_id) {
                    Some(s) if s.replied => {
                        s.remote_fin |= fin;
                        self.reap(stream_id);
                        Some(Event::Headers { stream_id, headers, fin })
                    }
                    _ => None,
                }
            }
            Frame::Data { stream_id, flags, data } => {
                let fin = flags & FLAG_FIN != 0;
                match self.streams.get_mut(&stream_id) {
                    // spdystream drops DATA on a stream it opened that is not yet replied.
                    Some(s) if !s.remote_fin && (s.replied || !s.local) => {
                        s.remote_fin |= fin;
                        self.reap(stream_id);
                        (fin || !data.is_empty()).then_some(Event::Data { stream_id, data, fin })
                    }
                    _ => None,
                }
            }
            Frame::RstStream { stream_id, status } => {
                self.streams.remove(&stream_id).map(|_| Event::Reset { stream_id, status })
            }
            Frame::Ping { id } => {
                if id % 2 == self.next_ping_id % 2 {
                    Some(Event::Pong { id })
                } else {
                    self.push_control(&Frame::Ping { id });
                    None
                }
            }
            Frame::GoAway { last_good_stream_id, status } => {
                self.closed = true;
                Some(Event::GoAway { last_good_stream_id, status })
            }
            Frame::Settings { .. } | Frame::WindowUpdate { .. } => None,
        })
    }

    /// Registers a peer stream; false (after queueing a reset if due) when it is refused.
    fn peer_opened(&mut self, stream_id: StreamId, flags: u8) -> bool {
        if self.goaway_sent {
            return false;
        }
        let own_parity = self.next_stream_id % 2;
        if stream_id < self.min_peer_stream_id || stream_id % 2 == own_parity {
            self.push_control(&Frame::RstStream { stream_id, status: RstStatus::PROTOCOL_ERROR });
            return false;
        }
        self.min_peer_stream_id = stream_id.saturating_add(2);
        self.last_peer_stream_id = stream_id;
        let state = StreamState {
            local: false,
            replied: false,
            local_fin: flags & FLAG_UNIDIRECTIONAL != 0,
            remote_fin: flags & FLAG_FIN != 0,
        };
        self.streams.insert(stream_id, state);
        true
    }

    /// Opens a stream with `headers`; with `fin` this side sends nothing on it.
    ///
    /// # Errors
    /// Fails after GOAWAY or when stream ids are exhausted.
    pub fn open_stream(
        &mut self,
        headers: &HeaderBlock,
        fin: bool,
    ) -> Result<StreamId, SessionError> {
        if self.closed || self.goaway_sent {
            return Err(SessionError::GoneAway);
        }
        let stream_id = self.next_stream_id;
        if stream_id > MAX_ID {
            return Err(SessionError::StreamIdsExhausted);
        }
        self.next_stream_id += 2;
        let header_block = self.deflate.compress(headers);
        let flags = if fin { FLAG_FIN } else { 0 };
        let frame = Frame::SynStream {
            stream_id,
            assoc_stream_id: 0,
            priority: 0,
            slot: 0,
            flags,
            header_block,
        };
        self.push_control(&frame);
        let state = StreamState { local: true, local_fin: fin, ..StreamState::default() };
        self.streams.insert(stream_id, state);
        Ok(stream_id)
    }

    /// Accepts a stream the peer opened.
    ///
    /// # Errors
    /// Fails for a stream this side opened, an unknown one, or one already replied.
    pub fn reply(
        &mut self,
        stream_id: StreamId,
        headers: &HeaderBlock,
        fin: bool,
    ) -> Result<(), SessionError> {
        match self.streams.get_mut(&stream_id) {
            Some(s) if !s.local && !s.replied => {
                s.replied = true;
                s.local_fin |= fin;
            }
            _ => return Err(SessionError::CannotReply(stream_id)),
        }
        let header_block = self.deflate.compress(headers);
        let flags = if fin { FLAG_FIN } else { 0 };
        self.push_control(&Frame::SynReply { stream_id, flags, header_block });
        self.reap(stream_id);
        Ok(())
    }

    /// Sends `data` on a stream, split into frames of at most [`MAX_DATA_LEN`] bytes, without
    /// copying payloads of 1 KiB or more; `fin` finishes this side of the stream.
    ///
    /// # Errors
    /// Fails if the stream is not open or this side already finished it.
    pub fn send_data(
        &mut self,
        stream_id: StreamId,
        data: Bytes,
        fin: bool,
    ) -> Result<(), SessionError> {
        let state =
            self.streams.get_mut(&stream_id).ok_or(SessionError::UnknownStream(stream_id))?;
        if state.local_fin {
            return Err(SessionError::StreamFinished(stream_id));
        }
        state.local_fin = fin;
        let mut rest = data;
        loop {
            let chunk = rest.split_to(rest.len().min(MAX_DATA_LEN));
            let last = rest.is_empty();
            let flags = if fin && last { FLAG_FIN } else { 0 };
            self.small.extend_from_slice(&encode_data_header(stream_id, flags, chunk.len()));
            self.pending_len += 8 + chunk.len();
            if chunk.len() < COALESCE_BELOW {
                self.small.extend_from_slice(&chunk);
            } else {
                self.flush_small();
                self.queue.push_back(chunk);
            }
            if last {
                break;
            }
        }
        self.reap(stream_id);
        Ok(())
    }

    /// Finishes this side of a stream (an empty DATA frame with FIN).
    ///
    /// # Errors
    /// As [`Self::send_data`].
    pub fn finish(&mut self, stream_id: StreamId) -> Result<(), SessionError> {
        self.send_data(stream_id, Bytes::new(), true)
    }

    /// Resets a stream and forgets it. As spdystream's `Reset`, the RST_STREAM is only sent if
    /// this side has not finished the stream; returns whether it was sent.
    pub fn reset(&mut self, stream_id: StreamId, status: RstStatus) -> bool {
        let Some(state) = self.streams.remove(&stream_id) else { return false };
        if state.local_fin {
            return false;
        }
        self.push_control(&Frame::RstStream { stream_id, status });
        true
    }

    /// Sends a PING and returns its id; the answer arrives as [`Event::Pong`].
    pub fn ping(&mut self) -> u32 {
        let id = self.next_ping_id;
        self.next_ping_id = if id > MAX_ID - 2 { id - (MAX_ID - 1) } else { id + 2 };
        self.push_control(&Frame::Ping { id });
        id
    }

    /// Sends GOAWAY once, naming the highest peer stream seen. Frames that still arrive are
    /// tolerated; new peer streams are ignored.
    pub fn go_away(&mut self, status: u32) {
        if !self.goaway_sent {
            self.goaway_sent = true;
            let frame = Frame::GoAway { last_good_stream_id: self.last_peer_stream_id, status };
            self.push_control(&frame);
        }
    }

    /// Whether the session has failed or received GOAWAY.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Number of streams not yet finished in both directions.
    #[must_use]
    pub fn open_streams(&self) -> usize {
        self.streams.len()
    }

    /// Whether `stream_id` is still known (not reset, not finished both ways).
    #[must_use]
    pub fn is_open(&self, stream_id: StreamId) -> bool {
        self.streams.contains_key(&stream_id)
    }

    /// Bytes queued for sending.
    #[must_use]
    pub fn pending_transmit(&self) -> usize {
        self.pending_len
    }

    /// The next piece of bytes to write, in order.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        let next = match self.queue.pop_front() {
            Some(chunk) => chunk,
            None if !self.small.is_empty() => self.small.split().freeze(),
            None => return None,
        };
        self.pending_len -= next.len();
        Some(next)
    }

    fn push_control(&mut self, frame: &Frame) {
        let before = self.small.len();
        frame.encode(&mut self.small);
        self.pending_len += self.small.len() - before;
    }

    fn flush_small(&mut self) {
        if !self.small.is_empty() {
            self.queue.push_back(self.small.split().freeze());
        }
    }

    fn reap(&mut self, stream_id: StreamId) {
        if self.streams.get(&stream_id).is_some_and(|s| s.local_fin && s.remote_fin) {
            self.streams.remove(&stream_id);
        }
    }
}

#[cfg(test)]
mod tests;
