//! The `tether-testkit` command line: `serve`, `fault`, `workload` and `credential`.
//!
//! It lives in the library, beside what it drives; `main` only calls [`run`].

mod client;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

pub use client::{ClientError, ControlClient};

use crate::faults::Fault;
use crate::fixture::Fixture;
use crate::workload::Workload;
use crate::{AuthMode, Config, TestCluster};

/// An emulated Kubernetes API server for Tether's tests, demo and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "tether-testkit", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve an emulated cluster until SIGTERM or SIGINT.
    Serve(ServeArgs),
    /// Inject a fault into a running cluster.
    Fault {
        /// The kubeconfig `serve` wrote.
        #[arg(long)]
        kubeconfig: PathBuf,
        /// Namespace of the pods named below.
        #[arg(short, long, default_value = "default")]
        namespace: String,
        #[command(subcommand)]
        fault: FaultCmd,
    },
    /// Run a built-in workload (used as a container command).
    Workload {
        /// Which workload.
        kind: Workload,
        /// Port to listen on (defaults to $PORT).
        #[arg(long, env = "PORT")]
        port: u16,
        /// Bytes `source` writes per connection.
        #[arg(long, default_value_t = 64 << 20)]
        bytes: u64,
    },
    /// Print an ExecCredential with the current token (kubeconfig exec plugin).
    Credential {
        /// The token file `serve` keeps current.
        #[arg(long)]
        token_file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AuthArg {
    Token,
    Cert,
    Exec,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Where to write the kubeconfig.
    #[arg(long)]
    kubeconfig_out: PathBuf,
    /// A fixture file (multi-document YAML); the default cluster when absent.
    #[arg(long = "config")]
    fixture: Option<PathBuf>,
    /// How the kubeconfig authenticates.
    #[arg(long, value_enum, default_value = "token")]
    auth: AuthArg,
    /// Emulate a cluster before 1.30: no v5 exec and no port-forward tunnel.
    #[arg(long)]
    old_cluster: bool,
    /// Send SPDY header blocks uncompressed (zlib stored blocks), as tetherd does.
    #[arg(long)]
    stored_spdy_headers: bool,
    /// End a failed port-forward connection with its error text first, then resets, instead
    /// of the kubelet-with-containerd order (the data stream's close first, then the text).
    #[arg(long)]
    portforward_error_first: bool,
    /// Milliseconds before a controller replaces a deleted pod.
    #[arg(long, default_value_t = 500)]
    recreate_delay_ms: u64,
    /// Folder for pod working folders (a temporary one when absent).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
}

#[derive(Debug, Subcommand)]
enum FaultCmd {
    /// Close every streaming connection cleanly.
    CloseStreams,
    /// Reset every streaming connection (TCP RST).
    ResetStreams,
    /// Stop moving bytes on every streaming connection.
    Blackhole,
    /// Delay client bytes by MILLIS (0 removes).
    Latency { millis: u64 },
    /// Limit every connection to BYTES_PER_SEC each way (0 removes).
    Bandwidth { bytes_per_sec: u64 },
    /// Answer upgrades with STATUS (0 stops).
    RejectUpgrades { status: u16 },
    /// Invalidate the current token.
    ExpireTokens,
    /// Delete a pod.
    DeletePod { name: String },
    /// Delete the pods matching a label selector.
    DeletePods { selector: String },
    /// Delete a pod and create it again with the same name.
    RecreatePod { name: String },
    /// Make a pod not ready.
    NotReady { name: String },
    /// Give a pod's readiness back to its probe.
    Ready { name: String },
    /// Milliseconds before controllers replace deleted pods.
    RecreateDelay { millis: u64 },
    /// How failed port-forward connections end: `data-close-first` (the kubelet with
    /// containerd) or `error-first`.
    PortForwardErrors { order: ErrorOrderArg },
    /// Remove latency, bandwidth limits and upgrade rejection.
    Clear,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ErrorOrderArg {
    DataCloseFirst,
    ErrorFirst,
}

impl FaultCmd {
    fn into_fault(self, namespace: String) -> Fault {
        match self {
            Self::CloseStreams => Fault::CloseStreams,
            Self::ResetStreams => Fault::ResetStreams,
            Self::Blackhole => Fault::Blackhole,
            Self::Latency { millis } => Fault::Latency { millis },
            Self::Bandwidth { bytes_per_sec } => Fault::Bandwidth { bytes_per_sec },
            Self::RejectUpgrades { status } => Fault::RejectUpgrades { status },
            Self::ExpireTokens => Fault::ExpireTokens,
            Self::DeletePod { name } => Fault::DeletePod { namespace, name },
            Self::DeletePods { selector } => Fault::DeletePods { namespace, selector },
            Self::RecreatePod { name } => Fault::RecreatePod { namespace, name },
            Self::NotReady { name } => Fault::SetReady { namespace, name, ready: false },
            Self::Ready { name } => Fault::SetReady { namespace, name, ready: true },
            Self::RecreateDelay { millis } => Fault::RecreateDelay { millis },
            Self::PortForwardErrors { order } => Fault::PortForwardErrors {
                order: match order {
                    ErrorOrderArg::DataCloseFirst => crate::PortForwardErrorOrder::DataCloseFirst,
                    ErrorOrderArg::ErrorFirst => crate::PortForwardErrorOrder::ErrorFirst,
                },
            },
            Self::Clear => Fault::Clear,
        }
    }
}

/// Errors of the command line.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Starting the cluster failed.
    #[error("failed to start the emulated cluster")]
    Start(#[from] crate::StartError),
    /// The fixture is invalid.
    #[error("failed to load the fixture")]
    Fixture(#[from] crate::fixture::FixtureError),
    /// Talking to a running cluster failed.
    #[error("failed to reach the emulated cluster")]
    Client(#[from] ClientError),
    /// Local I/O failed.
    #[error("failed to {0}")]
    Io(&'static str, #[source] std::io::Error),
}

/// Parses `args` (program name first) and runs the command; `exe` is the program that runs
/// workloads and the credential plugin (this binary).
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>, exe: PathBuf) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _printed = e.print();
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("TETHER_LOG").unwrap_or_else(|_| "warn".into());
    let _init =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command, exe)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = format!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command, exe: PathBuf) -> Result<(), CliError> {
    match command {
        Command::Serve(args) => serve(args, exe).await,
        Command::Fault { kubeconfig, namespace, fault } => {
            let client = ControlClient::from_kubeconfig(&kubeconfig)?;
            let report = client.inject(&fault.into_fault(namespace)).await?;
            say(&format!("affected={}", report.affected));
            Ok(())
        }
        Command::Workload { kind, port, bytes } => crate::workload::run(kind, port, bytes)
            .await
            .map_err(|e| CliError::Io("run the workload", e)),
        Command::Credential { token_file } => {
            let token = std::fs::read_to_string(&token_file)
                .map_err(|e| CliError::Io("read the token file", e))?;
            say(&crate::kubeconfig::exec_credential(token.trim()).to_string());
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs, exe: PathBuf) -> Result<(), CliError> {
    let mut config = Config::new(exe);
    if let Some(path) = &args.fixture {
        config.fixture = Fixture::load(path)?;
    }
    config.auth = match args.auth {
        AuthArg::Token => AuthMode::Token,
        AuthArg::Cert => AuthMode::ClientCert,
        AuthArg::Exec => AuthMode::Exec,
    };
    config.old_cluster = args.old_cluster;
    config.stored_spdy_headers = args.stored_spdy_headers;
    if args.portforward_error_first {
        config.portforward_error_order = crate::config::PortForwardErrorOrder::ErrorFirst;
    }
    config.recreate_delay = Duration::from_millis(args.recreate_delay_ms);
    config.state_dir = args.state_dir;
    config.kubeconfig_out = Some(args.kubeconfig_out.clone());
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.map_err(|e| CliError::Io("listen", e))?;
    let cluster = TestCluster::start_on(config, listener).await?;
    say(&format!("ready kubeconfig={} server={}", cluster.kubeconfig().display(), cluster.url()));
    eprintln!("try: KUBECONFIG={} kubectl get pods", cluster.kubeconfig().display());
    wait_for_signal().await.map_err(|e| CliError::Io("install signal handlers", e))?;
    let deadline = cluster.cluster().config.grace_period + Duration::from_secs(5);
    cluster.shutdown(deadline).await;
    Ok(())
}

/// Writes one line of the command's output to stdout and flushes it (a closed pipe is ignored).
fn say(line: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ignored = writeln!(out, "{line}").and_then(|()| out.flush());
}

async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
