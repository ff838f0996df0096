//! Starting an emulated cluster and a daemon on a private socket, and talking to both.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tether_proto::client::Client;
use tether_proto::pb;
use tether_testkit::{Config as ClusterConfig, Fault, TestCluster};
use tokio_util::sync::CancellationToken;

/// A fixture with an echo deployment and service next to the default cluster.
pub const ECHO: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers:
        - name: echo
          command: ["tether-testkit", "workload", "echo"]
          ports: [{name: tcp, containerPort: 7000}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{name: tcp, port: 70, targetPort: tcp}]
"#;

/// An emulated cluster, a daemon, and a client.
pub struct World {
    pub cluster: TestCluster,
    pub client: Client,
    pub dir: PathBuf,
    stop: CancellationToken,
    daemon: Option<tokio::task::JoinHandle<()>>,
}

/// Options for a world.
pub struct Options {
    pub old_cluster: bool,
    pub auth: tether_testkit::AuthMode,
    pub liveness: tether_daemon::tunnel::Liveness,
    pub recreate_delay: Duration,
    pub hold: Duration,
    pub error_order: tether_testkit::PortForwardErrorOrder,
    /// The clocks the daemon tells sleeps and freezes by (the system's when `None`).
    pub clocks: Option<std::sync::Arc<dyn tether_daemon::forward::wake::Clocks>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            old_cluster: false,
            auth: tether_testkit::AuthMode::Token,
            liveness: tether_daemon::tunnel::Liveness {
                interval: Duration::from_millis(500),
                deadline: Duration::from_secs(3),
                ..tether_daemon::tunnel::Liveness::default()
            },
            recreate_delay: Duration::from_millis(300),
            hold: Duration::from_secs(30),
            error_order: tether_testkit::PortForwardErrorOrder::default(),
            clocks: None,
        }
    }
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tether-e2e-{tag}-{}-{:08x}",
        std::process::id(),
        rand_u32()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    t.subsec_nanos() ^ (t.as_secs() as u32).rotate_left(7)
}

/// The daemon config for a world rooted at `dir`.
pub fn daemon_config(dir: &Path, opts: &Options) -> tether_daemon::Config {
    let mut config = tether_daemon::Config::new(dir.join("run/tetherd.sock"), dir.join("state"));
    config.liveness = opts.liveness;
    config.settings.hold = opts.hold;
    config.drain_deadline = Duration::from_secs(3);
    if let Some(clocks) = &opts.clocks {
        config.clocks = clocks.clone();
    }
    config
}

/// An emulated cluster with the echo fixture, its pods ready.
pub async fn start_cluster(opts: &Options) -> TestCluster {
    let exe = tether_testkit::config::locate_testkit_exe()
        .expect("the tether-testkit binary (run `cargo build -p tether-testkit`, or test the whole workspace)");
    let mut cc = ClusterConfig::new(exe);
    cc.old_cluster = opts.old_cluster;
    cc.auth = opts.auth;
    cc.recreate_delay = opts.recreate_delay;
    cc.portforward_error_order = opts.error_order;
    cc.fixture
        .objects
        .extend(tether_testkit::fixture::Fixture::parse(ECHO).expect("fixture").objects);
    let cluster = TestCluster::start(cc).await.expect("cluster");
    assert!(
        cluster.wait_ready("app in (web,echo)", 4, Duration::from_secs(30)).await.is_some(),
        "pods ready"
    );
    cluster
}

/// A forward spec against `cluster`.
pub fn spec_for(
    cluster: &TestCluster,
    name: &str,
    target: &str,
    ports: &[&str],
) -> pb::ForwardSpec {
    pb::ForwardSpec {
        name: name.into(),
        target: target.into(),
        namespace: "default".into(),
        kubeconfig: cluster.kubeconfig().display().to_string(),
        ports: ports.iter().map(|p| (*p).to_owned()).collect(),
        ..pb::ForwardSpec::default()
    }
}

