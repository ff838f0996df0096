//! Fuzzes the SPDY/3.1 `Session` state machine in both roles: raw and well-formed peer frames in,
//! API calls (open_stream, reply, send_data, finish, reset, ping, go_away) chosen by the input,
//! events and transmit bytes drained; a second session of the opposite role reads everything it
//! sends and must accept it.
#![no_main]

use std::collections::HashMap;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tether_wire::spdy::{
    Event, FLAG_FIN, FLAG_UNIDIRECTIONAL, Frame, HeaderBlock, HeaderCompressor, Role, RstStatus,
    Session, Setting, StreamId,
};

/// Upper bound on operations per input, so one input cannot run for long.
const MAX_OPS: usize = 512;

/// Header names the session may send; values come from the input.
const NAMES: [&str; 4] = ["streamtype", "port", "requestid", "x-fuzz"];

fuzz_target!(|data: &[u8]| {
    for role in [Role::Client, Role::Server] {
        Harness::new(role, data).run();
    }
});

/// Reads the input as a sequence of operations.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn u32(&mut self) -> Option<u32> {
        let (word, rest) = self.data.split_first_chunk::<4>()?;
        self.data = rest;
        Some(u32::from_be_bytes(*word))
    }

    /// A length byte, then up to that many bytes.
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(self.byte()?).min(self.data.len());
        let (out, rest) = self.data.split_at(len);
        self.data = rest;
        Some(out)
    }

    /// A stream id: one of `known` (even tag byte) or a small or full 32-bit id.
    fn stream_id(&mut self, known: &[StreamId]) -> Option<StreamId> {
        let b = self.byte()?;
        Some(match (b & 1, b >> 1) {
            (0, i) if !known.is_empty() => known[usize::from(i) % known.len()],
            (_, 0x7f) => self.u32()?,
            (_, i) => u32::from(i),
        })
    }

    fn headers(&mut self) -> Option<HeaderBlock> {
        let mask = self.byte()?;
        let mut block = HeaderBlock::new();
        for (i, name) in NAMES.iter().enumerate() {
            if mask & (1 << i) != 0 {
                let value = String::from_utf8_lossy(self.bytes()?).into_owned();
                block.insert(name, &value);
            }
        }
        Some(block)
    }
}

struct Harness<'a> {
    input: Input<'a>,
    session: Session,
    /// Reads what `session` transmits; it must never see a malformed frame or header block.
    observer: Session,
    /// Compresses header blocks of the frames the fuzzer builds for the peer side.
    peer_deflate: HeaderCompressor,
    /// Stream ids seen so far, to aim operations at live streams.
    known: Vec<StreamId>,
    /// Headers `session` sent on the streams it opened, which the observer must see.
    sent_headers: HashMap<StreamId, HeaderBlock>,
}

