//! The demo's private daemon: tetherd on a socket and state folder of its own, with the
//! defaults every user gets, in its own process group and logging to a file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tether_proto::client::Client;
use tether_proto::pb;

use super::process;

/// How long the daemon gets to answer once started.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How long it gets to drain after Shutdown before SIGTERM, then SIGKILL.
const STOP_WITHIN: Duration = Duration::from_secs(5);

/// A running private tetherd.
#[derive(Debug)]
pub struct Daemon {
    child: tokio::process::Child,
    socket: PathBuf,
}

impl Daemon {
    /// Starts tetherd with its socket and state in `dir`.
    ///
    /// # Errors
    /// When tetherd cannot be started.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let socket = dir.join("run/tetherd.sock");
        let bin = tether_proto::autostart::daemon_bin(None);
        let child = tokio::process::Command::new(&bin)
            .arg("--socket")
            .arg(&socket)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .env(tether_proto::paths::ENV_LOG, "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(process::log_file(&dir.join("tetherd.log"))?)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "failed to start {}: install tetherd beside tether (or set {}); from \
                     source, `cargo build --release -p tether-daemon`",
                    bin.display(),
                    tether_proto::paths::ENV_DAEMON_BIN,
                )
            })?;
        Ok(Self { child, socket })
    }

    /// The socket it serves.
    #[must_use]
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A handshaken client, waiting up to [`ANSWER_WITHIN`] for the daemon to answer.
    ///
    /// # Errors
    /// When it does not answer in time.
    pub async fn client(&self) -> anyhow::Result<Client> {
        let deadline = Instant::now() + ANSWER_WITHIN;
        loop {
            match tether_proto::client::connect(&self.socket, crate::cmd::CLIENT_NAME).await {
                Ok(c) => return Ok(c),
                Err(e) if Instant::now() >= deadline => {
                    return Err(e).context("the private tetherd did not answer");
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// Asks the daemon to exit, then stops it as any child.
    pub async fn stop(mut self) {
        if let Ok(Ok(mut client)) = tokio::time::timeout(
            STOP_WITHIN,
            tether_proto::client::connect(&self.socket, crate::cmd::CLIENT_NAME),
        )
        .await
        {
            let _asked =
                tokio::time::timeout(STOP_WITHIN, client.daemon.shutdown(pb::ShutdownRequest {}))
                    .await;
            if tokio::time::timeout(STOP_WITHIN, self.child.wait()).await.is_ok() {
                return;
            }
        }
        process::stop(self.child, STOP_WITHIN).await;
    }
}
