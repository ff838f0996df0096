//! SPDY/3.1 upgrades and the byte transport under a SPDY session: raw TCP after an
//! `Upgrade: SPDY/3.1`, or the binary messages of the `SPDY/3.1+portforward.k8s.io` tunnel.

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt as _, StreamExt as _};
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tether_wire::negotiate::{self, NegotiationError, PORT_FORWARD, REMOTE_COMMAND_SPDY_KUBELET};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::ws::Ws;
use super::{Kind, Session, header_lines, switch};
use crate::rest::{Body, plain};

/// Where a SPDY session's bytes travel.
pub(crate) enum Transport {
    /// The upgraded TCP (TLS) connection itself.
    Raw { io: TokioIo<hyper::upgrade::Upgraded>, buf: BytesMut },
    /// WebSocket binary messages; their boundaries mean nothing.
    Tunnel(Box<Ws>),
}

const TUNNEL_MESSAGE: usize = 256 * 1024;

impl Transport {
    pub(crate) fn tunnel(ws: Ws) -> Self {
        Self::Tunnel(Box::new(ws))
    }

    /// The next received bytes; `None` at the end of the stream. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> std::io::Result<Option<Bytes>> {
        match self {
            Self::Raw { io, buf } => {
                buf.reserve(64 * 1024);
                let n = io.read_buf(buf).await?;
                Ok((n > 0).then(|| buf.split().freeze()))
            }
            Self::Tunnel(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Binary(b))) => return Ok(Some(b)),
                    Some(Ok(Message::Text(_))) => {
                        return Err(std::io::Error::other("text message in the SPDY tunnel"));
                    }
                    Some(Ok(Message::Close(_))) | None => return Ok(None),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(std::io::Error::other(e)),
                }
            },
        }
    }

    /// Writes everything `spdy` has queued.
    pub(crate) async fn send(
        &mut self,
        spdy: &mut tether_wire::spdy::Session,
    ) -> std::io::Result<()> {
        match self {
            Self::Raw { io, .. } => {
                while let Some(chunk) = spdy.poll_transmit() {
                    io.write_all(&chunk).await?;
                }
                io.flush().await
            }
            Self::Tunnel(ws) => {
                let mut pending = BytesMut::new();
                while let Some(chunk) = spdy.poll_transmit() {
                    pending.extend_from_slice(&chunk);
                    if pending.len() >= TUNNEL_MESSAGE {
                        ws.feed(Message::Binary(pending.split().freeze()))
                            .await
                            .map_err(std::io::Error::other)?;
                    }
                }
                if !pending.is_empty() {
                    ws.feed(Message::Binary(pending.freeze()))
                        .await
                        .map_err(std::io::Error::other)?;
                }
                ws.flush().await.map_err(std::io::Error::other)
            }
        }
    }

    /// Ends the transport: WebSocket close 1000, or a TCP shutdown.
    pub(crate) async fn close(&mut self) {
        match self {
            Self::Raw { io, .. } => {
                let _gone = io.shutdown().await;
            }
            Self::Tunnel(ws) => {
                let frame = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                let _gone = Ws::close(ws, Some(frame)).await;
            }
        }
    }
}

/// The next event of a SPDY session: `Ok(None)` when more bytes are needed, `Err(())` when the
/// session is over (it failed, and the connection must be dropped, or the peer went away).
pub(crate) fn next_event(
    spdy: &mut tether_wire::spdy::Session,
) -> Result<Option<tether_wire::spdy::Event>, ()> {
    match spdy.poll_event() {
        Ok(Some(event)) => Ok(Some(event)),
        Ok(None) if spdy.is_closed() => Err(()),
        Ok(None) => Ok(None),
        Err(e) => {
            tracing::debug!(error = %e, "dropping a SPDY connection that broke the protocol");
            Err(())
        }
    }
}

pub(super) fn upgrade(
    session: Session,
    req: &Request<Incoming>,
    upgrade: hyper::upgrade::OnUpgrade,
    span: tracing::Span,
) -> Response<Body> {
    let lines = header_lines(req, negotiate::HEADER_STREAM_PROTOCOL);
    let supported: &[&str] = if session.kind == Kind::PortForward {
        &[PORT_FORWARD]
    } else {
        &REMOTE_COMMAND_SPDY_KUBELET
    };
    let chosen = match negotiate::spdy_select(lines.iter().map(String::as_str), supported) {
        Ok(p) => p,
        // httpstream.Handshake answers with http.Error: plain text, no Status.
        Err(NegotiationError::Missing) => {
            let text = "unable to upgrade: X-Stream-Protocol-Version is required";
            return plain(StatusCode::BAD_REQUEST, text);
        }
        Err(e) => {
            let mut resp = plain(StatusCode::FORBIDDEN, &format!("unable to upgrade: {e}"));
            for v in supported {
                if let Ok(v) = http::HeaderValue::from_str(v) {
                    resp.headers_mut().append(negotiate::HEADER_ACCEPTED_PROTOCOLS, v);
                }
            }
            return resp;
        }
    };
    let headers = [
        (header::CONNECTION, "Upgrade".to_owned()),
        (header::UPGRADE, negotiate::SPDY_UPGRADE.to_owned()),
    ];
    let version = negotiate::remote_command_version(chosen).map(|(v, _)| v);
    let audit = format!("spdy:{chosen}");
    let mut resp = switch(session, upgrade, &headers, audit, span, move |session, io| async move {
        let transport = Transport::Raw { io, buf: BytesMut::new() };
        match (session.kind, version) {
            (Kind::PortForward, _) => super::spdy_pf::serve(session, transport).await,
            (_, Some(version)) => super::spdy_exec::serve(session, transport, version).await,
            (_, None) => {}
        }
    });
    if let Ok(v) = http::HeaderValue::from_str(chosen) {
        resp.headers_mut().append(negotiate::HEADER_STREAM_PROTOCOL, v);
    }
    resp
}
