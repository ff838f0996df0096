//! SPDY/3.1 frame layouts (spec §8.1): decode from a [`ChunkBuf`], encode into a `BytesMut`.
//!
//! Header blocks stay compressed at this layer; the session owns the zlib contexts because they
//! must see every block of a direction in order. Validation mirrors spdystream's `spdy/read.go`:
//! whatever it rejects while reading a frame, this rejects too.

use bytes::{BufMut as _, Bytes, BytesMut};

use super::ChunkBuf;

/// A SPDY stream id (31 bits).
pub type StreamId = u32;

/// The largest DATA payload one frame can carry (24-bit length).
pub const MAX_DATA_LEN: usize = 0x00ff_ffff;
/// FIN on DATA, SYN_STREAM, SYN_REPLY and HEADERS.
pub const FLAG_FIN: u8 = 0x01;
/// UNIDIRECTIONAL on SYN_STREAM.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;
/// CLEAR_SETTINGS on SETTINGS.
pub const FLAG_CLEAR_SETTINGS: u8 = 0x01;

const VERSION: u16 = 3;
const CONTROL_BIT: u32 = 0x8000_0000;
const ID_MASK: u32 = 0x7fff_ffff;

/// Control frame types that spdystream knows. Any other type fails the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ControlType {
    /// Opens a stream.
    SynStream = 1,
    /// Accepts a stream.
    SynReply = 2,
    /// Aborts a stream.
    RstStream = 3,
    /// Session settings (parsed, ignored).
    Settings = 4,
    /// Liveness probe.
    Ping = 6,
    /// Ends the session.
    GoAway = 7,
    /// Extra headers on a stream.
    Headers = 8,
    /// Flow control (parsed, ignored: Kubernetes never enforces windows).
    WindowUpdate = 9,
}

impl ControlType {
    fn from_u16(v: u16) -> Option<Self> {
        Some(match v {
            1 => Self::SynStream,
            2 => Self::SynReply,
            3 => Self::RstStream,
            4 => Self::Settings,
            6 => Self::Ping,
            7 => Self::GoAway,
            8 => Self::Headers,
            9 => Self::WindowUpdate,
            _ => return None,
        })
    }
}

/// An RST_STREAM or GOAWAY status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RstStatus(pub u32);

impl RstStatus {
    /// Bad stream id; Kubernetes uses it for ids that go backwards.
    pub const PROTOCOL_ERROR: Self = Self(1);
    /// Frame for a stream that is not active.
    pub const INVALID_STREAM: Self = Self(2);
    /// The stream was refused before any processing.
    pub const REFUSED_STREAM: Self = Self(3);
    /// Unsupported SPDY version.
    pub const UNSUPPORTED_VERSION: Self = Self(4);
    /// The stream is no longer needed; Kubernetes uses it for every reset.
    pub const CANCEL: Self = Self(5);
    /// Internal error.
    pub const INTERNAL_ERROR: Self = Self(6);
    /// Flow-control violation.
    pub const FLOW_CONTROL_ERROR: Self = Self(7);
    /// The stream is already open.
    pub const STREAM_IN_USE: Self = Self(8);
    /// The stream is already closed.
    pub const STREAM_ALREADY_CLOSED: Self = Self(9);
    /// Bad credentials.
    pub const INVALID_CREDENTIALS: Self = Self(10);
    /// A frame too large to process.
    pub const FRAME_TOO_LARGE: Self = Self(11);
}

/// One SETTINGS entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Setting {
    /// Entry flags (PERSIST_VALUE 0x1, PERSISTED 0x2).
    pub flags: u8,
    /// Setting id (24 bits).
    pub id: u32,
    /// Value.
    pub value: u32,
}

/// One SPDY/3.1 frame. Header blocks are the compressed bytes as they travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// SYN_STREAM.
    SynStream {
        /// The new stream.
        stream_id: StreamId,
        /// Associated stream (always 0 in Kubernetes).
        assoc_stream_id: StreamId,
        /// Priority, 0 (highest) to 7.
        priority: u8,
        /// Credential slot (always 0).
        slot: u8,
        /// FIN and UNIDIRECTIONAL.
        flags: u8,
        /// Compressed header block.
        header_block: Bytes,
    },
    /// SYN_REPLY.
    SynReply {
        /// The stream being accepted.
        stream_id: StreamId,
        /// FIN.
        flags: u8,
        /// Compressed header block.
        header_block: Bytes,
    },
    /// RST_STREAM.
    RstStream {
        /// The stream being reset.
        stream_id: StreamId,
        /// Why.
        status: RstStatus,
    },
    /// SETTINGS.
    Settings {
        /// CLEAR_SETTINGS.
        flags: u8,
        /// Entries.
        entries: Vec<Setting>,
    },
    /// PING.
    Ping {
        /// Client pings are odd, server pings even.
        id: u32,
    },
    /// GOAWAY.
    GoAway {
        /// The highest peer stream id processed.
        last_good_stream_id: StreamId,
        /// 0 OK, 1 PROTOCOL_ERROR, 2 INTERNAL_ERROR.
        status: u32,
    },
    /// HEADERS.
    Headers {
        /// The stream.
        stream_id: StreamId,
        /// FIN.
        flags: u8,
        /// Compressed header block.
        header_block: Bytes,
    },
    /// WINDOW_UPDATE.
    WindowUpdate {
        /// The stream, or 0 for the session window.
        stream_id: StreamId,
        /// Window increase.
        delta: u32,
    },
    /// DATA.
    Data {
        /// The stream.
        stream_id: StreamId,
        /// FIN.
        flags: u8,
        /// Payload, at most [`MAX_DATA_LEN`] bytes.
        data: Bytes,
    },
}

