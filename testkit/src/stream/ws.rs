//! WebSocket upgrades: subprotocol selection as the apiserver and the kubelet do it, the
//! handshake answer, and dispatch to the channel, legacy port-forward or tunnel sessions.

use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tether_wire::channel::{ChannelCodec, Encoding, Version};
use tether_wire::negotiate::{self, PORT_FORWARD, PORT_FORWARD_TUNNEL, TUNNEL_PREFIX};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::{Kind, Session, switch};
use crate::rest::{Body, bare, plain};

/// The upgraded WebSocket of a session.
pub(crate) type Ws = WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

/// Legacy remote-command protocols of the kubelet's WebSocket server.
const LEGACY_EXEC: [&str; 4] = [
    negotiate::V4_CHANNEL,
    negotiate::V4_BASE64_CHANNEL,
    negotiate::V1_CHANNEL,
    negotiate::V1_BASE64_CHANNEL,
];
/// Legacy port-forward protocols of the kubelet's WebSocket server (or none at all).
const LEGACY_PF: [&str; 2] = [negotiate::V4_CHANNEL, negotiate::V4_BASE64_CHANNEL];

enum Plan {
    Channel(ChannelCodec, String),
    LegacyPortForward(Encoding, String),
    Tunnel,
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default().max_message_size(Some(16 << 20)).max_frame_size(Some(16 << 20))
}

/// Whether the client offers `v5.channel.k8s.io` in its first `Sec-WebSocket-Protocol` line
/// (x/net reads only that one).
pub(super) fn offers_v5(req: &Request<Incoming>) -> bool {
    first_protocol_line(req)
        .is_some_and(|l| negotiate::split_protocols(l).any(|p| p == negotiate::V5_CHANNEL))
}

/// The first `Sec-WebSocket-Protocol` line, the only one x/net reads.
fn first_protocol_line(req: &Request<Incoming>) -> Option<&str> {
    req.headers().get(header::SEC_WEBSOCKET_PROTOCOL).and_then(|v| v.to_str().ok())
}

pub(super) fn upgrade(
    session: Session,
    req: &Request<Incoming>,
    upgrade: hyper::upgrade::OnUpgrade,
    span: tracing::Span,
) -> Response<Body> {
    let Some(key) =
        req.headers().get(header::SEC_WEBSOCKET_KEY).map(|k| derive_accept_key(k.as_bytes()))
    else {
        return plain(StatusCode::BAD_REQUEST, "websocket: missing Sec-WebSocket-Key");
    };
    let first_line = first_protocol_line(req);
    let offers: Vec<&str> =
        first_line.map(|l| negotiate::split_protocols(l).collect()).unwrap_or_default();
    let modern = !session.ctx.cluster.config.old_cluster;
    // x/net's handshake refusal: a bare 403, no Status. An API server that does not translate
    // passes the kubelet's answer through, so clients see the protocol is not spoken there.
    let forbidden = || bare(StatusCode::FORBIDDEN);
    let plan = match session.kind {
        Kind::Exec | Kind::Attach if modern && offers_v5(req) => Plan::Channel(
            ChannelCodec::new(Version::V5, Encoding::Binary),
            negotiate::V5_CHANNEL.into(),
        ),
        Kind::Exec | Kind::Attach => {
            let chosen = if offers.is_empty() {
                Some("")
            } else {
                negotiate::ws_select(first_line, &LEGACY_EXEC)
            };
            let Some(chosen) = chosen else { return forbidden() };
            let Some((version, encoding)) = negotiate::remote_command_version(chosen) else {
                return forbidden();
            };
            Plan::Channel(ChannelCodec::new(version, encoding), chosen.into())
        }
        Kind::PortForward if modern && offers.iter().any(|o| negotiate::is_tunnel_protocol(o)) => {
            // The apiserver offers the rest of the name to the kubelet over SPDY.
            let inner: Vec<&str> =
                offers.iter().filter_map(|o| o.strip_prefix(TUNNEL_PREFIX)).collect();
            if negotiate::spdy_select(inner, &[PORT_FORWARD]).is_err() {
                return forbidden();
            }
            Plan::Tunnel
        }
        Kind::PortForward => {
            if session.opts.ports.is_empty() {
                // The kubelet's `NewV4Options`: WriteHeader(400), then the error as text.
                return plain(StatusCode::BAD_REQUEST, "query parameter \"port\" is required");
            }
            let chosen = if offers.is_empty() {
                Some("")
            } else {
                negotiate::ws_select(first_line, &LEGACY_PF)
            };
            let Some(chosen) = chosen else { return forbidden() };
            let encoding = if chosen == negotiate::V4_BASE64_CHANNEL {
                Encoding::Base64
            } else {
                Encoding::Binary
            };
            Plan::LegacyPortForward(encoding, chosen.into())
        }
    };
    let protocol = match &plan {
        Plan::Channel(_, p) | Plan::LegacyPortForward(_, p) => p.clone(),
        Plan::Tunnel => PORT_FORWARD_TUNNEL.into(),
    };
    let audit = format!("websocket:{protocol}");
    let mut headers = vec![
        (header::UPGRADE, "websocket".to_owned()),
        (header::CONNECTION, "Upgrade".to_owned()),
        (header::SEC_WEBSOCKET_ACCEPT, key),
    ];
    if !protocol.is_empty() {
        headers.push((header::SEC_WEBSOCKET_PROTOCOL, protocol));
    }
    switch(session, upgrade, &headers, audit, span, move |session, io| async move {
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config())).await;
        match plan {
            Plan::Channel(codec, _) => super::ws_exec::serve(session, ws, codec).await,
            Plan::LegacyPortForward(encoding, _) => {
                super::ws_pf::serve(session, ws, encoding).await
            }
            Plan::Tunnel => {
                super::spdy_pf::serve(session, super::spdy::Transport::tunnel(ws)).await
            }
        }
    })
}
