//! Exec and attach over the WebSocket channel protocols, as the apiserver translator (v5) and
//! the kubelet's legacy server (v4 and older) run them (spec §4.3).

use futures_util::{SinkExt as _, StreamExt as _};
use tether_wire::channel::{ChannelCodec, Encoding, Frame, MessageKind, ResizeDecoder, id};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::Session;
use super::exec::{self, status_bytes, status_for};
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
    let mut running = match exec::start(&session) {
        Ok(r) => r,
        Err(status) => return finish(&mut ws, &codec, status_for(codec.version(), &status)).await,
    };
    let mut resize = ResizeDecoder::new();
    loop {
        tokio::select! {
            incoming = ws.next() => {
                let msg = match incoming {
                    Some(Ok(m)) => m,
                    // The client went away: dropping `running` kills an exec'd process.
                    _ => return,
                };
                let (kind, payload) = match msg {
                    Message::Binary(b) => (MessageKind::Binary, b),
                    Message::Text(t) => (MessageKind::Text, bytes::Bytes::from(t)),
                    Message::Close(_) => return,
                    _ => continue,
                };
                if payload.is_empty() {
                    continue;
                }
                // x/net accepts text frames on binary protocols (the Python client sends them).
                let kind = if codec.encoding() == Encoding::Binary { MessageKind::Binary } else { kind };
                match codec.decode(kind, payload) {
                    Ok(Frame::Data { channel: id::STDIN, payload }) if opts.stdin => running.input(Input::Data(payload)).await,
                    Ok(Frame::Close { channel: id::STDIN }) => running.input(Input::Eof).await,
                    Ok(Frame::Data { channel: id::RESIZE, payload }) if opts.tty => match resize.feed(&payload) {
                        Ok(sizes) => for size in sizes { running.input(Input::Resize(size)).await },
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
