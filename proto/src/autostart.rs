//! Starting tetherd when none runs. A lifecycle lock (an advisory lock on a file beside the
//! socket) makes concurrent clients take turns, so only one of them starts a daemon.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::client::{Client, ClientError, connect};
use crate::paths::{self, ENV_DAEMON_BIN};

/// How to find or start the daemon.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The socket to use.
    pub socket: PathBuf,
    /// The `tetherd` binary; found beside the current executable or on PATH when `None`.
    pub daemon_bin: Option<PathBuf>,
    /// Extra arguments for the daemon (such as `--state-dir`).
    pub daemon_args: Vec<String>,
    /// How long to wait for a started daemon to answer.
    pub timeout: Duration,
}

impl StartOptions {
    /// Defaults for `socket`.
    #[must_use]
    pub fn new(socket: PathBuf) -> Self {
        Self { socket, daemon_bin: None, daemon_args: Vec::new(), timeout: Duration::from_secs(10) }
    }
}

/// The `tetherd` binary to start: `TETHER_DAEMON_BIN`, a sibling of this executable, or PATH.
#[must_use]
pub fn daemon_bin(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_owned();
    }
    if let Some(p) = std::env::var_os(ENV_DAEMON_BIN).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    beside_exe("tetherd").unwrap_or_else(|| PathBuf::from("tetherd"))
}

/// The file `name` beside this executable, or beside the file it links to (macOS names the link
/// itself, as for krew's `kubectl-tether` or Homebrew's bin folder).
#[must_use]
pub fn beside_exe(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let beside = |e: &Path| e.parent().map(|d| d.join(name)).filter(|p| p.is_file());
    beside(&exe).or_else(|| beside(&std::fs::canonicalize(&exe).ok()?))
}

/// The file `name` in the first folder of `PATH` that has it.
#[must_use]
pub fn on_path(name: &Path) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Connects to the daemon, starting it first if nothing answers on the socket.
///
/// # Errors
/// Fails if the daemon cannot be started or does not answer in time, or is incompatible.
pub async fn connect_or_start(
    opts: &StartOptions,
    client_name: &str,
) -> Result<Client, ClientError> {
    match connect(&opts.socket, client_name).await {
        Err(ClientError::Connect { .. }) => {}
        other => return other,
    }
    let dir = opts.socket.parent().map_or_else(paths::runtime_dir, Path::to_owned);
    paths::socket_dir(&dir)
        .map_err(|e| ClientError::Lock { path: dir.clone(), source: std::io::Error::other(e) })?;
    let lock_path = dir.join("lifecycle.lock");
    let _lock = lock(&lock_path).await?;
    // Another client may have started it while we waited for the lock.
    match connect(&opts.socket, client_name).await {
        Err(ClientError::Connect { .. }) => {}
        other => return other,
    }
    let bin = daemon_bin(opts.daemon_bin.as_deref());
    let start_err = |reason: String| ClientError::Start { bin: bin.display().to_string(), reason };
    let mut command = tokio::process::Command::new(&bin);
    command
        .arg("--socket")
        .arg(&opts.socket)
        .arg("--log-file")
        .args(&opts.daemon_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(false);
    let mut child = command
        .spawn()
        .map_err(|e| start_err(format!("{e}; install tetherd or set {ENV_DAEMON_BIN}")))?;
    let deadline = tokio::time::Instant::now() + opts.timeout;
    loop {
        match connect(&opts.socket, client_name).await {
            Err(ClientError::Connect { .. }) => {}
            other => return other,
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(start_err(format!("it exited with {status}; see `tether daemon logs`")));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(start_err(format!(
                "it did not answer within {:?}; see `tether daemon logs`",
                opts.timeout
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Takes the lifecycle lock, waiting for other clients.
async fn lock(path: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, ClientError> {
    let path = path.to_owned();
    let err_path = path.clone();
    let err = move |source| ClientError::Lock { path: err_path.clone(), source };
    tokio::task::spawn_blocking(move || {
        let file =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| std::io::Error::from(e))
    })
    .await
    .map_err(|e| err(std::io::Error::other(e)))?
    .map_err(err)
}
