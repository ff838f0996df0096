//! The demo's emulated cluster: the `tether-testkit` binary beside `tether`, run as a child in
//! its own process group (Ctrl-C reaches only `tether`, which stops it last), its log in a file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use super::process;
use crate::args::ENV_TESTKIT_EXE;
use crate::error::{Exit, Failure};
use tether_proto::autostart;

/// The binary's name.
const TESTKIT: &str = "tether-testkit";
/// How long `serve` may take to print its ready line.
const READY_WITHIN: Duration = Duration::from_secs(30);
/// How long one `fault` command may take.
const FAULT_WITHIN: Duration = Duration::from_secs(10);
/// How long the cluster gets to stop its pods on SIGTERM before SIGKILL.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// A running `tether-testkit serve`.
#[derive(Debug)]
pub struct Cluster {
    child: tokio::process::Child,
    exe: PathBuf,
    kubeconfig: PathBuf,
}

impl Cluster {
    /// Starts the default cluster in `dir` (deployment `web`, 2 replicas; service `web`).
    ///
    /// # Errors
    /// A [`Failure`] when the binary is missing, or the cluster does not get ready in time.
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let exe = locate()?;
        let kubeconfig = dir.join("kubeconfig");
        let log = process::log_file(&dir.join("testkit.log"))?;
        let mut child = tokio::process::Command::new(&exe)
            .arg("serve")
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .arg("--state-dir")
            .arg(dir.join("pods"))
            .args(["--recreate-delay-ms", "1000"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("failed to start {}", exe.display()))?;
        let stdout = child.stdout.take().context("the cluster's stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(READY_WITHIN, lines.next_line()).await;
        match ready {
            Ok(Ok(Some(line))) if line.starts_with("ready ") => {}
            other => {
                let message = format!(
                    "the emulated cluster did not get ready within {READY_WITHIN:?} ({other:?}); \
                     its log is {}",
                    dir.join("testkit.log").display()
                );
                return Err(Failure::new(Exit::Error, message).into());
            }
        }
        Ok(Self { child, exe, kubeconfig })
    }

    /// The kubeconfig that reaches it.
    #[must_use]
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Injects a fault (`tether-testkit fault ARGS...`).
    ///
    /// # Errors
    /// When the command fails or takes too long.
    pub async fn fault(&self, args: &[&str]) -> anyhow::Result<()> {
        let run = tokio::process::Command::new(&self.exe)
            .arg("fault")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(FAULT_WITHIN, run)
            .await
            .map_err(|_| {
                anyhow::anyhow!("`{TESTKIT} fault {}` took over {FAULT_WITHIN:?}", args.join(" "))
            })?
            .with_context(|| format!("failed to run {TESTKIT} fault"))?;
        anyhow::ensure!(
            output.status.success(),
            "failed to inject `{}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(())
    }

    /// Stops it: SIGTERM (it stops its pods), then SIGKILL after a deadline.
    pub async fn stop(self) {
        process::stop(self.child, STOP_WITHIN).await;
    }
}

/// The `tether-testkit` to run: `TETHER_TESTKIT_EXE`, the one beside `tether`, or PATH's.
fn locate() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(ENV_TESTKIT_EXE).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let found = autostart::beside_exe(TESTKIT).or_else(|| autostart::on_path(Path::new(TESTKIT)));
    found.ok_or_else(|| {
        let message = format!(
            "failed to find {TESTKIT}, the emulated cluster `tether demo` runs: it is neither \
             beside tether nor on PATH. Release archives and packages ship it beside tether; \
             from source, build it with `cargo build --release -p tether-testkit` (or set \
             {ENV_TESTKIT_EXE})"
        );
        Failure::new(Exit::Error, message).into()
    })
}
