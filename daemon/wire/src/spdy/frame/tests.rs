//! Frame codec tests: layouts from spec §8.1, spdystream's rejections, and round trips.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

fn decode_all(bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let mut buf = ChunkBuf::new();
    buf.push(Bytes::copy_from_slice(bytes));
    let mut frames = Vec::new();
    while let Some(f) = decode_frame(&mut buf)? {
        frames.push(f);
    }
    Ok(frames)
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("valid hex")
}

#[test]
fn spec_example_syn_stream_decodes() {
    let wire = hex(
        "800300010000003d0000000100000000000078f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45a024cc6461c0c0c0c0590489c44c50e2663400000000ffff",
    );
    let frames = decode_all(&wire).expect("valid");
    let [
        Frame::SynStream {
            stream_id: 1,
            assoc_stream_id: 0,
            priority: 0,
            slot: 0,
            flags: 0,
            header_block,
        },
    ] = &frames[..]
    else {
        panic!("unexpected {frames:?}");
    };
    assert_eq!(header_block.len(), 51);
    assert_eq!(Frame::to_bytes(&frames[0])[..], wire[..], "re-encodes byte for byte");
}

#[test]
fn incomplete_frames_wait_for_more_bytes() {
    let wire = Frame::Ping { id: 7 }.to_bytes();
    for cut in 0..wire.len() {
        assert_eq!(decode_all(&wire[..cut]), Ok(vec![]), "cut at {cut}");
    }
}

#[test]
fn rejects_what_spdystream_rejects() {
    let cases: [(&str, FrameError); 11] = [
        ("80030005 00000000", FrameError::UnknownControlType(5)),
        ("8003000a 00000000", FrameError::UnknownControlType(10)),
        ("00000000 00000000", FrameError::ZeroStreamId("DATA")),
        ("80030006 01000004 00000001", FrameError::BadFlags { kind: "PING", flags: 1 }),
        ("80030006 00000004 00000000", FrameError::ZeroValue("PING")),
        ("80030007 00000004 00000000", FrameError::BadLength { kind: "GOAWAY", length: 4 }),
        ("80030007 02000008 00000000 00000000", FrameError::BadFlags { kind: "GOAWAY", flags: 2 }),
        (
            "80030009 01000008 00000001 00000001",
            FrameError::BadFlags { kind: "WINDOW_UPDATE", flags: 1 },
        ),
        ("80030003 00000008 00000001 00000000", FrameError::ZeroValue("RST_STREAM")),
        ("80030003 00000008 00000000 00000005", FrameError::ZeroStreamId("RST_STREAM")),
        ("80030001 0000000a 00000000 00000000 0000", FrameError::ZeroStreamId("SYN_STREAM")),
    ];
    for (wire, want) in cases {
        assert_eq!(decode_all(&hex(wire)), Err(want), "{wire}");
    }
}

#[test]
fn settings_and_window_updates_decode() {
    let settings = Frame::Settings {
        flags: FLAG_CLEAR_SETTINGS,
        entries: vec![Setting { flags: 1, id: 7, value: 65536 }],
    };
    assert_eq!(decode_all(&settings.to_bytes()), Ok(vec![settings]));
    assert!(decode_all(&hex("80030004 00000008 00000002 00000000")).is_err(), "count mismatch");
}

#[test]
fn data_header_matches_the_frame_encoder() {
    let frame = Frame::Data { stream_id: 3, flags: FLAG_FIN, data: Bytes::from_static(b"abc") };
    assert_eq!(&frame.to_bytes()[..8], &encode_data_header(3, FLAG_FIN, 3));
}

fn frame() -> impl Strategy<Value = Frame> {
    let id = 1u32..=0x7fff_ffff;
    let block = proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from);
    prop_oneof![
        (id.clone(), 0u32..=0x7fff_ffff, 0u8..8, any::<u8>(), 0u8..4, block.clone()).prop_map(
            |(stream_id, assoc_stream_id, priority, slot, flags, header_block)| Frame::SynStream {
                stream_id,
                assoc_stream_id,
                priority,
                slot,
                flags,
                header_block
            }
        ),
        (id.clone(), 0u8..2, block.clone()).prop_map(|(stream_id, flags, header_block)| {
            Frame::SynReply { stream_id, flags, header_block }
        }),
        (id.clone(), 0u8..2, block).prop_map(|(stream_id, flags, header_block)| Frame::Headers {
            stream_id,
            flags,
            header_block
        }),
        (id.clone(), 1u32..12)
            .prop_map(|(stream_id, s)| Frame::RstStream { stream_id, status: RstStatus(s) }),
        (0u8..2, proptest::collection::vec((any::<u8>(), 0u32..0x0100_0000, any::<u32>()), 0..4))
            .prop_map(|(flags, e)| Frame::Settings {
                flags,
                entries: e
                    .into_iter()
                    .map(|(flags, id, value)| Setting { flags, id, value })
                    .collect()
            }),
        (1u32..).prop_map(|id| Frame::Ping { id }),
        (0u32..=0x7fff_ffff, any::<u32>()).prop_map(|(last_good_stream_id, status)| {
            Frame::GoAway { last_good_stream_id, status }
        }),
        (0u32..=0x7fff_ffff, 0u32..=0x7fff_ffff)
            .prop_map(|(stream_id, delta)| Frame::WindowUpdate { stream_id, delta }),
        (id, 0u8..2, proptest::collection::vec(any::<u8>(), 0..2000)).prop_map(
            |(stream_id, flags, d)| Frame::Data { stream_id, flags, data: Bytes::from(d) }
        ),
    ]
}

proptest! {
    #[test]
    fn frames_round_trip_across_any_cuts(frames in proptest::collection::vec(frame(), 1..8), cuts in proptest::collection::vec(0usize..64, 0..40)) {
        let mut wire = BytesMut::new();
        for f in &frames {
            f.encode(&mut wire);
        }
        let wire = wire.freeze();
        let mut buf = ChunkBuf::new();
        let mut got = Vec::new();
        let mut at = 0usize;
        for cut in cuts.into_iter().chain([usize::MAX]) {
            let end = at.saturating_add(cut).min(wire.len());
            buf.push(Bytes::new()); // zero-length WebSocket messages are part of the stream
            buf.push(wire.slice(at..end));
            at = end;
            while let Some(f) = decode_frame(&mut buf).expect("valid frames") {
                got.push(f);
            }
        }
        prop_assert_eq!(got, frames);
    }

    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_all(&bytes);
    }

    #[test]
    fn decoder_never_panics_on_control_frames(kind in 0u16..12, flags in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..40)) {
        let mut wire = vec![0x80, 0x03];
        wire.extend_from_slice(&kind.to_be_bytes());
        wire.push(flags);
        wire.extend_from_slice(&u32::try_from(body.len()).expect("small").to_be_bytes()[1..]);
        wire.extend_from_slice(&body);
        let _ = decode_all(&wire);
    }
}
