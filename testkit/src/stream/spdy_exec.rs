//! Exec and attach over SPDY, as the kubelet/CRI serves them (spec §5): wait for the client's
//! streams, run, then status on the error stream, FIN on output streams, RST on the rest, GOAWAY.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tether_wire::channel::{ResizeDecoder, Version};
use tether_wire::spdy::{Event, HeaderBlock, Role, RstStatus, Session as Spdy, StreamId};

use super::Session;
use super::exec::{self, Feed, Running, status_bytes, status_for};
use super::spdy::Transport;
use crate::runtime::{Input, Output};

const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The stream types the client must open for these options and this version.
fn expected(session: &Session, version: Version) -> Vec<&'static str> {
    let o = &session.opts;
    let mut want = vec!["error"];
    if o.stdin {
        want.push("stdin");
    }
    if o.stdout {
        want.push("stdout");
    }
    if o.stderr {
        want.push("stderr");
    }
    if o.tty && version.has_resize() {
        want.push("resize");
    }
    want
}

struct Conn {
    spdy: Spdy,
    transport: Transport,
    streams: HashMap<&'static str, StreamId>,
    early: Vec<Input>,
}

impl Conn {
    fn id(&self, kind: &str) -> Option<StreamId> {
        self.streams.get(kind).copied()
    }

    /// Turns events into process input; false when the client has gone.
    fn events(&mut self, resize: &mut ResizeDecoder, inputs: &mut Vec<Input>) -> bool {
        loop {
            let event = match super::spdy::next_event(&mut self.spdy) {
                Ok(Some(e)) => e,
                Ok(None) => return true,
                Err(()) => return false,
            };
            match event {
                Event::StreamOpened { stream_id, headers, .. } => {
                    let kind = match headers.get("streamtype") {
                        Some("error") => "error",
                        Some("stdin") => "stdin",
                        Some("stdout") => "stdout",
                        Some("stderr") => "stderr",
                        Some("resize") => "resize",
                        _ => {
                            self.spdy.reset(stream_id, RstStatus::CANCEL);
                            continue;
                        }
                    };
                    let _replied = self.spdy.reply(stream_id, &HeaderBlock::new(), false);
                    self.streams.insert(kind, stream_id);
                }
                Event::Data { stream_id, data, fin } if Some(stream_id) == self.id("stdin") => {
                    if !data.is_empty() {
                        inputs.push(Input::Data(data));
                    }
                    if fin {
                        inputs.push(Input::Eof);
                    }
                }
                Event::Data { stream_id, data, .. } if Some(stream_id) == self.id("resize") => {
                    if let Ok(sizes) = resize.feed(&data) {
                        inputs.extend(sizes.into_iter().map(Input::Resize));
                    }
                }
                Event::Reset { stream_id, .. } if Some(stream_id) == self.id("stdin") => {
                    inputs.push(Input::Eof)
                }
                Event::GoAway { .. } => return false,
                _ => {}
            }
        }
    }

    /// The kubelet's end: status, FIN on outputs, RST on the rest, GOAWAY, close.
    async fn end(mut self, status: Option<Vec<u8>>) {
        if let (Some(status), Some(error)) = (status, self.id("error")) {
            let _gone = self.spdy.send_data(error, Bytes::from(status), false);
        }
        for kind in ["stdout", "stderr"] {
            if let Some(id) = self.id(kind) {
                let _gone = self.spdy.finish(id);
            }
        }
        for kind in ["error", "stdin", "resize"] {
            if let Some(id) = self.id(kind) {
                self.spdy.reset(id, RstStatus::CANCEL);
            }
        }
        self.spdy.go_away(0);
        let _gone = self.transport.send(&mut self.spdy).await;
        self.transport.close().await;
    }
}

pub(super) async fn serve(session: Session, transport: Transport, version: Version) {
    let want = expected(&session, version);
    let mut conn = Conn {
        spdy: Spdy::with_header_compression(
            Role::Server,
            session.ctx.cluster.config.header_compression(),
        ),
        transport,
        streams: HashMap::new(),
        early: Vec::new(),
    };
    let mut resize = ResizeDecoder::new();
    let deadline = tokio::time::Instant::now() + STREAM_CREATION_TIMEOUT;
    while !want.iter().all(|k| conn.streams.contains_key(k)) {
        let received = tokio::time::timeout_at(deadline, conn.transport.recv()).await;
        let Ok(Ok(Some(bytes))) = received else {
            tracing::debug!("client did not open its streams in time");
            return;
        };
        conn.spdy.receive(bytes);
        let mut early = std::mem::take(&mut conn.early);
        let alive = conn.events(&mut resize, &mut early);
        conn.early = early;
        if !alive || conn.transport.send(&mut conn.spdy).await.is_err() {
            return;
        }
    }
    let mut running = match exec::start(&session) {
        Ok(r) => r,
        Err(status) => return conn.end(status_for(version, &status)).await,
    };
    let mut feed = running.feed();
    for input in std::mem::take(&mut conn.early) {
        running.accept(&mut feed, input);
    }
    run(session, conn, running, feed, resize, version).await;
}

async fn run(
    session: Session,
    mut conn: Conn,
    mut running: Running,
    mut feed: Feed,
    mut resize: ResizeDecoder,
    version: Version,
) {
    let close = session.ctx.entry.close.clone();
    let mut inputs = Vec::new();
    loop {
        tokio::select! {
            () = feed.hand_over(), if feed.busy() => {}
            received = conn.transport.recv(), if !feed.busy() => {
                let Ok(Some(bytes)) = received else { return };
                conn.spdy.receive(bytes);
                if !conn.events(&mut resize, &mut inputs) {
                    return;
                }
                for input in inputs.drain(..) {
                    running.accept(&mut feed, input);
                }
            }
            out = running.output() => {
                let (kind, bytes) = match out {
                    Some(Output::Stdout(b)) => ("stdout", b),
                    Some(Output::Stderr(b)) => ("stderr", b),
                    None => {
                        let outcome = running.outcome().await;
                        return conn.end(status_bytes(version, &outcome)).await;
                    }
                };
                if let Some(id) = conn.id(kind) {
                    let _gone = conn.spdy.send_data(id, bytes, false);
                }
            }
            () = close.cancelled() => return conn.end(None).await,
        }
        if conn.transport.send(&mut conn.spdy).await.is_err() {
            return;
        }
    }
}
