//! A forward's observable state and the record kept in the store.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::spec::ForwardSpec;

/// Why a forward is not serving, as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// The credentials were rejected (401) even after a refresh.
    Unauthorized(String),
    /// The user may not port-forward there (403).
    Forbidden(String),
    /// The target does not exist, or has no pods.
    NotFound(String),
    /// No pod of the target is Ready.
    NoReadyPod(String),
    /// The connection to the API server failed or dropped.
    Connection(String),
    /// The tunnel stopped answering: pings unanswered for the deadline, or a probe for a
    /// waiting connection unanswered.
    DeadPeer(String),
    /// The machine woke from sleep and the tunnel did not answer its probe.
    Wake(String),
    /// The daemon did not run for a while (stopped, or a frozen cgroup or VM) and the tunnel
    /// did not answer its probe.
    Freeze(String),
    /// The pod in use went away.
    PodGone(String),
    /// The pod has no port of that name (kubectl: "Pod 'x' does not have a named port 'y'");
    /// the forward waits for a pod that has it.
    NoSuchPort(String),
    /// The local port could not be bound.
    Bind(String),
    /// Anything else.
    Other(String),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unauthorized(m) => write!(f, "unauthorized: {m}"),
            Self::Forbidden(m) => write!(f, "forbidden: {m}"),
            Self::NotFound(m) => write!(f, "not found: {m}"),
            Self::NoReadyPod(m) => write!(f, "no ready pod: {m}"),
            Self::Connection(m) => write!(f, "connection: {m}"),
            Self::DeadPeer(m) => write!(f, "dead tunnel: {m}"),
            Self::Wake(m) => write!(f, "woke from sleep: {m}"),
            Self::Freeze(m) => write!(f, "frozen: {m}"),
            Self::PodGone(m) => write!(f, "pod gone: {m}"),
            Self::NoSuchPort(m) => f.write_str(m),
            Self::Bind(m) => write!(f, "cannot bind the local port: {m}"),
            Self::Other(m) => f.write_str(m),
        }
    }
}

impl Reason {
    /// Why a tunnel that served died, as the user sees it.
    #[must_use]
    pub fn from_end(end: &crate::tunnel::TunnelEnd) -> Self {
        use crate::tunnel::{ProbeCause, TunnelEnd};
        let text = end.to_string();
        match end {
            TunnelEnd::DeadPeer { .. }
            | TunnelEnd::ProbeUnanswered { cause: ProbeCause::Demand, .. } => Self::DeadPeer(text),
            TunnelEnd::ProbeUnanswered { cause: ProbeCause::Wake, .. } => Self::Wake(text),
            TunnelEnd::ProbeUnanswered { cause: ProbeCause::Freeze, .. } => Self::Freeze(text),
            TunnelEnd::Closed
            | TunnelEnd::ServerClosed
            | TunnelEnd::GoAway
            | TunnelEnd::Transport(_)
            | TunnelEnd::Protocol(_) => Self::Connection(text),
        }
    }

    /// Whether `forward --wait` should return at once: the user must change something (and
    /// the forward keeps waiting for the cluster to change instead).
    #[must_use]
    pub fn needs_the_user(&self) -> bool {
        matches!(self, Self::NoSuchPort(_))
    }
}

/// The explicit states of a forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForwardState {
    /// Created, not yet started.
    Pending,
    /// Resolving the target and opening the first tunnel.
    Connecting,
    /// Serving through a tunnel to a Ready pod.
    Ready,
    /// Lost its tunnel; trying again.
    Reconnecting {
        /// 1 for the first retry.
        attempt: u32,
        /// Why.
        reason: Reason,
    },
    /// Stopped by the user; the local port stays reserved.
    Paused,
    /// Stopped for a reason retrying cannot fix (such as 403); resume to try again.
    Failed {
        /// Why.
        reason: Reason,
    },
}

impl ForwardState {
    /// A short name for tables (`Ready`, `Reconnecting`, ...).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Connecting => "Connecting",
            Self::Ready => "Ready",
            Self::Reconnecting { .. } => "Reconnecting",
            Self::Paused => "Paused",
            Self::Failed { .. } => "Failed",
        }
    }
}

/// What the user wants the forward to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Desired {
    /// Serve.
    Running,
    /// Keep the port reserved but do not serve.
    Paused,
}

/// Counters kept across restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Local connections accepted.
    pub connections: u64,
    /// Tunnels opened after the first.
    pub reconnects: u64,
    /// Bytes from local clients to the pod.
    pub bytes_out: u64,
    /// Bytes from the pod to local clients.
    pub bytes_in: u64,
}

/// A forward as stored: the spec, the ports it got, what the user wants, and its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredForward {
    /// The user's spec (with `local: None` for ports chosen by the daemon).
    pub spec: ForwardSpec,
    /// The local port of each mapping, once bound; kept so restarts reuse them.
    pub local_ports: Vec<u16>,
    /// Running or paused.
    pub desired: Desired,
    /// Counters.
    pub counters: Counters,
    /// Seconds since the Unix epoch when it was created.
    pub created_at: u64,
}

/// Exponential backoff with jitter; the first retry is immediate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay of the second retry.
    pub base: Duration,
    /// The largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_millis(250), max: Duration::from_secs(30) }
    }
}

impl Backoff {
    /// The delay before retry `attempt` (1-based), with `jitter` in [0, 1) spreading it by ±20%.
    #[must_use]
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let exp = self.base.saturating_mul(1u32 << (attempt - 2).min(16));
        let capped = exp.min(self.max);
        capped.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_immediate_then_exponential_with_a_cap() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, 0.5), Duration::ZERO);
        assert_eq!(b.delay(2, 0.5), Duration::from_millis(250));
        assert_eq!(b.delay(3, 0.5), Duration::from_millis(500));
        assert_eq!(b.delay(40, 0.5), Duration::from_secs(30));
        assert!(b.delay(5, 0.0) < b.delay(5, 0.99), "jitter spreads retries");
        assert!(b.delay(40, 0.99) <= Duration::from_secs(36));
    }
}
