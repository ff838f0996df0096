//! A fake tetherd: the tether.v1 services over a Unix socket, with forwards kept in memory.
//! A target containing "broken" fails; any other becomes Ready (with wait_ready) at once.
//! Exec and sessions are scripted in [`sessions`].

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::{Stream, StreamExt as _, stream};
use tether_proto::pb::daemon_service_server::{DaemonService, DaemonServiceServer};
use tether_proto::pb::forward_service_server::{ForwardService, ForwardServiceServer};
use tether_proto::pb::session_service_server::SessionServiceServer;
use tether_proto::pb::{self, event::Kind};
use tokio::net::UnixListener;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status, Streaming};

pub mod sessions;

type Reply<T> = Result<Response<T>, Status>;

/// A running fake daemon.
#[derive(Debug)]
pub struct Fake {
    pub socket: PathBuf,
    pub task: tokio::task::JoinHandle<()>,
    /// The exec and session side: what it answers and what it saw.
    pub sessions: sessions::Sessions,
}

/// Starts a fake daemon on `dir/tetherd.sock`.
pub fn start(dir: &Path) -> Fake {
    let socket = dir.join("tetherd.sock");
    let listener = UnixListener::bind(&socket).expect("bind the fake socket");
    let incoming = stream::unfold(listener, |listener| async move {
        let next = listener.accept().await.map(|(stream, _)| stream);
        Some((next, listener))
    });
    let (shutdown_tx, shutdown_rx) = oneshot::channel();
    let service =
        Service { state: Arc::default(), shutdown_tx: Arc::new(Mutex::new(Some(shutdown_tx))) };
    let sessions = sessions::Sessions::default();
    let server = tonic::transport::Server::builder()
        .add_service(DaemonServiceServer::new(service.clone()))
        .add_service(ForwardServiceServer::new(service))
        .add_service(SessionServiceServer::new(sessions.clone()))
        .serve_with_incoming_shutdown(incoming, async {
            let _ = shutdown_rx.await;
        });
    let task = tokio::spawn(async move { server.await.expect("fake daemon serves") });
    Fake { socket, task, sessions }
}

#[derive(Debug, Clone)]
struct Service {
    state: Arc<Mutex<Vec<pb::Forward>>>,
    /// Sent by Shutdown to the server.
    shutdown_tx: Arc<Mutex<Option<oneshot::Sender<()>>>>,
}

impl Service {
    fn forwards(&self) -> MutexGuard<'_, Vec<pb::Forward>> {
        self.state.lock().expect("state lock")
    }

    fn set_phase(&self, name: &str, phase: pb::Phase) -> Result<pb::Forward, Status> {
        let mut forwards = self.forwards();
        let forward =
            forwards.iter_mut().find(|f| name_of(f) == name).ok_or_else(|| not_found(name))?;
        forward.status.get_or_insert_default().phase = phase.into();
        Ok(forward.clone())
    }
}

fn name_of(forward: &pb::Forward) -> &str {
    forward.spec.as_ref().map_or("", |s| s.name.as_str())
}

fn not_found(name: &str) -> Status {
    Status::not_found(format!("forward {name} not found"))
}

fn create(spec: pb::ForwardSpec, wait: bool) -> pb::Forward {
    let broken = spec.target.contains("broken");
    let local_addresses = spec
        .ports
        .iter()
        .map(|p| format!("127.0.0.1:{}", p.split(':').next().unwrap_or(p)))
        .collect();
    let (phase, reason_kind, reason) = match (broken, wait) {
        (true, true) => (pb::Phase::Failed, pb::ReasonKind::Forbidden, "pods is forbidden"),
        (false, true) => (pb::Phase::Ready, pb::ReasonKind::Unspecified, ""),
        (_, false) => (pb::Phase::Connecting, pb::ReasonKind::Unspecified, ""),
    };
    let status = pb::ForwardStatus {
        phase: phase.into(),
        reason_kind: reason_kind.into(),
        reason: reason.into(),
        pod: if phase == pb::Phase::Ready { format!("{}-0", spec.name) } else { String::new() },
        local_addresses,
        ..Default::default()
    };
    pb::Forward {
        spec: Some(spec),
        status: Some(status),
        stats: Some(pb::ForwardStats::default()),
        created_unix: 1,
    }
}

#[tonic::async_trait]
impl DaemonService for Service {
    async fn handshake(
        &self,
        request: Request<pb::HandshakeRequest>,
    ) -> Reply<pb::HandshakeResponse> {
        let request = request.into_inner();
        assert_eq!(request.client_name, "tether-cli");
        let daemon_version = "0.0.0-fake".into();
        Ok(Response::new(pb::HandshakeResponse {
            daemon_version,
            api_major: 1,
            compatible: true,
            message: String::new(),
        }))
    }

