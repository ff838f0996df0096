//! The [`Cluster`] implementation on kube-rs: kubeconfig loading (every auth kind kube supports,
//! exec plugins included), one refresh and retry on 401, a reload when the kubeconfig file
//! changes, pod watches, and port-forward upgrades with Tether's own negotiation.

mod convert;
mod exec;
mod kubeconfig;
mod pod_for;
mod pods;
mod query;
mod status;
mod upgrade;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Service;
use kube::Api;
use kube::config::KubeConfigOptions;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Cluster, ClusterError, ClusterFactory, PodSelector, PodWatch, Resolved};
use crate::forward::spec::{Target, TargetKind};
use crate::tunnel::{Liveness, Protocol, Tunnel};

/// How long a REST call may take (streaming connections have no timeout).
const REST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a client's configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Source {
    kubeconfig: Option<String>,
    context: Option<String>,
    namespace: Option<String>,
}

/// Makes and shares [`KubeCluster`]s.
#[derive(Debug)]
pub struct KubeFactory {
    clusters: Mutex<HashMap<Source, Weak<KubeCluster>>>,
    liveness: Liveness,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl KubeFactory {
    /// A factory whose tunnels use `liveness`, with tasks under `cancel` and `tracker`.
    #[must_use]
    pub fn new(liveness: Liveness, cancel: CancellationToken, tracker: TaskTracker) -> Self {
        Self { clusters: Mutex::default(), liveness, cancel, tracker }
    }
}

#[async_trait::async_trait]
impl ClusterFactory for KubeFactory {
    async fn cluster(
        &self,
        kubeconfig: Option<&str>,
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Arc<dyn Cluster>, ClusterError> {
        let source = Source {
            kubeconfig: kubeconfig.map(str::to_owned),
            context: context.map(str::to_owned),
            namespace: namespace.map(str::to_owned),
        };
        if let Some(existing) = self
            .clusters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&source)
            .and_then(Weak::upgrade)
        {
            return Ok(existing);
        }
        let cluster = Arc::new(
            KubeCluster::connect(source.clone(), self.liveness, &self.cancel, &self.tracker)
                .await?,
        );
        self.clusters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(source, Arc::downgrade(&cluster));
        Ok(cluster)
    }
}

/// A kube client for one (kubeconfig, context, namespace), refreshed on 401 and on change.
pub struct KubeCluster {
    source: Source,
    namespace: String,
    current: Mutex<Current>,
    liveness: Liveness,
    cancel: CancellationToken,
    tracker: TaskTracker,
    /// The protocol that worked last, tried first next time.
    preferred: Mutex<Option<Protocol>>,
}

/// The client in use, the kubeconfig's modification time it was built from, and the credential
/// plugin the context's user runs (for messages); replaced together on a reload.
#[derive(Clone)]
struct Current {
    client: kube::Client,
    stamp: Option<SystemTime>,
    plugin: Option<String>,
}

impl std::fmt::Debug for KubeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCluster")
            .field("source", &self.source)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

pub(super) fn config_err(e: impl std::fmt::Display) -> ClusterError {
    ClusterError::Config(e.to_string())
}

/// The (first) kubeconfig file in use, for change detection.
fn kubeconfig_path(source: &Source) -> Option<PathBuf> {
    kubeconfig::paths(source.kubeconfig.as_deref()).into_iter().next()
}

fn modified(source: &Source) -> Option<SystemTime> {
    kubeconfig_path(source).and_then(|p| std::fs::metadata(p).ok()?.modified().ok())
}

/// A client for a source, its namespace, and the credential plugin its user runs.
struct Loaded {
    client: kube::Client,
    namespace: String,
    plugin: Option<String>,
}

/// How long loading a kubeconfig and building its client may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(60);

async fn load(source: &Source) -> Result<Loaded, ClusterError> {
    tokio::time::timeout(LOAD_TIMEOUT, load_inner(source)).await.unwrap_or_else(|_| {
        Err(ClusterError::Config(format!(
            "loading the kubeconfig took over {LOAD_TIMEOUT:?}; check its files and plugins"
        )))
    })
}

async fn load_inner(source: &Source) -> Result<Loaded, ClusterError> {
    let kubeconfig = kubeconfig::read(source.kubeconfig.as_deref()).await?;
    let plugin = kubeconfig::plugin(&kubeconfig, source.context.as_deref());
    let options =
        KubeConfigOptions { context: source.context.clone(), ..KubeConfigOptions::default() };
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(config_err)?;
    // Tunnels must not time out while idle; REST calls get their own deadline instead.
    config.read_timeout = None;
    config.write_timeout = None;
    config.connect_timeout = Some(Duration::from_secs(10));
    // Audit logs and priority-and-fairness rules see who calls, as kubectl says who it is.
    if let Ok(agent) = http::HeaderValue::from_str(&user_agent()) {
        config.headers.push((http::header::USER_AGENT, agent));
    }
    let namespace = source.namespace.clone().unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config).map_err(|e| match classify(&e) {
        plugin_error @ ClusterError::CredentialPlugin(_) => {
            explain(plugin_error, plugin.as_deref())
        }
        _ => config_err(e),
    })?;
    Ok(Loaded { client, namespace, plugin })
}

