//! `tetherd`: the Tether daemon. Parses flags, sets up logging and the socket, and runs
//! [`tether_daemon::run`] until SIGTERM or SIGINT (a second signal forces the exit).

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use tether_daemon::args::Args;
use tether_daemon::socket::Listener;
use tether_proto::paths;

fn main() -> ExitCode {
    let args = Args::parse();
    match start(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn start(args: Args) -> anyhow::Result<()> {
    let socket = paths::socket_path(args.socket.as_deref());
    let state_dir = paths::state_dir(args.state_dir.as_deref())?;
    paths::private_dir(&state_dir)?;
    let mut config = tether_daemon::Config::new(socket.clone(), state_dir.clone());
    config.launch = launch(args.log_file);
    config.liveness = tether_daemon::tunnel::Liveness {
        interval: std::time::Duration::from_millis(args.ping_interval_ms),
        deadline: std::time::Duration::from_millis(
            args.ping_deadline_ms.max(args.ping_interval_ms * 2),
        ),
        quiet: std::time::Duration::from_millis(args.probe_quiet_ms),
        probe_floor: std::time::Duration::from_millis(args.probe_floor_ms),
    };
    config.settings.hold = std::time::Duration::from_millis(args.hold_ms);
    let _guard = if args.log_file {
        let _new_session = nix::unistd::setsid();
        let dir = state_dir.join("logs");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create the log folder {}", dir.display()))?;
        let appender = tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("tetherd")
            .filename_suffix("log")
            .max_log_files(7)
            .build(&dir)
            .context("failed to open the log file")?;
        let (writer, guard) = tracing_appender::non_blocking(appender);
        init_logging(writer, false);
        config.log_file = Some(dir);
        Some(guard)
    } else {
        init_logging(std::io::stderr, true);
        None
    };
    raise_descriptor_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the runtime")?;
    let listener = {
        let _runtime = runtime.enter();
        match Listener::from_systemd(&socket)? {
            Some(passed) => {
                config.launch = tether_daemon::Launch::SystemdSocket;
                passed
            }
            None => Listener::bind(&socket)?,
        }
    };
    runtime.block_on(async move {
        let shutdown = async {
            if let Err(e) = wait_for_signal().await {
                tracing::error!(error = %e, "failed to install signal handlers");
                std::future::pending::<()>().await;
            }
        };
        tether_daemon::run(config, listener, shutdown).await
    })?;
    Ok(())
}

/// How this process was started, from what its starter leaves in the environment (a socket
/// passed by systemd is known from the socket itself).
fn launch(log_file: bool) -> tether_daemon::Launch {
    use tether_daemon::Launch;
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    if set("INVOCATION_ID") {
        Launch::Systemd
    } else if set("XPC_SERVICE_NAME") {
        Launch::Launchd
    } else if log_file {
        Launch::Autostart
    } else {
        Launch::Foreground
    }
}

/// Raises the soft limit on open files to the hard limit: each forward holds a listener and a
/// tunnel, each connection two sockets, and 256 or 1024 runs out early.
fn raise_descriptor_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else { return };
    // macOS refuses more than OPEN_MAX (10240) for the soft limit.
    let want = if cfg!(target_os = "macos") { hard.min(10_240) } else { hard };
    if want > soft && setrlimit(Resource::RLIMIT_NOFILE, want, hard).is_err() {
        tracing::debug!(soft, hard, "could not raise the open-file limit");
    }
}

fn init_logging<W>(writer: W, ansi: bool)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_env(paths::ENV_LOG)
        .unwrap_or_else(|_| "info".into());
    let _init = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        .try_init();
}

/// Resolves on the first SIGTERM or SIGINT; a second one exits at once.
async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("tetherd: second signal: exiting now");
        std::process::exit(130);
    });
    Ok(())
}
