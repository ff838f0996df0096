//! tetherd: keeps Kubernetes port-forwards and streaming sessions alive.
//!
//! The daemon is a library: [`run`] takes its configuration, a bound [`socket::Listener`] and a
//! shutdown future, so tests drive the whole daemon in-process. `main` is a thin shell around it.
//!
//! Layers: `forward` (targets, ports, states, the supervisor) knows nothing of tonic, sled or
//! kube; it reaches Kubernetes through [`cluster::Cluster`] and storage through
//! [`store::Store`]. Only [`api`] sees protobuf types.

pub mod api;
pub mod args;
pub mod cluster;
mod config;
pub mod exec;
pub mod forward;
pub mod session;
pub mod socket;
pub mod store;
pub mod tunnel;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tether_proto::pb::FILE_DESCRIPTOR_SET;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

pub use config::{Config, Launch};

/// An error and its causes on one line: `outer: cause: root cause`.
#[must_use]
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

use crate::cluster::ClusterFactory;
use crate::cluster::kube::KubeFactory;
use crate::forward::registry::Registry;
use crate::forward::supervisor::Context;
use crate::store::{SledStore, Store, StoreError};

/// Errors that stop the daemon from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store could not be opened.
    #[error("failed to open the state store")]
    Store(#[from] StoreError),
    /// The gRPC server failed.
    #[error("failed to serve the API")]
    Serve(#[from] tonic::transport::Error),
    /// Reflection could not be set up.
    #[error("failed to set up server reflection")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Runs the daemon on `listener` with the kube-backed cluster factory until `shutdown`
/// resolves or a client calls `Shutdown`; then drains with `config.drain_deadline`.
///
/// # Errors
/// When the store cannot be opened or the server fails.
pub async fn run(
    config: Config,
    listener: socket::Listener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let (store, report) = SledStore::open(&config.store_dir())?;
    if let Some(moved) = &report.moved_aside {
        tracing::warn!(moved_to = %moved.display(), "the state store was corrupt: it was moved aside and a fresh one started");
    }
    let factory: Arc<dyn ClusterFactory> =
        Arc::new(KubeFactory::new(config.liveness, cancel.clone(), tracker.clone()));
    run_with(config, listener, shutdown, Arc::new(store), factory, cancel, tracker).await
}

/// [`run`] with a given store and cluster factory (tests use fakes).
///
/// # Errors
/// When the server fails.
pub async fn run_with(
    config: Config,
    listener: socket::Listener,
    shutdown: impl Future<Output = ()> + Send,
    store: Arc<dyn Store>,
    factory: Arc<dyn ClusterFactory>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) -> Result<(), RunError> {
    let started = Instant::now();
    let (events_tx, _) = broadcast::channel(1024);
    let (pauses, _) = broadcast::channel(4);
    let sessions = Arc::new(session::manager::Manager::new(
        session::runner::Deps {
            factory: factory.clone(),
            store: store.clone(),
            events_tx: events_tx.clone(),
        },
        tracker.clone(),
        cancel.child_token(),
    ));
    let ctx = Context {
        factory: factory.clone(),
        events_tx,
        pauses: pauses.clone(),
        settings: config.settings,
        tracker: tracker.clone(),
    };
    let registry = Arc::new(Registry::new(store, ctx, cancel.child_token()));
    for (name, problem) in registry.restore().await? {
        tracing::warn!(forward = %name, error = %problem, "could not restore a forward");
    }
    match sessions.restore().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(sessions = n, "restored sessions"),
        Err(e) => tracing::warn!(error = %e, "could not restore the sessions"),
    }
    tracker.spawn(
        forward::wake::watch(config.clocks.clone(), pauses, cancel.clone())
            .instrument(tracing::debug_span!("pauses")),
    );
    tracker.spawn(flush_counters(registry.clone(), config.counters_every, cancel.clone()));

    let api_shutdown = cancel.child_token();
    let state = api::ApiState {
        registry: registry.clone(),
        sessions,
        factory,
        config: config.clone(),
        started,
        shutdown: api_shutdown.clone(),
        tracker: tracker.clone(),
    };
    let (daemon_svc, forward_svc, session_svc) = api::services(state);
    let (health, health_svc) = tonic_health::server::health_reporter();
    health.set_serving::<tether_proto::pb::forward_service_server::ForwardServiceServer<api::Forwards>>().await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let incoming = futures_util::stream::unfold(listener, |listener| async move {
        let peer = accept(&listener).await;
        Some((Ok::<_, std::io::Error>(peer), listener))
    });
    let stop = async {
        tokio::select! {
            () = shutdown => {}
            () = api_shutdown.cancelled() => {}
        }
        tracing::info!("shutting down: draining");
        // Open streams (events, Dial, exec, attach) end now: tonic's graceful shutdown waits for
        // them, and they would otherwise wait for the shutdown.
        api_shutdown.cancel();
    };
    let _notified = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    tracing::info!(socket = %config.socket.display(), version = tether_proto::VERSION, "serving");
    let served = tonic::transport::Server::builder()
        // A peer that vanished without closing (a suspended laptop's client, a killed process
        // whose socket lingers) is found and its connection closed.
        .http2_keepalive_interval(Some(Duration::from_secs(60)))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .layer(socket::OwnUser::new())
        .add_service(health_svc)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(daemon_svc)
        .add_service(forward_svc)
        .add_service(session_svc)
        .serve_with_incoming_shutdown(incoming, stop)
        .await;
    let _notified = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    registry.flush_counters().await;
    cancel.cancel();
    tracker.close();
    if tokio::time::timeout(config.drain_deadline, tracker.wait()).await.is_err() {
        tracing::warn!(tasks = tracker.len(), "tasks still running at the drain deadline");
    }
    served?;
    Ok(())
}

/// The next connection. Accept errors (descriptors run out, most often) are logged and retried
/// after a pause that doubles up to a second, so a full descriptor table never spins a core.
async fn accept(listener: &socket::Listener) -> socket::Peer {
    let mut pause = Duration::from_millis(20);
    loop {
        match listener.accept().await {
            Ok(peer) => return peer,
            Err(e) => {
                let code = e.raw_os_error();
                let exhausted = code == Some(nix::libc::EMFILE) || code == Some(nix::libc::ENFILE);
                if exhausted {
                    tracing::error!(error = %e, "out of file descriptors: refusing API connections until some close; raise the limit (ulimit -n) or remove unused forwards");
                } else {
                    tracing::warn!(error = %e, "failed to accept an API connection");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

async fn flush_counters(registry: Arc<Registry>, every: Duration, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => registry.flush_counters().await,
            () = cancel.cancelled() => return,
        }
    }
}
