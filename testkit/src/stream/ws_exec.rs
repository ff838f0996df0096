//! Exec and attach over the WebSocket channel protocols, as the apiserver translator (v5) and
//! the kubelet's legacy server (v4 and older) run them (spec §4.3).

use futures_util::{SinkExt as _, StreamExt as _};
use tether_wire::channel::{ChannelCodec, Encoding, Frame, MessageKind, ResizeDecoder, id};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{
    CloseCode, Data as DataCode, OpCode,
};

use super::Session;
use super::exec::{self, Feed, Running, status_bytes, status_for};
use super::ws::Ws;
use crate::runtime::{Input, Output};

fn message(codec: &ChannelCodec, channel: u8, payload: &[u8]) -> Message {
    let bytes = codec.encode(channel, payload);
    match codec.message_kind() {
        MessageKind::Binary => Message::Binary(bytes),
        MessageKind::Text => Message::Text(String::from_utf8_lossy(&bytes).into_owned().into()),
    }
}

async fn finish(ws: &mut Ws, codec: &ChannelCodec, status: Option<Vec<u8>>) {
    if let Some(status) = status {
        let _gone = ws.send(message(codec, id::ERROR, &status)).await;
    }
    let close = CloseFrame { code: CloseCode::Normal, reason: "".into() };
    let _gone = ws.close(Some(close)).await;
}

pub(super) async fn serve(session: Session, mut ws: Ws, codec: ChannelCodec) {
    let opts = session.opts.clone();
    let close = session.ctx.entry.close.clone();
    if ws
        .send(message(&codec, ChannelCodec::initial_channel(opts.stdout, opts.stderr), &[]))
        .await
        .is_err()
    {
        return;
    }
    let translator = codec.version() == tether_wire::channel::Version::V5;
    if translator && !opts.any_stdio() {
        // The kubelet refuses the translator's SPDY upgrade with plain text; client-go makes
        // that "unable to upgrade connection: ...", and the translator an InternalError.
        let status =
            exec::internal_error(&format!("unable to upgrade connection: {}", super::NO_STDIO));
        return finish(&mut ws, &codec, status_for(codec.version(), &status)).await;
    }
    let mut running = match exec::start(&session) {
        Ok(r) => r,
        Err(status) => {
            let status = if translator { exec::translated(&status) } else { *status };
            return finish(&mut ws, &codec, status_for(codec.version(), &status)).await;
        }
    };
    let mut resize = ResizeDecoder::new();
    let mut feed = running.feed();
    loop {
        tokio::select! {
            () = feed.hand_over(), if feed.busy() => {}
            incoming = ws.next(), if !feed.busy() => {
                let msg = match incoming {
                    Some(Ok(m)) => m,
                    // The client went away: dropping `running` kills an exec'd process.
                    _ => return,
                };
                let (kind, payload) = match msg {
                    Message::Binary(b) => (MessageKind::Binary, b),
                    Message::Text(t) => (MessageKind::Text, bytes::Bytes::from(t)),
                                        Message::Close(_) => {
                        running.accept(&mut feed, Input::Eof);
                        return after_close(ws, &codec, running, feed, &opts).await;
                    }
                    _ => continue,
                };
                if payload.is_empty() {
                    continue;
                }
                // x/net accepts text frames on binary protocols (the Python client sends them).
                let kind = if codec.encoding() == Encoding::Binary { MessageKind::Binary } else { kind };
                match codec.decode(kind, payload) {
                                        Ok(Frame::Data { channel: id::STDIN, payload }) if opts.stdin => running.accept(&mut feed, Input::Data(payload)),
                    Ok(Frame::Close { channel: id::STDIN }) => running.accept(&mut feed, Input::Eof),
                    Ok(Frame::Data { channel: id::RESIZE, payload }) if opts.tty => match resize.feed(&payload) {
                        Ok(sizes) => for size in sizes { running.accept(&mut feed, Input::Resize(size)) },
                        Err(e) => tracing::debug!(error = %e, "bad resize message"),
                    },
                    // Writes to channels nobody reads are dropped, as the servers do.
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "dropping connection after a malformed message");
                        return;
                    }
                }
            }
            out = running.output() => match out {
                Some(Output::Stdout(b)) if opts.stdout => { if ws.send(message(&codec, id::STDOUT, &b)).await.is_err() { return } }
                Some(Output::Stderr(b)) if opts.stderr => { if ws.send(message(&codec, id::STDERR, &b)).await.is_err() { return } }
                Some(_) => {}
                None => {
                    let outcome = running.outcome().await;
                    return finish(&mut ws, &codec, status_bytes(codec.version(), &outcome)).await;
                }
            },
            () = close.cancelled() => return finish(&mut ws, &codec, None).await,
        }
    }
}

/// A WebSocket frame written by hand: the server's frames are unmasked.
fn raw_frame(codec: &ChannelCodec, channel: u8, payload: &[u8]) -> Vec<u8> {
    let opcode = match codec.message_kind() {
        MessageKind::Binary => OpCode::Data(DataCode::Binary),
        MessageKind::Text => OpCode::Data(DataCode::Text),
    };
    let mut out = Vec::with_capacity(payload.len() + 16);
    let _infallible =
        WsFrame::message(codec.encode(channel, payload), opcode, true).format(&mut out);
    out
}

/// After a client's close frame, as x/net's server behaves (kubernetes' `wsstream`): the close
/// is the end of input, never answered by itself; output still flows, then the status and the
/// server's own close. This is how a v4 client's stdin EOF works (spec §4.3). tungstenite would
/// refuse to send after a close, so the rest is written as raw frames.
async fn after_close(
    ws: Ws,
    codec: &ChannelCodec,
    mut running: Running,
    mut feed: Feed,
    opts: &super::Options,
) {
    use tokio::io::AsyncWriteExt as _;
    // Not flushed: tungstenite has queued its answer to the close, which x/net never sends.
    // Everything sent before was flushed by `send`.
    let mut io = ws.into_inner();
    loop {
        tokio::select! {
            () = feed.hand_over(), if feed.busy() => {}
            out = running.output() => {
                let frame = match out {
                    Some(Output::Stdout(b)) if opts.stdout => raw_frame(codec, id::STDOUT, &b),
                    Some(Output::Stderr(b)) if opts.stderr => raw_frame(codec, id::STDERR, &b),
                    Some(_) => continue,
                    None => break,
                };
                if io.write_all(&frame).await.is_err() {
                    return;
                }
            }
        }
    }
    let outcome = running.outcome().await;
    let mut tail = status_bytes(codec.version(), &outcome)
        .map(|s| raw_frame(codec, id::ERROR, &s))
        .unwrap_or_default();
    let close = CloseFrame { code: CloseCode::Normal, reason: "".into() };
    let _infallible = WsFrame::close(Some(close)).format(&mut tail);
    let _gone = io.write_all(&tail).await;
    let _gone = io.shutdown().await;
}
