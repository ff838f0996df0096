//! The client side of the byte transport under a SPDY session: the raw upgraded connection, or
//! WebSocket binary messages (the tunnel), split into a reading and a writing half so that a
//! write the server is slow to take never stops the reading (and the reverse: a paused reader
//! never stops the writes). Reads are cancel-safe; writes take the session's pending chunks
//! without copying them (one WebSocket message per chunk; `writev` on raw).

use std::io::IoSlice;

use bytes::{Buf as _, Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::io::{
    AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadHalf, WriteHalf,
};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

/// Any bidirectional byte stream (an upgraded HTTP connection, or a test pipe).
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed [`Io`].
pub type BoxIo = Box<dyn Io>;

/// A WebSocket over a boxed stream.
pub type Ws = WebSocketStream<BoxIo>;

/// Bounded buffers for client WebSockets (tungstenite's defaults are unbounded or 64 MiB).
#[must_use]
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(32 * 1024)
        .write_buffer_size(128 * 1024)
        .max_write_buffer_size(8 << 20)
        .max_message_size(Some(32 << 20))
        .max_frame_size(Some(16 << 20))
}

/// Where a SPDY session's bytes travel.
pub(crate) enum Transport {
    Raw(BoxIo),
    Ws(Box<Ws>),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Raw(_) => "Transport::Raw",
            Self::Ws(_) => "Transport::Ws",
        })
    }
}

/// The reading half of a [`Transport`].
pub(crate) enum Reader {
    Raw { io: ReadHalf<BoxIo>, buf: BytesMut },
    Ws(SplitStream<Ws>),
}

/// The writing half of a [`Transport`].
pub(crate) enum Writer {
    Raw(WriteHalf<BoxIo>),
    Ws(SplitSink<Ws, Message>),
}

const READ_CHUNK: usize = 64 * 1024;

impl Transport {
    pub(crate) fn raw(io: BoxIo) -> Self {
        Self::Raw(io)
    }

    /// The two halves; each may wait without stopping the other.
    pub(crate) fn split(self) -> (Reader, Writer) {
        match self {
            Self::Raw(io) => {
                let (rd, wr) = tokio::io::split(io);
                (Reader::Raw { io: rd, buf: BytesMut::new() }, Writer::Raw(wr))
            }
            Self::Ws(ws) => {
                let (sink, stream) = (*ws).split();
                (Reader::Ws(stream), Writer::Ws(sink))
            }
        }
    }
}

impl Reader {
    /// The next received bytes; `Ok(None)` at a clean end. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> std::io::Result<Option<Bytes>> {
        match self {
            Self::Raw { io, buf } => {
                // Reuse the room after the last split; allocate only when little is left.
                if buf.capacity() - buf.len() < 4096 {
                    buf.reserve(READ_CHUNK);
                }
                let n = io.read_buf(buf).await?;
                Ok((n > 0).then(|| buf.split().freeze()))
            }
            Self::Ws(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Binary(b))) => return Ok(Some(b)),
                    Some(Ok(Message::Close(frame))) => {
                        let normal = frame.as_ref().is_none_or(|f| u16::from(f.code) == 1000);
                        return if normal {
                            Ok(None)
                        } else {
                            Err(std::io::Error::other(format!(
                                "the server closed the tunnel: {frame:?}"
                            )))
                        };
                    }
                    Some(Ok(Message::Text(_))) => {
                        return Err(std::io::Error::other("text message in the SPDY tunnel"));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(std::io::Error::other(e)),
                    None => return Ok(None),
                }
            },
        }
    }
}

impl Writer {
    /// Writes `chunks` in order and flushes.
    pub(crate) async fn send(&mut self, chunks: &mut Vec<Bytes>) -> std::io::Result<()> {
        match self {
            Self::Raw(io) => {
                let mut start = 0;
                while start < chunks.len() {
                    let slices: Vec<IoSlice<'_>> =
                        chunks[start..].iter().map(|c| IoSlice::new(c)).collect();
                    let mut n = io.write_vectored(&slices).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                    while n > 0 && start < chunks.len() {
                        let len = chunks[start].len();
                        if n >= len {
                            n -= len;
                            start += 1;
                        } else {
                            chunks[start].advance(n);
                            n = 0;
                        }
                    }
                }
                chunks.clear();
                io.flush().await
            }
            Self::Ws(ws) => {
                for chunk in chunks.drain(..) {
                    ws.feed(Message::Binary(chunk)).await.map_err(std::io::Error::other)?;
                }
                ws.flush().await.map_err(std::io::Error::other)
            }
        }
    }

    /// Ends the transport: WebSocket close 1000, or a TCP shutdown.
    pub(crate) async fn close(&mut self) {
        match self {
            Self::Raw(io) => {
                let _gone = io.shutdown().await;
            }
            Self::Ws(ws) => {
                let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                let _gone = ws.send(Message::Close(Some(frame))).await;
                let _gone = ws.close().await;
            }
        }
    }
}
