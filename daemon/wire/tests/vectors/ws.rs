//! WebSocket exec and attach captures (`v5.channel.k8s.io`): every frame unmasks to its payload,
//! every binary message decodes to the annotated channel and data, and the status means what
//! kubectl's exit code says.

use std::io::Cursor;

use bytes::Bytes;
use serde_json::Value;
use tether_wire::channel::{
    ChannelCodec, Encoding, ExitOutcome, Frame, MessageKind, ResizeDecoder, TerminalSize, Version,
    decode_error_channel, id,
};
use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use crate::capture::{Capture, hex};

/// One WebSocket frame of a capture, parsed from its exact wire bytes.
struct WsFrame {
    t: f64,
    dir: String,
    opcode: OpCode,
    payload: Bytes,
}

fn frames(capture: &Capture) -> Vec<WsFrame> {
    capture
        .layer("ws")
        .map(|e| {
            let wire = hex(&e["wire"]);
            let mut cursor = Cursor::new(&wire);
            let (header, len) = FrameHeader::parse(&mut cursor).expect("valid").expect("complete");
            let start = usize::try_from(cursor.position()).expect("small");
            let mut payload = wire[start..].to_vec();
            assert_eq!(payload.len() as u64, len, "one whole frame per event");
            assert!(header.is_final, "kubectl and the servers send unfragmented frames here");
            assert_eq!(header.mask.is_some(), e["dir"] == "c2s", "clients mask, servers do not");
            if let Some(mask) = header.mask {
                payload.iter_mut().enumerate().for_each(|(i, b)| *b ^= mask[i % 4]);
            }
            assert_eq!(payload, hex(&e["payload"]), "unmasks to the recorded payload");
            WsFrame {
                t: e["t"].as_f64().expect("time"),
                dir: e["dir"].as_str().expect("dir").to_owned(),
                opcode: header.opcode,
                payload: Bytes::from(payload),
            }
        })
        .collect()
}

/// Decodes every binary message with the v5 codec and checks it against the annotation.
/// Returns (dir, frame) pairs for further assertions.
fn channel_frames(capture: &Capture) -> Vec<(String, Frame)> {
    let codec = ChannelCodec::new(Version::V5, Encoding::Binary);
    let annotations: Vec<&Value> = capture.layer("ws").collect();
    let mut out = Vec::new();
    for (frame, note) in frames(capture).into_iter().zip(annotations) {
        let decoded = &note["decoded"];
        match frame.opcode {
            OpCode::Data(Data::Binary) => {
                let got = codec.decode(MessageKind::Binary, frame.payload).expect("valid message");
                match &got {
                    Frame::Data { channel, payload } => {
                        assert_eq!(u64::from(*channel), decoded["channel"].as_u64().expect("ch"));
                        assert_eq!(
                            String::from_utf8_lossy(payload),
                            decoded["data_text"].as_str().expect("text")
                        );
                    }
                    Frame::Close { channel } => {
                        assert_eq!(decoded["channel"], 255);
                        let meaning = decoded["meaning"].as_str().expect("meaning");
                        assert_eq!(meaning, format!("CLOSE signal for channel {channel}"));
                    }
                }
                out.push((frame.dir, got));
            }
            OpCode::Control(Control::Close) => {
                let code = u16::from_be_bytes([frame.payload[0], frame.payload[1]]);
                assert_eq!(u64::from(code), decoded["close_code"].as_u64().expect("code"));
            }
            OpCode::Control(Control::Ping | Control::Pong) => {
                assert!(frame.payload.is_empty(), "kubectl pings carry no payload");
            }
            other => panic!("unexpected opcode {other:?}"),
        }
    }
    out
}

