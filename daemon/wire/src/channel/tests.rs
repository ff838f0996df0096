//! Unit and property tests for the channel codecs, status decoding and resize messages.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

fn v5() -> ChannelCodec {
    ChannelCodec::new(Version::V5, Encoding::Binary)
}

#[test]
fn binary_messages_carry_the_channel_byte() {
    let codec = v5();
    assert_eq!(&codec.encode(id::STDIN, b"hello")[..], b"\x00hello");
    assert_eq!(
        codec.decode(MessageKind::Binary, Bytes::from_static(b"\x01out")),
        Ok(Frame::Data { channel: 1, payload: Bytes::from_static(b"out") })
    );
}

#[test]
fn v5_close_is_exactly_two_bytes_naming_a_real_channel() {
    let codec = v5();
    assert_eq!(codec.encode_close(id::STDIN).as_deref(), Some(&[0xff, 0x00][..]));
    assert_eq!(
        codec.decode(MessageKind::Binary, Bytes::from_static(&[0xff, 0x00])),
        Ok(Frame::Close { channel: 0 })
    );
    for bad in [&[0xff][..], &[0xff, 0x00, 0x00], &[0xff, 0x05]] {
        assert_eq!(
            codec.decode(MessageKind::Binary, Bytes::copy_from_slice(bad)),
            Err(ChannelError::BadClose { len: bad.len() })
        );
    }
}

#[test]
fn v4_has_no_close_so_0xff_is_just_a_channel() {
    let codec = ChannelCodec::new(Version::V4, Encoding::Binary);
    assert_eq!(codec.encode_close(0), None);
    assert_eq!(
        codec.decode(MessageKind::Binary, Bytes::from_static(&[0xff, 0x00])),
        Ok(Frame::Data { channel: 255, payload: Bytes::from_static(&[0]) })
    );
}

#[test]
fn base64_uses_text_messages_with_a_channel_digit() {
    let codec = ChannelCodec::new(Version::V4, Encoding::Base64);
    assert_eq!(&codec.encode(1, b"hi")[..], b"1aGk=");
    assert_eq!(
        codec.decode(MessageKind::Text, Bytes::from_static(b"2aGk=")),
        Ok(Frame::Data { channel: 2, payload: Bytes::from_static(b"hi") })
    );
    assert!(matches!(
        codec.decode(MessageKind::Text, Bytes::from_static(b"x")),
        Err(ChannelError::BadChannelDigit(b'x'))
    ));
    assert!(matches!(
        codec.decode(MessageKind::Text, Bytes::from_static(b"1!!")),
        Err(ChannelError::BadBase64(_))
    ));
    assert!(matches!(
        codec.decode(MessageKind::Binary, Bytes::from_static(b"1aGk=")),
        Err(ChannelError::WrongMessageKind { .. })
    ));
}

#[test]
fn empty_messages_are_an_error_and_initial_messages_are_empty() {
    assert_eq!(v5().decode(MessageKind::Binary, Bytes::new()), Err(ChannelError::Empty));
    assert_eq!(&v5().initial_message(true, true)[..], [1]);
    assert_eq!(&v5().initial_message(false, true)[..], [2]);
    assert_eq!(&v5().initial_message(false, false)[..], [3]);
}

#[test]
fn statuses_decode_to_exit_outcomes() {
    let ok = br#"{"metadata":{},"status":"Success"}"#;
    assert_eq!(decode_error_channel(Version::V5, ok), Ok(ExitOutcome::Success));
    let exit = br#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command, exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;
    assert_eq!(decode_error_channel(Version::V4, exit), Ok(ExitOutcome::ExitCode(3)));
    let internal = br#"{"metadata":{},"status":"Failure","message":"Internal error occurred: container not found","reason":"InternalError","details":{"causes":[{"message":"container not found"}]},"code":500}"#;
    assert_eq!(
        decode_error_channel(Version::V5, internal),
        Ok(ExitOutcome::Error {
            reason: Some("InternalError".into()),
            message: "Internal error occurred: container not found".into(),
            code: Some(500),
        })
    );
    assert_eq!(decode_error_channel(Version::V5, b""), Ok(ExitOutcome::Success));
}

