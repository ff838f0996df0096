//! Starting an emulated cluster and a daemon on a private socket, talking to both, and checking
//! how the daemon ends.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tether_daemon::RunError;
use tether_daemon::cluster::kube::KubeFactory;
use tether_daemon::store::SledStore;
use tether_proto::client::Client;
use tether_proto::pb;
use tether_testkit::{Config as ClusterConfig, Fault, TestCluster};
pub use tether_testsupport::payload;
use tether_testsupport::{TempDir, until_async};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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

/// How long the daemon may take to end after the stop: its drain deadline (3 s here) and room.
pub const STOP_LIMIT: Duration = Duration::from_secs(10);

/// An emulated cluster, a daemon, and a client.
pub struct World {
    pub cluster: TestCluster,
    pub client: Client,
    /// The daemon's socket and state.
    pub dir: TempDir,
    /// Resolves the daemon's shutdown future; cancelled on drop too.
    stop: CancellationToken,
    daemon: Daemon,
}

/// The daemon running in-process: its task, and the tracker its tasks run on, so that the end
/// can be checked (no panic, `Ok`, and every task drained rather than left at the deadline).
struct Daemon {
    task: JoinHandle<Result<(), RunError>>,
    tracker: TaskTracker,
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
    pub clocks: Option<Arc<dyn tether_daemon::forward::wake::Clocks>>,
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

/// A folder for a daemon's socket and state, removed on drop.
pub fn temp_dir(tag: &str) -> TempDir {
    TempDir::new(&format!("e2e-{tag}"))
}

/// Where a daemon rooted at `dir` keeps its socket and its state: the one place the layout is
/// spelled, for the in-process daemon and `tetherd` alike.
pub fn layout_in(dir: &Path) -> tether_daemon::Config {
    tether_daemon::Config::new(dir.join("run/tetherd.sock"), dir.join("state"))
}

/// The socket of a daemon rooted at `dir`.
pub fn socket_in(dir: &Path) -> PathBuf {
    layout_in(dir).socket
}

/// The store of a daemon rooted at `dir`.
pub fn store_in(dir: &Path) -> PathBuf {
    layout_in(dir).store_dir()
}

/// Sends `sig` to the daemon process `child`.
pub fn signal(child: &Child, sig: Signal) {
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    kill(pid, sig).unwrap_or_else(|e| panic!("{sig}: {e}"));
}

/// The daemon config for a world rooted at `dir`.
pub fn daemon_config(dir: &Path, opts: &Options) -> tether_daemon::Config {
    let mut config = layout_in(dir);
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
        let daemon = Daemon::start(config, listener, stop.clone());
        let client = connect(&socket).await;
        Self { cluster, client, dir, stop, daemon }
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
        let what = format!("forward {name} reaches the wanted state");
        until_async(timeout, &what, async || {
            let status = self.get(name).await.status.expect("status");
            if want(&status) { Ok(status) } else { Err(status) }
        })
        .await
    }

    pub async fn inject(&self, fault: Fault) -> usize {
        self.cluster.inject(fault).await.expect("fault").affected
    }

    /// Stops the daemon and fails the test unless it ends well: within [`STOP_LIMIT`], without
    /// a panic, `run` returning `Ok`, and no task left running at the drain deadline.
    pub async fn shutdown(mut self) {
        self.end().await;
    }

    /// The daemon's socket.
    pub fn socket(&self) -> PathBuf {
        socket_in(&self.dir)
    }

    /// Stops the daemon as `shutdown` does, then reads its store: the names of the forwards
    /// stored, by name.
    pub async fn stop_daemon(mut self) -> Vec<String> {
        self.end().await;
        let (store, _report) = SledStore::open(&store_in(&self.dir)).expect("the store");
        let mut names: Vec<String> = tether_daemon::store::Store::forwards(&store)
            .expect("read the store")
            .into_iter()
            .map(|f| f.spec.name)
            .collect();
        names.sort();
        names
    }

    /// Stops the daemon and checks how it ended.
    async fn end(&mut self) {
        let early = self.daemon.task.is_finished();
        self.stop.cancel();
        let ended = tokio::time::timeout(STOP_LIMIT, &mut self.daemon.task).await;
        let Ok(joined) = ended else {
            panic!("the daemon did not end within {STOP_LIMIT:?} of the stop: it hangs on drain");
        };
        match joined {
            Err(e) if e.is_panic() => panic!("the daemon panicked: {e}"),
            Err(e) => panic!("the daemon's task failed: {e}"),
            Ok(Err(e)) => panic!("the daemon's run returned an error: {e:?}"),
            Ok(Ok(())) => {}
        }
        assert!(!early, "the daemon ended on its own before the test stopped it");
        let left = self.daemon.tracker.len();
        assert_eq!(left, 0, "{left} daemon tasks were still running at the drain deadline");
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // A test that fails before `shutdown` still stops its daemon.
        self.stop.cancel();
    }
}

impl Daemon {
    /// Runs the daemon as `tether_daemon::run` does (sled store, kube-backed clusters), through
    /// `run_with`, keeping its task tracker.
    fn start(
        config: tether_daemon::Config,
        listener: tether_daemon::socket::Listener,
        stop: CancellationToken,
    ) -> Self {
        let (cancel, tracker) = (CancellationToken::new(), TaskTracker::new());
        let (store, _report) = SledStore::open(&config.store_dir()).expect("open the store");
        let factory = Arc::new(KubeFactory::new(config.liveness, cancel.clone(), tracker.clone()));
        let run = tether_daemon::run_with(
            config,
            listener,
            stop.cancelled_owned(),
            Arc::new(store),
            factory,
            cancel,
            tracker.clone(),
        );
        Self { task: tokio::spawn(run), tracker }
    }
}

pub async fn connect(socket: &Path) -> Client {
    until_async(Duration::from_secs(10), "the daemon answers", async || {
        tether_proto::client::connect(socket, "e2e").await.map_err(|e| e.to_string())
    })
    .await
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

/// The harness's own check: a daemon task that ignores the cancellation is left running at the
/// drain deadline, and `shutdown` says so (`run` itself still returns `Ok`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "1 daemon tasks were still running at the drain deadline")]
async fn shutdown_fails_when_a_daemon_task_outlives_the_drain() {
    let w = World::start("stuck", Options::default()).await;
    w.daemon.tracker.spawn(std::future::pending::<()>());
    w.shutdown().await;
}
