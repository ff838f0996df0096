//! The test harness: shared emulated clusters, a kubectl runner with deadlines, port-forward
//! helpers and a pty driver.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tether_testkit::{Config, Fault, TestCluster};

/// Deadline for one kubectl command.
pub const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);

/// A running emulated cluster and what kubectl needs to reach it.
pub struct Env {
    pub cluster: TestCluster,
    pub kubeconfig: PathBuf,
    pub cache: PathBuf,
    pub runtime: tokio::runtime::Runtime,
}

impl Env {
    /// Starts a cluster with `config`, on its own runtime.
    pub fn start(configure: impl FnOnce(&mut Config)) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut config = Config::new(env!("CARGO_BIN_EXE_tether-testkit"));
        configure(&mut config);
        let cluster = runtime.block_on(TestCluster::start(config)).expect("cluster starts");
        let ready = runtime.block_on(cluster.wait_ready("app=web", 2, Duration::from_secs(30)));
        assert!(ready.is_some(), "web pods did not become ready");
        let kubeconfig = cluster.kubeconfig().to_owned();
        let cache = cluster.cluster().state_dir().join("kube-cache");
        Self { cluster, kubeconfig, cache, runtime }
    }

    /// Applies a fault.
    pub fn inject(&self, fault: Fault) -> usize {
        self.runtime.block_on(self.cluster.inject(fault)).expect("fault applies").affected
    }

    /// Ready web pods right now.
    pub fn web_pods(&self) -> Vec<String> {
        self.cluster.cluster().ready_pods("default", "app=web")
    }

    /// Waits until `count` web pods are ready.
    pub fn wait_web(&self, count: usize) -> Vec<String> {
        self.runtime
            .block_on(self.cluster.wait_ready("app=web", count, Duration::from_secs(30)))
            .expect("web pods ready in time")
    }
}

/// A cluster shared by the tests that run at the same time; it shuts down (killing its pods)
/// when the last of them drops its handle, since statics are never dropped.
fn shared(slot: &'static Mutex<Weak<Env>>, configure: fn(&mut Config)) -> Arc<Env> {
    let mut slot = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(env) = slot.upgrade() {
        return env;
    }
    let env = Arc::new(Env::start(configure));
    *slot = Arc::downgrade(&env);
    env
}

/// The shared modern (1.32) cluster; tests on it must not delete its pods.
pub fn modern() -> Arc<Env> {
    static SLOT: Mutex<Weak<Env>> = Mutex::new(Weak::new());
    shared(&SLOT, |_| {})
}

/// The shared old-cluster (1.29-like) cluster.
pub fn old() -> Arc<Env> {
    static SLOT: Mutex<Weak<Env>> = Mutex::new(Weak::new());
    shared(&SLOT, |c| c.old_cluster = true)
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips a test with a loud message, or fails it under `CI=true`.
pub fn skip(what: &str) {
    assert!(!under_ci(), "{what} is required under CI=true");
    eprintln!("\n*** SKIPPED: {what} is not available; this case did not run ***\n");
}

/// Finds `name` on PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
}

/// A kubectl binary.
#[derive(Clone, Debug)]
pub struct Kubectl {
    pub bin: PathBuf,
    env: Vec<(String, String)>,
}

/// What a finished command produced.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

impl Kubectl {
    /// The kubectl on PATH, or `None` (after a loud skip) when missing.
    pub fn on_path() -> Option<Self> {
        match which("kubectl") {
            Some(bin) => Some(Self { bin, env: Vec::new() }),
            None => {
                skip("kubectl on PATH");
                None
            }
        }
    }

    /// The kubectl of another minor version, from the folder the PATH kubectl resolves to.
    pub fn version(minor: &str) -> Option<Self> {
        let main = Self::on_path()?;
        let dir = std::fs::canonicalize(&main.bin).ok()?.parent()?.to_owned();
        let bin = dir.join(format!("kubectl.{minor}"));
        if bin.is_file() {
            Some(Self { bin, env: Vec::new() })
        } else {
            skip(&format!("kubectl.{minor} beside kubectl"));
            None
        }
    }

    /// The same kubectl with an environment variable set.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The value this runner sets for `key`, if any.
    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn command(&self, env: &Env, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("KUBECONFIG", &env.kubeconfig)
            .env("KUBECACHEDIR", &env.cache)
            .env_remove("KUBECTL_REMOTE_COMMAND_WEBSOCKETS")
            .env_remove("KUBECTL_PORT_FORWARD_WEBSOCKETS");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs kubectl with `stdin` (closed after writing) and a deadline.
    pub fn run(&self, env: &Env, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = self.command(env, args);
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl starts");
        if let Some(data) = stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            let data = data.to_vec();
            std::thread::spawn(move || {
                let _written = pipe.write_all(&data);
            });
        }
        wait_output(child, KUBECTL_TIMEOUT, &format!("kubectl {}", args.join(" ")))
    }
}