/// Says which credential plugin could not run, with the PATH the daemon has and the fix; other
/// errors pass unchanged. Applied where errors leave the cluster: calls, the pod watch, dials.
pub(super) fn explain(e: ClusterError, plugin: Option<&str>) -> ClusterError {
    let ClusterError::CredentialPlugin(why) = e else { return e };
    plugin_failure(plugin, &why)
}

/// A credential plugin that did not start: which, the PATH the daemon has, and the fix.
fn plugin_failure(plugin: Option<&str>, why: &str) -> ClusterError {
    let plugin = plugin.unwrap_or("the exec command");
    let path = std::env::var("PATH").unwrap_or_default();
    ClusterError::CredentialPlugin(format!(
        "`{plugin}` did not start ({why}); tetherd's PATH is {path:?}. If it works in your \
         shell, run `tether daemon install` again from that shell (it records your PATH), or \
         restart the daemon from it"
    ))
}

/// `tether/<version> (<os>/<arch>)`, in Go's names for both, as kubectl writes its own.
#[must_use]
pub fn user_agent() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("tether/{} ({os}/{arch})", tether_proto::VERSION)
}

/// Classifies a kube error: a Status from the server, or no answer at all.
pub(crate) fn classify(e: &kube::Error) -> ClusterError {
    match e {
        kube::Error::Api(s) => status_error(s.code, s.reason.clone(), s.message.clone()),
        kube::Error::Auth(kube::client::AuthError::AuthExecStart(io)) => {
            ClusterError::CredentialPlugin(io.to_string())
        }
        other => ClusterError::Connection(other.to_string()),
    }
}

/// Classifies a Status the server sent.
pub(crate) fn status_error(code: u16, reason: String, message: String) -> ClusterError {
    status::error(status::Status { code, reason, message }, None)
}

impl KubeCluster {
    async fn connect(
        source: Source,
        liveness: Liveness,
        cancel: &CancellationToken,
        tracker: &TaskTracker,
    ) -> Result<Self, ClusterError> {
        let loaded = load(&source).await?;
        let stamp = modified(&source);
        Ok(Self {
            current: Mutex::new(Current { client: loaded.client, stamp, plugin: loaded.plugin }),
            source,
            namespace: loaded.namespace,
            liveness,
            cancel: cancel.clone(),
            tracker: tracker.clone(),
            preferred: Mutex::new(None),
        })
    }

    fn current(&self) -> Current {
        self.current.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The credential plugin the context's user runs, if any.
    fn plugin(&self) -> Option<String> {
        self.current().plugin
    }

    /// The current client, reloaded first if the kubeconfig file changed.
    async fn client(&self) -> Result<kube::Client, ClusterError> {
        let stamp = modified(&self.source);
        let current = self.current();
        if stamp == current.stamp {
            return Ok(current.client);
        }
        tracing::info!(kubeconfig = ?kubeconfig_path(&self.source), "kubeconfig changed: reloading");
        self.reload().await
    }

    /// Builds a new client (running exec plugins again), for a 401 or a changed kubeconfig.
    async fn reload(&self) -> Result<kube::Client, ClusterError> {
        let loaded = load(&self.source).await?;
        let client = loaded.client.clone();
        let stamp = modified(&self.source);
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) =
            Current { client: loaded.client, stamp, plugin: loaded.plugin };
        Ok(client)
    }

