//! Header block tests: the dictionary, the plain layout, spdystream's rejections, and zlib
//! contexts that persist across blocks.

use proptest::prelude::*;

use super::*;

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    b << 16 | a
}

fn pairs(block: &HeaderBlock) -> Vec<(String, String)> {
    block.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect()
}

#[test]
fn dictionary_is_the_spdy3_one() {
    assert_eq!(DICTIONARY.len(), 1423);
    assert_eq!(adler32(DICTIONARY), DICTIONARY_ADLER32);
}

#[test]
fn first_block_announces_the_dictionary() {
    let mut c = HeaderCompressor::new();
    let first = c.compress(&HeaderBlock::from_pairs([("streamtype", "error")]));
    assert_eq!(&first[..6], &[0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2]);
    assert!(first.ends_with(&[0x00, 0x00, 0xff, 0xff]), "sync flush");
    let second = c.compress(&HeaderBlock::new());
    assert_ne!(&second[..2], &[0x78, 0xf9], "one stream per direction, no new zlib header");
}

#[test]
fn stored_blocks_announce_the_dictionary_and_a_standard_inflater_reads_them() {
    let mut c = HeaderCompressor::with(HeaderCompression::Stored);
    let block = HeaderBlock::from_pairs([("streamtype", "data"), ("port", "5432")]);
    let first = c.compress(&block);
    assert_eq!(&first[..6], &[0x78, 0x20, 0xe3, 0xc6, 0xa7, 0xc2]);
    let second = c.compress(&HeaderBlock::from_pairs([("streamtype", "error")]));
    // A plain zlib inflater, told the dictionary when it asks, reads both frames' bytes as one
    // stream, as spdystream's `zlib.NewReaderDict` does.
    let mut zlib = Decompress::new(true);
    let mut out = Vec::with_capacity(4096);
    let all = [&first[..], &second[..]].concat();
    let err = zlib.decompress_vec(&all, &mut out, FlushDecompress::Sync).expect_err("needs dict");
    assert_eq!(err.needs_dictionary(), Some(DICTIONARY_ADLER32));
    zlib.set_dictionary(DICTIONARY).expect("dictionary");
    let used = usize::try_from(zlib.total_in()).expect("fits");
    zlib.decompress_vec(&all[used..], &mut out, FlushDecompress::Sync).expect("inflates");
    let expected =
        [block.encode_plain(), HeaderBlock::from_pairs([("streamtype", "error")]).encode_plain()]
            .concat();
    assert_eq!(out, expected);
}

#[test]
fn plain_layout_matches_the_spec() {
    let block = HeaderBlock::from_pairs([("streamtype", "error")]);
    assert_eq!(
        hex::encode(block.encode_plain()),
        "000000010000000a73747265616d74797065000000056572726f72"
    );
    assert_eq!(HeaderBlock::new().encode_plain(), [0, 0, 0, 0]);
}

