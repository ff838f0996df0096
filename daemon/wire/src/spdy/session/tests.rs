//! Session tests: a client and a server session talking through byte streams cut anywhere.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;

/// Moves every pending byte from `from` to `to`, cut into `cut`-sized pieces (0 = one piece),
/// with a zero-length piece between them as kubectl's tunnel sends, and returns `to`'s events.
fn pump(from: &mut Session, to: &mut Session, cut: usize) -> Vec<Event> {
    let mut wire = BytesMut::new();
    while let Some(chunk) = from.poll_transmit() {
        wire.extend_from_slice(&chunk);
    }
    assert_eq!(from.pending_transmit(), 0);
    let wire = wire.freeze();
    let step = if cut == 0 { wire.len().max(1) } else { cut };
    let mut events = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        let end = (at + step).min(wire.len());
        to.receive(wire.slice(at..end));
        to.receive(Bytes::new());
        at = end;
        while let Some(e) = to.poll_event().expect("valid stream") {
            events.push(e);
        }
    }
    events
}

fn headers(streamtype: &str, request: &str) -> HeaderBlock {
    HeaderBlock::from_pairs([("streamtype", streamtype), ("port", "80"), ("requestid", request)])
}

#[test]
fn port_forward_pair_round_trip() {
    let mut client = Session::new(Role::Client);
    let mut server = Session::new(Role::Server);
    let error = client.open_stream(&headers("error", "0"), false).expect("open");
    let data = client.open_stream(&headers("data", "0"), false).expect("open");
    assert_eq!((error, data), (1, 3));
    client.send_data(data, Bytes::from_static(b"GET / HTTP/1.0\r\n\r\n"), true).expect("send");

    let events = pump(&mut client, &mut server, 3);
    assert!(
        matches!(&events[0], Event::StreamOpened { stream_id: 1, headers, fin: false } if headers.get("streamtype") == Some("error"))
    );
    assert!(
        matches!(&events[1], Event::StreamOpened { stream_id: 3, headers, .. } if headers.get("requestid") == Some("0"))
    );
    // Early data on a peer stream is delivered: the kubelet replies before it reads data.
    assert_eq!(
        events[2],
        Event::Data {
            stream_id: 3,
            data: Bytes::from_static(b"GET / HTTP/1.0\r\n\r\n"),
            fin: true
        }
    );

    server.reply(1, &HeaderBlock::new(), false).expect("reply");
    server.reply(3, &HeaderBlock::new(), false).expect("reply");
    server.send_data(3, Bytes::from(vec![b'x'; 5000]), true).expect("send");
    server.finish(1).expect("finish error stream");
    let events = pump(&mut server, &mut client, 7);
    assert_eq!(
        events[0],
        Event::StreamReplied { stream_id: 1, headers: HeaderBlock::new(), fin: false }
    );
    assert_eq!(
        events[1],
        Event::StreamReplied { stream_id: 3, headers: HeaderBlock::new(), fin: false }
    );
    let body: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            Event::Data { stream_id: 3, data, .. } => Some(data.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(body, vec![b'x'; 5000]);
    assert!(!client.is_open(data), "both sides finished the data stream");
    assert!(client.is_open(error), "client has not finished the error stream");
}

#[test]
fn data_before_reply_on_own_stream_is_dropped_like_spdystream() {
    let mut client = Session::new(Role::Client);
    let mut server = Session::new(Role::Server);
    let id = client.open_stream(&headers("data", "0"), false).expect("open");
    pump(&mut client, &mut server, 0);
    // A misbehaving server that sends DATA before SYN_REPLY.
    server.send_data(id, Bytes::from_static(b"early"), false).expect("send");
    server.reply(id, &HeaderBlock::new(), false).expect("reply");
    server.send_data(id, Bytes::from_static(b"late"), false).expect("send");
    let events = pump(&mut server, &mut client, 0);
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1],
        Event::Data { stream_id: id, data: Bytes::from_static(b"late"), fin: false }
    );
}

#[test]
fn pings_are_echoed_by_the_other_parity_and_matched_by_the_sender() {
    let mut client = Session::new(Role::Client);
    let mut server = Session::new(Role::Server);
    assert_eq!(client.ping(), 1);
    assert_eq!(client.ping(), 3);
    assert!(pump(&mut client, &mut server, 0).is_empty(), "server echoes silently");
    assert_eq!(
        pump(&mut server, &mut client, 0),
        vec![Event::Pong { id: 1 }, Event::Pong { id: 3 }]
    );
    assert_eq!(server.ping(), 2);
    pump(&mut server, &mut client, 0);
    assert_eq!(pump(&mut client, &mut server, 0), vec![Event::Pong { id: 2 }]);
}

