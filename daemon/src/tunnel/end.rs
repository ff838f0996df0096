//! How tunnels and their streams end, classified once, where the news arrives, into enums that
//! the supervisor and the relay decide on. Text is kept for display only.

use std::time::Duration;

use tokio::time::Instant;

/// Why a tunnel was asked to prove it is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeCause {
    /// A local connection waits on a tunnel that has been quiet.
    Demand,
    /// The daemon did not run for a while (SIGSTOP, a frozen cgroup, a paused VM), or read
    /// bytes that waited in the kernel past the dead-peer deadline.
    Freeze,
    /// The machine woke from sleep.
    Wake,
}

impl ProbeCause {
    /// How the cause reads in messages.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Demand => "a new connection was waiting",
            Self::Freeze => "the daemon had not run for a while",
            Self::Wake => "the machine woke from sleep",
        }
    }
}

/// How a tunnel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelEnd {
    /// This side closed it (pause, delete, shutdown, or a replacement took over).
    Closed,
    /// The server closed the connection cleanly.
    ServerClosed,
    /// The server sent GOAWAY.
    GoAway,
    /// Nothing came from the server for `silent` (pings unanswered).
    DeadPeer {
        /// How long it had been silent.
        silent: Duration,
    },
    /// A probe's PING got no PONG in time.
    ProbeUnanswered {
        /// Why the probe was sent.
        cause: ProbeCause,
        /// How long it waited.
        waited: Duration,
    },
    /// The connection failed (an I/O error, a reset, a WebSocket close with an error).
    Transport(String),
    /// The server broke the protocol.
    Protocol(String),
}

impl std::fmt::Display for TunnelEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Closed => f.write_str("closed by tetherd"),
            Self::ServerClosed => f.write_str("the server closed the connection"),
            Self::GoAway => f.write_str("the server sent GOAWAY"),
            Self::DeadPeer { silent } => {
                write!(f, "no answer to pings for {:.1} s", silent.as_secs_f64())
            }
            Self::ProbeUnanswered { cause, waited } => write!(
                f,
                "no answer to a ping within {} ms ({})",
                waited.as_millis(),
                cause.describe()
            ),
            Self::Transport(e) => write!(f, "the connection failed: {e}"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
        }
    }
}

/// What the kubelet said when it could not forward a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Nothing listens on the port in the pod (`connect: connection refused`): the pod is not
    /// serving yet, or is going away.
    PortRefused,
    /// The pod or its sandbox is gone or terminating.
    PodGone,
    /// The kubelet gave up waiting for the stream pair.
    StreamTimeout,
    /// Anything else, such as a copy that failed half-way.
    Other,
}

/// A refusal: its kind, decided once from the kubelet's text, and the text for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What it means.
    pub kind: RefusalKind,
    /// The kubelet's words.
    pub text: String,
}

impl Refusal {
    /// Classifies the text of an error stream. The kubelet and containerd have no codes here,
    /// only words: "error forwarding port 8080 to pod ..., uid : failed to execute portforward
    /// in network namespace ...: failed to connect to localhost:8080 inside namespace ...: dial
    /// tcp4 127.0.0.1:8080: connect: connection refused", "... pod not found or terminating",
    /// "failed to find sandbox ... not found", "timed out waiting for streams".
    #[must_use]
    pub fn classify(text: String) -> Self {
        let lower = text.to_ascii_lowercase();
        let kind = if lower.contains("connection refused") || lower.contains("failed to connect") {
            RefusalKind::PortRefused
        } else if lower.contains("not found")
            || lower.contains("terminating")
            || lower.contains("not running")
        {
            RefusalKind::PodGone
        } else if lower.contains("timed out waiting for streams") {
            RefusalKind::StreamTimeout
        } else {
            RefusalKind::Other
        };
        Self { kind, text }
    }

    /// Whether the pod never took the connection, so that it can go to another pod.
    #[must_use]
    pub fn undelivered(&self) -> bool {
        matches!(self.kind, RefusalKind::PortRefused | RefusalKind::PodGone)
    }
}

/// How a tunnel is doing, for the supervisor: it prepares a replacement while a probe is out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Nothing is in doubt.
    Alive,
    /// A probe is out: the tunnel may be dead.
    Probing {
        /// Why.
        cause: ProbeCause,
        /// When it was sent.
        since: Instant,
    },
    /// It ended.
    Dead(TunnelEnd),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_texts_are_classified_once() {
        let kind = |t: &str| Refusal::classify(t.to_owned()).kind;
        assert_eq!(
            kind(
                "error forwarding port 8080 to pod 0b3c, uid : failed to execute portforward in network \
                 namespace \"/var/run/netns/cni-0b3c\": failed to connect to localhost:8080 inside \
                 namespace: dial tcp4 127.0.0.1:8080: connect: connection refused"
            ),
            RefusalKind::PortRefused
        );
        assert_eq!(
            kind("error forwarding port 80 to pod 1, uid : pod not found or terminating"),
            RefusalKind::PodGone
        );
        assert_eq!(
            kind("failed to find sandbox \"abc\" in store: not found"),
            RefusalKind::PodGone
        );
        assert_eq!(kind("timed out waiting for streams"), RefusalKind::StreamTimeout);
        assert_eq!(kind("read tcp4 127.0.0.1->127.0.0.1:80: reset"), RefusalKind::Other);
        assert!(Refusal::classify("connect: connection refused".into()).undelivered());
        assert!(!Refusal::classify("broken pipe".into()).undelivered());
    }
}
