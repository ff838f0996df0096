//! Terminal resize messages: `{"Width":W,"Height":H}` plus a newline, one object per message.
//!
//! Servers read the resize channel (or SPDY stream) as a JSON stream, so objects may arrive split
//! or several in one chunk; [`ResizeDecoder`] reassembles them.

use serde::{Deserialize, Serialize};

/// A terminal size in character cells (`remotecommand.TerminalSize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TerminalSize {
    /// Columns.
    #[serde(rename = "Width")]
    pub width: u16,
    /// Rows.
    #[serde(rename = "Height")]
    pub height: u16,
}

impl TerminalSize {
    /// Encodes as kubectl does: compact JSON followed by `\n`.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        format!("{{\"Width\":{},\"Height\":{}}}\n", self.width, self.height).into_bytes()
    }
}

/// Errors from decoding resize messages.
#[derive(Debug, thiserror::Error)]
pub enum ResizeError {
    /// The bytes are not a stream of `TerminalSize` JSON objects.
    #[error("failed to decode terminal size")]
    Json(#[source] serde_json::Error),
    /// More than [`ResizeDecoder::MAX_PENDING`] bytes without a complete object.
    #[error("failed to decode terminal size: {0} bytes without a complete object")]
    TooLong(usize),
}

/// Reassembles a stream of resize JSON objects.
#[derive(Debug, Default)]
pub struct ResizeDecoder {
    pending: Vec<u8>,
}

impl ResizeDecoder {
    /// The most bytes kept while waiting for the end of an object.
    pub const MAX_PENDING: usize = 4096;

    /// A decoder with nothing pending.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `chunk` and returns every size completed by it, in order.
    ///
    /// # Errors
    /// Fails on malformed JSON or an object that never ends; the decoder is then unusable.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<TerminalSize>, ResizeError> {
        self.pending.extend_from_slice(chunk);
        let mut sizes = Vec::new();
        let mut stream =
            serde_json::Deserializer::from_slice(&self.pending).into_iter::<TerminalSize>();
        let consumed = loop {
            match stream.next() {
                Some(Ok(size)) => sizes.push(size),
                Some(Err(e)) if e.is_eof() => break stream.byte_offset(),
                Some(Err(e)) => return Err(ResizeError::Json(e)),
                None => break self.pending.len(),
            }
        };
        self.pending.drain(..consumed);
        if self.pending.len() > Self::MAX_PENDING {
            return Err(ResizeError::TooLong(self.pending.len()));
        }
        Ok(sizes)
    }
}
