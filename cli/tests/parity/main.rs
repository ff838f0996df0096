//! `tether exec` and `tether cp` against `kubectl exec` and `kubectl cp`, on the emulated
//! cluster through the real tetherd: the same stdout, stderr and exit code, byte for byte; a
//! TTY driven through a pty; trees copied both ways and checksummed; `../` refused.
//!
//! kubectl missing from PATH, or tetherd not built beside `tether`, fails the test saying how to
//! get it; `TETHER_ALLOW_SKIP=1` turns that into a loud skip.

mod cp;
mod exec;
mod pty;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tether_testkit::TestCluster;
use tether_testsupport::{TempDir, beside, require, which};
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tether");

/// The emulated cluster, a private tetherd (started by `tether` itself), and kubectl.
#[derive(Debug)]
pub struct Env {
    pub cluster: TestCluster,
    /// The working folder of every command, and the daemon's socket and state.
    pub dir: TempDir,
    pub daemon: PathBuf,
    pub kubectl: PathBuf,
}

/// The tetherd built beside `tether`: `cargo test --workspace` builds it, `cargo test -p
/// tether-cli` alone does not. Missing, the test fails (or skips under TETHER_ALLOW_SKIP=1).
#[track_caller]
pub fn tetherd() -> Option<PathBuf> {
    let how = "build it with `cargo build -p tether-daemon` (`cargo test --workspace` does)";
    require(beside(Path::new(BIN), "tetherd"), "tetherd beside tether", how)
}

impl Env {
    /// Starts the cluster; `None` (a skip under TETHER_ALLOW_SKIP=1) without kubectl or tetherd.
    pub async fn start(tag: &str) -> Option<Self> {
        Self::start_with(tag, "").await
    }

    /// [`Env::start`] with more objects (a YAML fixture) beside the default ones.
    pub async fn start_with(tag: &str, fixture: &str) -> Option<Self> {
        let how = "install kubectl v1.32 on PATH (https://dl.k8s.io/release/v1.32.4/bin/linux/amd64/kubectl)";
        let kubectl = require(which("kubectl"), "kubectl on PATH", how)?;
        let daemon = tetherd()?;
        let exe = tether_testkit::config::locate_testkit_exe().expect("tether-testkit is built");
        let dir = TempDir::new(&format!("parity-{tag}"));
        let mut config = tether_testkit::Config::new(exe);
        let fixture = fixture.replace("$DIR", &dir.display().to_string());
        if !fixture.trim().is_empty() {
            config.fixture.objects.extend(
                tether_testkit::fixture::Fixture::parse(&fixture).expect("fixture").objects,
            );
        }
        let cluster = TestCluster::start(config).await.expect("cluster");
        assert!(cluster.wait_ready("app=web", 2, Duration::from_secs(30)).await.is_some());
        Some(Self { cluster, dir, daemon, kubectl })
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .env("KUBECONFIG", self.cluster.kubeconfig())
            .env("TETHER_SOCKET", self.dir.join("run/tetherd.sock"))
            .env("TETHER_STATE_DIR", self.dir.join("state"))
            .env("TETHER_DAEMON_BIN", &self.daemon)
            .env("NO_COLOR", "1")
            .current_dir(&self.dir)
            .kill_on_drop(true);
        command
    }

    /// Runs `tether ARGS` with `stdin` piped (or none), with a deadline.
    pub async fn tether(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run(self.command(Path::new(BIN), args), stdin).await
    }

    /// Runs `kubectl ARGS` the same way.
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        run(self.command(&self.kubectl, args), stdin).await
    }

    /// Stops the daemon (the folder goes with `self`).
    pub async fn finish(self) {
        let _stopped = self.tether(&["daemon", "stop"], None).await;
    }
}

async fn run(mut command: Command, stdin: Option<&[u8]>) -> Output {
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    let writer = stdin.map(|data| {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let data = data.to_vec();
        tokio::spawn(async move {
            let _written = pipe.write_all(&data).await;
        })
    });
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("finished within 120 s")
        .expect("ran");
    if let Some(w) = writer {
        let _done = w.await;
    }
    output
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
