//! The command line, `tether` or `kubectl tether`: flags and subcommands, parsed with clap.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{
    ArgGroup, Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand, ValueEnum,
};
use clap_complete::Shell;
use tether_proto::paths::ENV_SOCKET;

mod remote;
#[cfg(test)]
mod tests;

pub use remote::{
    CpArgs, ExecArgs, KubeFlags, Restart, SessionCommand, SessionKillArgs, SessionNewArgs,
};

/// The file name under which kubectl finds this binary as a plugin.
pub const PLUGIN_BIN: &str = "kubectl-tether";
/// How users name the plugin on the command line.
pub const PLUGIN_NAME: &str = "kubectl tether";
/// The kubeconfig list kubectl reads when `--kubeconfig` is not given.
pub const ENV_KUBECONFIG: &str = "KUBECONFIG";
/// The `tether-testkit` binary `tether demo` runs, when not the one beside `tether`.
pub const ENV_TESTKIT_EXE: &str = "TETHER_TESTKIT_EXE";

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  error: a forward was not found or already exists, the cluster or the daemon failed,
     or the daemon could not be reached
  2  usage error: a bad flag, or a value the daemon rejected
  3  the daemon is not running (daemon status, daemon stop)
  4  the forward failed or was not ready in time (forward --wait)
  exec and session attach exit with the remote command's code (0-255), as kubectl exec does;
  an error from the cluster (no such pod, container or command) exits 1.

Sessions:
  Detach from `session attach` with Enter ~ . (ssh's escape; ~~ sends one ~).

kubectl plugin:
  Install or link this binary as `kubectl-tether` on PATH, then run `kubectl tether ...`
  with the same commands and flags.

Environment:
  TETHER_SOCKET      the daemon's socket, as --socket
  TETHER_STATE_DIR   the daemon's state folder (store, logs)
  TETHER_DAEMON_BIN  the tetherd binary to start when none runs
  TETHER_TESTKIT_EXE the tether-testkit binary `tether demo` runs
  KUBECONFIG         passed to the daemon when --kubeconfig is not given
  NO_COLOR           turns colors off";

/// Everything the command line says.
#[derive(Debug, Parser)]
#[command(
    name = "tether",
    version,
    about = "Port-forwards that survive pod restarts, network drops, token expiry and sleep",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// The daemon's socket.
    #[arg(long, global = true, value_name = "PATH", env = ENV_SOCKET)]
    pub socket: Option<PathBuf>,
    /// Fail instead of starting tetherd when none runs.
    #[arg(long, global = true)]
    pub no_autostart: bool,
    /// Set when invoked as `kubectl-tether`.
    #[arg(skip)]
    pub plugin: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a port-forward that stays up (kubectl port-forward's grammar).
    #[command(visible_alias = "port-forward", after_help = FORWARD_EXAMPLES)]
    Forward(ForwardArgs),
    /// List forwards.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Stop forwards, free their local ports and forget them.
    #[command(visible_alias = "delete")]
    Rm(RmArgs),
    /// Stop serving a forward but keep it and its local ports.
    Pause(NameArg),
    /// Serve a paused forward again.
    Resume(NameArg),
    /// Show state changes and connections, as `TIME FORWARD EVENT DETAILS` lines.
    Events(EventsArgs),
    /// Run a command in a container, like kubectl exec.
    #[command(after_help = remote::EXEC_EXAMPLES)]
    Exec(ExecArgs),
    /// Copy files and folders to and from containers, like kubectl cp (needs tar in the
    /// container).
    #[command(after_help = remote::CP_EXAMPLES)]
    Cp(CpArgs),
    /// Commands tetherd keeps running apart from any terminal: new, attach, ls, kill.
    ///
    /// A session outlives its terminal, keeps its output, and can be joined from several
    /// terminals at once.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Start, stop and inspect the daemon, tetherd.
    #[command(subcommand)]
    Daemon(DaemonCommand),
    /// Print a shell completion script.
    Completion(CompletionArgs),
    /// Run a demo: an emulated cluster (tether-testkit), a private daemon, a forward to
    /// svc/web, a pod kill and a blackholed tunnel; ends with the recovery times.
    ///
    /// Needs the tether-testkit binary beside tether (release archives ship it), or
    /// TETHER_TESTKIT_EXE.
    Demo(DemoArgs),
}

/// `tether demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Time between requests, such as 1s or 500ms.
    #[arg(long, default_value = "1s", value_parser = crate::time::parse_duration)]
    pub interval: Duration,
    /// When to kill the pod in use.
    #[arg(long, default_value = "5s", value_parser = crate::time::parse_duration)]
    pub kill_after: Duration,
    /// When to blackhole the tunnel.
    #[arg(long, default_value = "15s", value_parser = crate::time::parse_duration)]
    pub blackhole_after: Duration,
    /// Keep requesting after the script, until Ctrl-C, instead of ending with the summary.
    #[arg(short, long)]
    pub follow: bool,
}

