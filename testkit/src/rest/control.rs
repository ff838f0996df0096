//! The control endpoint `/testkit/v1/...`: faults from the shell and from other processes.
//!
//! `POST /testkit/v1/faults` takes a JSON [`crate::Fault`] and answers with a
//! [`crate::faults::FaultReport`]. It needs the same credentials as the API.

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::response::{Body, json, status};
use crate::cluster::Cluster;
use crate::faults::Fault;

pub(crate) async fn handle(
    cluster: &Arc<Cluster>,
    req: Request<Incoming>,
    rest: &[&str],
) -> Response<Body> {
    match (req.method().clone(), rest) {
        (Method::POST, ["faults"]) => {
            let body = match super::response::read_body(req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            let fault: Fault = match serde_json::from_slice(&body) {
                Ok(f) => f,
                Err(e) => {
                    return status(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        &format!("failed to decode fault: {e}"),
                    );
                }
            };
            match cluster.inject(fault).await {
                Ok(report) => {
                    json(StatusCode::OK, &serde_json::to_value(report).unwrap_or_default())
                }
                Err(e) => {
                    let message = format!(
                        "{e}: {}",
                        std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default()
                    );
                    status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", &message)
                }
            }
        }
        (Method::GET, ["info"]) => json(
            StatusCode::OK,
            &json!({
                "oldCluster": cluster.config.old_cluster,
                "stateDir": cluster.state_dir().display().to_string(),
            }),
        ),
        _ => status(StatusCode::NOT_FOUND, "NotFound", "unknown testkit control endpoint"),
    }
}
