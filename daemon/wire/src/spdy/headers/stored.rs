//! Header blocks as zlib *stored* (uncompressed) deflate blocks: a valid SPDY/3 header stream
//! that needs no compressor state at all.
//!
//! A zlib deflate context costs about 300 KiB of resident memory (window, hash chains and
//! pending buffer), and a tunnel keeps one per direction for its whole life. Header blocks are
//! tens of bytes, sent once per connection, so compressing them saves nothing worth that.
//! RFC 1950/1951 let a stream carry stored blocks, and every inflater (Go's `compress/zlib`
//! in spdystream included) must accept them; the stream still announces the SPDY/3 dictionary,
//! as the protocol demands, and a stored block simply never refers to it.
//!
//! Layout: the first block starts with the zlib header `78 20` (deflate, 32 KiB window, FDICT,
//! level 0; `0x7820 % 31 == 0`) and the dictionary's Adler-32. Each block is then one or more
//! non-final stored blocks: `00`, LEN and NLEN (little-endian), the bytes; and last an empty
//! stored block, `00 00 00 ff ff`, exactly what a zlib sync flush ends with. That empty block is
//! not optional: Go's inflater hands out a non-final block's bytes only when the next block
//! starts, and the empty one is what makes it flush (its `dataBlock` with `n == 0`). Without it
//! spdystream reads past the frame and fails the connection; the testkit's `stored_headers`
//! conformance test shows real kubectl reading these blocks.

use super::DICTIONARY_ADLER32;

/// The zlib header of a stream primed with a dictionary, at compression level 0.
const ZLIB_HEADER: [u8; 2] = [0x78, 0x20];
/// An empty stored block: the end of a sync flush, which makes every inflater emit the data.
const SYNC_MARK: [u8; 5] = [0x00, 0x00, 0x00, 0xff, 0xff];
/// The largest stored block (LEN is 16 bits).
const MAX_STORED: usize = 0xffff;

/// Appends `plain` to `out` as stored blocks, after the stream header when `first`.
pub(super) fn encode(first: bool, plain: &[u8], out: &mut Vec<u8>) {
    let blocks = plain.len().div_ceil(MAX_STORED);
    out.reserve(plain.len() + 5 * blocks + 5 + 6);
    if first {
        out.extend_from_slice(&ZLIB_HEADER);
        out.extend_from_slice(&DICTIONARY_ADLER32.to_be_bytes());
    }
    for chunk in plain.chunks(MAX_STORED) {
        // `chunks(MAX_STORED)` bounds the length to 16 bits.
        let len = u16::try_from(chunk.len()).unwrap_or(u16::MAX);
        out.push(0x00); // BFINAL = 0, BTYPE = 00 (stored), padding to the byte boundary
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&SYNC_MARK);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_a_valid_zlib_header_with_a_dictionary() {
        assert_eq!(u16::from_be_bytes(ZLIB_HEADER) % 31, 0, "FCHECK");
        assert_eq!(ZLIB_HEADER[0] & 0x0f, 8, "deflate");
        assert_ne!(ZLIB_HEADER[1] & 0x20, 0, "FDICT");
        let mut out = Vec::new();
        encode(true, b"abc", &mut out);
        let expected = [0x78, 0x20, 0xe3, 0xc6, 0xa7, 0xc2, 0, 3, 0, 0xfc, 0xff, b'a', b'b', b'c'];
        assert_eq!(out, [&expected[..], &[0, 0, 0, 0xff, 0xff]].concat());
    }

    #[test]
    fn long_blocks_split_at_64_kib() {
        let plain = vec![7u8; MAX_STORED + 10];
        let mut out = Vec::new();
        encode(false, &plain, &mut out);
        assert_eq!(out.len(), plain.len() + 15);
        assert_eq!(&out[..5], &[0, 0xff, 0xff, 0, 0]);
        assert_eq!(&out[5 + MAX_STORED..5 + MAX_STORED + 5], &[0, 10, 0, 0xf5, 0xff]);
        assert!(out.ends_with(&SYNC_MARK), "ends as a sync flush does");
    }
}
