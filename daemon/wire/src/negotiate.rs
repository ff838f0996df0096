//! Subprotocol negotiation for WebSocket and SPDY upgrades, client offer and server selection.
//!
//! Server rules follow golang.org/x/net/websocket and apimachinery's `httpstream.Handshake`
//! (spec §2.4): the client's preference order wins, WebSocket servers read only the first
//! `Sec-WebSocket-Protocol` line, and SPDY values may be comma-separated across several lines.

use crate::channel::{Encoding, Version};

/// `v5.channel.k8s.io`: exec/attach through the apiserver translator (CLOSE supported).
pub const V5_CHANNEL: &str = "v5.channel.k8s.io";
/// `v4.channel.k8s.io`: JSON status, no CLOSE.
pub const V4_CHANNEL: &str = "v4.channel.k8s.io";
/// `v4.base64.channel.k8s.io`: v4 in base64 text messages.
pub const V4_BASE64_CHANNEL: &str = "v4.base64.channel.k8s.io";
/// `v3.channel.k8s.io` (SPDY only).
pub const V3_CHANNEL: &str = "v3.channel.k8s.io";
/// `v2.channel.k8s.io` (SPDY only).
pub const V2_CHANNEL: &str = "v2.channel.k8s.io";
/// `channel.k8s.io`: the original protocol.
pub const V1_CHANNEL: &str = "channel.k8s.io";
/// `base64.channel.k8s.io`: v1 in base64 text messages.
pub const V1_BASE64_CHANNEL: &str = "base64.channel.k8s.io";
/// The SPDY port-forward protocol.
pub const PORT_FORWARD: &str = "portforward.k8s.io";
/// Port-forward: SPDY/3.1 tunnelled inside WebSocket binary messages (kubectl 1.31+).
pub const PORT_FORWARD_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";
/// The prefix of tunnelled-SPDY subprotocols.
pub const TUNNEL_PREFIX: &str = "SPDY/3.1+";
/// The `Upgrade` token of a raw SPDY upgrade.
pub const SPDY_UPGRADE: &str = "SPDY/3.1";
/// The request and response header that carries SPDY protocol versions.
pub const HEADER_STREAM_PROTOCOL: &str = "X-Stream-Protocol-Version";
/// The header listing supported versions when a SPDY negotiation fails.
pub const HEADER_ACCEPTED_PROTOCOLS: &str = "X-Accepted-Stream-Protocol-Versions";

/// Remote-command protocols over SPDY, in kubectl's preference order.
pub const REMOTE_COMMAND_SPDY: [&str; 5] =
    [V5_CHANNEL, V4_CHANNEL, V3_CHANNEL, V2_CHANNEL, V1_CHANNEL];
/// Remote-command protocols a kubelet/CRI SPDY server supports (no v5 there).
pub const REMOTE_COMMAND_SPDY_KUBELET: [&str; 4] = [V4_CHANNEL, V3_CHANNEL, V2_CHANNEL, V1_CHANNEL];

/// Errors from negotiation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NegotiationError {
    /// The server answered with a protocol the client did not offer (or none).
    #[error("failed to negotiate a protocol: expected one of {offered:?}, got {got:?}")]
    Unexpected {
        /// What the client offered.
        offered: Vec<String>,
        /// What the server answered (empty when it named none).
        got: String,
    },
    /// The client offered nothing the server supports.
    #[error(
        "failed to negotiate a protocol: none of {offered:?} is supported, the server supports {supported:?}"
    )]
    NoCommon {
        /// What the client offered.
        offered: Vec<String>,
        /// What the server supports.
        supported: Vec<String>,
    },
    /// A SPDY upgrade request without any `X-Stream-Protocol-Version`.
    #[error("failed to negotiate a protocol: the request has no X-Stream-Protocol-Version header")]
    Missing,
}

/// The single `Sec-WebSocket-Protocol` value a client sends: the offers joined by `", "`.
#[must_use]
pub fn ws_offer_header(offers: &[&str]) -> String {
    offers.join(", ")
}

/// Splits one header value on commas and trims, as x/net and apimachinery do.
pub fn split_protocols(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|p| !p.is_empty())
}

