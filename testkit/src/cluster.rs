//! The cluster: shared state of one emulated API server, and [`TestCluster`], its handle.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::config::Config;
use crate::faults::{Fault, FaultError, FaultReport, Faults};
use crate::fixture::Fixture;
use crate::kubeconfig::{self, KubeconfigSpec};
use crate::runtime::Runtime;
use crate::store::{LabelSelector, Resource, Store};
use crate::tls::{Pki, TlsError};

/// Errors from starting a cluster.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The state folder or kubeconfig could not be written.
    #[error("failed to prepare the cluster state folder {path}")]
    State {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The listener could not be bound.
    #[error("failed to listen on 127.0.0.1")]
    Bind(#[source] std::io::Error),
    /// Certificates could not be made.
    #[error("failed to set up TLS")]
    Tls(#[from] TlsError),
    /// A fixture object was rejected.
    #[error("failed to create fixture object {name}: {reason}")]
    Fixture {
        /// The object.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Shared state of one emulated cluster.
#[derive(Debug)]
pub struct Cluster {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) auth: Auth,
    pub(crate) pki: Pki,
    pub(crate) runtime: Runtime,
    pub(crate) faults: Faults,
    pub(crate) tracker: TaskTracker,
    pub(crate) cancel: CancellationToken,
    pub(crate) recreate_delay: std::sync::Mutex<Duration>,
    /// How failed port-forward connections end (see [`crate::Fault::PortForwardErrors`]).
    pub(crate) error_order: std::sync::Mutex<crate::PortForwardErrorOrder>,
    /// Streaming (upgrade) requests received, accepted or not.
    pub(crate) upgrades: std::sync::atomic::AtomicU64,
    /// What clients sent.
    pub(crate) audit: crate::audit::Audit,
    state_dir: PathBuf,
}

impl Cluster {
    /// The options it was started with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store of objects.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The folder holding pod working folders, the kubeconfig and the token file.
    #[must_use]
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The cluster CA certificate, PEM.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.pki.ca_pem
    }

    /// How many exec, attach and port-forward requests arrived so far (refused ones included),
    /// to check that clients do not retry in a hot loop.
    #[must_use]
    pub fn upgrade_requests(&self) -> u64 {
        self.upgrades.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The last requests (method, path and query as sent, User-Agent), oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<crate::audit::Request> {
        self.audit.requests()
    }

    /// Upgrades answered 101, by protocol: `websocket:<subprotocol>` (`websocket:` when none
    /// was chosen) or `spdy:<X-Stream-Protocol-Version>`. Tests assert what was negotiated.
    #[must_use]
    pub fn upgrades_by_protocol(&self) -> std::collections::BTreeMap<String, u64> {
        self.audit.upgrades()
    }

    /// The token valid now.
    #[must_use]
    pub fn current_token(&self) -> String {
        self.auth.current_token()
    }

    /// Pods in `namespace` matching `selector` (`app=web`), as JSON.
    #[must_use]
    pub fn pods(&self, namespace: &str, selector: &str) -> Vec<Arc<Value>> {
        let selector = LabelSelector::parse(selector).unwrap_or_default();
        self.store.list(Resource::Pods, Some(namespace), |p| selector.matches(p)).0
    }

    /// Names of the pods in `namespace` matching `selector` that are Ready and not terminating.
    #[must_use]
    pub fn ready_pods(&self, namespace: &str, selector: &str) -> Vec<String> {
        self.pods(namespace, selector)
            .iter()
            .filter(|p| crate::runtime::is_ready(p) && p["metadata"]["deletionTimestamp"].is_null())
            .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// Applies a fault now.
    ///
    /// # Errors
    /// Fails when the fault names something that does not exist.
    pub async fn inject(self: &Arc<Self>, fault: Fault) -> Result<FaultReport, FaultError> {
        crate::faults::apply(self, fault).await
    }
}

/// A running emulated cluster. Dropping it without [`TestCluster::shutdown`] cancels everything
/// but does not wait for the pods' processes to exit.
#[derive(Debug)]
pub struct TestCluster {
    cluster: Arc<Cluster>,
    addr: SocketAddr,
    url: String,
    kubeconfig: PathBuf,
    _temp: Option<TempDir>,
}

impl TestCluster {
    /// Starts a cluster on a free loopback port.
    ///
    /// # Errors
    /// Fails if the port, the state folder or a fixture object cannot be set up.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(StartError::Bind)?;
        Self::start_on(config, listener).await
    }

    /// Starts a cluster serving `listener`.
    ///
    /// # Errors
    /// As [`TestCluster::start`].
    pub async fn start_on(config: Config, listener: TcpListener) -> Result<Self, StartError> {
        let addr = listener.local_addr().map_err(StartError::Bind)?;
        let (state_dir, temp) = match &config.state_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = TempDir::new()
                    .map_err(|source| StartError::State { path: std::env::temp_dir(), source })?;
                (temp.0.clone(), Some(temp))
            }
        };
        let state_err = |path: &Path| {
            let path = path.to_owned();
            move |source| StartError::State { path, source }
        };
        std::fs::create_dir_all(state_dir.join("pods")).map_err(state_err(&state_dir))?;
        let pki = Pki::generate()?;
        let token_file = state_dir.join("token");
        let auth =
            Auth::new(&token_file, pki.client_cert_der.clone()).map_err(state_err(&token_file))?;
        let url = format!("https://{addr}");
        let kubeconfig =
            config.kubeconfig_out.clone().unwrap_or_else(|| state_dir.join("kubeconfig"));
        let mut exec_command = vec![config.testkit_exe.display().to_string()];
        exec_command.extend([
            "credential".into(),
            "--token-file".into(),
            token_file.display().to_string(),
        ]);
        let spec = KubeconfigSpec {
            server: &url,
            pki: &pki,
            auth: config.auth,
            token: &auth.current_token(),
            exec_command: &exec_command,
        };
        kubeconfig::write(&kubeconfig, &spec).map_err(state_err(&kubeconfig))?;

        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let tls = pki.server_config()?;
        let cluster = Arc::new(Cluster {
            runtime: Runtime::new(state_dir.join("pods")),
            faults: Faults::default(),
            store: Store::new(),
            recreate_delay: std::sync::Mutex::new(config.recreate_delay),
            error_order: std::sync::Mutex::new(config.portforward_error_order),
            upgrades: std::sync::atomic::AtomicU64::new(0),
            audit: crate::audit::Audit::default(),
            config,
            auth,
            pki,
            tracker: tracker.clone(),
            cancel: cancel.clone(),
            state_dir,
        });
        load_fixture(&cluster, &cluster.config.fixture.clone())?;
        tracker.spawn(crate::controller::run(cluster.clone()));
        tracker.spawn(crate::server::serve(cluster.clone(), listener, tls));
        Ok(Self { cluster, addr, url, kubeconfig, _temp: temp })
    }

    /// `https://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The listening address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The written kubeconfig.
    #[must_use]
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The shared cluster state, for assertions and faults.
    #[must_use]
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// Applies a fault now.
    ///
    /// # Errors
    /// Fails when the fault names something that does not exist.
    pub async fn inject(&self, fault: Fault) -> Result<FaultReport, FaultError> {
        self.cluster.inject(fault).await
    }

    /// Waits until `count` pods matching `selector` in `default` are Ready, up to `timeout`.
    /// Returns their names, or `None` on timeout.
    pub async fn wait_ready(
        &self,
        selector: &str,
        count: usize,
        timeout: Duration,
    ) -> Option<Vec<String>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let ready = self.cluster.ready_pods("default", selector);
            if ready.len() >= count {
                return Some(ready);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops serving, stops every pod process (SIGTERM, then SIGKILL after the grace period) and
    /// waits for all tasks, up to `deadline`.
    pub async fn shutdown(self, deadline: Duration) {
        self.cluster.cancel.cancel();
        self.cluster.runtime.stop_all(self.cluster.config.grace_period).await;
        self.cluster.tracker.close();
        if tokio::time::timeout(deadline, self.cluster.tracker.wait()).await.is_err() {
            tracing::warn!(
                tasks = self.cluster.tracker.len(),
                "tasks still running after the shutdown deadline"
            );
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.cluster.cancel.cancel();
        self.cluster.runtime.kill_all_now();
    }
}

fn load_fixture(cluster: &Arc<Cluster>, fixture: &Fixture) -> Result<(), StartError> {
    if cluster.store.get(Resource::Namespaces, "", "default").is_none() {
        let ns = serde_json::json!({"metadata": {"name": "default"}, "spec": {}, "status": {"phase": "Active"}});
        // The store is empty, so this cannot collide.
        let _created = cluster.store.create(Resource::Namespaces, ns);
    }
    for object in &fixture.objects {
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let resource = Resource::ALL.into_iter().find(|r| r.kind() == kind);
        let result = match resource {
            Some(Resource::Pods) => crate::runtime::create_pod(cluster, object.clone()).map(|_| ()),
            Some(Resource::Namespaces)
                if cluster.store.get(Resource::Namespaces, "", &name).is_some() =>
            {
                Ok(())
            }
            Some(r) => cluster.store.create(r, object.clone()).map(|_| ()),
            None => Err(crate::store::StoreError::Invalid(format!("unsupported kind {kind}"))),
        };
        result.map_err(|e| StartError::Fixture {
            name: format!("{kind}/{name}"),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// A temporary folder removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<Self> {
        let path =
            std::env::temp_dir().join(format!("tether-testkit-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a pod process may still hold a file for a moment.
        let _ignored = std::fs::remove_dir_all(&self.0);
    }
}