    async fn get_info(&self, _: Request<pb::GetInfoRequest>) -> Reply<pb::GetInfoResponse> {
        let forwards = u32::try_from(self.forwards().len()).expect("few forwards");
        let info = pb::GetInfoResponse {
            daemon_version: "0.0.0-fake".into(),
            api_major: 1,
            pid: 4242,
            forwards,
            ..Default::default()
        };
        Ok(Response::new(info))
    }

    async fn shutdown(&self, _: Request<pb::ShutdownRequest>) -> Reply<pb::ShutdownResponse> {
        if let Some(tx) = self.shutdown_tx.lock().expect("lock").take() {
            let _ = tx.send(());
        }
        Ok(Response::new(pb::ShutdownResponse {}))
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send>>;
type DialOut = Pin<Box<dyn Stream<Item = Result<pb::DialResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ForwardService for Service {
    async fn create_forward(
        &self,
        request: Request<pb::CreateForwardRequest>,
    ) -> Reply<pb::CreateForwardResponse> {
        let request = request.into_inner();
        let mut spec = request.spec.ok_or_else(|| Status::invalid_argument("spec: missing"))?;
        if spec.target.is_empty() {
            return Err(Status::invalid_argument("target: must not be empty"));
        }
        if spec.name.is_empty() {
            spec.name = spec.target.rsplit('/').next().unwrap_or_default().to_owned();
        }
        let mut forwards = self.forwards();
        if let Some(existing) = forwards.iter().find(|f| name_of(f) == spec.name) {
            if existing.spec.as_ref().is_some_and(|s| s.ports == spec.ports) {
                let forward = Some(existing.clone());
                return Ok(Response::new(pb::CreateForwardResponse { forward, existed: true }));
            }
            let name = &spec.name;
            return Err(Status::already_exists(format!(
                "failed to create forward {name:?}: a forward of that name exists with \
                 spec.ports {:?}; remove it first (`tether rm {name}`) or choose another name",
                existing.spec.as_ref().map(|s| s.ports.clone()).unwrap_or_default()
            )));
        }
        let forward = create(spec, request.wait_ready);
        forwards.push(forward.clone());
        Ok(Response::new(pb::CreateForwardResponse { forward: Some(forward), existed: false }))
    }

    async fn get_forward(
        &self,
        request: Request<pb::GetForwardRequest>,
    ) -> Reply<pb::GetForwardResponse> {
        let name = request.into_inner().name;
        let forward = self.forwards().iter().find(|f| name_of(f) == name).cloned();
        Ok(Response::new(pb::GetForwardResponse {
            forward: Some(forward.ok_or_else(|| not_found(&name))?),
        }))
    }

    async fn list_forwards(
        &self,
        _: Request<pb::ListForwardsRequest>,
    ) -> Reply<pb::ListForwardsResponse> {
        let forwards = self.forwards().clone();
        Ok(Response::new(pb::ListForwardsResponse { forwards, next_page_token: String::new() }))
    }

    async fn delete_forward(
        &self,
        request: Request<pb::DeleteForwardRequest>,
    ) -> Reply<pb::DeleteForwardResponse> {
        let name = request.into_inner().name;
        let mut forwards = self.forwards();
        let before = forwards.len();
        forwards.retain(|f| name_of(f) != name);
        if forwards.len() == before {
            return Err(not_found(&name));
        }
        Ok(Response::new(pb::DeleteForwardResponse {}))
    }

    async fn pause_forward(
        &self,
        request: Request<pb::PauseForwardRequest>,
    ) -> Reply<pb::PauseForwardResponse> {
        let forward = self.set_phase(&request.into_inner().name, pb::Phase::Paused)?;
        Ok(Response::new(pb::PauseForwardResponse { forward: Some(forward) }))
    }

    async fn resume_forward(
        &self,
        request: Request<pb::ResumeForwardRequest>,
    ) -> Reply<pb::ResumeForwardResponse> {
        let forward = self.set_phase(&request.into_inner().name, pb::Phase::Ready)?;
        Ok(Response::new(pb::ResumeForwardResponse { forward: Some(forward) }))
    }

    type WatchEventsStream = Events;

    async fn watch_events(&self, request: Request<pb::WatchEventsRequest>) -> Reply<Events> {
        let names = request.into_inner().names;
        let snapshot: Vec<Result<pb::Event, Status>> = self
            .forwards()
            .iter()
            .filter(|f| names.is_empty() || names.iter().any(|n| n == name_of(f)))
            .map(|f| {
                let kind = Some(Kind::Status(f.status.clone().unwrap_or_default()));
                Ok(pb::Event {
                    time_unix_ms: 1_714_564_800_000,
                    forward: name_of(f).to_owned(),
                    kind,
                })
            })
            .collect();
        // The stream stays open, as the daemon's does: the CLI must stop on its own.
        Ok(Response::new(stream::iter(snapshot).chain(stream::pending()).boxed()))
    }

    type DialStream = DialOut;

    async fn dial(&self, _: Request<Streaming<pb::DialRequest>>) -> Reply<DialOut> {
        Err(Status::unimplemented("the fake daemon does not dial"))
    }
}
