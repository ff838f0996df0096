//! Sessions: exec'd commands and attaches owned by the daemon, with kept output, several
//! attached clients, and a life beyond any terminal.
//!
//! - [`scrollback`]: the bounded output kept in memory and fanned out to attached clients.
//! - [`runner`]: one task per session: runs the process, re-joins an attach after a drop,
//!   re-runs an exec with `--restart on-drop`, and records phases.
//! - [`manager`]: create, list, get, attach, kill; restore after a daemon restart (exec sessions
//!   become `Lost` with their last output, attach sessions re-join).

pub mod manager;
pub mod runner;
pub mod scrollback;

use serde::{Deserialize, Serialize};
use tether_wire::channel::{ExitOutcome, TerminalSize};

use crate::forward::spec::Target;

/// Exec'd command, or attach to the main process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// Runs a command.
    Exec,
    /// Joins the container's main process.
    Attach,
}

/// What to do when the connection drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Restart {
    /// Exec sessions become `Lost` (attach sessions always re-join).
    #[default]
    Never,
    /// Run the command again.
    OnDrop,
}

/// What to run and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The target.
    pub target: Target,
    /// Namespace, or the context's.
    pub namespace: Option<String>,
    /// Context, or the current one.
    pub context: Option<String>,
    /// kubeconfig, or the default lookup.
    pub kubeconfig: Option<String>,
    /// Container, or the pod's default.
    pub container: Option<String>,
    /// Command (empty for attach).
    pub command: Vec<String>,
    /// Whether stdin is open.
    pub stdin: bool,
    /// Whether a terminal is allocated.
    pub tty: bool,
    /// Initial size.
    pub size: Option<(u16, u16)>,
}

impl Spec {
    /// The initial terminal size.
    #[must_use]
    pub fn terminal_size(&self) -> Option<TerminalSize> {
        self.size.map(|(width, height)| TerminalSize { width, height })
    }
}

/// How an ended process ended, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Exit {
    /// An exit code.
    Code(u8),
    /// An error status.
    Error {
        /// Status reason.
        reason: Option<String>,
        /// Message.
        message: String,
    },
}

impl From<&ExitOutcome> for Exit {
    fn from(o: &ExitOutcome) -> Self {
        match o {
            ExitOutcome::Success => Self::Code(0),
            ExitOutcome::ExitCode(c) => Self::Code(*c),
            ExitOutcome::Error { reason, message, .. } => {
                Self::Error { reason: reason.clone(), message: message.clone() }
            }
        }
    }
}

/// A session's phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Resolving the pod and starting the process.
    Starting,
    /// Running.
    Running,
    /// Re-joining after a drop (attach, or exec with on-drop restart).
    Reconnecting(String),
    /// The process ended.
    Exited(Exit),
    /// The connection dropped and the process cannot be resumed.
    Lost(String),
    /// Killed by the user.
    Killed,
}

impl Phase {
    /// Whether the session is over.
    #[must_use]
    pub fn ended(&self) -> bool {
        matches!(self, Self::Exited(_) | Self::Lost(_) | Self::Killed)
    }
}

/// A session as stored: enough to list it, restore it, and show its last output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// Spec.
    pub spec: Spec,
    /// Restart policy.
    pub restart: Restart,
    /// Scrollback capacity in bytes.
    pub scrollback: usize,
    /// Phase.
    pub phase: Phase,
    /// Pod in use.
    pub pod: String,
    /// Container in use.
    pub container: String,
    /// Protocol in use.
    pub protocol: String,
    /// Unix seconds.
    pub created_at: u64,
    /// Output bytes so far.
    pub output_bytes: u64,
    /// Restarts or re-joins.
    pub restarts: u32,
    /// The last output (at most [`TAIL`] bytes), base64, kept across daemon restarts.
    pub tail: String,
}

/// How much of a session's last output is stored.
pub const TAIL: usize = 64 * 1024;

/// A new session id: `s-` and 8 hex digits.
#[must_use]
pub fn new_id() -> String {
    format!("s-{:032x}", rand::random::<u128>())
}
