//! Everything one run measures against: the cluster, the direct workloads, tetherd and its
//! forwards, kubectl, and the TLS relay. Fields drop in order, so processes go before the
//! cluster and the temp folder goes last.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tether_testkit::{Fault, TestCluster};

use crate::args::Plan;
use crate::cluster::Direct;
use crate::daemon::Tetherd;
use crate::kubectl::Kubectl;
use crate::proc::TempDir;
use crate::relay::TlsRelay;
use crate::results::Results;

/// Local ports of the echo, source and sink workloads through one way.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub echo: u16,
    pub source: u16,
    pub sink: u16,
}

/// One run's world.
#[derive(Debug)]
pub struct World {
    pub tetherd: Tetherd,
    pub relay: Option<TlsRelay>,
    pub direct: Direct,
    /// tetherd's forwards `echo` (svc/echo :70) and `bulk` (svc/bulk :7100 :7200).
    pub forwards: Option<Ports>,
    pub kubectl: Kubectl,
    pub plan: Plan,
    pub results: Results,
    pub cluster: TestCluster,
    pub dir: TempDir,
}

impl World {
    /// Starts the cluster, the direct workloads and tetherd.
    pub async fn start(plan: Plan) -> anyhow::Result<Self> {
        let dir = TempDir::new("tether-bench")?;
        let testkit = tether_testkit::config::locate_testkit_exe()?;
        let tetherd_exe = match &plan.tetherd {
            Some(p) => p.clone(),
            None => sibling("tetherd")?,
        };
        eprintln!("bench: starting the cluster ({})", testkit.display());
        let cluster = crate::cluster::start(&testkit, plan.bytes).await?;
        let (tk, bytes) = (testkit.clone(), plan.bytes);
        let direct = tokio::task::spawn_blocking(move || Direct::start(&tk, bytes)).await??;
        eprintln!("bench: starting {}", tetherd_exe.display());
        let tetherd = Tetherd::start(&tetherd_exe, dir.path(), cluster.kubeconfig()).await?;
        let kubectl = Kubectl {
            bin: plan.kubectl.clone(),
            kubeconfig: cluster.kubeconfig().to_owned(),
            cache: dir.path().join("kube-cache"),
        };
        let mut results = Results::default();
        results.notes.push(format!("tetherd: {}", tetherd_exe.display()));
        let k = kubectl.clone();
        let version = tokio::task::spawn_blocking(move || k.version()).await?;
        results.notes.push(format!("kubectl: {version}"));
        Ok(Self {
            tetherd,
            relay: None,
            direct,
            forwards: None,
            kubectl,
            plan,
            results,
            cluster,
            dir,
        })
    }

    /// Creates tetherd's `echo` and `bulk` forwards (once).
    pub async fn forwards(&mut self) -> anyhow::Result<Ports> {
        if let Some(p) = self.forwards {
            return Ok(p);
        }
        let echo = self.tetherd.forward("echo", "svc/echo", &[":70"]).await?;
        let bulk = self.tetherd.forward("bulk", "svc/bulk", &[":7100", ":7200"]).await?;
        let ports = Ports {
            echo: *echo.first().context("no echo port")?,
            source: *bulk.first().context("no source port")?,
            sink: *bulk.get(1).context("no sink port")?,
        };
        let protocol = self.tetherd.status("echo").await?.protocol;
        self.results.notes.push(format!("tetherd tunnel protocol: {protocol}"));
        self.forwards = Some(ports);
        Ok(ports)
    }

    /// Injects a fault into the cluster.
    pub async fn inject(&self, fault: Fault) -> anyhow::Result<usize> {
        Ok(self.cluster.inject(fault).await?.affected)
    }

    /// Waits until two echo pods are Ready, none of them `gone`; returns their names.
    pub async fn wait_echo_pods(
        &self,
        gone: &str,
        timeout: Duration,
    ) -> anyhow::Result<Vec<String>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let pods = crate::cluster::ready_echo_pods(&self.cluster);
            if pods.len() >= 2 && pods.iter().all(|p| p != gone) {
                return Ok(pods);
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "two echo pods were not Ready within {timeout:?}: {pods:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Records a phase's failure instead of ending the run.
    pub fn record(&mut self, phase: &str, result: anyhow::Result<()>) {
        if let Err(e) = result {
            eprintln!("bench: phase {phase} failed: {e:#}");
            self.results.errors.push(format!("{phase}: {e:#}"));
        }
    }

    /// Stops tetherd and the relay, then the cluster and its pods; returns the results.
    pub async fn finish(self) -> Results {
        let Self { tetherd, relay, direct, cluster, mut results, dir, .. } = self;
        if !results.errors.is_empty() {
            let log = tetherd.log();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            for line in tail.into_iter().rev() {
                results.notes.push(format!("tetherd log: {line}"));
            }
        }
        let _stopped = tokio::task::spawn_blocking(move || tetherd.stop()).await;
        drop(relay);
        drop(direct);
        cluster.shutdown(Duration::from_secs(10)).await;
        drop(dir);
        results
    }
}

/// A binary beside this one (cargo puts all of a workspace's binaries in one folder).
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(name);
    anyhow::ensure!(
        path.is_file(),
        "{} not found: build it with `cargo build --release -p tether-daemon -p tether-cli`",
        path.display()
    );
    Ok(path)
}
