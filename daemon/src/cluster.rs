//! How forward logic reaches Kubernetes: the [`Cluster`] trait and the facts it trades in.
//!
//! The forward supervisor knows pods, ports and tunnels, never kube or HTTP. [`kube`] implements
//! the trait with kube-rs; tests may implement it with fakes.

#[cfg(test)]
pub(crate) mod fake;
pub mod kube;
pub mod resolve;

use std::sync::Arc;

use tokio::sync::watch;

use crate::forward::spec::Target;
use crate::tunnel::{Protocol, Tunnel};

/// A pod, as forward logic sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodInfo {
    /// Name.
    pub name: String,
    /// Uid.
    pub uid: String,
    /// `status.phase`.
    pub phase: String,
    /// The Ready condition is True.
    pub ready: bool,
    /// Unix seconds since the Ready condition last changed.
    pub ready_since: i64,
    /// Being deleted.
    pub terminating: bool,
    /// Scheduled to a node.
    pub scheduled: bool,
    /// Sum of container restarts.
    pub restarts: u32,
    /// Unix seconds of creation.
    pub created: i64,
    /// Declared container ports: (name, number).
    pub ports: Vec<(Option<String>, u16)>,
    /// Container names, in spec order.
    pub containers: Vec<String>,
    /// The `kubectl.kubernetes.io/default-container` annotation.
    pub default_container: Option<String>,
}

impl PodInfo {
    /// The container kubectl would use when none is named: the annotated default, or the first.
    #[must_use]
    pub fn default_container(&self) -> Option<&str> {
        self.default_container
            .as_deref()
            .filter(|c| self.containers.iter().any(|n| n == c))
            .or(self.containers.first().map(String::as_str))
    }
}

/// The remote side of a service port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetPort {
    /// A number.
    Number(u16),
    /// A container port name.
    Name(String),
}

/// One port of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePort {
    /// Its name, if any.
    pub name: Option<String>,
    /// The service port.
    pub port: u16,
    /// Where it goes in the pod.
    pub target: TargetPort,
}

/// Which pods can serve a target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PodSelector {
    /// Exactly this pod (a `pod/` target); the forward waits for it to come back.
    Name(String),
    /// Pods matching a label selector (`app=web,tier=front`).
    Labels(String),
}

/// A target resolved against the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The pods that can serve it.
    pub pods: PodSelector,
    /// For services: how service ports map to pods.
    pub service_ports: Option<Vec<ServicePort>>,
}

/// Errors from the cluster, classified the way forward logic reacts to them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClusterError {
    /// 401 even after refreshing credentials.
    #[error("failed to authenticate to the cluster: {0}; check your kubeconfig credentials")]
    Unauthorized(String),
    /// 403.
    #[error("failed with permission denied: {0}; ask for port-forward rights in that namespace")]
    Forbidden(String),
    /// 404, or an object without what is needed (a service without a selector).
    #[error("failed to find {0}")]
    NotFound(String),
    /// The kubeconfig or context is unusable.
    #[error("failed to load the kubeconfig: {0}")]
    Config(String),
    /// The API server could not be reached, or the connection broke.
    #[error("failed to reach the API server: {0}")]
    Connection(String),
    /// The API server answered that it could not reach the node's kubelet ("error dialing
    /// backend"): the node is down or unreachable from the control plane.
    #[error(
        "failed to reach the pod's node: the API server could not reach the node's kubelet ({0})"
    )]
    Kubelet(String),
    /// The kubeconfig's credential plugin (`exec`) could not be run: not on the daemon's PATH,
    /// most often, since services do not inherit the login shell's PATH.
    #[error("failed to run the kubeconfig's credential plugin: {0}")]
    CredentialPlugin(String),
    /// The server answered in a way no protocol fits.
    #[error("failed to negotiate a streaming protocol: {0}")]
    Protocol(String),
    /// The server refused the request with a status (400 for a container that does not exist).
    #[error("failed with {reason} ({code}): {message}")]
    Rejected {
        /// HTTP status.
        code: u16,
        /// The Status reason, such as BadRequest.
        reason: String,
        /// The Status message.
        message: String,
    },
}

impl ClusterError {
    /// Whether retrying can help without the user changing something.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Forbidden(_) | Self::Config(_))
    }
}

/// The current pods of a selector, updated by a watch. `Err` while the watch is failing.
pub type PodWatch = watch::Receiver<Result<Vec<PodInfo>, ClusterError>>;

/// Kubernetes, as forward logic needs it. One value serves one (kubeconfig, context, namespace).
#[async_trait::async_trait]
pub trait Cluster: Send + Sync + std::fmt::Debug + 'static {
    /// The namespace this handle works in.
    fn namespace(&self) -> &str;

    /// Resolves a target into a pod selector (and service ports).
    async fn resolve(&self, target: &Target) -> Result<Resolved, ClusterError>;

    /// Watches the pods of `selector`; the receiver always holds the full current set.
    async fn watch_pods(&self, selector: &PodSelector) -> Result<PodWatch, ClusterError>;

    /// The pod a target means right now: the pod itself, or the best Ready pod of a service,
    /// deployment or statefulset (as `kubectl exec deploy/web` picks it).
    async fn pod_for(&self, target: &Target) -> Result<PodInfo, ClusterError>;

    /// Starts a remote command (exec, or attach when `command` is empty) in `pod`.
    async fn remote_command(
        &self,
        request: crate::exec::Request,
    ) -> Result<crate::exec::Process, ClusterError>;

    /// Opens a port-forward tunnel to `pod`, trying `hint` first when given. `probe_port` is a
    /// port the tunnel will serve; protocols that need a port to prove themselves use it.
    async fn port_forward(
        &self,
        pod: &str,
        probe_port: u16,
        hint: Option<Protocol>,
    ) -> Result<Tunnel, ClusterError>;
}

/// Makes [`Cluster`] handles for (kubeconfig, context, namespace).
#[async_trait::async_trait]
pub trait ClusterFactory: Send + Sync + std::fmt::Debug + 'static {
    /// A handle, shared between forwards with the same key.
    async fn cluster(
        &self,
        kubeconfig: Option<&str>,
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Arc<dyn Cluster>, ClusterError>;
}
