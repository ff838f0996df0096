//! SPDY/3 name/value header blocks and their zlib compression with the SPDY/3 dictionary.
//!
//! One compression context per direction per connection, never reset (spec §8.2). Every block
//! ends with a sync flush, so it decodes completely on its own, and a reader must consume exactly
//! the frame's compressed bytes.

use bytes::{BufMut as _, Bytes};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The SPDY/3 header compression dictionary (1423 bytes, Adler-32 `e3c6a7c2`).
pub const DICTIONARY: &[u8; 1423] = include_bytes!("dictionary.bin");
const DICTIONARY_ADLER32: u32 = 0xe3c6_a7c2;
/// The largest decompressed header block accepted, so a small frame cannot inflate without bound.
const MAX_PLAIN_BLOCK: usize = 256 * 1024;

/// Which side of a stream a block travels on; names forbidden in each differ (spdystream's
/// `invalidReqHeaders` and `invalidRespHeaders`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderRole {
    /// SYN_STREAM (and HEADERS on even streams): `host` is also forbidden.
    Request,
    /// SYN_REPLY (and HEADERS on odd streams).
    Response,
}

/// Errors from header blocks. Each fails the whole connection, as in spdystream.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    /// The plain block ended early or had trailing bytes.
    #[error("failed to decode SPDY header block: {0}")]
    Malformed(&'static str),
    /// A name with upper-case letters.
    #[error("failed to decode SPDY header block: header name {0:?} is not lower-case")]
    NotLowercase(String),
    /// A name given twice.
    #[error("failed to decode SPDY header block: duplicate header {0:?}")]
    Duplicate(String),
    /// A hop-by-hop name (`connection`, `host`, `keep-alive`, ...).
    #[error("failed to decode SPDY header block: forbidden header {0:?}")]
    Forbidden(String),
    /// A name or value that is not UTF-8.
    #[error("failed to decode SPDY header block: header text is not UTF-8")]
    NotUtf8,
    /// zlib rejected the compressed bytes, or they used another dictionary.
    #[error("failed to decompress SPDY header block: {0}")]
    Zlib(String),
    /// The block inflated beyond the limit.
    #[error("failed to decompress SPDY header block: more than {MAX_PLAIN_BLOCK} bytes")]
    TooLarge,
    /// The compressed bytes did not decode to exactly one block.
    #[error("failed to decompress SPDY header block: compressed payload size is wrong")]
    WrongCompressedSize,
}

/// An ordered list of header names and values. Several values of one name are joined with NUL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    entries: Vec<(String, String)>,
}

impl HeaderBlock {
    /// An empty block (`00000000` in plain form).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a block from `(name, value)` pairs; names are lower-cased.
    #[must_use]
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut block = Self::new();
        for (name, value) in pairs {
            block.insert(name, value);
        }
        block
    }

    /// Sets `name` (lower-cased) to `value`, replacing an earlier value.
    pub fn insert(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.entries.push((name, value.to_owned())),
        }
    }

    /// The value of `name` (lower-case), if present.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The plain (uncompressed) wire form.
    #[must_use]
    pub fn encode_plain(&self) -> Vec<u8> {
        let size = 4 + self.entries.iter().map(|(n, v)| 8 + n.len() + v.len()).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        put_len(&mut out, self.entries.len());
        for (name, value) in &self.entries {
            put_len(&mut out, name.len());
            out.put_slice(name.as_bytes());
            put_len(&mut out, value.len());
            out.put_slice(value.as_bytes());
        }
        out
    }

    /// Parses a plain block, rejecting what spdystream rejects for `role`.
    ///
    /// # Errors
    /// Fails on truncation, trailing bytes, upper-case, duplicate or forbidden names, or non-UTF-8.
    pub fn decode_plain(mut plain: &[u8], role: HeaderRole) -> Result<Self, HeaderError> {
        let count = take_u32(&mut plain)? as usize;
        // Each entry needs at least 8 bytes, so a huge count cannot make us allocate.
        if count > plain.len() / 8 {
            return Err(HeaderError::Malformed("header count exceeds the block"));
        }
        let mut block = Self { entries: Vec::with_capacity(count) };
        for _ in 0..count {
            let name = take_str(&mut plain)?;
            let value = take_str(&mut plain)?;
            if name.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(HeaderError::NotLowercase(name));
            }
            if block.get(&name).is_some() {
                return Err(HeaderError::Duplicate(name));
            }
            if is_forbidden(&name, role) {
                return Err(HeaderError::Forbidden(name));
            }
            block.entries.push((name, value));
        }
        if plain.is_empty() { Ok(block) } else { Err(HeaderError::Malformed("trailing bytes")) }
    }
}

fn is_forbidden(name: &str, role: HeaderRole) -> bool {
    matches!(name, "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding")
        || (role == HeaderRole::Request && name == "host")
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
}

fn take_u32(input: &mut &[u8]) -> Result<u32, HeaderError> {
    let (head, rest) =
        input.split_first_chunk::<4>().ok_or(HeaderError::Malformed("truncated length"))?;
    *input = rest;
    Ok(u32::from_be_bytes(*head))
}

fn take_str(input: &mut &[u8]) -> Result<String, HeaderError> {
    let len = take_u32(input)? as usize;
    if input.len() < len {
        return Err(HeaderError::Malformed("truncated name or value"));
    }
    let (text, rest) = input.split_at(len);
    *input = rest;
    String::from_utf8(text.to_vec()).map_err(|_| HeaderError::NotUtf8)
}

/// The compressing side of one direction of a connection.
#[derive(Debug)]
pub struct HeaderCompressor {
    engine: Engine,
}