#[test]
fn stream_ids_going_backwards_are_reset_with_protocol_error() {
    let mut server = Session::new(Role::Server);
    let mut hc = HeaderCompressor::new();
    let mut wire = BytesMut::new();
    for id in [5u32, 3, 5, 2] {
        let header_block = hc.compress(&headers("data", "0"));
        Frame::SynStream {
            stream_id: id,
            assoc_stream_id: 0,
            priority: 0,
            slot: 0,
            flags: 0,
            header_block,
        }
        .encode(&mut wire);
    }
    server.receive(wire.freeze());
    let mut opened = Vec::new();
    while let Some(e) = server.poll_event().expect("valid") {
        if let Event::StreamOpened { stream_id, .. } = e {
            opened.push(stream_id);
        }
    }
    assert_eq!(opened, vec![5]);
    let mut resets = Vec::new();
    let mut out = ChunkBuf::new();
    while let Some(b) = server.poll_transmit() {
        out.push(b);
    }
    while let Some(f) = decode_frame(&mut out).expect("valid") {
        resets.push(f);
    }
    let rst = |stream_id| Frame::RstStream { stream_id, status: RstStatus::PROTOCOL_ERROR };
    assert_eq!(resets, vec![rst(3), rst(5), rst(2)]);
}

#[test]
fn goaway_stops_reading_and_names_the_last_peer_stream() {
    let mut client = Session::new(Role::Client);
    let mut server = Session::new(Role::Server);
    client.open_stream(&headers("error", "0"), false).expect("open");
    client.open_stream(&headers("data", "0"), false).expect("open");
    pump(&mut client, &mut server, 0);
    server.go_away(0);
    server.go_away(0);
    let _ = server.ping();
    let events = pump(&mut server, &mut client, 0);
    assert_eq!(
        events,
        vec![Event::GoAway { last_good_stream_id: 3, status: 0 }],
        "nothing after GOAWAY"
    );
    assert!(client.is_closed());
    assert_eq!(client.open_stream(&HeaderBlock::new(), false), Err(SessionError::GoneAway));
    // A server tolerates frames after its own GOAWAY but ignores new streams.
    let mut client = Session::new(Role::Client);
    let mut server = Session::new(Role::Server);
    let first = client.open_stream(&headers("data", "0"), false).expect("open");
    pump(&mut client, &mut server, 0);
    server.go_away(0);
    client.open_stream(&headers("data", "1"), false).expect("open before seeing GOAWAY");
    client.send_data(first, Bytes::from_static(b"late"), false).expect("send");
    let events = pump(&mut client, &mut server, 0);
    assert_eq!(
        events,
        vec![Event::Data { stream_id: first, data: Bytes::from_static(b"late"), fin: false }]
    );
}

#[test]
fn reset_is_only_sent_when_this_side_has_not_finished() {
    let mut client = Session::new(Role::Client);
    let mut server = Session::new(Role::Server);
    let a = client.open_stream(&headers("data", "0"), false).expect("open");
    let b = client.open_stream(&headers("data", "1"), true).expect("open");
    assert!(client.reset(a, RstStatus::CANCEL));
    assert!(!client.reset(b, RstStatus::CANCEL), "already finished: no RST");
    assert!(!client.reset(99, RstStatus::CANCEL));
    let events = pump(&mut client, &mut server, 0);
    assert_eq!(events.last(), Some(&Event::Reset { stream_id: a, status: RstStatus::CANCEL }));
    assert_eq!(client.send_data(a, Bytes::new(), true), Err(SessionError::UnknownStream(a)));
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let mut client = Session::new(Role::Client);
    let id = client.open_stream(&HeaderBlock::new(), false).expect("open");
    assert_eq!(client.reply(id, &HeaderBlock::new(), false), Err(SessionError::CannotReply(id)));
    client.finish(id).expect("finish");
    assert_eq!(client.finish(id), Err(SessionError::StreamFinished(id)));
}

#[test]
fn a_bad_frame_fails_the_session_for_good() {
    let mut server = Session::new(Role::Server);
    server.receive(Bytes::from_static(&[0x80, 0x03, 0x00, 0x05, 0, 0, 0, 0]));
    assert_eq!(server.poll_event(), Err(SessionError::Frame(FrameError::UnknownControlType(5))));
    assert!(server.is_closed());
    server.receive(Frame::Ping { id: 1 }.to_bytes());
    assert_eq!(server.poll_event(), Ok(None));
}

proptest! {
    #[test]
    fn many_streams_survive_any_cut(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3000), 1..12), cut in 0usize..40) {
        let mut client = Session::new(Role::Client);
        let mut server = Session::new(Role::Server);
        let mut ids = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            let id = client.open_stream(&headers("data", &i.to_string()), false).expect("open");
            client.send_data(id, Bytes::from(p.clone()), true).expect("send");
            ids.push(id);
        }
        let mut got = vec![Vec::new(); payloads.len()];
        let mut fins = 0;
        for e in pump(&mut client, &mut server, cut) {
            match e {
                Event::StreamOpened { stream_id, .. } => server.reply(stream_id, &HeaderBlock::new(), false).expect("reply"),
                Event::Data { stream_id, data, fin } => {
                    let i = ids.iter().position(|x| *x == stream_id).expect("known");
                    got[i].extend_from_slice(&data);
                    fins += usize::from(fin);
                }
                other => prop_assert!(false, "unexpected {other:?}"),
            }
        }
        prop_assert_eq!(fins, payloads.len());
        prop_assert_eq!(got, payloads);
    }

    #[test]
    fn session_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), server in any::<bool>()) {
        let mut s = Session::new(if server { Role::Server } else { Role::Client });
        s.receive(Bytes::from(bytes));
        while let Ok(Some(_)) = s.poll_event() {}
    }
}
