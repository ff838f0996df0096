//! Streaming endpoints (`pods/{exec,attach,portforward}`): validation, protocol negotiation
//! and the upgrade, then the session on the upgraded connection.
//!
//! What is served depends on the emulated version. A modern cluster (1.32) answers
//! `v5.channel.k8s.io` with the apiserver's translator and `SPDY/3.1+portforward.k8s.io` with the
//! tunnel; anything else offered over WebSocket reaches the "kubelet's" legacy protocols (v4 and
//! older channel protocols, the `ports=` port-forward). The old-cluster switch serves only the
//! legacy ones, as Kubernetes 1.29 did. Raw SPDY/3.1 upgrades work in both.

mod exec;
mod pf;
mod spdy;
mod spdy_exec;
mod spdy_pf;
mod ws;
mod ws_exec;
mod ws_pf;

use std::sync::Arc;

use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tether_wire::negotiate;
use tracing::Instrument as _;

use crate::rest::{Body, bare, status};
use crate::server::ConnCtx;
use crate::store::Resource;

/// Which subresource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Exec,
    Attach,
    PortForward,
}

/// Parsed `PodExecOptions`, `PodAttachOptions` or `PodPortForwardOptions`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub command: Vec<String>,
    pub container: String,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
    pub ports: Vec<u16>,
}

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "1" | "True" | "TRUE")
}

impl Options {
    /// Whether any stream was asked for.
    pub(crate) fn any_stdio(&self) -> bool {
        self.stdin || self.stdout || self.stderr
    }

    fn parse(query: &str) -> Result<Self, String> {
        let mut o = Self::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "command" => o.command.push(v.into_owned()),
                "container" => o.container = v.into_owned(),
                "stdin" => o.stdin = truthy(&v),
                "stdout" => o.stdout = truthy(&v),
                "stderr" => o.stderr = truthy(&v),
                "tty" => o.tty = truthy(&v),
                "ports" | "port" => {
                    for p in v.split(',').filter(|p| !p.is_empty()) {
                        let port: u16 =
                            p.trim().parse().map_err(|_| format!("invalid port {p:?}"))?;
                        if port == 0 {
                            return Err("port must be between 1 and 65535".into());
                        }
                        o.ports.push(port);
                    }
                }
                _ => {}
            }
        }
        if o.tty {
            // A terminal merges stderr into stdout.
            o.stderr = false;
        }
        Ok(o)
    }
}

fn bad_request(message: &str) -> Response<Body> {
    status(StatusCode::BAD_REQUEST, "BadRequest", message)
}

