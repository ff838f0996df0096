//! Fuzzes SPDY/3 header blocks: `HeaderDecompressor::decompress` over a sequence of blocks (one
//! context per `HeaderRole`, plus one with mixed roles), and `HeaderBlock::decode_plain` with its
//! round trips through `encode_plain` and `HeaderCompressor`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tether_wire::spdy::{HeaderBlock, HeaderCompressor, HeaderDecompressor, HeaderRole};

const ROLES: [HeaderRole; 2] = [HeaderRole::Request, HeaderRole::Response];

/// CMF/FLG with a preset dictionary, then the Adler-32 of the SPDY/3 dictionary.
const ZLIB_HEADER: [u8; 6] = [0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2];

/// One direction of a connection: a compressor and the decompressor that reads it.
struct Direction {
    role: Option<HeaderRole>,
    deflate: HeaderCompressor,
    inflate: HeaderDecompressor,
    /// Whether the decompressor has only seen the compressor's output so far.
    in_sync: bool,
}

impl Direction {
    fn new(role: Option<HeaderRole>) -> Self {
        Self {
            role,
            deflate: HeaderCompressor::new(),
            inflate: HeaderDecompressor::new(),
            in_sync: true,
        }
    }

    fn role(&self, tag: u8) -> HeaderRole {
        self.role.unwrap_or(ROLES[usize::from(tag >> 7)])
    }

    /// Raw bytes as a compressed block: must not panic; desynchronises the context. With bit 1
    /// of the tag, the zlib header a fresh SPDY/3 stream starts with is put in front, so the
    /// fuzzer only has to find a deflate body.
    fn raw(&mut self, tag: u8, block: &[u8]) {
        let role = self.role(tag);
        if tag & 0x02 != 0 {
            let mut framed = ZLIB_HEADER.to_vec();
            framed.extend_from_slice(block);
            let _ = self.inflate.decompress(&framed, role);
        } else {
            let _ = self.inflate.decompress(block, role);
        }
        self.in_sync = false;
    }

    /// The bytes as a plain block; if valid, compress it (optionally corrupting one byte) and
    /// decompress it again, which must give the block back while the context is in sync.
    fn plain(&mut self, tag: u8, block: &[u8]) {
        let role = self.role(tag);
        let Ok(headers) = HeaderBlock::decode_plain(block, role) else { return };
        let mut compressed = self.deflate.compress(&headers).to_vec();
        assert!(!compressed.is_empty(), "compressing a valid block gave nothing");
        if tag & 0x02 != 0 {
            let at = usize::from(tag >> 2) % compressed.len();
            compressed[at] ^= block.first().copied().unwrap_or(0x55) | 1;
            self.in_sync = false;
        }
        let result = self.inflate.decompress(&compressed, role);
        if self.in_sync {
            assert_eq!(result, Ok(headers), "decompress(compress(block)) != block");
        }
    }
}

// Input layout: blocks, each `tag`, a 2-byte little-endian length, then that many bytes.
// Bit 0 of the tag picks raw compressed bytes (0) or a plain block to compress (1); bit 1
// prefixes a raw block with the zlib header or corrupts the compressed plain block; bit 7 is the
// role for the mixed-role context.
fuzz_target!(|data: &[u8]| {
    for role in ROLES {
        if let Ok(block) = HeaderBlock::decode_plain(data, role) {
            assert_eq!(block.encode_plain(), data, "encode_plain(decode_plain(x)) != x");
            assert_eq!(HeaderBlock::decode_plain(&block.encode_plain(), role), Ok(block));
        }
    }

    let mut directions = [
        Direction::new(Some(HeaderRole::Request)),
        Direction::new(Some(HeaderRole::Response)),
        Direction::new(None),
    ];
    let mut rest = data;
    while let Some((&tag, tail)) = rest.split_first() {
        let Some((len, tail)) = tail.split_first_chunk::<2>() else { break };
        let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
        let (block, tail) = tail.split_at(len);
        rest = tail;
        for direction in &mut directions {
            if tag & 0x01 == 0 {
                direction.raw(tag, block);
            } else {
                direction.plain(tag, block);
            }
        }
    }
});