    /// Runs `op`; on 401 refreshes the credentials and runs it once more.
    pub(crate) async fn with_refresh<T, F, Fut>(&self, op: F) -> Result<T, ClusterError>
    where
        F: Fn(kube::Client) -> Fut,
        Fut: Future<Output = Result<T, ClusterError>>,
    {
        let client = self.client().await?;
        let result = match op(client).await {
            Err(ClusterError::Unauthorized(why)) => {
                tracing::info!(reason = %why, "401 from the API server: refreshing credentials");
                let client = self.reload().await?;
                op(client).await
            }
            other => other,
        };
        result.map_err(|e| explain(e, self.plugin().as_deref()))
    }

    async fn resolve_inner(
        &self,
        client: kube::Client,
        target: Target,
    ) -> Result<Resolved, ClusterError> {
        let ns = self.namespace.as_str();
        let timed =
            |what: String| move |_| ClusterError::Connection(format!("timed out reading {what}"));
        match target.kind {
            TargetKind::Pod => {
                Ok(Resolved { pods: PodSelector::Name(target.name), service_ports: None })
            }
            TargetKind::Service => {
                let api: Api<Service> = Api::namespaced(client, ns);
                let svc = tokio::time::timeout(REST_TIMEOUT, api.get(&target.name))
                    .await
                    .map_err(timed(target.to_string()))?;
                let svc = svc.map_err(|e| not_found_named(&e, &target))?;
                convert::service(&svc, &target)
            }
            TargetKind::Deployment => {
                let api: Api<Deployment> = Api::namespaced(client, ns);
                let d = tokio::time::timeout(REST_TIMEOUT, api.get(&target.name))
                    .await
                    .map_err(timed(target.to_string()))?;
                let d = d.map_err(|e| not_found_named(&e, &target))?;
                convert::workload_selector(d.spec.map(|s| s.selector), &target)
            }
            TargetKind::StatefulSet => {
                let api: Api<StatefulSet> = Api::namespaced(client, ns);
                let s = tokio::time::timeout(REST_TIMEOUT, api.get(&target.name))
                    .await
                    .map_err(timed(target.to_string()))?;
                let s = s.map_err(|e| not_found_named(&e, &target))?;
                convert::workload_selector(s.spec.map(|s| s.selector), &target)
            }
        }
    }
}

fn target_label(resolved: &Resolved) -> String {
    match &resolved.pods {
        PodSelector::Name(n) => format!("pod {n}"),
        PodSelector::Labels(l) => format!("selector {l}"),
    }
}

fn not_found_named(e: &kube::Error, target: &Target) -> ClusterError {
    match classify(e) {
        ClusterError::NotFound(_) => {
            ClusterError::NotFound(format!("{target} (no such object in that namespace)"))
        }
        other => other,
    }
}

#[async_trait::async_trait]
impl Cluster for KubeCluster {
    fn namespace(&self) -> &str {
        &self.namespace
    }

    async fn resolve(&self, target: &Target) -> Result<Resolved, ClusterError> {
        self.with_refresh(|client| self.resolve_inner(client, target.clone())).await
    }

    async fn pod_for(&self, target: &Target) -> Result<crate::cluster::PodInfo, ClusterError> {
        pod_for::pod_for(self, target).await
    }

    async fn remote_command(
        &self,
        request: crate::exec::Request,
    ) -> Result<crate::exec::Process, ClusterError> {
        exec::remote_command(self, request).await
    }

    async fn watch_pods(&self, selector: &PodSelector) -> Result<PodWatch, ClusterError> {
        let client = self.client().await?;
        Ok(pods::watch(self, client, selector.clone()))
    }

    async fn port_forward(
        &self,
        pod: &str,
        probe_port: u16,
        hint: Option<Protocol>,
    ) -> Result<Tunnel, ClusterError> {
        let hint = hint.or(*self.preferred.lock().unwrap_or_else(PoisonError::into_inner));
        let tunnel = upgrade::port_forward(self, pod, probe_port, hint).await?;
        *self.preferred.lock().unwrap_or_else(PoisonError::into_inner) = Some(tunnel.protocol());
        Ok(tunnel)
    }
}