/// Errors from decoding a frame. Each one fails the whole connection, as in spdystream.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// A control frame type spdystream does not know (NOOP, CREDENTIAL, anything else).
    #[error("failed to decode SPDY frame: unknown control frame type {0}")]
    UnknownControlType(u16),
    /// A frame that must name a stream names stream 0.
    #[error("failed to decode SPDY frame: {0:?} frame for stream 0")]
    ZeroStreamId(&'static str),
    /// A fixed-size control frame with the wrong length.
    #[error("failed to decode SPDY frame: {kind} frame has length {length}")]
    BadLength {
        /// Frame kind.
        kind: &'static str,
        /// Its length field.
        length: u32,
    },
    /// PING, GOAWAY and WINDOW_UPDATE must have no flags.
    #[error("failed to decode SPDY frame: {kind} frame has flags {flags:#04x}")]
    BadFlags {
        /// Frame kind.
        kind: &'static str,
        /// The flags.
        flags: u8,
    },
    /// PING id 0 and RST_STREAM status 0 are invalid.
    #[error("failed to decode SPDY frame: {0} frame with a zero id or status")]
    ZeroValue(&'static str),
}

/// The 8-byte header of a DATA frame, for writing a payload without copying it.
#[must_use]
pub fn encode_data_header(stream_id: StreamId, flags: u8, len: usize) -> [u8; 8] {
    let len = u32::try_from(len.min(MAX_DATA_LEN)).unwrap_or(0);
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&(stream_id & ID_MASK).to_be_bytes());
    out[4..].copy_from_slice(&(u32::from(flags) << 24 | len).to_be_bytes());
    out
}

/// Decodes the next complete frame from `buf`; `Ok(None)` when more bytes are needed.
///
/// # Errors
/// Fails on a frame spdystream's reader would reject. The bytes of that frame are consumed.
pub fn decode_frame(buf: &mut ChunkBuf) -> Result<Option<Frame>, FrameError> {
    let Some(head) = buf.peek::<8>() else { return Ok(None) };
    let word = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let flags = head[4];
    let length = u32::from_be_bytes([0, head[5], head[6], head[7]]);
    let total = 8 + length as usize;
    if buf.len() < total {
        return Ok(None);
    }
    let Some(frame) = buf.take(total) else { return Ok(None) };
    let body = frame.slice(8..);
    if word & CONTROL_BIT == 0 {
        let stream_id = word & ID_MASK;
        if stream_id == 0 {
            return Err(FrameError::ZeroStreamId("DATA"));
        }
        return Ok(Some(Frame::Data { stream_id, flags, data: body }));
    }
    // spdystream does not check the version field on read.
    let kind = (word & 0xffff) as u16;
    let kind = ControlType::from_u16(kind).ok_or(FrameError::UnknownControlType(kind))?;
    decode_control(kind, flags, length, body).map(Some)
}