fn data_on(frames: &[(String, Frame)], dir: &str, ch: u8) -> Vec<u8> {
    frames
        .iter()
        .filter(|(d, _)| d == dir)
        .filter_map(|(_, f)| match f {
            Frame::Data { channel, payload } if *channel == ch => Some(payload.to_vec()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn outcome(frames: &[(String, Frame)]) -> ExitOutcome {
    decode_error_channel(Version::V5, &data_on(frames, "s2c", id::ERROR)).expect("valid status")
}

fn opened_with_empty_stdout(frames: &[(String, Frame)]) {
    let first = frames.iter().find(|(d, _)| d == "s2c").map(|(_, f)| f.clone());
    assert_eq!(first, Some(Frame::Data { channel: id::STDOUT, payload: Bytes::new() }));
}

#[test]
fn stdin_eof_is_a_v5_close_and_the_output_is_complete() {
    let capture = Capture::load("exec-ws-v5-stdin-eof.jsonl");
    let frames = channel_frames(&capture);
    opened_with_empty_stdout(&frames);
    assert_eq!(data_on(&frames, "c2s", id::STDIN), b"hello\nworld\n");
    let c2s: Vec<&Frame> = frames.iter().filter(|(d, _)| d == "c2s").map(|(_, f)| f).collect();
    assert_eq!(c2s.last(), Some(&&Frame::Close { channel: id::STDIN }));
    assert_eq!(
        data_on(&frames, "s2c", id::STDOUT),
        capture.meta["kubectl_stdout"].as_str().expect("out").as_bytes()
    );
    assert_eq!(outcome(&frames), ExitOutcome::Success);
    assert_eq!(outcome(&frames).process_exit_code(), capture.exit_code().expect("code"));
}

#[test]
fn exit_code_3_arrives_as_a_non_zero_exit_status() {
    let capture = Capture::load("exec-ws-v5-exit-code.jsonl");
    let frames = channel_frames(&capture);
    assert_eq!(data_on(&frames, "s2c", id::STDOUT), b"out\n");
    assert_eq!(data_on(&frames, "s2c", id::STDERR), b"err\n");
    assert_eq!(outcome(&frames), ExitOutcome::ExitCode(3));
    assert_eq!(capture.exit_code(), Some(3));
}

#[test]
fn tty_sends_sizes_on_the_resize_channel_and_never_closes_stdin() {
    let capture = Capture::load("exec-ws-v5-tty-resize.jsonl");
    let frames = channel_frames(&capture);
    let mut sizes = Vec::new();
    let mut decoder = ResizeDecoder::new();
    for (_, f) in frames.iter().filter(|(d, _)| d == "c2s") {
        match f {
            Frame::Data { channel: id::RESIZE, payload } => {
                sizes.extend(decoder.feed(payload).expect("resize JSON"));
            }
            Frame::Close { .. } => panic!("a TTY session never sends CLOSE"),
            Frame::Data { .. } => {}
        }
    }
    let size = |width, height| TerminalSize { width, height };
    assert_eq!(sizes, vec![size(80, 24), size(132, 40)]);
    assert_eq!(size(80, 24).encode(), b"{\"Width\":80,\"Height\":24}\n");
    let typed = String::from_utf8(data_on(&frames, "c2s", id::STDIN)).expect("utf8");
    assert!(typed.starts_with("ls\r") && typed.contains("exit\r"), "{typed:?}");
    assert_eq!(outcome(&frames), ExitOutcome::Success);
}

#[test]
fn attach_uses_the_same_channel_protocol() {
    let capture = Capture::load("attach-ws-v5.jsonl");
    let request = capture.layer("http").next().expect("request")["text"].as_str().expect("text");
    assert!(request.starts_with("GET /api/v1/namespaces/default/pods/nginx/attach?"));
    let frames = channel_frames(&capture);
    assert_eq!(data_on(&frames, "c2s", id::STDIN), b"typed\n");
    assert_eq!(outcome(&frames).process_exit_code(), capture.exit_code().expect("code"));
}

#[test]
fn heartbeat_pings_every_5s_and_the_server_pongs() {
    let capture = Capture::load("exec-ws-v5-heartbeat.jsonl");
    channel_frames(&capture);
    let all = frames(&capture);
    let pings: Vec<f64> = all
        .iter()
        .filter(|f| f.dir == "c2s" && f.opcode == OpCode::Control(Control::Ping))
        .map(|f| f.t)
        .collect();
    let pongs =
        all.iter().filter(|f| f.dir == "s2c" && f.opcode == OpCode::Control(Control::Pong)).count();
    assert_eq!(pings.len(), 2);
    assert!((pings[0] - 5.0).abs() < 0.5 && (pings[1] - 10.0).abs() < 0.5, "{pings:?}");
    assert_eq!(pongs, 2);
}

#[test]
fn without_pongs_kubectl_still_sends_close_as_it_dies() {
    let capture = Capture::load("exec-ws-v5-no-pong-timeout.jsonl");
    let frames = channel_frames(&capture);
    let all = self::frames(&capture);
    assert!(all.iter().all(|f| f.opcode != OpCode::Control(Control::Pong)), "server never pongs");
    let pings = all.iter().filter(|f| f.opcode == OpCode::Control(Control::Ping)).count();
    assert!(pings >= 10, "a ping every 5 s for ~61 s, got {pings}");
    assert!(frames.iter().any(|(d, f)| d == "c2s" && *f == Frame::Close { channel: id::STDIN }));
    assert_eq!(capture.exit_code(), Some(1));
}
