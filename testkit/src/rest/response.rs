//! Response helpers: JSON bodies and `metav1.Status` errors.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use serde_json::Value;
use tether_wire::channel::Status;

/// The response body type of every handler.
pub(crate) type Body = BoxBody<Bytes, std::io::Error>;

/// A complete response with `body` and no headers.
fn with_body(code: StatusCode, body: Bytes) -> Response<Body> {
    let mut resp = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
    *resp.status_mut() = code;
    resp
}

/// A complete response with `content_type`.
pub(crate) fn full(code: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = with_body(code, body.into());
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

/// A plain-text answer, as Go's `http.Error` writes it (no Status: the kubelet's handshake
/// refusals, passed through verbatim by the API server).
pub(crate) fn plain(code: StatusCode, text: &str) -> Response<Body> {
    full(code, "text/plain; charset=utf-8", format!("{text}\n"))
}

/// An empty answer with `code` and no headers, as x/net's WebSocket server refuses a
/// handshake (`HTTP/1.1 403 Forbidden` and nothing else).
pub(crate) fn bare(code: StatusCode) -> Response<Body> {
    with_body(code, Bytes::new())
}

/// A JSON response.
pub(crate) fn json(code: StatusCode, value: &Value) -> Response<Body> {
    full(code, "application/json", serde_json::to_vec(value).unwrap_or_default())
}

/// A failure `Status` with `reason` and `message`.
pub(crate) fn status(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    let body =
        Status::failure(reason, message, i32::from(code.as_u16())).with_type_meta().to_json();
    full(code, "application/json", body)
}

/// Reads a whole request body, or answers 400.
pub(crate) async fn read_body(
    req: http::Request<hyper::body::Incoming>,
) -> Result<Bytes, Response<Body>> {
    use http_body_util::BodyExt as _;
    match req.into_body().collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) => {
            Err(status(StatusCode::BAD_REQUEST, "BadRequest", &format!("failed to read body: {e}")))
        }
    }
}

/// Maps a store error to its Status response.
pub(crate) fn store_error(e: &crate::store::StoreError) -> Response<Body> {
    use crate::store::StoreError;
    let (code, reason) = match e {
        StoreError::NotFound { .. } => (StatusCode::NOT_FOUND, "NotFound"),
        StoreError::AlreadyExists { .. } => (StatusCode::CONFLICT, "AlreadyExists"),
        StoreError::Gone { .. } => (StatusCode::GONE, "Expired"),
        StoreError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid"),
    };
    status(code, reason, &e.to_string())
}
