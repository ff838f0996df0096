//! Fuzzes the remote-command channel decoders: `ChannelCodec::decode` for every version, encoding
//! and message kind, `decode_error_channel`, `ResizeDecoder::feed`, and the WebSocket port-forward
//! `ClientDecoder`.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tether_wire::channel::{
    ChannelCodec, Encoding, Frame, MessageKind, ResizeDecoder, Version, decode_error_channel,
};
use tether_wire::portforward::{ClientDecoder, ClientEvent};

const VERSIONS: [Version; 5] = [Version::V1, Version::V2, Version::V3, Version::V4, Version::V5];
const ENCODINGS: [Encoding; 2] = [Encoding::Binary, Encoding::Base64];
const KINDS: [MessageKind; 2] = [MessageKind::Binary, MessageKind::Text];

fuzz_target!(|data: &[u8]| {
    channel_messages(data);
    error_channel(data);
    resize(data);
    port_forward(data);
});

/// The whole input as one WebSocket message, through every codec; what decodes must re-encode.
fn channel_messages(data: &[u8]) {
    let message = Bytes::copy_from_slice(data);
    for version in VERSIONS {
        for encoding in ENCODINGS {
            let codec = ChannelCodec::new(version, encoding);
            for kind in KINDS {
                let Ok(frame) = codec.decode(kind, message.clone()) else { continue };
                assert_eq!(kind, codec.message_kind(), "decoded a message of the wrong kind");
                match &frame {
                    Frame::Data { channel, payload } => {
                        let again = codec.encode(*channel, payload);
                        if encoding == Encoding::Binary {
                            assert_eq!(again, message, "binary data does not re-encode exactly");
                        }
                        assert_eq!(codec.decode(kind, again), Ok(frame.clone()));
                    }
                    Frame::Close { channel } => {
                        assert!(version.has_close(), "CLOSE decoded without v5");
                        assert_eq!(codec.encode_close(*channel), Some(message.clone()));
                    }
                }
            }
        }
    }
}

/// The whole input as the complete contents of the error channel.
fn error_channel(data: &[u8]) {
    for version in VERSIONS {
        if let Ok(outcome) = decode_error_channel(version, data) {
            let _ = outcome.process_exit_code();
        }
    }
}

/// The input as a resize stream, once whole and once cut into pieces of `data[0] % 16 + 1`
/// bytes; when both succeed they must yield the same sizes.
fn resize(data: &[u8]) {
    let mut whole = ResizeDecoder::new();
    let whole_sizes = whole.feed(data);
    if let Ok(sizes) = &whole_sizes {
        for size in sizes {
            let mut fresh = ResizeDecoder::new();
            let decoded = fresh.feed(&size.encode()).expect("an encoded size decodes");
            assert_eq!(decoded, [*size]);
        }
    }

    let step = data.first().map_or(1, |b| usize::from(b % 16) + 1);
    let mut cut = ResizeDecoder::new();
    let mut cut_sizes = Vec::new();
    for piece in data.chunks(step) {
        match cut.feed(piece) {
            Ok(sizes) => cut_sizes.extend(sizes),
            Err(_) => return,
        }
    }
    if let Ok(sizes) = whole_sizes {
        assert_eq!(sizes, cut_sizes, "cutting the resize stream changed the sizes");
    }
}

/// Port-forward client: `data[0] % 4` ports (2 bytes each, little-endian) then messages, each
/// a length byte followed by that many bytes.
fn port_forward(data: &[u8]) {
    let Some((&count, mut rest)) = data.split_first() else { return };
    let mut ports = Vec::new();
    for _ in 0..count % 4 {
        let Some((port, tail)) = rest.split_first_chunk::<2>() else { return };
        ports.push(u16::from_le_bytes(*port));
        rest = tail;
    }
    let mut decoder = ClientDecoder::new(&ports).expect("fewer than 128 ports");
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (message, tail) = tail.split_at(len);
        rest = tail;
        match decoder.decode(Bytes::copy_from_slice(message)) {
            Ok(Some(ClientEvent::Data { port_index, data })) => {
                assert!(port_index < ports.len());
                assert!(!data.is_empty());
                assert_eq!(message.first().map(|c| usize::from(*c)), Some(port_index * 2));
            }
            Ok(Some(ClientEvent::Error { port_index, message: text })) => {
                assert!(port_index < ports.len());
                assert!(!text.is_empty());
                assert_eq!(message.first().map(|c| usize::from(*c)), Some(port_index * 2 + 1));
            }
            Ok(None) | Err(_) => {}
        }
    }
}
