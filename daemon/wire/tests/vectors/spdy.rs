//! SPDY captures, raw (fallback) and tunnelled in WebSocket: every frame decodes to its annotation
//! from a byte stream cut the way it travelled, header blocks inflate in order with one context
//! per direction, and a client and a server session replay the whole conversation.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::Value;
use tether_wire::channel::{
    ExitOutcome, ResizeDecoder, TerminalSize, Version, decode_error_channel,
};
use tether_wire::spdy::{
    ChunkBuf, Event, Frame, HeaderBlock, HeaderDecompressor, HeaderRole, Role, RstStatus, Session,
    decode_frame,
};

use crate::capture::{Capture, hex};

/// The chunks a frame's bytes travelled in: WebSocket messages in the tunnel (zero-length ones
/// included), or the raw wire cut into 5-byte pieces to exercise reassembly.
fn chunks(event: &Value) -> Vec<Bytes> {
    match event["ws_messages"].as_array() {
        Some(messages) => messages.iter().map(|m| Bytes::from(hex(m))).collect(),
        None => hex(&event["wire"]).chunks(5).map(Bytes::copy_from_slice).collect(),
    }
}

fn spdy_events(capture: &Capture) -> Vec<&Value> {
    capture
        .events
        .iter()
        .filter(|e| matches!(e["layer"].as_str(), Some("spdy" | "spdy-in-ws")))
        .collect()
}

fn type_name(frame: &Frame) -> &'static str {
    match frame {
        Frame::SynStream { .. } => "SYN_STREAM",
        Frame::SynReply { .. } => "SYN_REPLY",
        Frame::RstStream { .. } => "RST_STREAM",
        Frame::Settings { .. } => "SETTINGS",
        Frame::Ping { .. } => "PING",
        Frame::GoAway { .. } => "GOAWAY",
        Frame::Headers { .. } => "HEADERS",
        Frame::WindowUpdate { .. } => "WINDOW_UPDATE",
        Frame::Data { .. } => "DATA",
    }
}

fn num(v: &Value) -> u64 {
    v.as_u64().expect("number")
}

/// Checks one decoded frame against its annotation, inflating header blocks with `inflate`.
fn check(frame: &Frame, note: &Value, inflate: &mut HeaderDecompressor) {
    assert_eq!(type_name(frame), note["type"], "{note}");
    let wire = frame.to_bytes();
    assert_eq!((wire.len() - 8) as u64, num(&note["length"]), "length of {note}");
    let (block, role) = match frame {
        Frame::SynStream { stream_id, assoc_stream_id, priority, slot, flags, header_block } => {
            assert_eq!(u64::from(*stream_id), num(&note["stream_id"]));
            assert_eq!(u64::from(*assoc_stream_id), num(&note["assoc_stream_id"]));
            assert_eq!(u64::from(*priority), num(&note["priority"]));
            assert_eq!(u64::from(*slot), num(&note["slot"]));
            assert_eq!(u64::from(*flags), num(&note["flags"]));
            (Some(header_block), HeaderRole::Request)
        }
        Frame::SynReply { stream_id, flags, header_block } => {
            assert_eq!(u64::from(*stream_id), num(&note["stream_id"]));
            assert_eq!(u64::from(*flags), num(&note["flags"]));
            (Some(header_block), HeaderRole::Response)
        }
        Frame::RstStream { stream_id, status } => {
            assert_eq!(u64::from(*stream_id), num(&note["stream_id"]));
            assert_eq!(u64::from(status.0), num(&note["status"]));
            assert_eq!(*status, RstStatus::CANCEL, "Kubernetes resets with CANCEL");
            (None, HeaderRole::Request)
        }
        Frame::Ping { id } => {
            assert_eq!(u64::from(*id), num(&note["ping_id"]));
            (None, HeaderRole::Request)
        }
        Frame::GoAway { last_good_stream_id, status } => {
            assert_eq!(u64::from(*last_good_stream_id), num(&note["last_good_stream_id"]));
            assert_eq!(u64::from(*status), num(&note["status"]));
            (None, HeaderRole::Request)
        }
        Frame::Data { stream_id, flags, data } => {
            assert_eq!(u64::from(*stream_id), num(&note["stream_id"]));
            assert_eq!(u64::from(*flags), num(&note["flags"]));
            assert_eq!(hex::encode(data), note["data_hex"]);
            (None, HeaderRole::Request)
        }
        other => panic!("kubectl never sends {other:?}"),
    };
    if let Some(block) = block {
        assert_eq!(hex::encode(block), note["header_block_compressed"]);
        let headers = inflate.decompress(block, role).expect("header block inflates in order");
        assert_eq!(hex::encode(headers.encode_plain()), note["header_block_plain"]);
        let want: Vec<(String, String)> =
            serde_json::from_value(note["headers"].clone()).expect("header pairs");
        let got: Vec<(String, String)> =
            headers.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        assert_eq!(got, want);
    }
}

