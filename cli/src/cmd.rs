//! Runs a parsed command line: finds (or starts) the daemon and hands over to one command.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tether_proto::autostart::{StartOptions, connect_or_start};
use tether_proto::client::{self, Client, ClientError};
use tether_proto::paths;
use tether_proto::pb::daemon_service_client::DaemonServiceClient;
use tonic::transport::Channel;

use crate::args::{Cli, Command, ENV_KUBECONFIG, PLUGIN_BIN};
use crate::error::{Exit, Failure};
use crate::out;

mod cp;
mod daemon;
mod demo;
mod events;
mod exec;
mod forward;
mod list;
mod logs;
mod manage;
mod session;

/// The name the CLI gives itself in the handshake.
pub const CLIENT_NAME: &str = "tether-cli";

/// Where the daemon is, and whether to start it.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The daemon's socket, absolute.
    pub socket: PathBuf,
    /// Whether commands may start the daemon.
    pub autostart: bool,
}

impl Ctx {
    /// Connects to the daemon, starting it first unless `--no-autostart` was given.
    ///
    /// # Errors
    /// A [`Failure`] when it cannot be reached or started.
    pub async fn client(&self) -> anyhow::Result<Client> {
        let client = if self.autostart {
            connect_or_start(&StartOptions::new(self.socket.clone()), CLIENT_NAME).await
        } else {
            client::connect(&self.socket, CLIENT_NAME).await
        };
        client.map_err(|e| Failure::client(&e).into())
    }

    /// The daemon service of a running daemon, never starting one; `None` when none runs. A
    /// daemon of another API version is still answered, so that it can be inspected and stopped.
    ///
    /// # Errors
    /// A [`Failure`] when something answers but the handshake fails.
    pub async fn running_daemon(&self) -> anyhow::Result<Option<DaemonServiceClient<Channel>>> {
        match client::connect(&self.socket, CLIENT_NAME).await {
            Ok(client) => Ok(Some(client.daemon)),
            Err(ClientError::Connect { .. }) => Ok(None),
            Err(err @ ClientError::Incompatible { .. }) => {
                out::note(&format!("warning: {err}"));
                let channel =
                    client::channel(&self.socket).await.map_err(|e| Failure::client(&e))?;
                Ok(Some(DaemonServiceClient::new(channel)))
            }
            Err(err) => Err(Failure::client(&err).into()),
        }
    }

    /// The failure for "no daemon answers", with what to do about it.
    #[must_use]
    pub fn not_running(&self, advice: &str) -> Failure {
        let socket = self.socket.display();
        Failure::new(
            Exit::NotRunning,
            format!("tetherd is not running (nothing answers at {socket}); {advice}"),
        )
    }
}

/// Runs the command on a single-threaded runtime.
///
/// # Errors
/// Whatever the command failed with; [`crate::error::report`] turns it into words and a code.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(Box::pin(dispatch(cli)))
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let socket = paths::socket_path(cli.socket.as_deref());
    let socket = std::path::absolute(&socket)
        .with_context(|| format!("failed to resolve the socket path {}", socket.display()))?;
    let ctx = Ctx { socket, autostart: !cli.no_autostart };
    match cli.command {
        Command::Forward(args) => forward::run(&ctx, args).await,
        Command::Ls(args) => list::run(&ctx, args.output).await,
        Command::Rm(args) => manage::remove(&ctx, args).await,
        Command::Pause(args) => manage::pause(&ctx, &args.name).await,
        Command::Resume(args) => manage::resume(&ctx, &args.name).await,
        Command::Events(args) => events::run(&ctx, args).await,
        Command::Exec(args) => exec::run(&ctx, args).await,
        Command::Cp(args) => cp::run(&ctx, args).await,
        Command::Session(command) => session::run(&ctx, command).await,
        Command::Daemon(command) => daemon::run(&ctx, command).await,
        Command::Completion(args) => completion(cli.plugin, args.shell),
        Command::Demo(args) => demo::run(args).await,
    }
}

/// Prints the completion script for `shell`.
fn completion(plugin: bool, shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = crate::args::command(plugin);
    let name = if plugin { PLUGIN_BIN } else { "tether" };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    out::bytes(&script)
}

/// Resolves `path` against the current folder, since the daemon runs elsewhere.
///
/// # Errors
/// Fails only for an empty path.
pub fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path)
        .with_context(|| format!("failed to resolve the path {}", path.display()))
}

/// The kubeconfig list to send to the daemon: `flag`, else the caller's `KUBECONFIG`, with every
/// path made absolute (the daemon runs elsewhere); empty for the daemon's default.
///
/// # Errors
/// A path that cannot be made absolute, or is not UTF-8.
pub fn kubeconfig(flag: Option<OsString>) -> anyhow::Result<String> {
    kubeconfig_list(flag.or_else(|| std::env::var_os(ENV_KUBECONFIG)))
}

/// `list` (paths joined as in `KUBECONFIG`) with every path made absolute; empty for none.
///
/// # Errors
/// A path that cannot be made absolute, or is not UTF-8.
pub fn kubeconfig_list(list: Option<OsString>) -> anyhow::Result<String> {
    let Some(list) = list.filter(|k| !k.is_empty()) else {
        return Ok(String::new());
    };
    let paths =
        std::env::split_paths(&list).map(|p| absolute(&p)).collect::<anyhow::Result<Vec<_>>>()?;
    let joined = std::env::join_paths(paths).context("failed to join the kubeconfig paths")?;
    joined.into_string().map_err(|p| anyhow::anyhow!("the kubeconfig path {p:?} is not UTF-8"))
}
