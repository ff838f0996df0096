//! The gRPC API (`tether.v1`), the only module that sees protobuf types: it converts requests
//! into domain calls and domain results into messages, and maps every error to a status in one
//! table ([`errors`]).

mod attach;
mod convert;
mod daemon;
mod dial;
pub mod errors;
mod exec;
mod forwards;
pub mod limits;
mod session_convert;
mod sessions;

pub use daemon::Daemon;
pub use forwards::Forwards;
pub use sessions::Sessions;

use std::sync::Arc;
use std::time::Instant;

use tether_proto::pb::daemon_service_server::DaemonServiceServer;
use tether_proto::pb::forward_service_server::ForwardServiceServer;
use tether_proto::pb::session_service_server::SessionServiceServer;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cluster::ClusterFactory;
use crate::forward::registry::Registry;
use crate::session::manager::Manager;

/// What the services share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The forwards.
    pub registry: Arc<Registry>,
    /// The sessions.
    pub sessions: Arc<Manager>,
    /// Reaches clusters for one-shot exec.
    pub factory: Arc<dyn ClusterFactory>,
    /// Facts for `GetInfo`.
    pub config: crate::Config,
    /// When the daemon started.
    pub started: Instant,
    /// Cancelled by the `Shutdown` call.
    pub shutdown: CancellationToken,
    /// Owns streaming tasks (events, dial).
    pub tracker: TaskTracker,
}

/// The daemon, forward and session services.
#[must_use]
pub fn services(
    state: ApiState,
) -> (DaemonServiceServer<Daemon>, ForwardServiceServer<Forwards>, SessionServiceServer<Sessions>) {
    let state = Arc::new(state);
    (
        DaemonServiceServer::new(Daemon(state.clone())),
        ForwardServiceServer::new(Forwards(state.clone())),
        SessionServiceServer::new(Sessions(state)),
    )
}
