//! What an API server answer means, decided once where it arrives: a `metav1.Status` with its
//! code and reason becomes a [`ClusterError`]; an upgrade refused without a Status (the
//! kubelet's own handshake refusals, which an older API server passes through) means the
//! protocol is not spoken there.

use super::super::ClusterError;

/// A `metav1.Status`, as far as decisions need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) code: u16,
    pub(crate) reason: String,
    pub(crate) message: String,
}

impl Status {
    /// Parses a response body, when it is a Status (`"kind": "Status"`, or a failure with a
    /// code as the translator writes it without `kind`).
    pub(crate) fn parse(code: u16, body: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let is_status = v["kind"] == "Status" || (v["status"] == "Failure" && v["code"].is_u64());
        if !is_status {
            return None;
        }
        let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
        let code = v["code"].as_u64().and_then(|c| u16::try_from(c).ok()).unwrap_or(code);
        Some(Self { code, reason: text("reason"), message: text("message") })
    }
}

/// What a request needed, for a 403's advice: the verb and the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Needs<'a> {
    pub(crate) verb: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) namespace: &'a str,
}

/// The error a Status means.
pub(crate) fn error(status: Status, needs: Option<Needs<'_>>) -> ClusterError {
    let Status { code, reason, message } = status;
    let message = if message.is_empty() { reason.clone() } else { message };
    match code {
        401 => ClusterError::Unauthorized(message),
        403 => ClusterError::Forbidden(match needs {
            Some(n) => format!(
                "{message}; this needs `{}` on `{}` in namespace {} (check with `kubectl auth \
                 can-i {} {} -n {}`)",
                n.verb, n.resource, n.namespace, n.verb, n.resource, n.namespace
            ),
            None => message,
        }),
        404 => ClusterError::NotFound(message),
        // The API server's proxy could not open its connection to the node.
        500..=599 if message.contains("error dialing backend") => ClusterError::Kubelet(message),
        _ => ClusterError::Rejected { code, reason, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_once() {
        let body = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"error dialing backend: dial tcp 10.0.0.5:10250: connect: connection refused",
            "reason":"InternalError","code":500}"#;
        let s = Status::parse(500, body).expect("a Status");
        assert!(matches!(error(s, None), ClusterError::Kubelet(m) if m.contains("10250")));
        let translator = br#"{"metadata":{},"status":"Failure","message":"x","code":400}"#;
        assert_eq!(Status::parse(400, translator).map(|s| s.code), Some(400));
        assert_eq!(Status::parse(403, b""), None, "x/net's handshake refusal has no body");
        assert_eq!(Status::parse(400, b"query parameter \"port\" is required"), None);
        let denied = Status { code: 403, reason: "Forbidden".into(), message: "no".into() };
        let needs = Needs { verb: "create", resource: "pods/portforward", namespace: "shop" };
        let ClusterError::Forbidden(m) = error(denied, Some(needs)) else { panic!("forbidden") };
        assert!(m.contains("`create` on `pods/portforward` in namespace shop"), "{m}");
    }
}
