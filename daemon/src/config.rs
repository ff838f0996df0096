//! The daemon's configuration, validated into real types.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::forward::supervisor::Settings;
use crate::forward::wake::{Clocks, SystemClocks};
use crate::tunnel::Liveness;
pub use tether_proto::Launch;

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
