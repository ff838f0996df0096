//! tetherd as a separate process on a private socket and state folder, and its forwards.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tether_proto::client::Client;
use tether_proto::pb;

use crate::proc::ChildGuard;

/// A running tetherd and a handshaken client.
#[derive(Debug)]
pub struct Tetherd {
    child: ChildGuard,
    client: Client,
    kubeconfig: String,
    log: PathBuf,
    socket: PathBuf,
}

impl Tetherd {
    /// Starts `exe --socket DIR/run/tetherd.sock --state-dir DIR/state`, logging to
    /// `DIR/tetherd.log`, and connects to it.
    pub async fn start(exe: &Path, dir: &Path, kubeconfig: &Path) -> anyhow::Result<Self> {
        let socket = dir.join("run/tetherd.sock");
        let log = dir.join("tetherd.log");
        let log_file = std::fs::File::create(&log)?;
        let mut cmd = Command::new(exe);
        cmd.arg("--socket")
            .arg(&socket)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .env(tether_proto::paths::ENV_LOG, "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let mut child = ChildGuard::spawn(&mut cmd, "tetherd")?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let client = loop {
            match tether_proto::client::connect(&socket, "tether-bench").await {
                Ok(c) => break c,
                Err(e) => {
                    if let Some(status) = child.exited() {
                        anyhow::bail!("tetherd exited with {status}: {}", read_log(&log));
                    }
                    anyhow::ensure!(Instant::now() < deadline, "tetherd never answered: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let kubeconfig = kubeconfig.display().to_string();
        Ok(Self { child, client, kubeconfig, log, socket })
    }

    /// The daemon's socket, for the `tether` CLI.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The daemon's process id.
    pub fn pid(&self) -> i32 {
        self.child.pid()
    }

    /// Creates a forward, waits until it is Ready, and returns its local ports.
    pub async fn forward(
        &mut self,
        name: &str,
        target: &str,
        ports: &[&str],
    ) -> anyhow::Result<Vec<u16>> {
        let spec = pb::ForwardSpec {
            name: name.into(),
            target: target.into(),
            namespace: "default".into(),
            kubeconfig: self.kubeconfig.clone(),
            ports: ports.iter().map(|p| (*p).to_owned()).collect(),
            ..pb::ForwardSpec::default()
        };
        let req = pb::CreateForwardRequest {
            spec: Some(spec),
            wait_ready: true,
            wait_timeout_ms: 30_000,
        };
        let fwd = self.client.forwards.create_forward(req).await?.into_inner().forward;
        let status = fwd.and_then(|f| f.status).context("no forward status in the answer")?;
        anyhow::ensure!(
            status.phase() == pb::Phase::Ready,
            "forward {name} is not ready: {status:?}"
        );
        status
            .local_addresses
            .iter()
            .map(|a| a.rsplit(':').next().and_then(|p| p.parse().ok()).context("bad local address"))
            .collect()
    }

    /// The forward's current status.
    pub async fn status(&mut self, name: &str) -> anyhow::Result<pb::ForwardStatus> {
        let req = pb::GetForwardRequest { name: name.into() };
        let fwd = self.client.forwards.get_forward(req).await?.into_inner().forward;
        fwd.and_then(|f| f.status).context("no forward status in the answer")
    }

    /// Polls every `every` until the forward's status satisfies `want`; returns it and when.
    pub async fn wait_status(
        &mut self,
        name: &str,
        timeout: Duration,
        every: Duration,
        want: impl Fn(&pb::ForwardStatus) -> bool,
    ) -> anyhow::Result<(pb::ForwardStatus, Instant)> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.status(name).await?;
            let at = Instant::now();
            if want(&status) {
                return Ok((status, at));
            }
            anyhow::ensure!(at < deadline, "forward {name} stayed {status:?} for {timeout:?}");
            tokio::time::sleep(every).await;
        }
    }

    /// The forward's events: its current state first, then every change.
    pub async fn events(&mut self, name: &str) -> anyhow::Result<tonic::Streaming<pb::Event>> {
        let req = pb::WatchEventsRequest { names: vec![name.to_owned()] };
        Ok(self.client.forwards.watch_events(req).await?.into_inner())
    }

    /// Deletes a forward.
    pub async fn delete(&mut self, name: &str) -> anyhow::Result<()> {
        let req = pb::DeleteForwardRequest { name: name.into() };
        self.client.forwards.delete_forward(req).await?;
        Ok(())
    }

    /// Stops the daemon (SIGTERM, SIGKILL after 5 s).
    pub fn stop(mut self) {
        self.child.stop(Duration::from_secs(5));
    }

    /// What tetherd logged, for error messages.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }
}

fn read_log(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(2000);
    text.get(start..).unwrap_or_default().to_owned()
}
