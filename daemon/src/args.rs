//! tetherd's flags, in the library so that xtask renders its man page from them.

use std::path::PathBuf;

use clap::Parser;
use tether_proto::paths;

/// Said after the flags in `--help` and the man page.
const AFTER_HELP: &str = "\
tether commands start tetherd when none runs; `tether daemon install` runs it as a user service
instead (systemd user units with socket activation on Linux, a launchd agent on macOS).

Environment:
  TETHER_SOCKET     the socket, as --socket
  TETHER_STATE_DIR  the state folder, as --state-dir
  TETHER_LOG        the log filter (info, tether_daemon=debug, ...)
  LISTEN_FDS        a listening socket passed by systemd (socket activation) is served
  PATH              where kubeconfig credential plugins (exec) are looked up";

/// Keeps Kubernetes port-forwards alive.
#[derive(Debug, Parser)]
#[command(name = "tetherd", version, about, after_help = AFTER_HELP)]
pub struct Args {
    /// The socket to serve (default: $XDG_RUNTIME_DIR/tether/tetherd.sock, else
    /// ~/.local/state/tether/run/tetherd.sock).
    #[arg(long, env = paths::ENV_SOCKET)]
    pub socket: Option<PathBuf>,
    /// The state folder for the store and logs (default: $XDG_STATE_HOME/tether).
    #[arg(long, env = paths::ENV_STATE_DIR)]
    pub state_dir: Option<PathBuf>,
    /// Log to a rotating file under the state folder instead of stderr (as when the CLI starts
    /// the daemon), and detach from the terminal's session.
    #[arg(long)]
    pub log_file: bool,
    /// How often tunnels are pinged, in milliseconds.
    #[arg(long, default_value_t = 4000, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub ping_interval_ms: u64,
    /// A tunnel that sends nothing (no PONG, no data) this long is dead, in milliseconds.
    /// Detection is exact, so a half-open tunnel is found within this time.
    #[arg(long, default_value_t = 12_000, value_parser = clap::value_parser!(u64).range(200..=600_000))]
    pub ping_deadline_ms: u64,
    /// A connection waiting on a tunnel that has heard nothing this long probes it, in
    /// milliseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub probe_quiet_ms: u64,
    /// The shortest time a probe waits for its answer, in milliseconds (it waits ten round
    /// trips when that is longer).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub probe_floor_ms: u64,
    /// How long a new local connection waits for a tunnel during a gap, in milliseconds.
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub hold_ms: u64,
}