/// Client side: checks the server's `Sec-WebSocket-Protocol` answer against the offers.
///
/// # Errors
/// Fails when the answer is missing or was not offered (kubectl then falls back to SPDY).
pub fn ws_check_answer<'a>(
    offers: &[&'a str],
    answer: Option<&str>,
) -> Result<&'a str, NegotiationError> {
    let got = answer.map(str::trim).unwrap_or_default();
    offers.iter().copied().find(|o| *o == got).ok_or_else(|| NegotiationError::Unexpected {
        offered: offers.iter().map(|s| (*s).to_owned()).collect(),
        got: got.to_owned(),
    })
}

/// Server side: picks the first client-listed protocol in the first `Sec-WebSocket-Protocol`
/// header line that `supported` contains. `None` when nothing matches (or nothing was offered).
#[must_use]
pub fn ws_select<'a>(first_header_line: Option<&str>, supported: &[&'a str]) -> Option<&'a str> {
    split_protocols(first_header_line?)
        .find_map(|offer| supported.iter().copied().find(|s| *s == offer))
}

/// Whether an offered WebSocket protocol asks for SPDY tunnelled in WebSocket: it starts with
/// `SPDY/3.1+` and ends with `.k8s.io` (the apiserver's routing rule).
#[must_use]
pub fn is_tunnel_protocol(offer: &str) -> bool {
    offer.starts_with(TUNNEL_PREFIX) && offer.ends_with(".k8s.io")
}

/// Server side of `httpstream.Handshake`: picks the first client protocol (over every header
/// line, each possibly comma-separated) that the server supports.
///
/// # Errors
/// [`NegotiationError::Missing`] without any value, [`NegotiationError::NoCommon`] without a match
/// (the server then answers 403 with one `X-Accepted-Stream-Protocol-Versions` per version).
pub fn spdy_select<'a, 'h>(
    header_lines: impl IntoIterator<Item = &'h str>,
    supported: &[&'a str],
) -> Result<&'a str, NegotiationError> {
    let offered: Vec<&str> = header_lines.into_iter().flat_map(split_protocols).collect();
    if offered.is_empty() {
        return Err(NegotiationError::Missing);
    }
    offered.iter().find_map(|offer| supported.iter().copied().find(|s| s == offer)).ok_or_else(
        || NegotiationError::NoCommon {
            offered: offered.iter().map(|s| (*s).to_owned()).collect(),
            supported: supported.iter().map(|s| (*s).to_owned()).collect(),
        },
    )
}

/// Client side of a SPDY remote-command upgrade: maps the echoed version to a protocol version.
/// client-go treats a missing or empty answer as `channel.k8s.io` (v1).
///
/// # Errors
/// Fails when the answer was not offered.
pub fn spdy_check_remote_command(
    offers: &[&str],
    answer: Option<&str>,
) -> Result<Version, NegotiationError> {
    let got = answer.map(str::trim).unwrap_or_default();
    if got.is_empty() {
        return Ok(Version::V1);
    }
    ws_check_answer(offers, Some(got))?;
    remote_command_version(got).map(|(v, _)| v).ok_or_else(|| NegotiationError::Unexpected {
        offered: offers.iter().map(|s| (*s).to_owned()).collect(),
        got: got.to_owned(),
    })
}

/// Client side of a SPDY port-forward upgrade: only `portforward.k8s.io` is acceptable.
///
/// # Errors
/// Fails for any other answer, including none.
pub fn spdy_check_port_forward(answer: Option<&str>) -> Result<(), NegotiationError> {
    ws_check_answer(&[PORT_FORWARD], answer).map(|_| ())
}

/// The version and message encoding of a remote-command protocol name, if it is one.
#[must_use]
pub fn remote_command_version(name: &str) -> Option<(Version, Encoding)> {
    Some(match name {
        V5_CHANNEL => (Version::V5, Encoding::Binary),
        V4_CHANNEL => (Version::V4, Encoding::Binary),
        V4_BASE64_CHANNEL => (Version::V4, Encoding::Base64),
        V3_CHANNEL => (Version::V3, Encoding::Binary),
        V2_CHANNEL => (Version::V2, Encoding::Binary),
        V1_CHANNEL | "" => (Version::V1, Encoding::Binary),
        V1_BASE64_CHANNEL => (Version::V1, Encoding::Base64),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
