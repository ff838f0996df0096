//! `ForwardService`: forward CRUD, the event stream, and dialing.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tether_proto::pb::forward_service_server::ForwardService;
use tether_proto::pb::{self};
use tokio::sync::{broadcast, mpsc};
use tonic::{Request, Response, Status, Streaming};

use super::{ApiState, convert, errors};
use crate::forward::events::{Event, EventKind, now_ms};
use crate::forward::state::Desired;

/// The service.
#[derive(Debug)]
pub struct Forwards(pub(super) Arc<ApiState>);

/// A server stream fed by a bounded channel.
pub(super) type ReplyStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Turns a bounded receiver into a reply stream.
pub(super) fn stream_of<T: Send + 'static>(
    rx: mpsc::Receiver<Result<T, Status>>,
) -> ReplyStream<T> {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

/// A forward name in a request: present, and bounded before any lookup.
fn name_of(field: &str, name: &str) -> Result<(), Status> {
    super::limits::required(field, name, super::limits::NAME)
}

#[tonic::async_trait]
impl ForwardService for Forwards {
    async fn create_forward(
        &self,
        request: Request<pb::CreateForwardRequest>,
    ) -> Result<Response<pb::CreateForwardResponse>, Status> {
        let req = request.into_inner();
        let spec = convert::spec(req.spec)?;
        let registry = &self.0.registry;
        let created =
            registry.create(spec).await.map_err(|e| errors::report(errors::registry(&e)))?;
        let (mut snapshot, existed) = (created.snapshot, created.existed);
        if req.wait_ready {
            let timeout = Duration::from_millis(if req.wait_timeout_ms == 0 {
                30_000
            } else {
                u64::from(req.wait_timeout_ms)
            });
            snapshot = registry
                .wait_settled(&snapshot.spec.name, timeout)
                .await
                .map_err(|e| errors::report(errors::registry(&e)))?;
        }
        let forward = Some(convert::forward(&snapshot));
        Ok(Response::new(pb::CreateForwardResponse { forward, existed }))
    }

    async fn get_forward(
        &self,
        request: Request<pb::GetForwardRequest>,
    ) -> Result<Response<pb::GetForwardResponse>, Status> {
        let name = request.into_inner().name;
        name_of("name", &name)?;
        let snapshot = self.0.registry.get(&name).await.ok_or_else(|| {
            Status::not_found(format!(
                "failed to find forward {name:?}: see `tether ls` for the forwards that exist"
            ))
        })?;
        Ok(Response::new(pb::GetForwardResponse { forward: Some(convert::forward(&snapshot)) }))
    }

    async fn list_forwards(
        &self,
        request: Request<pb::ListForwardsRequest>,
    ) -> Result<Response<pb::ListForwardsResponse>, Status> {
        use super::limits::{NAME, PAGE, PAGE_MAX, check};
        let req = request.into_inner();
        check("page_token", &req.page_token, NAME)?;
        let size = match usize::try_from(req.page_size) {
            Ok(0) | Err(_) => PAGE,
            Ok(n) => n.min(PAGE_MAX),
        };
        let (page, more) = self.0.registry.page(&req.page_token, size).await;
        let next_page_token = match (more, page.last()) {
            (true, Some(last)) => last.spec.name.clone(),
            _ => String::new(),
        };
        let forwards = page.iter().map(convert::forward).collect();
        Ok(Response::new(pb::ListForwardsResponse { forwards, next_page_token }))
    }

    async fn delete_forward(
        &self,
        request: Request<pb::DeleteForwardRequest>,
    ) -> Result<Response<pb::DeleteForwardResponse>, Status> {
        let name = request.into_inner().name;
        name_of("name", &name)?;
        self.0.registry.delete(&name).await.map_err(|e| errors::report(errors::registry(&e)))?;
        Ok(Response::new(pb::DeleteForwardResponse {}))
    }

    async fn pause_forward(
        &self,
        request: Request<pb::PauseForwardRequest>,
    ) -> Result<Response<pb::PauseForwardResponse>, Status> {
        let name = request.into_inner().name;
        name_of("name", &name)?;
        let s = self
            .0
            .registry
            .set_desired(&name, Desired::Paused)
            .await
            .map_err(|e| errors::report(errors::registry(&e)))?;
        Ok(Response::new(pb::PauseForwardResponse { forward: Some(convert::forward(&s)) }))
    }

    async fn resume_forward(
        &self,
        request: Request<pb::ResumeForwardRequest>,
    ) -> Result<Response<pb::ResumeForwardResponse>, Status> {
        let name = request.into_inner().name;
        name_of("name", &name)?;
        let s = self
            .0
            .registry
            .set_desired(&name, Desired::Running)
            .await
            .map_err(|e| errors::report(errors::registry(&e)))?;
        Ok(Response::new(pb::ResumeForwardResponse { forward: Some(convert::forward(&s)) }))
    }

    type WatchEventsStream = ReplyStream<pb::Event>;

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let names = request.into_inner().names;
        let keep = move |forward: &str| names.is_empty() || names.iter().any(|n| n == forward);
        // Subscribe before the snapshot so nothing falls between them.
        let mut events = self.0.registry.subscribe();
        let snapshot = self.0.registry.list().await;
        let (tx, rx) = mpsc::channel(256);
        let shutdown = self.0.shutdown.clone();
        self.0.tracker.spawn(async move {
            for s in snapshot.iter().filter(|s| keep(&s.spec.name)) {
                let e = Event {
                    time_ms: now_ms(),
                    forward: s.spec.name.clone(),
                    kind: EventKind::Status(s.status.clone()),
                };
                if tx.send(Ok(convert::event(&e))).await.is_err() {
                    return;
                }
            }
            loop {
                let event = tokio::select! {
                    e = events.recv() => e,
                    () = tx.closed() => return,
                    () = shutdown.cancelled() => return,
                };
                match event {
                    Ok(e) if keep(&e.forward) => {
                        if tx.send(Ok(convert::event(&e))).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    // A slow watcher skips ahead rather than slowing the daemon down.
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(skipped = n, "event watcher lagged")
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(stream_of(rx)))
    }

    type DialStream = ReplyStream<pb::DialResponse>;

    async fn dial(
        &self,
        request: Request<Streaming<pb::DialRequest>>,
    ) -> Result<Response<Self::DialStream>, Status> {
        super::dial::dial(&self.0, request.into_inner()).await.map(Response::new)
    }
}
