//! Port-forward upgrades through `kube::Client::send`, with Tether's negotiation and fallback:
//! the SPDY tunnel in WebSocket first, then the legacy WebSocket channel protocol (one
//! connection per WebSocket), then raw SPDY/3.1. A refusal or an unexpected subprotocol moves
//! on to the next; a network failure does not (as kubectl, spec §2.2).

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use tether_wire::negotiate::{self, PORT_FORWARD, PORT_FORWARD_TUNNEL, V4_CHANNEL};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::KubeCluster;
use crate::cluster::ClusterError;
use crate::tunnel::legacy::{Dialer, LegacyTunnel};
use crate::tunnel::spdy::SpdyTunnel;
use crate::tunnel::transport::{BoxIo, Transport, Ws, ws_config};
use crate::tunnel::{Protocol, Tunnel, TunnelError};

/// Why one attempt failed.
pub(super) enum Failure {
    /// The server refused this protocol; try the next.
    Fallback(ClusterError),
    /// Give up (network failure, or credentials refused after a refresh).
    Fatal(ClusterError),
}

impl From<Failure> for ClusterError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Fallback(e) | Failure::Fatal(e) => e,
        }
    }
}

/// Opens a tunnel to `pod`, trying `hint` first. The legacy protocol is probed with one
/// connection to `probe_port`.
pub(super) async fn port_forward(
    cluster: &KubeCluster,
    pod: &str,
    probe_port: u16,
    hint: Option<Protocol>,
) -> Result<Tunnel, ClusterError> {
    let mut order = vec![Protocol::WebSocketTunnel, Protocol::WebSocketChannels, Protocol::Spdy];
    if let Some(h) = hint {
        order.retain(|p| *p != h);
        order.insert(0, h);
    }
    let mut refusals = Vec::new();
    for protocol in order {
        let attempt = cluster.with_refresh(|client| async move {
            match attempt(cluster, client, pod, probe_port, protocol).await {
                Ok(t) => Ok(Ok(t)),
                Err(Failure::Fatal(e @ ClusterError::Unauthorized(_))) => Err(e),
                Err(f) => Ok(Err(f)),
            }
        });
        match attempt.await? {
            Ok(tunnel) => return Ok(tunnel),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Fallback(e)) => {
                tracing::debug!(protocol = protocol.as_str(), error = %e, "falling back");
                refusals.push(e);
            }
        }
    }
    Err(worst(refusals))
}

/// The refusal to report when every protocol was refused.
pub(super) fn worst(refusals: Vec<ClusterError>) -> ClusterError {
    let all_forbidden =
        !refusals.is_empty() && refusals.iter().all(|e| matches!(e, ClusterError::Forbidden(_)));
    if all_forbidden {
        return refusals.into_iter().next().unwrap_or(ClusterError::Protocol(String::new()));
    }
    if let Some(nf) = refusals.iter().find(|e| matches!(e, ClusterError::NotFound(_))) {
        return nf.clone();
    }
    let text: Vec<String> = refusals.iter().map(ToString::to_string).collect();
    ClusterError::Protocol(text.join("; "))
}

async fn attempt(
    cluster: &KubeCluster,
    client: kube::Client,
    pod: &str,
    probe_port: u16,
    protocol: Protocol,
) -> Result<Tunnel, Failure> {
    let path = format!("/api/v1/namespaces/{}/pods/{pod}/portforward", cluster.namespace);
    match protocol {
        Protocol::WebSocketTunnel => {
            let ws = websocket(&client, &path, PORT_FORWARD_TUNNEL).await?;
            let transport = Transport::Ws(Box::new(ws));
            Ok(Tunnel::new(Arc::new(SpdyTunnel::start(
                transport,
                protocol,
                cluster.liveness,
                &cluster.cancel,
                &cluster.tracker,
            ))))
        }
        Protocol::WebSocketChannels => {
            // The protocol needs a port to prove itself: one connection to the first port.
            let probe =
                websocket(&client, &format!("{path}?ports={probe_port}"), V4_CHANNEL).await?;
            drop(probe);
            let dialer = Arc::new(LegacyDialer { client, path });
            Ok(Tunnel::new(Arc::new(LegacyTunnel::new(
                dialer,
                cluster.liveness,
                &cluster.cancel,
                &cluster.tracker,
            ))))
        }
        Protocol::Spdy => {
            let io = spdy(&client, &path).await?;
            let transport = Transport::raw(io);
            Ok(Tunnel::new(Arc::new(SpdyTunnel::start(
                transport,
                protocol,
                cluster.liveness,
                &cluster.cancel,
                &cluster.tracker,
            ))))
        }
    }
}

