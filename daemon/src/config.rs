//! The daemon's configuration, validated into real types.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::forward::supervisor::Settings;
use crate::forward::wake::{Clocks, SystemClocks};
use crate::tunnel::Liveness;

/// Everything [`crate::run`] needs besides its listener.
#[derive(Debug, Clone)]
pub struct Config {
    /// The socket path served (for `GetInfo`).
    pub socket: PathBuf,
    /// The state folder (store, logs).
    pub state_dir: PathBuf,
    /// The log file, when logging to one.
    pub log_file: Option<PathBuf>,
    /// How long a shutdown waits for tasks before giving up on them.
    pub drain_deadline: Duration,
    /// Tunnel pings.
    pub liveness: Liveness,
    /// Supervisor tunables.
    pub settings: Settings,
    /// How often counters are written to the store.
    pub counters_every: Duration,
    /// The clocks that tell sleeps and freezes (tests simulate them).
    pub clocks: Arc<dyn Clocks>,
    /// How the daemon was started, for `GetInfo`.
    pub launch: Launch,
}

/// How the daemon was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Launch {
    /// By hand, in a terminal.
    #[default]
    Foreground,
    /// By a client that found no daemon (`--log-file`).
    Autostart,
    /// As a systemd user service.
    Systemd,
    /// Socket-activated: systemd holds the listening socket and passed it in.
    SystemdSocket,
    /// As a launchd agent.
    Launchd,
}

impl Launch {
    /// The name `GetInfo` reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Foreground => "foreground",
            Self::Autostart => "autostart",
            Self::Systemd => "systemd",
            Self::SystemdSocket => "systemd-socket",
            Self::Launchd => "launchd",
        }
    }
}

impl Config {
    /// Defaults for `socket` and `state_dir`.
    #[must_use]
    pub fn new(socket: PathBuf, state_dir: PathBuf) -> Self {
        Self {
            socket,
            state_dir,
            log_file: None,
            drain_deadline: Duration::from_secs(5),
            liveness: Liveness::default(),
            settings: Settings::default(),
            counters_every: Duration::from_secs(10),
            clocks: Arc::new(SystemClocks),
            launch: Launch::Foreground,
        }
    }

    /// The store's folder.
    #[must_use]
    pub fn store_dir(&self) -> PathBuf {
        self.state_dir.join("store")
    }
}