impl World {
    pub async fn start(tag: &str, opts: Options) -> Self {
        let dir = temp_dir(tag);
        let cluster = start_cluster(&opts).await;
        let config = daemon_config(&dir, &opts);
        let socket = config.socket.clone();
        let listener = tether_daemon::socket::Listener::bind(&socket).expect("socket");
        let stop = CancellationToken::new();
        let s = stop.clone();
        let daemon = tokio::spawn(async move {
            tether_daemon::run(config, listener, s.cancelled_owned()).await.expect("daemon runs");
        });
        let client = connect(&socket).await;
        Self { cluster, client, dir, stop, daemon: Some(daemon) }
    }

    /// A forward spec against this cluster.
    pub fn spec(&self, name: &str, target: &str, ports: &[&str]) -> pb::ForwardSpec {
        spec_for(&self.cluster, name, target, ports)
    }

    /// Creates a forward and waits until it is Ready; returns its first local port.
    pub async fn forward(&mut self, name: &str, target: &str, ports: &[&str]) -> u16 {
        let req = pb::CreateForwardRequest {
            spec: Some(self.spec(name, target, ports)),
            wait_ready: true,
            wait_timeout_ms: 30_000,
        };
        let fwd = self
            .client
            .forwards
            .create_forward(req)
            .await
            .expect("create")
            .into_inner()
            .forward
            .expect("forward");
        let status = fwd.status.expect("status");
        assert_eq!(status.phase(), pb::Phase::Ready, "{status:?}");
        local_port(&status.local_addresses[0])
    }

    pub async fn get(&mut self, name: &str) -> pb::Forward {
        let req = pb::GetForwardRequest { name: name.into() };
        self.client
            .forwards
            .get_forward(req)
            .await
            .expect("get")
            .into_inner()
            .forward
            .expect("forward")
    }

    /// Waits until the forward's phase satisfies `want`, up to `timeout`.
    pub async fn wait_phase(
        &mut self,
        name: &str,
        timeout: Duration,
        want: impl Fn(&pb::ForwardStatus) -> bool,
    ) -> pb::ForwardStatus {
        let deadline = Instant::now() + timeout;
        loop {
            let status = self.get(name).await.status.expect("status");
            if want(&status) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "forward {name} never reached the wanted state: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn inject(&self, fault: Fault) -> usize {
        self.cluster.inject(fault).await.expect("fault").affected
    }

    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(d) = self.daemon.take() {
            let _ended = tokio::time::timeout(Duration::from_secs(10), d).await;
        }
        let _removed = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn connect(socket: &Path) -> Client {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tether_proto::client::connect(socket, "e2e").await {
            Ok(c) => return c,
            Err(e) => {
                assert!(Instant::now() < deadline, "daemon never answered: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

pub fn local_port(address: &str) -> u16 {
    address.rsplit(':').next().and_then(|p| p.parse().ok()).expect("ADDRESS:PORT")
}

/// Sends `data` through the echo forward at `port`, half-closes, and returns what came back.
pub fn echo_roundtrip(port: u16, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = tcp.try_clone()?;
    let data = data.to_vec();
    let w = std::thread::spawn(move || -> std::io::Result<()> {
        writer.write_all(&data)?;
        writer.shutdown(std::net::Shutdown::Write)
    });
    let mut back = Vec::new();
    tcp.read_to_end(&mut back)?;
    w.join().map_err(|_| std::io::Error::other("writer panicked"))??;
    Ok(back)
}

/// Sends `data` through the echo forward at `port` and reads back as many bytes, without a
/// half-close (which the legacy protocol cannot carry).
pub fn echo_exact(port: u16, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = tcp.try_clone()?;
    let owned = data.to_vec();
    let w = std::thread::spawn(move || writer.write_all(&owned));
    let mut back = vec![0u8; data.len()];
    tcp.read_exact(&mut back)?;
    w.join().map_err(|_| std::io::Error::other("writer panicked"))??;
    Ok(back)
}

/// `GET /` through the web forward at `port`; the body (a pod name).
pub fn http_get(port: u16) -> std::io::Result<String> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    tcp.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    if !text.starts_with("HTTP/1.0 200") {
        return Err(std::io::Error::other(format!("bad answer: {text:?}")));
    }
    Ok(text.rsplit("\r\n\r\n").next().unwrap_or_default().trim().to_owned())
}

/// Deterministic bytes and their SHA-256.
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
