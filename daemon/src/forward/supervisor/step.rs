//! What a supervisor is doing ([`Step`]), and the one wait that yields its next [`Input`]. Each
//! step owns the futures it waits on, so nothing is lost when another input comes first.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::cluster::{Cluster, ClusterError, PodInfo, PodWatch, Resolved};
use crate::tunnel::{Health, Tunnel};

use super::super::wake::Pause;

/// A cluster call in flight.
pub(super) type Pending<T> = Pin<Box<dyn Future<Output = Result<T, ClusterError>> + Send>>;

/// The cluster handle, the resolved target and the watch of its pods.
pub(super) struct Resolution {
    pub(super) cluster: Arc<dyn Cluster>,
    pub(super) resolved: Resolved,
    pub(super) pods: PodWatch,
}

/// Opening a tunnel to a pod.
pub(super) struct Dial {
    pub(super) pod: PodInfo,
    pub(super) ports: Vec<u16>,
    pub(super) started: Instant,
    pub(super) tunnel: Pending<Tunnel>,
}

impl Dial {
    /// Starts opening a tunnel to `pod`, on the container port of the first mapping.
    pub(super) fn start(cluster: &Arc<dyn Cluster>, pod: PodInfo, ports: Vec<u16>) -> Box<Self> {
        let (cluster, name, port) = (cluster.clone(), pod.name.clone(), ports[0]);
        let tunnel = Box::pin(async move { cluster.port_forward(&name, port, None).await });
        Box::new(Self { pod, ports, started: Instant::now(), tunnel })
    }
}

/// A second tunnel prepared while the one in use is in doubt (a probe is out).
pub(super) enum Standby {
    None,
    /// To be dialed at this time, unless the probe is answered first.
    Due(Instant),
    /// Being dialed.
    Dialing(Box<Dial>),
}

/// Serving through a tunnel.
pub(super) struct Serving {
    pub(super) tunnel: Tunnel,
    pub(super) health: watch::Receiver<Health>,
    pub(super) pod: PodInfo,
    pub(super) ports: Vec<u16>,
    pub(super) standby: Standby,
}

/// What the supervisor is doing.
pub(super) enum Step {
    /// The user paused the forward: no tunnel, connections refused, the ports kept.
    Paused,
    /// Stopped until a resume: retrying cannot help (403, an unusable kubeconfig).
    Failed,
    /// Waiting until `until` (a backoff, or a re-check of the target), or for the pods to
    /// change, whichever comes first.
    Waiting { until: Instant },
    /// Getting the cluster, resolving the target and starting the watch of its pods.
    Resolving(Pending<Resolution>),
    /// Opening a tunnel to a pod.
    Dialing(Box<Dial>),
    /// Serving through a tunnel.
    Serving(Box<Serving>),
}

/// Something that happened, for [`super::Supervisor::on`].
pub(super) enum Input {
    /// The forward is being removed or the daemon stops.
    Cancelled,
    /// The user paused or resumed it.
    Desired,
    /// The pods changed; `false` when the watch ended.
    Pods(bool),
    Resolved(Result<Resolution, ClusterError>),
    Dialed(Result<Tunnel, ClusterError>),
    /// The health of the tunnel in use changed.
    Health(Health),
    StandbyDialed(Result<Tunnel, ClusterError>),
    /// A wait is over: the backoff, or the time to dial a standby.
    Timer,
    /// The daemon did not run for a while.
    Paused(Pause),
}

impl Step {
    /// The next input that the current step produces; never, for steps that wait on nothing.
    pub(super) async fn next(&mut self) -> Input {
        match self {
            Self::Paused | Self::Failed => std::future::pending().await,
            Self::Waiting { until } => {
                tokio::time::sleep_until(*until).await;
                Input::Timer
            }
            Self::Resolving(resolving) => Input::Resolved(resolving.as_mut().await),
            Self::Dialing(dial) => Input::Dialed(dial.tunnel.as_mut().await),
            Self::Serving(serving) => serving.next().await,
        }
    }
}

impl Serving {
    async fn next(&mut self) -> Input {
        let standby = async {
            match &mut self.standby {
                Standby::None => std::future::pending().await,
                Standby::Due(at) => {
                    tokio::time::sleep_until(*at).await;
                    Input::Timer
                }
                Standby::Dialing(dial) => Input::StandbyDialed(dial.tunnel.as_mut().await),
            }
        };
        tokio::select! {
            changed = self.health.changed() => match changed {
                Ok(()) => Input::Health(self.health.borrow_and_update().clone()),
                // The tunnel's task is gone without a word: it is dead.
                Err(_) => Input::Health(Health::Dead(crate::tunnel::TunnelEnd::Closed)),
            },
            input = standby => input,
        }
    }
}

/// Resolves when the pods change (`true`) or the watch ends (`false`); never without a watch.
pub(super) async fn pods_changed(pods: Option<&mut PodWatch>) -> bool {
    match pods {
        Some(pods) => pods.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}