const FORWARD_EXAMPLES: &str = "\
Examples:
  tether forward svc/db 5432                   # 127.0.0.1:5432 -> svc/db:5432
  tether forward -n shop deploy/web 8080:80 --wait
  tether forward pod/api-0 :9090 --name api-metrics   # any free local port";

/// `tether forward`.
#[derive(Debug, Args)]
pub struct ForwardArgs {
    /// pod/NAME, svc/NAME, deploy/NAME, sts/NAME, or a bare pod NAME.
    pub target: String,
    /// LOCAL:REMOTE, :REMOTE (a free local port), PORT, or a port name.
    #[arg(required = true, value_name = "PORT")]
    pub ports: Vec<String>,
    /// The namespace; the context's namespace when not given.
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// The kubeconfig context; the current context when not given.
    #[arg(long)]
    pub context: Option<String>,
    /// The kubeconfig file(s); KUBECONFIG or ~/.kube/config when not given.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<OsString>,
    /// The forward's name; derived from the target and port when not given.
    #[arg(long)]
    pub name: Option<String>,
    /// The local address to listen on; 127.0.0.1 when not given.
    #[arg(long)]
    pub address: Option<String>,
    /// Wait until the forward is ready, then print its local addresses, one per line.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, such as 30s, 2m or 1m30s; 30s when not given.
    #[arg(long, value_name = "DURATION", value_parser = crate::time::parse_duration, requires = "wait")]
    pub timeout: Option<Duration>,
}

/// Output formats of `tether ls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The table with more columns.
    Wide,
    /// `{"items": [...]}` as JSON.
    Json,
    /// `items: [...]` as YAML.
    Yaml,
}

/// `tether ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// The output format; a table when not given.
    #[arg(short, long, value_enum)]
    pub output: Option<Format>,
}

/// `tether rm`.
#[derive(Debug, Args)]
#[command(group = ArgGroup::new("which").required(true).args(["names", "all"]))]
pub struct RmArgs {
    /// The forwards to remove.
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Remove every forward.
    #[arg(long)]
    pub all: bool,
}

/// A single forward name.
#[derive(Debug, Args)]
pub struct NameArg {
    /// The forward.
    pub name: String,
}

/// `tether events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Keep printing new events until interrupted.
    #[arg(short, long)]
    pub follow: bool,
    /// Only these forwards; all when none are given.
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

/// `tether daemon ...`.
#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start tetherd unless it runs, and print its socket and version.
    Start,
    /// Ask tetherd to finish and exit, and wait until it has (up to 10 s).
    Stop,
    /// Print facts about the running tetherd as `key: value` lines, with how it was started
    /// and whether it is installed as a service (exit code 3 if none runs).
    Status,
    /// Run tetherd as a user service: systemd user units (tetherd.socket, tetherd.service) on
    /// Linux, a launchd agent on macOS. Records this shell's PATH and KUBECONFIG for
    /// kubeconfig credential plugins; run it again to update them.
    Install {
        /// Print the files and commands instead of writing and running them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Stop the user service and remove what `daemon install` wrote.
    Uninstall {
        /// Print the commands instead of running them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print tetherd's log file.
    Logs {
        /// Keep printing what is appended until interrupted.
        #[arg(short, long)]
        follow: bool,
    },
}

/// `tether completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Whether a program path (argv\[0\]) names the kubectl plugin.
#[must_use]
pub fn is_plugin(argv0: &Path) -> bool {
    argv0.file_name().is_some_and(|name| name == PLUGIN_BIN)
}

/// The clap command, named for how it was invoked.
#[must_use]
pub fn command(plugin: bool) -> clap::Command {
    let cmd = Cli::command();
    if plugin { cmd.bin_name(PLUGIN_NAME).display_name(PLUGIN_BIN) } else { cmd.bin_name("tether") }
}

/// Parses a full argument list, program name first.
///
/// # Errors
/// A clap error (usage, or a request for help or the version) to print and exit with.
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let plugin = args.first().is_some_and(|argv0| is_plugin(Path::new(argv0)));
    let mut matches = command(plugin).try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches_mut(&mut matches)?;
    cli.plugin = plugin;
    Ok(cli)
}