#[test]
fn exit_codes_use_their_real_range() {
    let status = |code: &str| {
        let mut s = Status::exit_code(1);
        if let Some(d) = s.details.as_mut() {
            d.causes[0].message = code.into();
        }
        s.outcome()
    };
    assert_eq!(status("255"), Ok(ExitOutcome::ExitCode(255)));
    assert_eq!(status("0"), Ok(ExitOutcome::ExitCode(0)));
    for bad in ["256", "-1", "+3", "", "3.0", "x"] {
        assert_eq!(status(bad), Err(StatusError::InvalidExitCode(bad.into())), "{bad}");
    }
    let mut no_details = Status::exit_code(3);
    no_details.details = None;
    assert_eq!(no_details.outcome(), Err(StatusError::MissingDetails));
    let mut no_cause = Status::exit_code(3);
    no_cause.details = Some(StatusDetails::default());
    assert_eq!(no_cause.outcome(), Err(StatusError::MissingExitCode));
    let weird = Status { status: "Maybe".into(), ..Status::default() };
    assert_eq!(weird.outcome(), Err(StatusError::UnknownStatus("Maybe".into())));
}

#[test]
fn old_versions_carry_plain_text_errors() {
    assert_eq!(
        decode_error_channel(Version::V2, b"command terminated"),
        Ok(ExitOutcome::Error { reason: None, message: "command terminated".into(), code: None })
    );
    assert!(decode_error_channel(Version::V4, b"not json").is_err());
}

#[test]
fn resize_encodes_like_kubectl_and_reassembles() {
    let size = TerminalSize { width: 80, height: 24 };
    assert_eq!(size.encode(), b"{\"Width\":80,\"Height\":24}\n");
    let mut dec = ResizeDecoder::new();
    assert_eq!(dec.feed(b"{\"Width\":80,").expect("partial"), vec![]);
    let both = dec.feed(b"\"Height\":24}\n{\"Width\":132,\"Height\":40}\n").expect("two");
    assert_eq!(both, vec![size, TerminalSize { width: 132, height: 40 }]);
    assert!(ResizeDecoder::new().feed(b"{\"Width\":\"wide\"}").is_err());
    assert!(ResizeDecoder::new().feed(&[b' '; 5000]).is_ok(), "whitespace is consumed");
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![
        Just(Version::V1),
        Just(Version::V2),
        Just(Version::V3),
        Just(Version::V4),
        Just(Version::V5)
    ]
}

proptest! {
    #[test]
    fn data_round_trips(v in version(), base64 in any::<bool>(), channel in 0u8..5, payload in proptest::collection::vec(any::<u8>(), 0..300)) {
        let codec = ChannelCodec::new(v, if base64 { Encoding::Base64 } else { Encoding::Binary });
        let msg = codec.encode(channel, &payload);
        prop_assert_eq!(
            codec.decode(codec.message_kind(), msg),
            Ok(Frame::Data { channel, payload: Bytes::from(payload) })
        );
    }

    #[test]
    fn decoders_never_panic(v in version(), base64 in any::<bool>(), text in any::<bool>(), msg in proptest::collection::vec(any::<u8>(), 0..64)) {
        let codec = ChannelCodec::new(v, if base64 { Encoding::Base64 } else { Encoding::Binary });
        let kind = if text { MessageKind::Text } else { MessageKind::Binary };
        let _ = codec.decode(kind, Bytes::from(msg.clone()));
        let _ = decode_error_channel(v, &msg);
        let _ = ResizeDecoder::new().feed(&msg);
    }

    #[test]
    fn exit_status_round_trips(code in any::<u8>()) {
        let json = Status::exit_code(code).to_json();
        prop_assert_eq!(decode_error_channel(Version::V5, &json), Ok(ExitOutcome::ExitCode(code)));
    }

    #[test]
    fn resize_round_trips_across_any_split(w in any::<u16>(), h in any::<u16>(), cut in 0usize..30) {
        let size = TerminalSize { width: w, height: h };
        let bytes = size.encode();
        let cut = cut.min(bytes.len());
        let mut dec = ResizeDecoder::new();
        let mut got = dec.feed(&bytes[..cut]).expect("prefix");
        got.extend(dec.feed(&bytes[cut..]).expect("rest"));
        prop_assert_eq!(got, vec![size]);
    }
}
