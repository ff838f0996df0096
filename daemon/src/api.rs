//! The gRPC API (`tether.v1`), the only module that sees protobuf types: it converts requests
//! into domain calls and domain results into messages, and maps every error to a status in one
//! table ([`errors`]).

mod convert;
mod daemon;
mod dial;
pub mod errors;
mod forwards;

pub use daemon::Daemon;
pub use forwards::Forwards;

use std::sync::Arc;
use std::time::Instant;

use tether_proto::pb::daemon_service_server::DaemonServiceServer;
use tether_proto::pb::forward_service_server::ForwardServiceServer;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::forward::registry::Registry;

/// What the services share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The forwards.
    pub registry: Arc<Registry>,
    /// Facts for `GetInfo`.
    pub config: crate::Config,
    /// When the daemon started.
    pub started: Instant,
    /// Cancelled by the `Shutdown` call.
    pub shutdown: CancellationToken,
    /// Owns streaming tasks (events, dial).
    pub tracker: TaskTracker,
}

/// The daemon and forward services.
#[must_use]
pub fn services(state: ApiState) -> (DaemonServiceServer<Daemon>, ForwardServiceServer<Forwards>) {
    let state = Arc::new(state);
    (DaemonServiceServer::new(Daemon(state.clone())), ForwardServiceServer::new(Forwards(state)))
}
