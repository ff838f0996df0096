//! The REST API: authentication, routing, discovery, objects, watches and the control endpoint.

mod control;
mod discovery;
mod objects;
mod response;
mod table;
mod watch;

use std::convert::Infallible;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

pub(crate) use response::{Body, bare, full, plain, status};

use crate::auth::Rejection;
use crate::server::ConnCtx;
use crate::store::Resource;

/// Handles one request; never fails at the HTTP level (errors become Status responses).
pub(crate) async fn handle(
    ctx: Arc<ConnCtx>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    tracing::debug!(method = %req.method(), %path, "request");
    ctx.cluster.audit.request(&req);
    if matches!(path.as_str(), "/healthz" | "/livez" | "/readyz") {
        return Ok(full(StatusCode::OK, "text/plain", "ok"));
    }
    if path == "/version" {
        return Ok(discovery::version(&ctx.cluster));
    }
    let authorization =
        req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Err(why) = ctx.cluster.auth.check(authorization, ctx.peer_cert.as_ref()) {
        tracing::debug!(?why, %path, "unauthorized");
        let message = match why {
            Rejection::Missing | Rejection::BadToken => "Unauthorized",
        };
        return Ok(status(StatusCode::UNAUTHORIZED, "Unauthorized", message));
    }
    Ok(route(ctx, req, &path).await)
}

async fn route(ctx: Arc<ConnCtx>, req: Request<Incoming>, path: &str) -> Response<Body> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method().clone();
    match (method.clone(), segments.as_slice()) {
        (_, ["testkit", "v1", rest @ ..]) => control::handle(&ctx.cluster, req, rest).await,
        (Method::GET, ["api"]) => discovery::api_versions(),
        (Method::GET, ["apis"]) => discovery::api_groups(),
        (Method::GET, ["apis", "apps"]) => discovery::apps_group(),
        (Method::GET, ["api", "v1"]) => discovery::resources("v1"),
        (Method::GET, ["apis", "apps", "v1"]) => discovery::resources("apps/v1"),
        (_, ["api", "v1", rest @ ..]) => resource_route(ctx, req, "v1", rest).await,
        (_, ["apis", group, version, rest @ ..]) => {
            let gv = format!("{group}/{version}");
            resource_route(ctx, req, &gv, rest).await
        }
        _ => not_found(),
    }
}

fn not_found() -> Response<Body> {
    status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource")
}

async fn resource_route(
    ctx: Arc<ConnCtx>,
    req: Request<Incoming>,
    gv: &str,
    rest: &[&str],
) -> Response<Body> {
    let lookup = |plural: &str| Resource::from_path(gv, plural);
    match rest {
        [plural] => match lookup(plural) {
            Some(r) if *req.method() == Method::GET => {
                objects::list_or_watch(&ctx.cluster, &req, r, None).await
            }
            _ => not_found(),
        },
        ["namespaces", ns] if gv == "v1" => {
            objects::get(&ctx.cluster, &req, Resource::Namespaces, "", ns)
        }
        ["namespaces", ns, plural] => match lookup(plural) {
            Some(r) if *req.method() == Method::GET => {
                objects::list_or_watch(&ctx.cluster, &req, r, Some(ns)).await
            }
            Some(r) if *req.method() == Method::POST => {
                objects::create(&ctx.cluster, req, r, ns).await
            }
            _ => not_found(),
        },
        ["namespaces", ns, plural, name] => match (lookup(plural), req.method().clone()) {
            (Some(r), Method::GET) => objects::get(&ctx.cluster, &req, r, ns, name),
            (Some(r), Method::DELETE) => objects::delete(&ctx.cluster, r, ns, name),
            (Some(_), _) => status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ),
            (None, _) => not_found(),
        },
        ["namespaces", ns, "pods", name, sub @ ("exec" | "attach" | "portforward")]
            if gv == "v1" =>
        {
            crate::stream::handle(ctx, req, ns, name, sub).await
        }
        _ => not_found(),
    }
}
