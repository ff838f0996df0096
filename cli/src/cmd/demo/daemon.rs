//! The demo's private daemon: tetherd on a socket and state folder of its own.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tether_proto::client::Client;
use tether_proto::pb;

/// A running private tetherd.
pub struct Daemon {
    child: tokio::process::Child,
    socket: PathBuf,
    dir: PathBuf,
}

impl Daemon {
    /// Starts tetherd in a temporary folder.
    pub async fn start(ping_deadline: Duration) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("tether-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
        let socket = dir.join("run/tetherd.sock");
        let bin = tether_proto::autostart::daemon_bin(None);
        let child = tokio::process::Command::new(&bin)
            .arg("--socket")
            .arg(&socket)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--ping-interval-ms")
            .arg((ping_deadline.as_millis() / 3).max(100).to_string())
            .arg("--ping-deadline-ms")
            .arg(ping_deadline.as_millis().to_string())
            .env("TETHER_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "failed to start {}; build it with `cargo build -p tether-daemon`",
                    bin.display()
                )
            })?;
        crate::out::note(&format!("started a private tetherd on {}", socket.display()));
        Ok(Self { child, socket, dir })
    }

    /// A handshaken client, waiting up to 10 s for the daemon to answer.
    pub async fn client(&self) -> anyhow::Result<Client> {
        let deadline = Instant::now() + Duration::from_secs(10);
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

    /// Asks the daemon to exit, kills it after 5 s, and removes its folder.
    pub async fn stop(mut self) {
        if let Ok(mut client) = self.client().await {
            let _asked = client.daemon.shutdown(pb::ShutdownRequest {}).await;
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let _killed = self.child.kill().await;
        }
        let _removed = std::fs::remove_dir_all(&self.dir);
    }
}