fn decode_control(
    kind: ControlType,
    flags: u8,
    length: u32,
    body: Bytes,
) -> Result<Frame, FrameError> {
    let word = |i: usize| u32::from_be_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
    let need = |kind: &'static str, ok: bool| {
        if ok { Ok(()) } else { Err(FrameError::BadLength { kind, length }) }
    };
    let no_flags = |kind: &'static str| {
        if flags == 0 { Ok(()) } else { Err(FrameError::BadFlags { kind, flags }) }
    };
    let stream = |kind: &'static str, id: u32| {
        let id = id & ID_MASK;
        if id == 0 { Err(FrameError::ZeroStreamId(kind)) } else { Ok(id) }
    };
    Ok(match kind {
        ControlType::SynStream => {
            need("SYN_STREAM", length >= 10)?;
            Frame::SynStream {
                stream_id: stream("SYN_STREAM", word(0))?,
                assoc_stream_id: word(4) & ID_MASK,
                priority: body[8] >> 5,
                slot: body[9],
                flags,
                header_block: body.slice(10..),
            }
        }
        ControlType::SynReply => {
            need("SYN_REPLY", length >= 4)?;
            let stream_id = stream("SYN_REPLY", word(0))?;
            Frame::SynReply { stream_id, flags, header_block: body.slice(4..) }
        }
        ControlType::Headers => {
            need("HEADERS", length >= 4)?;
            let stream_id = stream("HEADERS", word(0))?;
            Frame::Headers { stream_id, flags, header_block: body.slice(4..) }
        }
        ControlType::RstStream => {
            need("RST_STREAM", length == 8)?;
            let status = word(4);
            if status == 0 {
                return Err(FrameError::ZeroValue("RST_STREAM"));
            }
            Frame::RstStream {
                stream_id: stream("RST_STREAM", word(0))?,
                status: RstStatus(status),
            }
        }
        ControlType::Settings => {
            need("SETTINGS", length >= 4)?;
            let count = word(0) as usize;
            need("SETTINGS", (length as usize - 4) / 8 == count && (length - 4).is_multiple_of(8))?;
            let entries = (0..count)
                .map(|i| {
                    let head = word(4 + i * 8);
                    Setting {
                        flags: (head >> 24) as u8,
                        id: head & 0x00ff_ffff,
                        value: word(8 + i * 8),
                    }
                })
                .collect();
            Frame::Settings { flags, entries }
        }
        ControlType::Ping => {
            need("PING", length == 4)?;
            no_flags("PING")?;
            let id = word(0);
            if id == 0 {
                return Err(FrameError::ZeroValue("PING"));
            }
            Frame::Ping { id }
        }
        ControlType::GoAway => {
            need("GOAWAY", length == 8)?;
            no_flags("GOAWAY")?;
            Frame::GoAway { last_good_stream_id: word(0) & ID_MASK, status: word(4) }
        }
        ControlType::WindowUpdate => {
            need("WINDOW_UPDATE", length == 8)?;
            no_flags("WINDOW_UPDATE")?;
            Frame::WindowUpdate { stream_id: word(0) & ID_MASK, delta: word(4) & ID_MASK }
        }
    })
}

impl Frame {
    /// Appends the wire form of this frame to `out`. DATA payloads longer than
    /// [`MAX_DATA_LEN`] are a caller bug (the session splits them) and are truncated.
    pub fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::Data { stream_id, flags, data } => {
                let data = &data[..data.len().min(MAX_DATA_LEN)];
                out.put_slice(&encode_data_header(*stream_id, *flags, data.len()));
                out.put_slice(data);
            }
            Self::SynStream { stream_id, assoc_stream_id, priority, slot, flags, header_block } => {
                control(out, ControlType::SynStream, *flags, 10 + header_block.len());
                out.put_u32(stream_id & ID_MASK);
                out.put_u32(assoc_stream_id & ID_MASK);
                out.put_u8((priority & 0x07) << 5);
                out.put_u8(*slot);
                out.put_slice(header_block);
            }
            Self::SynReply { stream_id, flags, header_block } => {
                control(out, ControlType::SynReply, *flags, 4 + header_block.len());
                out.put_u32(stream_id & ID_MASK);
                out.put_slice(header_block);
            }
            Self::Headers { stream_id, flags, header_block } => {
                control(out, ControlType::Headers, *flags, 4 + header_block.len());
                out.put_u32(stream_id & ID_MASK);
                out.put_slice(header_block);
            }
            Self::RstStream { stream_id, status } => {
                control(out, ControlType::RstStream, 0, 8);
                out.put_u32(stream_id & ID_MASK);
                out.put_u32(status.0);
            }
            Self::Settings { flags, entries } => {
                control(out, ControlType::Settings, *flags, 4 + 8 * entries.len());
                out.put_u32(u32::try_from(entries.len()).unwrap_or(u32::MAX));
                for e in entries {
                    out.put_u32(u32::from(e.flags) << 24 | (e.id & 0x00ff_ffff));
                    out.put_u32(e.value);
                }
            }
            Self::Ping { id } => {
                control(out, ControlType::Ping, 0, 4);
                out.put_u32(*id);
            }
            Self::GoAway { last_good_stream_id, status } => {
                control(out, ControlType::GoAway, 0, 8);
                out.put_u32(last_good_stream_id & ID_MASK);
                out.put_u32(*status);
            }
            Self::WindowUpdate { stream_id, delta } => {
                control(out, ControlType::WindowUpdate, 0, 8);
                out.put_u32(stream_id & ID_MASK);
                out.put_u32(delta & ID_MASK);
            }
        }
    }

    /// The wire form of this frame as a new buffer.
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

fn control(out: &mut BytesMut, kind: ControlType, flags: u8, length: usize) {
    out.reserve(8 + length);
    out.put_u32(CONTROL_BIT | u32::from(VERSION) << 16 | kind as u32);
    let length = u32::try_from(length.min(0x00ff_ffff)).unwrap_or(0);
    out.put_u32(u32::from(flags) << 24 | length);
}

#[cfg(test)]
mod tests;
