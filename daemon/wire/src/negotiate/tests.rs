//! Tests for subprotocol offers, checks and server selection (spec §2.4 and the negotiation matrix).

use super::*;

#[test]
fn ws_client_accepts_only_an_offered_answer() {
    let offers = [V5_CHANNEL];
    assert_eq!(ws_check_answer(&offers, Some(V5_CHANNEL)), Ok(V5_CHANNEL));
    // The matrix: 101 without a protocol, or with v4, makes kubectl fall back.
    assert!(ws_check_answer(&offers, None).is_err());
    assert!(ws_check_answer(&offers, Some(V4_CHANNEL)).is_err());
    assert_eq!(ws_offer_header(&[V5_CHANNEL, V4_CHANNEL]), "v5.channel.k8s.io, v4.channel.k8s.io");
}

#[test]
fn ws_server_prefers_the_clients_order_within_the_first_line() {
    let supported = [V4_CHANNEL, V5_CHANNEL];
    assert_eq!(
        ws_select(Some("v5.channel.k8s.io, v4.channel.k8s.io"), &supported),
        Some(V5_CHANNEL)
    );
    assert_eq!(ws_select(Some(" foo ,v4.channel.k8s.io"), &supported), Some(V4_CHANNEL));
    assert_eq!(ws_select(Some("foo"), &supported), None);
    assert_eq!(ws_select(None, &supported), None);
}

#[test]
fn tunnel_protocols_are_recognised_like_the_apiserver_does() {
    assert!(is_tunnel_protocol(PORT_FORWARD_TUNNEL));
    assert!(is_tunnel_protocol("SPDY/3.1+v2.portforward.k8s.io"));
    assert!(!is_tunnel_protocol(PORT_FORWARD));
    assert!(!is_tunnel_protocol("SPDY/3.1+portforward.example.com"));
}

#[test]
fn spdy_server_reads_every_line_and_comma_lists() {
    let lines = [V5_CHANNEL, "v4.channel.k8s.io, v3.channel.k8s.io", V1_CHANNEL];
    assert_eq!(spdy_select(lines, &REMOTE_COMMAND_SPDY_KUBELET), Ok(V4_CHANNEL));
    assert_eq!(spdy_select([], &REMOTE_COMMAND_SPDY_KUBELET), Err(NegotiationError::Missing));
    assert!(matches!(
        spdy_select(["v9.channel.k8s.io"], &REMOTE_COMMAND_SPDY_KUBELET),
        Err(NegotiationError::NoCommon { .. })
    ));
}

#[test]
fn spdy_client_maps_answers_to_versions() {
    let offers = REMOTE_COMMAND_SPDY;
    assert_eq!(spdy_check_remote_command(&offers, Some(V4_CHANNEL)), Ok(Version::V4));
    assert_eq!(spdy_check_remote_command(&offers, None), Ok(Version::V1));
    assert_eq!(spdy_check_remote_command(&offers, Some("")), Ok(Version::V1));
    assert!(spdy_check_remote_command(&offers, Some("v9.channel.k8s.io")).is_err());
    assert_eq!(spdy_check_port_forward(Some(PORT_FORWARD)), Ok(()));
    assert!(spdy_check_port_forward(None).is_err());
}

#[test]
fn every_remote_command_name_has_a_version_and_encoding() {
    assert_eq!(remote_command_version(V5_CHANNEL), Some((Version::V5, Encoding::Binary)));
    assert_eq!(remote_command_version(V4_BASE64_CHANNEL), Some((Version::V4, Encoding::Base64)));
    assert_eq!(remote_command_version(V1_BASE64_CHANNEL), Some((Version::V1, Encoding::Base64)));
    assert_eq!(remote_command_version(PORT_FORWARD), None);
}
