//! The remote-command channel protocols (`*.channel.k8s.io`) carried in WebSocket messages.
//!
//! Every binary message is `channel byte + payload`; the base64 variants use text messages whose
//! first character is the ASCII digit of the channel and whose rest is standard base64. v5 adds a
//! CLOSE message `ff <channel>` that half-closes one channel (spec §4).

mod resize;
mod status;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{BufMut as _, Bytes, BytesMut};

pub use resize::{ResizeDecoder, ResizeError, TerminalSize};
pub use status::{
    CAUSE_EXIT_CODE, ExitOutcome, REASON_NON_ZERO_EXIT_CODE, Status, StatusCause, StatusDetails,
    StatusError, decode_error_channel,
};

/// Channel numbers of the remote-command protocols.
pub mod id {
    /// Standard input, client to server.
    pub const STDIN: u8 = 0;
    /// Standard output (everything, with a TTY), server to client.
    pub const STDOUT: u8 = 1;
    /// Standard error (absent with a TTY), server to client.
    pub const STDERR: u8 = 2;
    /// Error stream: plain text (v1-v3) or a JSON `metav1.Status` (v4, v5), server to client.
    pub const ERROR: u8 = 3;
    /// Terminal resize JSON, client to server.
    pub const RESIZE: u8 = 4;
    /// v5 only: the CLOSE signal `ff <channel>`, client to server.
    pub const CLOSE: u8 = 255;
    /// Number of regular channels the servers create (0..=4).
    pub const COUNT: u8 = 5;
}

/// A remote-command protocol version, independent of the transport (WebSocket or SPDY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// `channel.k8s.io`: error stream is plain text, any text means failure.
    V1,
    /// `v2.channel.k8s.io` (SPDY only): stdin and close bugs fixed.
    V2,
    /// `v3.channel.k8s.io` (SPDY only): adds the resize stream.
    V3,
    /// `v4.channel.k8s.io`: the error stream carries a JSON `Status` with the exit code.
    V4,
    /// `v5.channel.k8s.io`: v4 plus the CLOSE signal (WebSocket framing only).
    V5,
}

impl Version {
    /// Whether the error channel carries a JSON `metav1.Status` (v4 and v5) rather than text.
    #[must_use]
    pub fn has_json_status(self) -> bool {
        self >= Self::V4
    }

    /// Whether a resize channel or stream exists (v3 and later).
    #[must_use]
    pub fn has_resize(self) -> bool {
        self >= Self::V3
    }

    /// Whether the `ff <channel>` CLOSE signal exists (v5 over WebSocket).
    #[must_use]
    pub fn has_close(self) -> bool {
        self == Self::V5
    }
}

/// How channel messages are carried in WebSocket messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Binary messages: channel byte then raw payload.
    Binary,
    /// Text messages: ASCII channel digit then base64 payload.
    Base64,
}

/// The kind of a WebSocket data message, as far as these codecs care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// An opcode 2 message.
    Binary,
    /// An opcode 1 message.
    Text,
}

/// One decoded channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Payload for a channel; may be empty (the server's initial message is an empty one).
    Data {
        /// The channel number.
        channel: u8,
        /// The payload, without the channel byte.
        payload: Bytes,
    },
    /// v5 CLOSE: the sender will write no more on `channel`.
    Close {
        /// The channel being half-closed.
        channel: u8,
    },
}

/// Errors from decoding a channel message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChannelError {
    /// A message had no channel byte at all.
    #[error("failed to decode channel message: the message is empty")]
    Empty,
    /// The message kind does not match the negotiated encoding.
    #[error(
        "failed to decode channel message: got a {got:?} message but the protocol uses {expected:?} messages"
    )]
    WrongMessageKind {
        /// What the protocol expects.
        expected: MessageKind,
        /// What arrived.
        got: MessageKind,
    },
    /// A base64 text message did not start with a channel digit.
    #[error("failed to decode channel message: {0:?} is not a channel digit")]
    BadChannelDigit(u8),
    /// A base64 text message had an invalid payload.
    #[error("failed to decode channel message: invalid base64 payload")]
    BadBase64(#[source] base64::DecodeError),
    /// A v5 CLOSE message was not exactly `ff <channel>` with a valid channel.
    #[error("failed to decode channel message: malformed CLOSE signal of {len} bytes")]
    BadClose {
        /// Length of the offending message.
        len: usize,
    },
}