#[test]
fn rejects_what_spdystream_rejects() {
    let enc = |pairs: &[(&str, &str)]| {
        let mut out = Vec::new();
        out.extend_from_slice(&u32::try_from(pairs.len()).expect("few").to_be_bytes());
        for (n, v) in pairs {
            for s in [n, v] {
                out.extend_from_slice(&u32::try_from(s.len()).expect("short").to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        }
        out
    };
    let req = HeaderRole::Request;
    assert_eq!(
        HeaderBlock::decode_plain(&enc(&[("Port", "80")]), req),
        Err(HeaderError::NotLowercase("Port".into()))
    );
    assert_eq!(
        HeaderBlock::decode_plain(&enc(&[("port", "80"), ("port", "81")]), req),
        Err(HeaderError::Duplicate("port".into()))
    );
    for name in ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "host"] {
        assert_eq!(
            HeaderBlock::decode_plain(&enc(&[(name, "x")]), req),
            Err(HeaderError::Forbidden(name.into()))
        );
    }
    assert!(HeaderBlock::decode_plain(&enc(&[("host", "x")]), HeaderRole::Response).is_ok());
    assert!(HeaderBlock::decode_plain(&[0, 0, 0, 1, 0, 0], req).is_err(), "truncated");
    assert!(HeaderBlock::decode_plain(&[0, 0, 0, 0, 9], req).is_err(), "trailing");
    assert!(HeaderBlock::decode_plain(&[0xff, 0xff, 0xff, 0xff], req).is_err(), "huge count");
}

#[test]
fn foreign_or_broken_zlib_is_rejected() {
    let mut d = HeaderDecompressor::new();
    assert!(d.decompress(b"not zlib at all", HeaderRole::Request).is_err());
    // A zlib stream without the SPDY dictionary decodes, but then the block must still parse.
    let mut d = HeaderDecompressor::new();
    let plain_zlib = {
        let mut c = Compress::new(Compression::default(), true);
        let mut out = Vec::with_capacity(64);
        c.compress_vec(&[0, 0, 0, 0], &mut out, FlushCompress::Sync).expect("compress");
        out
    };
    assert_eq!(d.decompress(&plain_zlib, HeaderRole::Request), Ok(HeaderBlock::new()));
    // Extra bytes after a complete block are a wrong compressed size.
    let mut c = HeaderCompressor::new();
    let mut block = c.compress(&HeaderBlock::new()).to_vec();
    block.extend_from_slice(&c.compress(&HeaderBlock::new()));
    assert!(HeaderDecompressor::new().decompress(&block, HeaderRole::Request).is_err());
}

#[test]
fn a_small_bomb_is_bounded() {
    let mut c = Compress::new(Compression::best(), true);
    let mut big = vec![0u8; 4];
    big[..4].copy_from_slice(&1u32.to_be_bytes());
    big.extend_from_slice(&[0, 0, 0, 1, b'a']);
    big.extend_from_slice(&(4u32 << 20).to_be_bytes());
    big.extend(std::iter::repeat_n(b'a', 4 << 20));
    let mut out = Vec::with_capacity(64 << 10);
    c.compress_vec(&big, &mut out, FlushCompress::Sync).expect("compress");
    assert_eq!(
        HeaderDecompressor::new().decompress(&out, HeaderRole::Request),
        Err(HeaderError::TooLarge)
    );
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,12}".prop_filter("not forbidden", |n| {
        !matches!(
            n.as_str(),
            "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "host"
        )
    })
}

proptest! {
    #[test]
    fn blocks_round_trip_through_one_context_per_direction(
        blocks in proptest::collection::vec(proptest::collection::btree_map(name(), "[ -~]{0,30}", 0..6), 1..10)
    ) {
        let mut c = HeaderCompressor::new();
        let mut d = HeaderDecompressor::new();
        for map in blocks {
            let block = HeaderBlock::from_pairs(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let wire = c.compress(&block);
            let back = d.decompress(&wire, HeaderRole::Request).expect("round trip");
            prop_assert_eq!(pairs(&back), pairs(&block));
        }
    }

    #[test]
    fn stored_blocks_round_trip_and_need_no_context(
        blocks in proptest::collection::vec(proptest::collection::btree_map(name(), "[ -~]{0,30}", 0..6), 1..10)
    ) {
        let mut c = HeaderCompressor::with(HeaderCompression::Stored);
        let mut d = HeaderDecompressor::new();
        for (i, map) in blocks.iter().enumerate() {
            let block = HeaderBlock::from_pairs(map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let wire = c.compress(&block);
            prop_assert_eq!(wire.len(), block.encode_plain().len() + 10 + if i == 0 { 6 } else { 0 });
            let back = d.decompress(&wire, HeaderRole::Request).expect("round trip");
            prop_assert_eq!(pairs(&back), pairs(&block));
        }
    }

    #[test]
    fn decompressor_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..4)) {
        let mut d = HeaderDecompressor::new();
        for c in chunks {
            let _ = d.decompress(&c, HeaderRole::Response);
        }
    }
}
