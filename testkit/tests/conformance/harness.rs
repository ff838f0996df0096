//! The test harness: emulated clusters (shared, or private where a test counts what the cluster
//! saw), a kubectl runner with deadlines, the protocols each kubectl must negotiate, and
//! port-forward helpers. The pty, waits and prerequisites come from `tether-testsupport`.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tether_testkit::{Config, Fault, TestCluster};
use tether_testsupport::{Output, beside, require, until, wait_child, wait_output, which};

/// Deadline for one kubectl command.
pub const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);

/// Upgrades as the testkit counts them (`Cluster::upgrades_by_protocol`): exec, attach and cp
/// over WebSocket v5, and over SPDY (the kubelet's newest SPDY version, v4).
pub const WS_V5: &str = "websocket:v5.channel.k8s.io";
pub const SPDY_EXEC: &str = "spdy:v4.channel.k8s.io";
/// Port-forward over the SPDY tunnel in a WebSocket, and over raw SPDY.
pub const WS_TUNNEL: &str = "websocket:SPDY/3.1+portforward.k8s.io";
pub const SPDY_PF: &str = "spdy:portforward.k8s.io";

/// A running emulated cluster and what kubectl needs to reach it.
pub struct Env {
    pub cluster: TestCluster,
    pub kubeconfig: PathBuf,
    pub cache: PathBuf,
    pub runtime: tokio::runtime::Runtime,
    /// Used by several tests at once ([`modern`], [`old`]): its counts are not one test's.
    shared: bool,
}

impl Env {
    /// Starts a private cluster with `config`, on its own runtime.
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
        Self { cluster, kubeconfig, cache, runtime, shared: false }
    }

    /// Whether this is an old (1.29-like) cluster: no v5 translator, no port-forward tunnel.
    pub fn is_old(&self) -> bool {
        self.cluster.cluster().config().old_cluster
    }

    /// Runs `case`, then asserts that the cluster answered `count` upgrades meanwhile, every
    /// one with `protocol`. kubectl falls back to SPDY without a word when WebSocket fails, so
    /// without this a broken WebSocket path passes. Private clusters only: a shared one counts
    /// the upgrades of the tests running beside.
    #[track_caller]
    pub fn expect_upgrades<T>(&self, protocol: &str, count: u64, case: impl FnOnce() -> T) -> T {
        assert!(!self.shared, "counting upgrades needs a private cluster (Env::start)");
        let before = self.cluster.cluster().upgrades_by_protocol();
        let done = case();
        let mut upgrades = self.cluster.cluster().upgrades_by_protocol();
        for (name, count) in &before {
            if let Some(now) = upgrades.get_mut(name) {
                *now -= count;
            }
        }
        upgrades.retain(|_, count| *count > 0);
        let expected = BTreeMap::from([(protocol.to_owned(), count)]);
        assert_eq!(upgrades, expected, "the upgrades the cluster answered, by protocol");
        done
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
    let env = Arc::new(Env { shared: true, ..Env::start(configure) });
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

/// A kubectl binary.
#[derive(Clone, Debug)]
pub struct Kubectl {
    pub bin: PathBuf,
    /// Its minor version, which decides the protocols it offers.
    minor: u32,
    env: Vec<(String, String)>,
}

impl Kubectl {
    /// The kubectl on PATH, v1.32. Missing, the test fails (or skips under TETHER_ALLOW_SKIP=1).
    #[track_caller]
    pub fn on_path() -> Option<Self> {
        let bin = require(
            which("kubectl"),
            "kubectl on PATH",
            "install kubectl v1.32 on PATH (https://dl.k8s.io/release/v1.32.4/bin/linux/amd64/kubectl)",
        )?;
        Some(Self { bin, minor: 32, env: Vec::new() })
    }

    /// `kubectl.1.MINOR` from the folder the PATH kubectl resolves to (as the Google Cloud SDK
    /// installs them). Missing, the test fails (or skips under TETHER_ALLOW_SKIP=1).
    #[track_caller]
    pub fn version(minor: u32) -> Option<Self> {
        let main = Self::on_path()?;
        let name = format!("kubectl.1.{minor}");
        let real = std::fs::canonicalize(&main.bin).unwrap_or_else(|_| main.bin.clone());
        let dir = real.parent().unwrap_or(&real).display().to_string();
        let how = format!(
            "put kubectl v1.{minor} in {dir} (where the kubectl on PATH leads) as {name}, from \
             https://dl.k8s.io/release/v1.{minor}.0/bin/linux/amd64/kubectl"
        );
        let bin = require(beside(&main.bin, &name), &format!("{name} beside kubectl"), &how)?;
        Some(Self { bin, minor, env: Vec::new() })
    }

    /// The protocol it streams exec, attach and cp over against `env`: WebSocket v5 from 1.30
    /// on, unless turned off or the cluster has no v5 translator; SPDY otherwise.
    pub fn remote_command_protocol(&self, env: &Env) -> &'static str {
        let off = self.env_value("KUBECTL_REMOTE_COMMAND_WEBSOCKETS") == Some("false");
        if self.minor < 30 || off || env.is_old() { SPDY_EXEC } else { WS_V5 }
    }

    /// The protocol it port-forwards over against `env`: the SPDY tunnel in a WebSocket from
    /// 1.31 on, unless turned off or the cluster has no tunnel; raw SPDY otherwise.
    pub fn port_forward_protocol(&self, env: &Env) -> &'static str {
        let off = self.env_value("KUBECTL_PORT_FORWARD_WEBSOCKETS") == Some("false");
        if self.minor < 31 || off || env.is_old() { SPDY_PF } else { WS_TUNNEL }
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
        let what = format!("kubectl {target} prints its \"Forwarding from\" line");
        let local_port = until(Duration::from_secs(30), &what, || {
            let text = log.lock().expect("log").clone();
            let port = text
                .lines()
                .find_map(|l| l.strip_prefix("Forwarding from 127.0.0.1:"))
                .and_then(|rest| rest.split(' ').next())
                .and_then(|p| p.parse().ok());
            if let (None, Ok(Some(status))) = (port, child.try_wait()) {
                panic!("kubectl {target} exited with {status}: {text}");
            }
            port.ok_or(text)
        });
        Self { child, local_port, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// Waits for kubectl to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_child(&mut self.child, timeout)
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

/// A file of `len` deterministic pseudo-random bytes and its SHA-256 hex.
pub fn random_file(dir: &Path, name: &str, len: usize) -> (PathBuf, String) {
    use sha2::Digest as _;
    let data = tether_testsupport::payload(len as u64, len);
    let path = dir.join(name);
    std::fs::write(&path, &data).expect("write file");
    (path, hex::encode(sha2::Sha256::digest(&data)))
}

/// SHA-256 hex of a file.
pub fn sha256_file(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).expect("read file")))
}
