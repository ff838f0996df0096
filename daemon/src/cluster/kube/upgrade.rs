//! Port-forward upgrades through `kube::Client::send`, with Tether's negotiation and fallback:
//! the SPDY tunnel in WebSocket first, then the legacy WebSocket channel protocol (one
//! connection per WebSocket), then raw SPDY/3.1.
//!
//! Only an answer that shows the protocol itself is not spoken there moves on to the next one:
//! a 101 with another subprotocol, or a refusal without a `metav1.Status` (the kubelet's own
//! handshake refusals, which an older API server passes through: x/net's empty 403, the
//! WebSocket port-forward's plain-text 400). A Status with a 4xx or 5xx code is the server's
//! real answer and ends the negotiation (kubectl would try SPDY too, and get the same answer),
//! and so does a network failure (as kubectl, spec §2.2).

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
use super::status::{self, Needs};
use crate::cluster::ClusterError;
use crate::tunnel::legacy::{Dialer, LegacyTunnel};
use crate::tunnel::spdy::SpdyTunnel;
use crate::tunnel::transport::{BoxIo, Transport, Ws, ws_config};
use crate::tunnel::{Protocol, Tunnel, TunnelError};

/// Why one attempt failed.
pub(super) enum Failure {
    /// The server does not speak this protocol (what it answered); try the next.
    Unsupported(String),
    /// The server answered for real, or could not be reached: stop negotiating.
    Fatal(ClusterError),
}

impl From<Failure> for ClusterError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Unsupported(answer) => Self::Protocol(answer),
            Failure::Fatal(e) => e,
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
    let mut unsupported = Vec::new();
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
            Err(Failure::Unsupported(answer)) => {
                tracing::debug!(protocol = protocol.as_str(), %answer, "not spoken: falling back");
                unsupported.push(format!("{} ({answer})", protocol.as_str()));
            }
        }
    }
    Err(ClusterError::Protocol(format!(
        "the cluster speaks none of the port-forward protocols tetherd knows; tried {}",
        unsupported.join(", ")
    )))
}

/// What a port-forward upgrade needs (since 1.35 a WebSocket upgrade needs `create` too).
fn port_forward_needs(namespace: &str) -> Needs<'_> {
    Needs { verb: "create", resource: "pods/portforward", namespace }
}

async fn attempt(
    cluster: &KubeCluster,
    client: kube::Client,
    pod: &str,
    probe_port: u16,
    protocol: Protocol,
) -> Result<Tunnel, Failure> {
    let path = format!("/api/v1/namespaces/{}/pods/{pod}/portforward", cluster.namespace);
    let needs = port_forward_needs(&cluster.namespace);
    match protocol {
        Protocol::WebSocketTunnel => {
            let ws = websocket(&client, &path, PORT_FORWARD_TUNNEL, needs).await?;
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
            let probe_path = format!("{path}?ports={probe_port}");
            let probe = websocket(&client, &probe_path, V4_CHANNEL, needs).await?;
            drop(probe);
            let namespace = cluster.namespace.clone();
            let plugin = cluster.plugin();
            let dialer = Arc::new(LegacyDialer { client, path, namespace, plugin });
            Ok(Tunnel::new(Arc::new(LegacyTunnel::new(
                dialer,
                cluster.liveness,
                &cluster.cancel,
                &cluster.tracker,
            ))))
        }
        Protocol::Spdy => {
            let io = spdy(&client, &path, needs).await?;
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

/// Classifies a non-101 answer: a Status is the server's real answer (401 then goes through the
/// credential refresh); no Status means the protocol is not spoken there.
pub(super) async fn refused(resp: http::Response<kube::client::Body>, needs: Needs<'_>) -> Failure {
    let code = resp.status().as_u16();
    let body =
        match tokio::time::timeout(std::time::Duration::from_secs(5), resp.into_body().collect())
            .await
        {
            Ok(Ok(b)) => b.to_bytes(),
            _ => Bytes::new(),
        };
    match status::Status::parse(code, &body) {
        Some(s) => Failure::Fatal(status::error(s, Some(needs))),
        None => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned();
            Failure::Unsupported(if text.is_empty() {
                code.to_string()
            } else {
                format!("{code}: {text}")
            })
        }
    }
}

async fn send(
    client: &kube::Client,
    req: Request<kube::client::Body>,
) -> Result<http::Response<kube::client::Body>, Failure> {
    client.send(req).await.map_err(|e| Failure::Fatal(super::classify(&e)))
}

async fn upgraded(resp: http::Response<kube::client::Body>) -> Result<BoxIo, Failure> {
    let upgraded = hyper::upgrade::on(resp).await.map_err(|e| {
        Failure::Fatal(ClusterError::Connection(format!("the upgrade failed: {e}")))
    })?;
    Ok(Box::new(TokioIo::new(upgraded)))
}

/// A WebSocket upgrade offering exactly `protocol`.
async fn websocket(
    client: &kube::Client,
    path: &str,
    protocol: &str,
    needs: Needs<'_>,
) -> Result<Ws, Failure> {
    websocket_offering(client, path, &[protocol], needs).await.map(|(ws, _)| ws)
}

/// A WebSocket upgrade offering `offers` (in one header, preferred first); the socket and the
/// protocol the server chose.
pub(super) async fn websocket_offering(
    client: &kube::Client,
    path: &str,
    offers: &[&str],
    needs: Needs<'_>,
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
        return Err(refused(resp, needs).await);
    }
    let headers = resp.headers();
    let accept = headers.get(header::SEC_WEBSOCKET_ACCEPT).and_then(|v| v.to_str().ok());
    if accept != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Err(Failure::Unsupported("a bad Sec-WebSocket-Accept".into()));
    }
    let answer = headers.get(header::SEC_WEBSOCKET_PROTOCOL).and_then(|v| v.to_str().ok());
    let chosen = negotiate::ws_check_answer(offers, answer)
        .map_err(|e| Failure::Unsupported(e.to_string()))?
        .to_owned();
    let io = upgraded(resp).await?;
    Ok((WebSocketStream::from_raw_socket(io, Role::Client, Some(ws_config())).await, chosen))
}

/// A raw SPDY/3.1 upgrade for port-forward.
async fn spdy(client: &kube::Client, path: &str, needs: Needs<'_>) -> Result<BoxIo, Failure> {
    let (io, answer) = spdy_offering(client, path, &[PORT_FORWARD], needs).await?;
    negotiate::spdy_check_port_forward(answer.as_deref())
        .map_err(|e| Failure::Unsupported(e.to_string()))?;
    Ok(io)
}

/// A raw SPDY/3.1 upgrade offering `versions` (one header line each, as kubectl sends them);
/// the connection and the version the server echoed.
pub(super) async fn spdy_offering(
    client: &kube::Client,
    path: &str,
    versions: &[&str],
    needs: Needs<'_>,
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
        return Err(refused(resp, needs).await);
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
    namespace: String,
    /// The credential plugin the client runs, for messages.
    plugin: Option<String>,
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
        websocket(&self.client, &path, V4_CHANNEL, port_forward_needs(&self.namespace))
            .await
            .map_err(|f| {
                let e = super::explain(ClusterError::from(f), self.plugin.as_deref());
                TunnelError::Dial(e.to_string())
            })
    }
}