impl<'a> Harness<'a> {
    fn new(role: Role, data: &'a [u8]) -> Self {
        let peer = match role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        };
        Self {
            input: Input { data },
            session: Session::new(role),
            observer: Session::new(peer),
            peer_deflate: HeaderCompressor::new(),
            known: Vec::new(),
            sent_headers: HashMap::new(),
        }
    }

    fn run(mut self) {
        for _ in 0..MAX_OPS {
            if self.step().is_none() {
                break;
            }
        }
        self.drain_events();
        self.flush();
    }

    /// Runs one operation; `None` when the input is used up.
    fn step(&mut self) -> Option<()> {
        let op = self.input.byte()?;
        match op % 16 {
            // Raw bytes from the peer, cut anywhere.
            0 | 1 => {
                let chunk = Bytes::copy_from_slice(self.input.bytes()?);
                self.session.receive(chunk);
            }
            // Well-formed frames from the peer, with header blocks from its compressor.
            2 => {
                let stream_id = self.input.stream_id(&self.known)?;
                let flags = self.input.byte()? & (FLAG_FIN | FLAG_UNIDIRECTIONAL);
                let header_block = self.peer_deflate.compress(&self.input.headers()?);
                self.known.push(stream_id);
                self.peer_frame(&Frame::SynStream {
                    stream_id,
                    assoc_stream_id: 0,
                    priority: 0,
                    slot: 0,
                    flags,
                    header_block,
                });
            }
            3 => {
                let stream_id = self.input.stream_id(&self.known)?;
                let flags = self.input.byte()? & FLAG_FIN;
                let header_block = self.peer_deflate.compress(&self.input.headers()?);
                self.peer_frame(&Frame::SynReply { stream_id, flags, header_block });
            }
            4 => {
                let stream_id = self.input.stream_id(&self.known)?;
                let flags = self.input.byte()? & FLAG_FIN;
                let header_block = self.peer_deflate.compress(&self.input.headers()?);
                self.peer_frame(&Frame::Headers { stream_id, flags, header_block });
            }
            5 => {
                let stream_id = self.input.stream_id(&self.known)?;
                let flags = self.input.byte()?;
                let data = Bytes::copy_from_slice(self.input.bytes()?);
                self.peer_frame(&Frame::Data { stream_id, flags, data });
            }
            6 => {
                let stream_id = self.input.stream_id(&self.known)?;
                let status = RstStatus(self.input.byte()?.into());
                self.peer_frame(&Frame::RstStream { stream_id, status });
            }
            7 => {
                let frame = match self.input.byte()? % 4 {
                    0 => Frame::Ping { id: self.input.u32()? },
                    1 => Frame::GoAway {
                        last_good_stream_id: self.input.stream_id(&self.known)?,
                        status: self.input.byte()?.into(),
                    },
                    2 => Frame::WindowUpdate {
                        stream_id: self.input.stream_id(&self.known)?,
                        delta: self.input.u32()?,
                    },
                    _ => Frame::Settings {
                        flags: self.input.byte()?,
                        entries: vec![Setting { flags: 0, id: 7, value: self.input.u32()? }],
                    },
                };
                self.peer_frame(&frame);
            }
            // API calls.
            8 => {
                let headers = self.input.headers()?;
                let fin = self.input.byte()? & 1 != 0;
                if let Ok(stream_id) = self.session.open_stream(&headers, fin) {
                    self.known.push(stream_id);
                    self.sent_headers.insert(stream_id, headers);
                }
            }
            9 => {
                let stream_id = self.input.stream_id(&self.known)?;
                let headers = self.input.headers()?;
                let fin = self.input.byte()? & 1 != 0;
                let _ = self.session.reply(stream_id, &headers, fin);
            }
            10 => {
                let stream_id = self.input.stream_id(&self.known)?;
                let fin = self.input.byte()? & 1 != 0;
                // Up to 4080 bytes of one value, so small inputs reach the no-copy path (>= 1 KiB).
                let len = usize::from(self.input.byte()?) * 16;
                let data = Bytes::from(vec![self.input.byte()?; len]);
                let _ = self.session.send_data(stream_id, data, fin);
            }
            11 => {
                let stream_id = self.input.stream_id(&self.known)?;
                let _ = self.session.finish(stream_id);
            }
            12 => {
                let stream_id = self.input.stream_id(&self.known)?;
                let status = RstStatus(u32::from(self.input.byte()? % 11) + 1);
                let was_open = self.session.is_open(stream_id);
                let sent = self.session.reset(stream_id, status);
                assert!(!sent || was_open, "reset sent RST_STREAM for an unknown stream");
                assert!(!self.session.is_open(stream_id), "stream still open after reset");
            }
            13 => {
                let id = self.session.ping();
                assert_ne!(id, 0, "ping id 0 is invalid");
            }
            14 => self.session.go_away(self.input.byte()?.into()),
            _ => self.flush(),
        }
        self.drain_events();
        Some(())
    }

    fn peer_frame(&mut self, frame: &Frame) {
        self.session.receive(frame.to_bytes());
    }

    /// Takes every event `session` has; remembers the streams the peer opened.
    fn drain_events(&mut self) {
        for _ in 0..4096 {
            match self.session.poll_event() {
                Ok(Some(Event::StreamOpened { stream_id, .. })) => self.known.push(stream_id),
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(_) => {
                    assert!(self.session.is_closed(), "a failed session is not closed");
                    assert_eq!(self.session.poll_event(), Ok(None));
                    return;
                }
            }
        }
        panic!("poll_event produced events without end");
    }

    /// Writes out everything `session` queued into the observer, which must accept it.
    fn flush(&mut self) {
        let pending = self.session.pending_transmit();
        let mut written = 0;
        while let Some(chunk) = self.session.poll_transmit() {
            written += chunk.len();
            self.observer.receive(chunk);
        }
        assert_eq!(written, pending, "pending_transmit did not match the bytes written");
        assert_eq!(self.session.pending_transmit(), 0);
        loop {
            match self.observer.poll_event() {
                Ok(Some(Event::StreamOpened { stream_id, headers, .. })) => {
                    let sent = self.sent_headers.get(&stream_id);
                    assert_eq!(
                        sent,
                        Some(&headers),
                        "stream {stream_id} arrived with other headers"
                    );
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => panic!("the session transmitted bytes its peer rejects: {e:?}"),
            }
        }
        // The observer's own answers (ping echoes, resets) are not fed back.
        while self.observer.poll_transmit().is_some() {}
    }
}
