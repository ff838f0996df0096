//! Sample protobuf values for the rendering tests.

use tether_proto::pb;

/// 2024-05-01T12:00:00Z, the "now" of the samples.
pub const NOW: i64 = 1_714_564_800;

/// A Ready forward of `svc/db` created an hour before [`NOW`].
#[must_use]
pub fn ready_db() -> pb::Forward {
    pb::Forward {
        spec: Some(pb::ForwardSpec {
            name: "db".into(),
            target: "svc/db".into(),
            namespace: "shop".into(),
            ports: vec!["5432".into()],
            ..Default::default()
        }),
        status: Some(pb::ForwardStatus {
            phase: pb::Phase::Ready.into(),
            pod: "db-0".into(),
            local_addresses: vec!["127.0.0.1:5432".into()],
            since_unix: NOW - 600,
            protocol: "websocket-tunnel".into(),
            ..Default::default()
        }),
        stats: Some(pb::ForwardStats {
            connections_total: 12,
            connections_active: 2,
            reconnects: 3,
            bytes_out: 2048,
            bytes_in: 5 * 1024 * 1024,
        }),
        created_unix: NOW - 3600,
    }
}

/// A Reconnecting forward of `deploy/web` with two ports, one of them `:REMOTE`.
#[must_use]
pub fn reconnecting_web() -> pb::Forward {
    pb::Forward {
        spec: Some(pb::ForwardSpec {
            name: "web".into(),
            target: "deploy/web".into(),
            context: "kind-dev".into(),
            ports: vec!["8080:80".into(), ":9090".into()],
            ..Default::default()
        }),
        status: Some(pb::ForwardStatus {
            phase: pb::Phase::Reconnecting.into(),
            attempt: 4,
            reason_kind: pb::ReasonKind::NoReadyPod.into(),
            reason: "no ready pod for deploy/web".into(),
            local_addresses: vec!["127.0.0.1:8080".into(), "127.0.0.1:40123".into()],
            since_unix: NOW - 30,
            ..Default::default()
        }),
        stats: None,
        created_unix: NOW - 200,
    }
}

/// A Failed forward that never bound a port.
#[must_use]
pub fn failed_api() -> pb::Forward {
    pb::Forward {
        spec: Some(pb::ForwardSpec {
            name: "api".into(),
            target: "pod/api-0".into(),
            ports: vec!["7000".into()],
            ..Default::default()
        }),
        status: Some(pb::ForwardStatus {
            phase: pb::Phase::Failed.into(),
            reason_kind: pb::ReasonKind::Forbidden.into(),
            reason: "pods \"api-0\" is forbidden".into(),
            ..Default::default()
        }),
        stats: None,
        created_unix: NOW - 5,
    }
}