/// Decodes every SPDY frame of a capture per connection and direction, from its chunks.
fn decode_and_check(capture: &Capture) -> usize {
    let mut streams: HashMap<(u64, String), (ChunkBuf, HeaderDecompressor)> = HashMap::new();
    let mut count = 0;
    for event in spdy_events(capture) {
        let key = (num(&event["conn"]), event["dir"].as_str().expect("dir").to_owned());
        let (buf, inflate) = streams.entry(key).or_default();
        for chunk in chunks(event) {
            buf.push(chunk);
        }
        let frame = decode_frame(buf).expect("valid frame").expect("a whole frame per event");
        assert_eq!(frame.to_bytes(), Bytes::from(hex(&event["wire"])), "re-encodes exactly");
        check(&frame, &event["frame"], inflate);
        assert!(buf.is_empty(), "no bytes left over");
        count += 1;
    }
    count
}

/// Events seen by a server session fed kubectl's bytes and a client session fed the server's.
#[derive(Default)]
struct Replay {
    server: Vec<Event>,
    client: Vec<Event>,
}

impl Replay {
    fn run(capture: &Capture) -> Self {
        let mut server = Session::new(Role::Server);
        let mut client = Session::new(Role::Client);
        let mut replay = Self::default();
        for event in spdy_events(capture) {
            let note = &event["frame"];
            if event["dir"] == "c2s" {
                if note["type"] == "SYN_STREAM" {
                    // Mirror kubectl's stream creation so the client session expects the reply.
                    let pairs: Vec<(String, String)> =
                        serde_json::from_value(note["headers"].clone()).expect("pairs");
                    let headers = HeaderBlock::from_pairs(
                        pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                    );
                    let id = client.open_stream(&headers, false).expect("open");
                    assert_eq!(
                        u64::from(id),
                        num(&note["stream_id"]),
                        "same id sequence as kubectl"
                    );
                }
                for chunk in chunks(event) {
                    server.receive(chunk);
                }
                while let Some(e) = server.poll_event().expect("server accepts kubectl's bytes") {
                    if let Event::StreamOpened { stream_id, .. } = &e {
                        server.reply(*stream_id, &HeaderBlock::new(), false).expect("reply");
                    }
                    replay.server.push(e);
                }
            } else {
                for chunk in chunks(event) {
                    client.receive(chunk);
                }
                while let Some(e) = client.poll_event().expect("client accepts the server's bytes")
                {
                    replay.client.push(e);
                }
            }
        }
        replay
    }

    fn opened(&self) -> Vec<(u32, String)> {
        self.server
            .iter()
            .filter_map(|e| match e {
                Event::StreamOpened { stream_id, headers, .. } => {
                    let mut desc: Vec<String> =
                        headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
                    desc.sort();
                    Some((*stream_id, desc.join(",")))
                }
                _ => None,
            })
            .collect()
    }

    fn data(events: &[Event], stream: u32) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut finished = false;
        for e in events {
            if let Event::Data { stream_id, data, fin } = e
                && *stream_id == stream
            {
                out.extend_from_slice(data);
                finished |= fin;
            }
        }
        (out, finished)
    }
}

fn pf(stream: u32, kind: &str, port: u16, request: u32) -> (u32, String) {
    (stream, format!("port={port},requestid={request},streamtype={kind}"))
}

