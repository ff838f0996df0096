//! `Dial`: a byte stream to a forward's pod through its tunnel, with no local listener.

use std::time::Duration;

use tether_proto::pb::{self, dial_request, dial_response};
use tokio::sync::mpsc;
use tonic::{Status, Streaming};

use super::forwards::{ReplyStream, stream_of};
use super::{ApiState, convert, errors};
use crate::tunnel::Chunk;

/// How long a dial waits for the forward's tunnel.
const HOLD: Duration = Duration::from_secs(30);

pub(super) async fn dial(
    state: &ApiState,
    mut input: Streaming<pb::DialRequest>,
) -> Result<ReplyStream<pb::DialResponse>, Status> {
    let first = input
        .message()
        .await?
        .ok_or_else(|| Status::invalid_argument("open: the first message must be open"))?;
    let Some(dial_request::Kind::Open(open)) = first.kind else {
        return Err(Status::invalid_argument("open: the first message must be open"));
    };
    super::limits::required("open.forward", &open.forward, super::limits::NAME)?;
    super::limits::check("open.port", &open.port, super::limits::PORT)?;
    let port = convert::remote_port("open.port", &open.port)?;
    let (stream, pod, container_port) = state
        .registry
        .dial(&open.forward, port.as_ref(), HOLD)
        .await
        .map_err(|e| errors::dial(&e))?;
    let (tx, rx) = mpsc::channel(32);
    let opened = pb::DialResponse {
        kind: Some(dial_response::Kind::Opened(pb::DialOpened {
            pod,
            port: u32::from(container_port),
        })),
    };
    tx.send(Ok(opened)).await.map_err(|_| Status::cancelled("the caller went away"))?;
    let crate::tunnel::Stream { mut to_pod, mut from_pod } = stream;
    let up = async move {
        loop {
            match input.message().await {
                Ok(Some(pb::DialRequest { kind: Some(dial_request::Kind::Data(bytes)) })) => {
                    if to_pod.send(bytes).await.is_err() {
                        return;
                    }
                }
                Ok(Some(pb::DialRequest { kind: Some(dial_request::Kind::CloseWrite(true)) }))
                | Ok(None) => {
                    let _gone = to_pod.finish().await;
                    // Keep `to_pod` alive so the stream is not reset while the pod answers.
                    std::future::pending::<()>().await;
                }
                Ok(Some(_)) => {}
                Err(_) => return,
            }
        }
    };
    let down = async move {
        while let Some(chunk) = from_pod.recv().await {
            match chunk {
                Chunk::Data(bytes) => {
                    let msg = pb::DialResponse { kind: Some(dial_response::Kind::Data(bytes)) };
                    if tx.send(Ok(msg)).await.is_err() {
                        return;
                    }
                }
                Chunk::Fin => return,
            }
        }
        let why =
            from_pod.error().map(|e| e.to_string()).unwrap_or_else(|| "the stream ended".into());
        let _gone = tx.send(Err(Status::unavailable(why))).await;
    };
    let cancel = state.shutdown.clone();
    state.tracker.spawn(async move {
        tokio::select! {
            () = down => {}
            () = up => {}
            () = cancel.cancelled() => {}
        }
    });
    Ok(stream_of(rx))
}