/// Classifies a non-101 answer: 401 is fatal (after the refresh), anything else falls back.
pub(super) async fn refused(resp: http::Response<kube::client::Body>) -> Failure {
    let code = resp.status().as_u16();
    let body =
        match tokio::time::timeout(std::time::Duration::from_secs(5), resp.into_body().collect())
            .await
        {
            Ok(Ok(b)) => b.to_bytes(),
            _ => Bytes::new(),
        };
    let json = serde_json::from_slice::<serde_json::Value>(&body).ok();
    let message = json
        .as_ref()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_owned());
    let reason = json.as_ref().and_then(|v| v["reason"].as_str().map(str::to_owned));
    let error = match (code, reason) {
        (401 | 403 | 404, _) | (_, None) => super::status_error(code, message),
        (_, Some(reason)) => ClusterError::Rejected { code, reason, message },
    };
    if code == 401 { Failure::Fatal(error) } else { Failure::Fallback(error) }
}

async fn send(
    client: &kube::Client,
    req: Request<kube::client::Body>,
) -> Result<http::Response<kube::client::Body>, Failure> {
    client.send(req).await.map_err(|e| match super::classify(&e) {
        e @ ClusterError::Unauthorized(_) => Failure::Fatal(e),
        ClusterError::Connection(m) => Failure::Fatal(ClusterError::Connection(m)),
        other => Failure::Fallback(other),
    })
}

async fn upgraded(resp: http::Response<kube::client::Body>) -> Result<BoxIo, Failure> {
    let upgraded = hyper::upgrade::on(resp).await.map_err(|e| {
        Failure::Fatal(ClusterError::Connection(format!("the upgrade failed: {e}")))
    })?;
    Ok(Box::new(TokioIo::new(upgraded)))
}

/// A WebSocket upgrade offering exactly `protocol`.
async fn websocket(client: &kube::Client, path: &str, protocol: &str) -> Result<Ws, Failure> {
    websocket_offering(client, path, &[protocol]).await.map(|(ws, _)| ws)
}

/// A WebSocket upgrade offering `offers` (in one header, preferred first); the socket and the
/// protocol the server chose.
pub(super) async fn websocket_offering(
    client: &kube::Client,
    path: &str,
    offers: &[&str],
) -> Result<(Ws, String), Failure> {
    let key = generate_key();
    let protocol = negotiate::ws_offer_header(offers);
    let req = Request::get(path)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, &key)
        .header(header::SEC_WEBSOCKET_PROTOCOL, protocol.as_str())
        .body(kube::client::Body::empty())
        .map_err(|e| Failure::Fatal(ClusterError::Protocol(e.to_string())))?;
    let resp = send(client, req).await?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(refused(resp).await);
    }
    let headers = resp.headers();
    let accept = headers.get(header::SEC_WEBSOCKET_ACCEPT).and_then(|v| v.to_str().ok());
    if accept != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Err(Failure::Fallback(ClusterError::Protocol("bad Sec-WebSocket-Accept".into())));
    }
    let answer = headers.get(header::SEC_WEBSOCKET_PROTOCOL).and_then(|v| v.to_str().ok());
    let chosen = negotiate::ws_check_answer(offers, answer)
        .map_err(|e| Failure::Fallback(ClusterError::Protocol(e.to_string())))?
        .to_owned();
    let io = upgraded(resp).await?;
    Ok((WebSocketStream::from_raw_socket(io, Role::Client, Some(ws_config())).await, chosen))
}

/// A raw SPDY/3.1 upgrade for port-forward.
async fn spdy(client: &kube::Client, path: &str) -> Result<BoxIo, Failure> {
    let (io, answer) = spdy_offering(client, path, &[PORT_FORWARD]).await?;
    negotiate::spdy_check_port_forward(answer.as_deref())
        .map_err(|e| Failure::Fallback(ClusterError::Protocol(e.to_string())))?;
    Ok(io)
}

/// A raw SPDY/3.1 upgrade offering `versions` (one header line each, as kubectl sends them);
/// the connection and the version the server echoed.
pub(super) async fn spdy_offering(
    client: &kube::Client,
    path: &str,
    versions: &[&str],
) -> Result<(BoxIo, Option<String>), Failure> {
    let mut req = Request::post(path)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, negotiate::SPDY_UPGRADE)
        .header(header::CONTENT_LENGTH, "0");
    for v in versions {
        req = req.header(negotiate::HEADER_STREAM_PROTOCOL, *v);
    }
    let req = req
        .body(kube::client::Body::empty())
        .map_err(|e| Failure::Fatal(ClusterError::Protocol(e.to_string())))?;
    let resp = send(client, req).await?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(refused(resp).await);
    }
    let answer = resp
        .headers()
        .get(negotiate::HEADER_STREAM_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((upgraded(resp).await?, answer))
}

/// Dials one legacy WebSocket per connection.
struct LegacyDialer {
    client: kube::Client,
    path: String,
}

impl std::fmt::Debug for LegacyDialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyDialer").field("path", &self.path).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Dialer for LegacyDialer {
    async fn dial(&self, port: u16) -> Result<Ws, TunnelError> {
        let path = format!("{}?ports={port}", self.path);
        websocket(&self.client, &path, V4_CHANNEL)
            .await
            .map_err(|f| TunnelError::Dial(ClusterError::from(f).to_string()))
    }
}
