//! `tether exec` and `tether cp` against `kubectl exec` and `kubectl cp`, on the emulated
//! cluster through the real tetherd: the same stdout, stderr and exit code, byte for byte; a
//! TTY driven through a pty; trees copied both ways and checksummed; `../` refused.
//!
//! kubectl missing is a loud skip locally and a failure under `CI=true`, as is tetherd not
//! being built beside `tether`.

mod cp;
mod exec;
mod pty;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tether_testkit::TestCluster;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tether");

/// The emulated cluster, a private tetherd (started by `tether` itself), and kubectl.
#[derive(Debug)]
pub struct Env {
    pub cluster: TestCluster,
    pub dir: PathBuf,
    pub daemon: PathBuf,
    pub kubectl: PathBuf,
}

fn ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn skip(what: &str) -> Option<Env> {
    assert!(!ci(), "{what} is required under CI=true");
    eprintln!("\n*** SKIPPED: {what} ***\n");
    None
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

impl Env {
    /// Starts the cluster, or `None` (a skip) without kubectl or tetherd.
    pub async fn start(tag: &str) -> Option<Self> {
        Self::start_with(tag, "").await
    }

    /// [`Env::start`] with more objects (a YAML fixture) beside the default ones.
    pub async fn start_with(tag: &str, fixture: &str) -> Option<Self> {
        let Some(kubectl) = which("kubectl") else { return skip("kubectl is not on PATH") };
        let daemon = Path::new(BIN).parent().map(|d| d.join("tetherd")).filter(|p| p.is_file());
        let Some(daemon) = daemon else {
            return skip("tetherd is not built beside tether (cargo build -p tether-daemon)");
        };
        let exe = tether_testkit::config::locate_testkit_exe().expect("tether-testkit is built");
        let dir = std::env::temp_dir().join(format!("tether-parity-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
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

    /// Stops the daemon and removes the folder.
    pub async fn finish(self) {
        let _stopped = self.tether(&["daemon", "stop"], None).await;
        let _removed = std::fs::remove_dir_all(&self.dir);
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

/// Deterministic bytes.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}