fn header_has(req: &Request<Incoming>, name: header::HeaderName, token: &str) -> bool {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Handles an exec, attach or port-forward request.
pub(crate) async fn handle(
    ctx: Arc<ConnCtx>,
    mut req: Request<Incoming>,
    ns: &str,
    pod: &str,
    sub: &str,
) -> Response<Body> {
    let kind = match sub {
        "exec" => Kind::Exec,
        "attach" => Kind::Attach,
        _ => Kind::PortForward,
    };
    let cluster = &ctx.cluster;
    cluster.upgrades.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let Some(object) = cluster.store.get(Resource::Pods, ns, pod) else {
        return status(StatusCode::NOT_FOUND, "NotFound", &format!("pods \"{pod}\" not found"));
    };
    let opts = match Options::parse(req.uri().query().unwrap_or_default()) {
        Ok(o) => o,
        Err(e) => return bad_request(&e),
    };
    if let Some(code) = cluster.faults.reject_status() {
        let code = StatusCode::from_u16(code).unwrap_or(StatusCode::FORBIDDEN);
        return rejected(code, ns, pod, sub);
    }
    let websocket = header_has(&req, header::UPGRADE, "websocket");
    // The v5 translator upgrades first and finds out from the kubelet (see `ws_exec`).
    let translated = websocket && !cluster.config.old_cluster && ws::offers_v5(&req);
    if kind != Kind::PortForward {
        if let Err(message) = validate_target(&object, &opts, kind) {
            return bad_request(&message);
        }
        if !translated && !opts.any_stdio() {
            return bad_request(NO_STDIO);
        }
    }

    let Some(runtime_pod) = cluster.runtime.pod(ns, pod) else {
        return bad_request(&format!("pod {pod} is not running"));
    };
    let spdy = header_has(&req, header::UPGRADE, negotiate::SPDY_UPGRADE);
    let upgrade = hyper::upgrade::on(&mut req);
    let session = Session { ctx: ctx.clone(), pod: runtime_pod, kind, opts };
    let span = tracing::info_span!("stream", ?kind, namespace = %ns, %pod);
    if websocket {
        ws::upgrade(session, &req, upgrade, span.clone())
    } else if spdy {
        spdy::upgrade(session, &req, upgrade, span.clone())
    } else {
        bad_request("Upgrade request required")
    }
}

/// What a streaming session needs once upgraded.
pub(crate) struct Session {
    pub ctx: Arc<ConnCtx>,
    pub pod: Arc<crate::runtime::Pod>,
    pub kind: Kind,
    pub opts: Options,
}

/// An upgrade refused by the `reject-upgrades` fault, in the API server's words for the codes
/// real clusters send: RBAC's 403 (since 1.35 a WebSocket upgrade needs `create` on the
/// subresource), and the 500 of a proxy that cannot reach the node's kubelet.
fn rejected(code: StatusCode, ns: &str, pod: &str, sub: &str) -> Response<Body> {
    match code {
        StatusCode::FORBIDDEN => status(
            code,
            "Forbidden",
            &format!(
                "pods \"{pod}\" is forbidden: User \"tether-admin\" cannot create resource \
                 \"pods/{sub}\" in API group \"\" in the namespace \"{ns}\""
            ),
        ),
        StatusCode::INTERNAL_SERVER_ERROR => status(
            code,
            "InternalError",
            "error dialing backend: dial tcp 10.0.0.5:10250: connect: connection refused",
        ),
        _ => status(code, code.canonical_reason().unwrap_or("Rejected"), "upgrade rejected"),
    }
}

/// What the kubelet says to a remote command with no stream at all.
pub(crate) const NO_STDIO: &str = "you must specify at least 1 of stdin, stdout, stderr";

/// The checks the apiserver makes on exec and attach options (the streams are the kubelet's).
fn validate_target(pod: &serde_json::Value, opts: &Options, kind: Kind) -> Result<(), String> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    if kind == Kind::Exec && opts.command.is_empty() {
        return Err("you must specify at least one command for the container".into());
    }
    let containers = pod["spec"]["containers"].as_array().cloned().unwrap_or_default();
    if !opts.container.is_empty()
        && !containers.iter().any(|c| c["name"] == opts.container.as_str())
    {
        return Err(format!("container {} is not valid for pod {name}", opts.container));
    }
    if containers.len() > 1 && opts.container.is_empty() {
        return Err(format!("a container name must be specified for pod {name}"));
    }
    match pod["status"]["phase"].as_str() {
        Some("Succeeded" | "Failed") => Err(format!(
            "cannot {} into a container in a completed pod",
            if kind == Kind::Exec { "exec" } else { "attach" }
        )),
        _ => Ok(()),
    }
}

/// A 101 response with `headers`, and the session spawned once hyper hands over the connection.
/// `protocol` is what the audit log records: `websocket:` or `spdy:`, then the subprotocol.
fn switch<F, Fut>(
    session: Session,
    upgrade: hyper::upgrade::OnUpgrade,
    headers: &[(header::HeaderName, String)],
    protocol: String,
    span: tracing::Span,
    run: F,
) -> Response<Body>
where
    F: FnOnce(Session, TokioIo<hyper::upgrade::Upgraded>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut resp = bare(StatusCode::SWITCHING_PROTOCOLS);
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            resp.headers_mut().append(name.clone(), v);
        }
    }
    // Streaming from the 101 on: a client may act on the 101 (and a test inject a fault into
    // streaming connections) before hyper hands the connection over below.
    session.ctx.entry.set_streaming();
    session.ctx.cluster.audit.upgraded(protocol);
    let tracker = session.ctx.cluster.tracker.clone();
    tracker.spawn(
        async move {
            match upgrade.await {
                Ok(upgraded) => {
                    run(session, TokioIo::new(upgraded)).await;
                }
                Err(e) => tracing::debug!(error = %e, "upgrade failed"),
            }
        }
        .instrument(span),
    );
    resp
}

/// Values of every `name` header line, each possibly comma-separated.
fn header_lines(req: &Request<Incoming>, name: &str) -> Vec<String> {
    req.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect()
}