/// Encoder and decoder for one negotiated remote-command protocol over WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelCodec {
    version: Version,
    encoding: Encoding,
}

impl ChannelCodec {
    /// A codec for `version` carried with `encoding`.
    #[must_use]
    pub fn new(version: Version, encoding: Encoding) -> Self {
        Self { version, encoding }
    }

    /// The protocol version.
    #[must_use]
    pub fn version(&self) -> Version {
        self.version
    }

    /// The message encoding.
    #[must_use]
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The WebSocket message kind this codec reads and writes.
    #[must_use]
    pub fn message_kind(&self) -> MessageKind {
        match self.encoding {
            Encoding::Binary => MessageKind::Binary,
            Encoding::Base64 => MessageKind::Text,
        }
    }

    /// Decodes one WebSocket data message.
    ///
    /// # Errors
    /// Fails on an empty message, a message of the wrong kind, bad base64, or a malformed v5 CLOSE
    /// (which the Kubernetes servers answer by dropping the connection).
    pub fn decode(&self, kind: MessageKind, message: Bytes) -> Result<Frame, ChannelError> {
        let expected = self.message_kind();
        if kind != expected {
            return Err(ChannelError::WrongMessageKind { expected, got: kind });
        }
        let Some(&first) = message.first() else {
            return Err(ChannelError::Empty);
        };
        match self.encoding {
            Encoding::Binary if first == id::CLOSE && self.version.has_close() => {
                match message.get(1) {
                    Some(&channel) if message.len() == 2 && channel < id::COUNT => {
                        Ok(Frame::Close { channel })
                    }
                    _ => Err(ChannelError::BadClose { len: message.len() }),
                }
            }
            Encoding::Binary => Ok(Frame::Data { channel: first, payload: message.slice(1..) }),
            Encoding::Base64 => {
                if !first.is_ascii_digit() {
                    return Err(ChannelError::BadChannelDigit(first));
                }
                let payload = BASE64.decode(&message[1..]).map_err(ChannelError::BadBase64)?;
                Ok(Frame::Data { channel: first - b'0', payload: Bytes::from(payload) })
            }
        }
    }

    /// Encodes `payload` for `channel` as one message of [`Self::message_kind`].
    ///
    /// Base64 text only has room for channels 0 to 9; higher channels are a caller bug and are
    /// clamped to the digit `9` rather than panicking.
    #[must_use]
    pub fn encode(&self, channel: u8, payload: &[u8]) -> Bytes {
        match self.encoding {
            Encoding::Binary => {
                let mut out = BytesMut::with_capacity(payload.len() + 1);
                out.put_u8(channel);
                out.put_slice(payload);
                out.freeze()
            }
            Encoding::Base64 => {
                let mut out = String::with_capacity(1 + payload.len().div_ceil(3) * 4);
                out.push(char::from(b'0' + channel.min(9)));
                BASE64.encode_string(payload, &mut out);
                Bytes::from(out)
            }
        }
    }

    /// Encodes the v5 CLOSE signal for `channel`, or `None` when the protocol has no CLOSE.
    #[must_use]
    pub fn encode_close(&self, channel: u8) -> Option<Bytes> {
        self.version.has_close().then(|| Bytes::copy_from_slice(&[id::CLOSE, channel]))
    }

    /// The channel of the empty message a server sends right after the upgrade: the lowest one
    /// it writes, stdout if requested, else stderr, else the error channel (spec §4.3).
    #[must_use]
    pub fn initial_channel(stdout: bool, stderr: bool) -> u8 {
        if stdout {
            id::STDOUT
        } else if stderr {
            id::STDERR
        } else {
            id::ERROR
        }
    }

    /// The initial empty message itself (see [`ChannelCodec::initial_channel`]).
    #[must_use]
    pub fn initial_message(&self, stdout: bool, stderr: bool) -> Bytes {
        self.encode(Self::initial_channel(stdout, stderr), &[])
    }
}

#[cfg(test)]
mod tests;
