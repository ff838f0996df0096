//! Watches: a chunked stream of `{"type": ..., "object": ...}` lines, resumable from a resource
//! version, filtered by namespace and selectors. An object that stops matching a selector is
//! reported as DELETED, as the apiserver does.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tether_wire::channel::Status;
use tokio::sync::{broadcast, mpsc};

use super::objects::Filter;
use super::response::Body;
use crate::cluster::Cluster;
use crate::store::{EventType, Resource, StoreError, WatchEvent};

type Chunk = Result<Frame<Bytes>, std::io::Error>;

fn line(kind: &str, object: &Value) -> Chunk {
    let mut bytes =
        serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    bytes.push(b'\n');
    Ok(Frame::data(Bytes::from(bytes)))
}

fn gone(message: &str) -> Chunk {
    let status = Status::failure("Expired", message, 410).with_type_meta();
    line("ERROR", &serde_json::to_value(status).unwrap_or_default())
}

pub(crate) fn watch(
    cluster: &Arc<Cluster>,
    resource: Resource,
    ns: Option<&str>,
    filter: Filter,
    q: &HashMap<String, String>,
) -> Response<Body> {
    let since = q.get("resourceVersion").and_then(|v| v.parse::<u64>().ok()).filter(|v| *v != 0);
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let (tx, rx) = mpsc::channel::<Chunk>(64);
    let start = cluster.store.watch(resource, since);
    let ns = ns.filter(|_| resource.namespaced()).map(str::to_owned);
    // Objects the client already knows from its list count as matched, so that one which stops
    // matching is reported as deleted.
    let matched: HashSet<String> = cluster
        .store
        .list(resource, ns.as_deref(), |o| filter.matches(o))
        .0
        .iter()
        .filter(|_| since.is_some())
        .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    let cancel = cluster.cancel.clone();
    cluster.tracker.spawn(async move {
        let (backlog, live) = match start {
            Ok(s) => s,
            Err(e @ StoreError::Gone { .. }) => {
                let _closed = tx.send(gone(&e.to_string())).await;
                return;
            }
            Err(_) => return,
        };
        let mut stream = Matcher { resource, ns, filter, matched, tx };
        tokio::select! {
            () = stream.run(backlog, live) => {}
            () = tokio::time::sleep(timeout) => {}
            () = cancel.cancelled() => {}
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut resp = Response::new(StreamBody::new(stream).boxed());
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

struct Matcher {
    /// The kind watched: the store's events are of every kind.
    resource: Resource,
    ns: Option<String>,
    filter: Filter,
    matched: HashSet<String>,
    tx: mpsc::Sender<Chunk>,
}

impl Matcher {
    async fn run(
        &mut self,
        backlog: Vec<Arc<WatchEvent>>,
        mut live: broadcast::Receiver<Arc<WatchEvent>>,
    ) {
        let mut last_rv = 0;
        for event in backlog {
            last_rv = last_rv.max(event.rv);
            if event.resource == self.resource && !self.send(&event).await {
                return;
            }
        }
        loop {
            match live.recv().await {
                Ok(event) if event.rv <= last_rv => {}
                Ok(event) if event.resource == self.resource => {
                    if !self.send(&event).await {
                        return;
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let _closed = self.tx.send(gone("the watch fell behind; list again")).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Sends the event if it concerns this watch; false once the client has gone.
    async fn send(&mut self, event: &WatchEvent) -> bool {
        let o = &event.object;
        if self.ns.as_deref().is_some_and(|ns| o["metadata"]["namespace"] != ns) {
            return true;
        }
        let name = o["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let now = self.filter.matches(o);
        let before = self.matched.contains(&name);
        let kind = match event.kind {
            EventType::Deleted if now || before => EventType::Deleted,
            EventType::Deleted => return true,
            kind if now => kind,
            _ if before => EventType::Deleted,
            _ => return true,
        };
        let now = now && event.kind != EventType::Deleted;
        if now {
            self.matched.insert(name);
        } else {
            self.matched.remove(&name);
        }
        self.tx.send(line(kind.as_str(), o)).await.is_ok()
    }
}
