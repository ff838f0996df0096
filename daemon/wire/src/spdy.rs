//! SPDY/3.1 as moby/spdystream v0.5.0 speaks it (spec §5, §6, §8): frames, header blocks with
//! per-direction zlib contexts, reassembly from arbitrarily cut byte streams, and a session state
//! machine for both roles.
//!
//! Layers, bottom up:
//! - [`ChunkBuf`]: queued input chunks, so DATA payloads are sliced out without copying.
//! - [`Frame`]: one frame, header blocks still compressed; [`decode_frame`] and [`Frame::encode`].
//! - [`HeaderBlock`], [`HeaderCompressor`], [`HeaderDecompressor`]: name/value blocks and zlib.
//! - [`Session`]: stream ids, SYN_STREAM/SYN_REPLY, FIN, RST, PING and GOAWAY.

mod buffer;
mod frame;
mod headers;
mod session;

pub use buffer::ChunkBuf;
pub use frame::{
    ControlType, FLAG_CLEAR_SETTINGS, FLAG_FIN, FLAG_UNIDIRECTIONAL, Frame, FrameError,
    MAX_DATA_LEN, RstStatus, Setting, StreamId, decode_frame, encode_data_header,
};
pub use headers::{
    DICTIONARY, HeaderBlock, HeaderCompression, HeaderCompressor, HeaderDecompressor, HeaderError,
    HeaderRole,
};
pub use session::{Event, Role, Session, SessionError};