/// Collects a child's output, killing it at the deadline.
pub fn wait_output(mut child: Child, timeout: Duration, what: &str) -> Output {
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _read = out.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _read = err.read_to_end(&mut buf);
        buf
    });
    let status = wait_deadline(&mut child, timeout)
        .unwrap_or_else(|| panic!("{what} did not finish within {timeout:?}"));
    let stdout = out_thread.join().expect("stdout reader");
    let stderr = String::from_utf8_lossy(&err_thread.join().expect("stderr reader")).into_owned();
    Output { status, stdout, stderr }
}

/// Waits for a child up to `timeout`; kills it and returns `None` on timeout.
pub fn wait_deadline(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _killed = child.kill();
            let _reaped = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `kubectl port-forward`.
pub struct PortForward {
    pub child: Child,
    pub local_port: u16,
    pub log: Arc<Mutex<String>>,
}

impl PortForward {
    /// Starts `kubectl port-forward TARGET :REMOTE` and waits for its "Forwarding from" line.
    pub fn start(kubectl: &Kubectl, env: &Env, target: &str, remote: &str) -> Self {
        Self::start_with(kubectl, env, &["port-forward", target, &format!(":{remote}")])
    }

    /// Starts kubectl with `args` (a port-forward) and waits for its "Forwarding from" line.
    pub fn start_with(kubectl: &Kubectl, env: &Env, args: &[&str]) -> Self {
        let target = args.join(" ");
        let mut cmd = kubectl.command(env, args);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl port-forward starts");
        let log = Arc::new(Mutex::new(String::new()));
        for pipe in [
            Box::new(child.stdout.take().expect("out")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("err")),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0u8; 1024];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    log.lock().expect("log").push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let local_port = loop {
            let text = log.lock().expect("log").clone();
            if let Some(port) = text
                .lines()
                .find_map(|l| l.strip_prefix("Forwarding from 127.0.0.1:"))
                .and_then(|rest| rest.split(' ').next())
                .and_then(|p| p.parse().ok())
            {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("kubectl port-forward {target} exited with {status}: {text}");
            }
            assert!(
                Instant::now() < deadline,
                "kubectl port-forward {target} never became ready: {text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Self { child, local_port, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// Waits for kubectl to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_deadline(&mut self.child, timeout)
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

/// `GET path` over HTTP/1.0 through `port`, with deadlines; returns (status line, body).
pub fn http_get(port: u16, path: &str) -> std::io::Result<(String, Vec<u8>)> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
    tcp.set_write_timeout(Some(Duration::from_secs(20)))?;
    tcp.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.lines().next().unwrap_or_default().to_owned();
    Ok((status, raw[split + 4..].to_vec()))
}

/// `n` concurrent `GET /` through `port`; returns the bodies (pod names).
pub fn concurrent_gets(port: u16, n: usize) -> Vec<String> {
    let handles: Vec<_> = (0..n).map(|_| std::thread::spawn(move || http_get(port, "/"))).collect();
    handles
        .into_iter()
        .map(|h| {
            let (status, body) = h.join().expect("thread").expect("request succeeds");
            assert!(status.starts_with("HTTP/1.") && status.contains(" 200"), "{status}");
            String::from_utf8_lossy(&body).trim().to_owned()
        })
        .collect()
}

/// A process on a pty, with its output collected by a thread.
pub struct PtyProcess {
    pub child: Child,
    pub pty: Arc<pty_process::blocking::Pty>,
    pub output: Arc<Mutex<Vec<u8>>>,
}

impl PtyProcess {
    pub fn spawn(command: Command, rows: u16, cols: u16) -> Self {
        let (pty, pts) = pty_process::blocking::open().expect("pty");
        pty.resize(pty_process::Size::new(rows, cols)).expect("resize");
        let program = command.get_program().to_owned();
        let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
        let envs: Vec<_> =
            command.get_envs().map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned))).collect();
        let mut cmd = pty_process::blocking::Command::new(program).args(args);
        for (k, v) in envs {
            cmd = match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let child = cmd.spawn(pts).expect("spawn on pty");
        let pty = Arc::new(pty);
        let output = Arc::new(Mutex::new(Vec::new()));
        let (p, o) = (pty.clone(), output.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = (&*p).read(&mut buf) {
                if n == 0 {
                    break;
                }
                o.lock().expect("output").extend_from_slice(&buf[..n]);
            }
        });
        Self { child, pty, output }
    }

    /// Waits for the process to exit, up to `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_deadline(&mut self.child, timeout)
    }

    pub fn write(&self, bytes: &[u8]) {
        (&*self.pty).write_all(bytes).expect("write to pty");
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().expect("output")).into_owned()
    }

    /// Waits until the output contains `needle` (after `from` bytes), up to 20 s.
    pub fn expect(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.text().contains(needle) {
            assert!(Instant::now() < deadline, "never saw {needle:?} in {:?}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PtyProcess {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

/// A file of `len` deterministic pseudo-random bytes and its SHA-256 hex.
pub fn random_file(dir: &Path, name: &str, len: usize) -> (PathBuf, String) {
    use sha2::Digest as _;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ len as u64;
    let data: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).expect("write file");
    (path, hex::encode(sha2::Sha256::digest(&data)))
}

/// SHA-256 hex of a file.
pub fn sha256_file(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).expect("read file")))
}