#[test]
fn tunnel_carries_two_connections_with_error_and_data_pairs() {
    let capture = Capture::load("portforward-ws-tunnel.jsonl");
    assert_eq!(decode_and_check(&capture), 23);
    let replay = Replay::run(&capture);
    assert_eq!(
        replay.opened(),
        vec![
            pf(1, "error", 80, 0),
            pf(3, "data", 80, 0),
            pf(5, "error", 80, 1),
            pf(7, "data", 80, 1)
        ]
    );
    assert_eq!(Replay::data(&replay.server, 1), (vec![], true), "error stream half-closed at once");
    assert_eq!(Replay::data(&replay.server, 3).0, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n");
    let (body, fin) = Replay::data(&replay.client, 3);
    assert!(body.starts_with(b"HTTP/1.0 200 OK") && fin);
    assert!(replay.server.contains(&Event::Reset { stream_id: 3, status: RstStatus::CANCEL }));
    assert!(replay.client.contains(&Event::Pong { id: 1 }), "server echoed kubectl's ping");
    assert_eq!(replay.server.last(), Some(&Event::GoAway { last_good_stream_id: 0, status: 0 }));
    let empty = capture
        .layer("spdy-in-ws")
        .flat_map(|e| e["ws_messages"].as_array().expect("msgs").iter())
        .filter(|m| *m == "")
        .count();
    assert!(empty >= 2, "zero-length messages follow each empty DATA+FIN");
}

#[test]
fn tunnel_half_close_finishes_the_data_stream_without_reset() {
    let capture = Capture::load("portforward-ws-tunnel-halfclose.jsonl");
    decode_and_check(&capture);
    let replay = Replay::run(&capture);
    assert_eq!(Replay::data(&replay.server, 3), (b"ping-1\n".to_vec(), true));
    assert_eq!(Replay::data(&replay.client, 3), (b"echo:ping-1\n".to_vec(), true));
    assert!(
        !replay.server.iter().any(|e| matches!(e, Event::Reset { .. })),
        "no RST when both finished"
    );
}

#[test]
fn tunnel_error_text_arrives_on_the_error_stream_then_resets() {
    let capture = Capture::load("portforward-ws-tunnel-error.jsonl");
    decode_and_check(&capture);
    let replay = Replay::run(&capture);
    let (text, _) = Replay::data(&replay.client, 1);
    let text = String::from_utf8(text).expect("text");
    assert!(text.starts_with("error forwarding port 81 to pod"), "{text}");
    assert!(replay.client.contains(&Event::Reset { stream_id: 3, status: RstStatus::CANCEL }));
    assert!(replay.client.contains(&Event::Reset { stream_id: 1, status: RstStatus::CANCEL }));
    assert!(
        matches!(replay.server.last(), Some(Event::GoAway { .. })),
        "kubectl gives up the whole tunnel"
    );
    assert_eq!(capture.exit_code(), Some(1));
}

#[test]
fn tunnel_client_echoes_server_pings_and_stops_at_goaway() {
    let capture = Capture::load("portforward-ws-tunnel-server-ping-goaway.jsonl");
    decode_and_check(&capture);
    let replay = Replay::run(&capture);
    let pongs: Vec<&Event> =
        replay.server.iter().filter(|e| matches!(e, Event::Pong { .. })).collect();
    assert_eq!(
        pongs,
        vec![&Event::Pong { id: 2 }, &Event::Pong { id: 4 }],
        "kubectl echoed even ids"
    );
    assert_eq!(replay.client.last(), Some(&Event::GoAway { last_good_stream_id: 3, status: 0 }));
}

#[test]
fn port_forward_over_raw_spdy_after_fallback() {
    let capture = Capture::load("portforward-fallback-to-spdy.jsonl");
    decode_and_check(&capture);
    let replay = Replay::run(&capture);
    assert_eq!(replay.opened(), vec![pf(1, "error", 80, 0), pf(3, "data", 80, 0)]);
    assert!(replay.client.contains(&Event::Pong { id: 1 }));
    let ping_at = capture.sent("spdy", "c2s").find(|e| e["frame"]["type"] == "PING").expect("ping")
        ["t"]
        .as_f64();
    assert!(ping_at.is_some_and(|t| (t - 5.0).abs() < 0.5), "direct SPDY pings every 5 s");
}

fn exec_streams(replay: &Replay) -> Vec<(u32, String)> {
    replay.opened()
}

#[test]
fn exec_over_spdy_opens_streams_in_order_and_reports_success() {
    let capture = Capture::load("exec-fallback-to-spdy.jsonl");
    decode_and_check(&capture);
    let replay = Replay::run(&capture);
    let st = |id, t: &str| (id, format!("streamtype={t}"));
    assert_eq!(
        exec_streams(&replay),
        vec![st(1, "error"), st(3, "stdin"), st(5, "stdout"), st(7, "stderr")]
    );
    assert_eq!(
        Replay::data(&replay.server, 3),
        (b"hello\n".to_vec(), true),
        "stdin EOF is DATA+FIN"
    );
    assert_eq!(Replay::data(&replay.client, 5), (b"hello\n".to_vec(), true));
    let status = Replay::data(&replay.client, 1).0;
    assert_eq!(decode_error_channel(Version::V4, &status), Ok(ExitOutcome::Success));
    assert!(matches!(
        replay.client.last(),
        Some(Event::GoAway { last_good_stream_id: 0, status: 0 })
    ));
}

#[test]
fn exec_over_spdy_reports_exit_code_3() {
    let capture = Capture::load("exec-spdy-exit-code.jsonl");
    decode_and_check(&capture);
    let replay = Replay::run(&capture);
    assert_eq!(Replay::data(&replay.client, 3).0, b"out\n");
    assert_eq!(Replay::data(&replay.client, 5).0, b"err\n");
    let status = Replay::data(&replay.client, 1).0;
    let outcome = decode_error_channel(Version::V4, &status).expect("status");
    assert_eq!(outcome, ExitOutcome::ExitCode(3));
    assert_eq!(Some(outcome.process_exit_code()), capture.exit_code());
}

#[test]
fn exec_tty_over_spdy_opens_resize_last_and_sends_sizes() {
    let capture = Capture::load("exec-spdy-tty-resize.jsonl");
    decode_and_check(&capture);
    let replay = Replay::run(&capture);
    let st = |id, t: &str| (id, format!("streamtype={t}"));
    assert_eq!(
        exec_streams(&replay),
        vec![st(1, "error"), st(3, "stdin"), st(5, "stdout"), st(7, "resize")]
    );
    let sizes = ResizeDecoder::new().feed(&Replay::data(&replay.server, 7).0).expect("sizes");
    let size = |width, height| TerminalSize { width, height };
    assert_eq!(sizes, vec![size(80, 24), size(132, 40)]);
    // The server tore down first; kubectl's later RSTs and GOAWAY reach a server that must cope.
    assert!(replay.client.iter().any(|e| matches!(e, Event::GoAway { .. })));
}
