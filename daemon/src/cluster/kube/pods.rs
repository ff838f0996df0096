//! Pod watches: list, then watch from the list's version, relisting after `410 Gone` or an
//! error. The receiver always holds the full current set, so a forward moves to another Ready
//! pod the moment the watch says so, without polling.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt as _;
use kube::api::{ListParams, WatchEvent, WatchParams};
use tokio::sync::watch;
use tracing::Instrument as _;

use super::{KubeCluster, REST_TIMEOUT, Source, classify, convert, explain, load, query};
use crate::cluster::{ClusterError, PodInfo, PodSelector, PodWatch};

/// How long one watch request lasts before it is renewed.
const WATCH_SECONDS: u32 = 290;

pub(super) fn watch(
    cluster: &KubeCluster,
    client: kube::Client,
    selector: PodSelector,
) -> PodWatch {
    let (tx, rx) =
        watch::channel(Err(ClusterError::Connection("the pod watch is starting".into())));
    let task = Reflector {
        source: cluster.source.clone(),
        namespace: cluster.namespace.clone(),
        client,
        plugin: cluster.plugin(),
        selector: selector.clone(),
        pods: BTreeMap::new(),
        tx,
    };
    let cancel = cluster.cancel.clone();
    let span = tracing::debug_span!("pod-watch", ?selector);
    cluster.tracker.spawn(
        async move {
            tokio::select! {
                () = task.run() => {}
                () = cancel.cancelled() => {}
            }
        }
        .instrument(span),
    );
    rx
}

struct Reflector {
    source: Source,
    namespace: String,
    client: kube::Client,
    /// The credential plugin the client runs, for messages.
    plugin: Option<String>,
    selector: PodSelector,
    pods: BTreeMap<String, PodInfo>,
    tx: watch::Sender<Result<Vec<PodInfo>, ClusterError>>,
}

impl Reflector {
    fn params(&self) -> (Option<String>, Option<String>) {
        match &self.selector {
            PodSelector::Name(name) => (None, Some(format!("metadata.name={name}"))),
            PodSelector::Labels(labels) => (Some(labels.clone()), None),
        }
    }

    fn publish(&self) {
        let pods: Vec<PodInfo> = self.pods.values().cloned().collect();
        self.tx.send_if_modified(|current| {
            let changed = current.as_ref().map_or(true, |c| *c != pods);
            *current = Ok(pods.clone());
            changed
        });
    }

    async fn run(mut self) {
        let mut failures = 0u32;
        while !self.tx.is_closed() {
            match self.list_and_watch().await {
                Ok(()) => failures = 0,
                Err(e) => {
                    let e = explain(e, self.plugin.as_deref());
                    failures += 1;
                    tracing::debug!(error = %e, failures, "pod watch failed");
                    if matches!(e, ClusterError::Unauthorized(_))
                        && let Ok(loaded) = load(&self.source).await
                    {
                        self.client = loaded.client;
                        self.plugin = loaded.plugin;
                    }
                    let _closed = self.tx.send(Err(e));
                    let delay = Duration::from_millis(250u64 << failures.min(5));
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = self.tx.closed() => return,
                    }
                }
            }
        }
    }

    /// Lists, then watches until the watch must be restarted from a fresh list.
    async fn list_and_watch(&mut self) -> Result<(), ClusterError> {
        let (client, namespace) = (self.client.clone(), self.namespace.clone());
        let (labels, fields) = self.params();
        let lp = ListParams {
            label_selector: labels.clone(),
            field_selector: fields.clone(),
            ..ListParams::default()
        };
        let list = tokio::time::timeout(REST_TIMEOUT, query::list(&client, &namespace, &lp))
            .await
            .map_err(|_| ClusterError::Connection("timed out listing pods".into()))?
            .map_err(|e| classify(&e))?;
        let mut version = list.metadata.resource_version.clone().unwrap_or_default();
        self.pods = list
            .items
            .iter()
            .map(|p| (p.metadata.name.clone().unwrap_or_default(), convert::pod(p)))
            .collect();
        self.publish();
        loop {
            let mut wp = WatchParams::default().timeout(WATCH_SECONDS).disable_bookmarks();
            wp.label_selector = labels.clone();
            wp.field_selector = fields.clone();
            let stream =
                query::watch(&client, &namespace, &wp, &version).await.map_err(|e| classify(&e))?;
            let mut stream = std::pin::pin!(stream);
            loop {
                let event = tokio::select! {
                    e = stream.next() => e,
                    () = self.tx.closed() => return Ok(()),
                };
                let Some(event) = event else { break };
                match event.map_err(|e| classify(&e))? {
                    WatchEvent::Added(p) | WatchEvent::Modified(p) => {
                        version = p.metadata.resource_version.clone().unwrap_or(version);
                        self.pods
                            .insert(p.metadata.name.clone().unwrap_or_default(), convert::pod(&p));
                    }
                    WatchEvent::Deleted(p) => {
                        version = p.metadata.resource_version.clone().unwrap_or(version);
                        self.pods.remove(p.metadata.name.as_deref().unwrap_or_default());
                    }
                    WatchEvent::Bookmark(b) => version = b.metadata.resource_version,
                    WatchEvent::Error(status) if status.code == 410 => return Ok(()),
                    WatchEvent::Error(status) => {
                        let (code, reason, message) = (status.code, status.reason, status.message);
                        return Err(super::status_error(code, reason, message));
                    }
                }
                self.publish();
            }
        }
    }
}
