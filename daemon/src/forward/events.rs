//! What forwards report: status snapshots and events, for `WatchEvents` and the CLI.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::state::{Counters, ForwardState};

/// Milliseconds since the Unix epoch.
#[must_use]
pub fn now_ms() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A forward's status as shown to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The state.
    pub state: ForwardState,
    /// The pod in use, when Ready.
    pub pod: Option<String>,
    /// `ADDRESS:PORT` per mapping, once bound.
    pub local_addresses: Vec<String>,
    /// Unix milliseconds when the state was entered.
    pub since_ms: i64,
    /// The tunnel protocol in use, when Ready.
    pub protocol: Option<&'static str>,
}

impl Status {
    /// A fresh status in `state`.
    #[must_use]
    pub fn new(state: ForwardState, local_addresses: Vec<String>) -> Self {
        Self { state, pod: None, local_addresses, since_ms: now_ms(), protocol: None }
    }
}

/// Something that happened to a forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// The status changed.
    Status(Status),
    /// A local connection was accepted.
    Opened {
        /// Connection id within the forward.
        id: u64,
        /// The local peer.
        peer: String,
        /// The pod serving it.
        pod: String,
    },
    /// A local connection ended.
    Closed {
        /// Connection id.
        id: u64,
        /// Bytes to the pod.
        bytes_out: u64,
        /// Bytes from the pod.
        bytes_in: u64,
        /// Why, when it did not end normally.
        error: Option<String>,
    },
    /// A tunnel came up.
    TunnelUp {
        /// The pod.
        pod: String,
        /// The protocol.
        protocol: &'static str,
        /// Milliseconds from the start of the attempt.
        setup_ms: u64,
    },
    /// A tunnel was lost.
    TunnelDown {
        /// The pod.
        pod: String,
        /// Why.
        reason: super::state::Reason,
    },
    /// The forward was deleted.
    Deleted,
    /// A session changed (the event's `forward` is empty).
    Session {
        /// Session id.
        id: String,
        /// Phase name.
        phase: String,
        /// Why, for Reconnecting and Lost.
        reason: String,
        /// Pod in use.
        pod: String,
    },
}

/// An event with its forward and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Unix milliseconds.
    pub time_ms: i64,
    /// The forward's name.
    pub forward: String,
    /// What happened.
    pub kind: EventKind,
}

/// Live counters of a forward (atomics: updated per connection and per chunk, never locked).
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections open now.
    pub active: AtomicU32,
    /// Tunnels opened after the first.
    pub reconnects: AtomicU64,
    /// Bytes to the pod.
    pub bytes_out: AtomicU64,
    /// Bytes from the pod.
    pub bytes_in: AtomicU64,
}

impl LiveCounters {
    /// Starts from stored counters.
    #[must_use]
    pub fn from_stored(c: &Counters) -> Self {
        Self {
            connections: AtomicU64::new(c.connections),
            active: AtomicU32::new(0),
            reconnects: AtomicU64::new(c.reconnects),
            bytes_out: AtomicU64::new(c.bytes_out),
            bytes_in: AtomicU64::new(c.bytes_in),
        }
    }

    /// A snapshot to store.
    #[must_use]
    pub fn snapshot(&self) -> Counters {
        Counters {
            connections: self.connections.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
        }
    }
}
