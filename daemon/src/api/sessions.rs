//! `SessionService`: one-shot exec, and daemon-owned sessions (create, attach, list, get, kill).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tether_proto::pb::session_service_server::SessionService;
use tether_proto::pb::{self, attach_request, attach_response};
use tonic::{Request, Response, Status, Streaming};

use super::forwards::ReplyStream;
use super::{ApiState, errors, session_convert as convert};
use crate::session::manager::SessionError;

/// How long `CreateSession` waits for the process to start (or fail to).
const START_WAIT: Duration = Duration::from_secs(30);

/// The service.
#[derive(Debug)]
pub struct Sessions(pub(super) Arc<ApiState>);

fn status(e: &SessionError) -> Status {
    match e {
        SessionError::NotFound(_) => Status::not_found(e.to_string()),
        SessionError::TooMany(_) => Status::resource_exhausted(e.to_string()),
        SessionError::Store(..) => {
            errors::report((Status::internal(errors::chain(e)), errors::Fault::Daemon))
        }
    }
}

/// A session id in a request: present, and bounded before any lookup.
fn id_of(field: &str, id: &str) -> Result<(), Status> {
    super::limits::required(field, id, super::limits::SESSION_ID)
}

#[tonic::async_trait]
impl SessionService for Sessions {
    type ExecStream = ReplyStream<pb::ExecResponse>;

    async fn exec(
        &self,
        request: Request<Streaming<pb::ExecRequest>>,
    ) -> Result<Response<Self::ExecStream>, Status> {
        super::exec::exec(&self.0, request.into_inner()).await.map(Response::new)
    }

    async fn create_session(
        &self,
        request: Request<pb::CreateSessionRequest>,
    ) -> Result<Response<pb::CreateSessionResponse>, Status> {
        let new = convert::new_session(request.into_inner())?;
        let live = self.0.sessions.create(new).await.map_err(|e| status(&e))?;
        let record = live.settled(tokio::time::Instant::now() + START_WAIT).await;
        let session = convert::session(&record, live.attached.load(Ordering::Relaxed));
        Ok(Response::new(pb::CreateSessionResponse { session: Some(session) }))
    }

    type AttachSessionStream = ReplyStream<pb::AttachResponse>;

    async fn attach_session(
        &self,
        request: Request<Streaming<pb::AttachRequest>>,
    ) -> Result<Response<Self::AttachSessionStream>, Status> {
        let mut input = request.into_inner();
        let first = input.message().await?.and_then(|m| m.kind);
        let Some(attach_request::Kind::Open(open)) = first else {
            return Err(Status::invalid_argument("open: the first message must be open"));
        };
        id_of("open.session", &open.session)?;
        let live = self.0.sessions.get(&open.session).map_err(|e| status(&e))?;
        Ok(Response::new(super::attach::attach(&self.0, live, input, open.no_replay)))
    }

    async fn list_sessions(
        &self,
        _request: Request<pb::ListSessionsRequest>,
    ) -> Result<Response<pb::ListSessionsResponse>, Status> {
        let sessions =
            self.0.sessions.list().iter().map(|(r, n)| convert::session(r, *n)).collect();
        Ok(Response::new(pb::ListSessionsResponse { sessions }))
    }

    async fn get_session(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Result<Response<pb::GetSessionResponse>, Status> {
        let id = request.into_inner().id;
        id_of("id", &id)?;
        let live = self.0.sessions.get(&id).map_err(|e| status(&e))?;
        let session = convert::session(&live.summary(), live.attached.load(Ordering::Relaxed));
        Ok(Response::new(pb::GetSessionResponse { session: Some(session) }))
    }

    async fn kill_session(
        &self,
        request: Request<pb::KillSessionRequest>,
    ) -> Result<Response<pb::KillSessionResponse>, Status> {
        let req = request.into_inner();
        id_of("id", &req.id)?;
        let record = self.0.sessions.kill(&req.id, req.graceful).await.map_err(|e| status(&e))?;
        Ok(Response::new(pb::KillSessionResponse { session: Some(convert::session(&record, 0)) }))
    }
}

/// Sends one attach response, `false` when the caller has gone.
pub(super) async fn send(
    tx: &tokio::sync::mpsc::Sender<Result<pb::AttachResponse, Status>>,
    kind: attach_response::Kind,
) -> bool {
    tx.send(Ok(pb::AttachResponse { kind: Some(kind) })).await.is_ok()
}