#[derive(Debug)]
enum Engine {
    /// Real compression, as Go's spdystream does (and so the testkit, by default).
    Deflate(Box<Compress>),
    /// Stored blocks, no state beyond whether the stream header went out (see [`stored`]).
    Stored { started: bool },
}

/// How a side compresses the header blocks it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderCompression {
    /// zlib at its best level, primed with the dictionary: what spdystream sends.
    #[default]
    Deflate,
    /// zlib stored blocks: valid for every inflater, and no 300 KiB deflate context per
    /// connection. What tetherd sends.
    Stored,
}

impl Default for HeaderCompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderCompressor {
    /// A fresh deflate context primed with [`DICTIONARY`]; the first block starts
    /// `78 f9 e3 c6 a7 c2`.
    #[must_use]
    pub fn new() -> Self {
        Self::with(HeaderCompression::Deflate)
    }

    /// A fresh context of the given kind.
    #[must_use]
    pub fn with(kind: HeaderCompression) -> Self {
        let engine = match kind {
            HeaderCompression::Deflate => {
                let mut zlib = Compress::new(Compression::best(), true);
                // Setting a dictionary on a fresh stream cannot fail with the zlib-rs backend.
                let _adler = zlib.set_dictionary(DICTIONARY);
                Engine::Deflate(Box::new(zlib))
            }
            HeaderCompression::Stored => Engine::Stored { started: false },
        };
        Self { engine }
    }

    /// Compresses `block` so that it decodes completely on its own (a sync flush, or whole
    /// stored blocks).
    #[must_use]
    pub fn compress(&mut self, block: &HeaderBlock) -> Bytes {
        let plain = block.encode_plain();
        match &mut self.engine {
            Engine::Deflate(zlib) => deflate(zlib, &plain),
            Engine::Stored { started } => {
                let mut out = Vec::new();
                stored::encode(!*started, &plain, &mut out);
                *started = true;
                Bytes::from(out)
            }
        }
    }
}

fn deflate(zlib: &mut Compress, plain: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(plain.len() / 2 + 64);
    let mut input = plain;
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(256);
        }
        let before = zlib.total_in();
        if zlib.compress_vec(input, &mut out, FlushCompress::Sync).is_err() {
            // Only a misuse of the stream can fail; an empty block is the safe answer.
            return Bytes::new();
        }
        let used = usize::try_from(zlib.total_in() - before).unwrap_or(input.len());
        input = &input[used..];
        if input.is_empty() && out.len() < out.capacity() {
            return Bytes::from(out);
        }
    }
}

/// The decompressing side of one direction of a connection.
#[derive(Debug)]
pub struct HeaderDecompressor {
    zlib: Decompress,
    ended: bool,
}

impl Default for HeaderDecompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderDecompressor {
    /// A fresh context; the dictionary is supplied when the stream asks for it.
    #[must_use]
    pub fn new() -> Self {
        Self { zlib: Decompress::new(true), ended: false }
    }

    /// Inflates one compressed block and parses it for `role`.
    ///
    /// # Errors
    /// Fails on bad zlib data, a foreign dictionary, oversize output, bytes left over, or a bad
    /// plain block. The context is then unusable, like the connection it belongs to.
    pub fn decompress(
        &mut self,
        compressed: &[u8],
        role: HeaderRole,
    ) -> Result<HeaderBlock, HeaderError> {
        let plain = self.inflate(compressed)?;
        HeaderBlock::decode_plain(&plain, role).map_err(|e| match e {
            HeaderError::Malformed(_) => HeaderError::WrongCompressedSize,
            other => other,
        })
    }

    fn inflate(&mut self, compressed: &[u8]) -> Result<Vec<u8>, HeaderError> {
        if self.ended {
            return Err(HeaderError::WrongCompressedSize);
        }
        let mut out = Vec::with_capacity(compressed.len() * 4 + 64);
        let mut input = compressed;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= MAX_PLAIN_BLOCK {
                    return Err(HeaderError::TooLarge);
                }
                out.reserve(out.len().max(256));
            }
            let (before_in, before_out) = (self.zlib.total_in(), self.zlib.total_out());
            let mut dictionary_set = false;
            match self.zlib.decompress_vec(input, &mut out, FlushDecompress::Sync) {
                Ok(Status::StreamEnd) => self.ended = true,
                Ok(_) => {}
                Err(e) => match e.needs_dictionary() {
                    Some(DICTIONARY_ADLER32) => {
                        self.zlib
                            .set_dictionary(DICTIONARY)
                            .map_err(|e| HeaderError::Zlib(e.to_string()))?;
                        dictionary_set = true;
                    }
                    Some(other) => {
                        return Err(HeaderError::Zlib(format!("unknown dictionary {other:08x}")));
                    }
                    None => return Err(HeaderError::Zlib(e.to_string())),
                },
            }
            let used = usize::try_from(self.zlib.total_in() - before_in).unwrap_or(usize::MAX);
            let produced = self.zlib.total_out() - before_out;
            input = input.get(used..).ok_or(HeaderError::WrongCompressedSize)?;
            let room_left = out.len() < out.capacity();
            if (input.is_empty() && room_left) || self.ended {
                break;
            }
            if used == 0 && produced == 0 && room_left && !dictionary_set {
                return Err(HeaderError::WrongCompressedSize);
            }
        }
        if !input.is_empty() {
            return Err(HeaderError::WrongCompressedSize);
        }
        if out.len() > MAX_PLAIN_BLOCK {
            return Err(HeaderError::TooLarge);
        }
        Ok(out)
    }
}

mod stored;
#[cfg(test)]
mod tests;
