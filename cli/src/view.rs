//! Forwards as users see them: serde views of the protobuf messages (for `-o json|yaml`), the
//! names of phases and reasons, and the local-to-remote port mappings.

use serde::Serialize;
use tether_proto::pb;

use crate::time::rfc3339;

pub mod session;

/// The list printed by `tether ls -o json|yaml`.
#[derive(Debug, Serialize)]
pub struct ForwardList<'a> {
    /// The forwards, by name.
    pub items: &'a [ForwardView],
}

/// One forward: its spec, status and counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForwardView {
    pub name: String,
    pub target: String,
    pub namespace: String,
    pub context: String,
    pub kubeconfig: String,
    pub ports: Vec<String>,
    pub address: String,
    /// RFC 3339; `None` when the daemon did not say.
    pub created: Option<String>,
    /// Unix seconds, for ages.
    #[serde(skip)]
    pub created_unix: i64,
    pub status: StatusView,
    pub stats: StatsView,
}

/// A forward's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// `Pending`, `Connecting`, `Ready`, `Reconnecting`, `Paused`, `Failed` or `Unknown`.
    pub phase: &'static str,
    pub attempt: u32,
    /// `Unauthorized`, `NoReadyPod`, ...; `None` when there is no reason.
    pub reason_kind: Option<&'static str>,
    /// The same, to decide on.
    #[serde(skip)]
    pub kind: Option<pb::ReasonKind>,
    pub reason: String,
    pub pod: String,
    pub local_addresses: Vec<String>,
    /// RFC 3339: when the phase was entered.
    pub since: Option<String>,
    pub protocol: String,
}

/// A forward's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsView {
    pub connections_total: u64,
    pub connections_active: u32,
    pub reconnects: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl From<&pb::Forward> for ForwardView {
    fn from(forward: &pb::Forward) -> Self {
        let spec = forward.spec.clone().unwrap_or_default();
        let stats = forward.stats.unwrap_or_default();
        Self {
            name: spec.name,
            target: spec.target,
            namespace: spec.namespace,
            context: spec.context,
            kubeconfig: spec.kubeconfig,
            ports: spec.ports,
            address: spec.address,
            created: timestamp(forward.created_unix),
            created_unix: forward.created_unix,
            status: StatusView::from(&forward.status.clone().unwrap_or_default()),
            stats: StatsView {
                connections_total: stats.connections_total,
                connections_active: stats.connections_active,
                reconnects: stats.reconnects,
                bytes_in: stats.bytes_in,
                bytes_out: stats.bytes_out,
            },
        }
    }
}

impl From<&pb::ForwardStatus> for StatusView {
    fn from(status: &pb::ForwardStatus) -> Self {
        Self {
            phase: phase_name(status.phase),
            attempt: status.attempt,
            reason_kind: reason_kind_name(status.reason_kind),
            kind: pb::ReasonKind::try_from(status.reason_kind).ok(),
            reason: status.reason.clone(),
            pod: status.pod.clone(),
            local_addresses: status.local_addresses.clone(),
            since: timestamp(status.since_unix),
            protocol: status.protocol.clone(),
        }
    }
}

impl StatusView {
    /// Why the forward is not serving, as `Kind: text`, or an empty string.
    #[must_use]
    pub fn why(&self) -> String {
        match (self.reason_kind, self.reason.as_str()) {
            (Some(kind), "") => kind.to_owned(),
            (Some(kind), text) => format!("{kind}: {text}"),
            (None, text) => text.to_owned(),
        }
    }
}

impl ForwardView {
    /// Whether it listens beyond this machine's loopback (`--address 0.0.0.0`, `::` or a LAN
    /// address): anyone who reaches the machine can use it, and it comes back after restarts.
    #[must_use]
    pub fn exposed(&self) -> bool {
        match self.address.as_str() {
            "" | "localhost" => false,
            other => other.parse::<std::net::IpAddr>().map_or(true, |ip| !ip.is_loopback()),
        }
    }

    /// One `(local, remote)` pair per port: the local address served (or the one asked for,
    /// while none is served) and the remote port.
    #[must_use]
    pub fn mappings(&self) -> Vec<(String, String)> {
        let host = if self.address.is_empty() { "127.0.0.1" } else { self.address.as_str() };
        let pairs = self.ports.iter().enumerate().map(|(i, spec)| {
            let (local, remote) = spec.split_once(':').unwrap_or((spec, spec));
            let served = self.status.local_addresses.get(i).cloned();
            let local = if local.is_empty() { "?" } else { local };
            (served.unwrap_or_else(|| format!("{host}:{local}")), remote.to_owned())
        });
        pairs.collect()
    }
}

/// RFC 3339 for a Unix time; `None` when unknown (0 or less).
fn timestamp(unix_secs: i64) -> Option<String> {
    (unix_secs > 0).then(|| rfc3339(unix_secs))
}

/// A phase's name, such as `Ready`.
#[must_use]
pub fn phase_name(phase: i32) -> &'static str {
    use pb::Phase;
    match Phase::try_from(phase) {
        Ok(Phase::Pending) => "Pending",
        Ok(Phase::Connecting) => "Connecting",
        Ok(Phase::Ready) => "Ready",
        Ok(Phase::Reconnecting) => "Reconnecting",
        Ok(Phase::Paused) => "Paused",
        Ok(Phase::Failed) => "Failed",
        Ok(Phase::Unspecified) | Err(_) => "Unknown",
    }
}

/// A reason kind's name, such as `NoReadyPod`; `None` for no reason.
#[must_use]
pub fn reason_kind_name(kind: i32) -> Option<&'static str> {
    use pb::ReasonKind as K;
    Some(match K::try_from(kind) {
        Ok(K::Unspecified) => return None,
        Ok(K::Unauthorized) => "Unauthorized",
        Ok(K::Forbidden) => "Forbidden",
        Ok(K::NotFound) => "NotFound",
        Ok(K::NoReadyPod) => "NoReadyPod",
        Ok(K::Connection) => "Connection",
        Ok(K::DeadPeer) => "DeadPeer",
        Ok(K::Wake) => "Wake",
        Ok(K::PodGone) => "PodGone",
        Ok(K::Bind) => "Bind",
        Ok(K::Freeze) => "Freeze",
        Ok(K::NoSuchPort) => "NoSuchPort",
        Ok(K::Other) | Err(_) => "Other",
    })
}

#[cfg(test)]
pub mod samples;
