//! The object store: Kubernetes objects as JSON with resource versions, history and watches.
//!
//! Every change bumps one cluster-wide resource version and is kept in a bounded history, so a
//! watch can resume from a recent version (older ones get `410 Gone`, as from etcd compaction).

mod resource;
mod selector;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::broadcast;

pub use resource::Resource;
pub use selector::{FieldSelector, LabelSelector, SelectorError};

/// How many changes are kept for watches that resume from a resource version.
const HISTORY: usize = 4096;

/// A change to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl EventType {
    /// The watch event `type` string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as watches deliver it.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// The resource version of the change.
    pub rv: u64,
    /// What happened.
    pub kind: EventType,
    /// The object's resource.
    pub resource: Resource,
    /// The object after the change (before it, for deletions, with the new version).
    pub object: Arc<Value>,
}

/// Errors from the store, each with the HTTP status it maps to.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// 404.
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        /// Plural resource name.
        resource: &'static str,
        /// Object name.
        name: String,
    },
    /// 409.
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        /// Plural resource name.
        resource: &'static str,
        /// Object name.
        name: String,
    },
    /// 410: the requested version is older than the kept history.
    #[error("too old resource version: {requested} ({oldest})")]
    Gone {
        /// What was asked for.
        requested: u64,
        /// The oldest version a watch can resume from.
        oldest: u64,
    },
    /// 400/422: the object is not acceptable.
    #[error("{0}")]
    Invalid(String),
}

type Key = (Resource, String, String);

/// The backlog of a new watch and the receiver of what follows.
pub type WatchStart = (Vec<Arc<WatchEvent>>, broadcast::Receiver<Arc<WatchEvent>>);

#[derive(Debug, Default)]
struct Inner {
    rv: u64,
    objects: BTreeMap<Key, Arc<Value>>,
    history: VecDeque<Arc<WatchEvent>>,
}

/// The cluster's objects.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
    events_tx: broadcast::Sender<Arc<WatchEvent>>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// A fresh, unique-enough object uid.
fn new_uid() -> String {
    let r: u128 = rand::random();
    let h = format!("{r:032x}");
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// The current time as Kubernetes writes it (RFC 3339, seconds).
#[must_use]
pub fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::from_second(unix_now()).map(|t| t.to_string()).unwrap_or_default()
}

/// Seconds since the Unix epoch.
#[must_use]
pub fn unix_now() -> i64 {
    let since =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

impl Store {
    /// An empty store at resource version 1.
    #[must_use]
    pub fn new() -> Self {
        let (events_tx, _) = broadcast::channel(HISTORY);
        Self { inner: Mutex::new(Inner { rv: 1, ..Inner::default() }), events_tx }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current resource version.
    #[must_use]
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    fn record(&self, inner: &mut Inner, kind: EventType, resource: Resource, object: Arc<Value>) {
        let event = Arc::new(WatchEvent { rv: inner.rv, kind, resource, object });
        if inner.history.len() == HISTORY {
            inner.history.pop_front();
        }
        inner.history.push_back(event.clone());
        // Nobody watching is fine.
        let _receivers = self.events_tx.send(event);
    }

    /// Creates an object, filling in uid, creation time, namespace and resource version.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] if the name is taken, [`StoreError::Invalid`] without a name.
    pub fn create(&self, resource: Resource, mut object: Value) -> Result<Arc<Value>, StoreError> {
        let name = object["metadata"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| StoreError::Invalid("metadata.name: Required value".into()))?
            .to_owned();
        let namespace = if resource.namespaced() {
            object["metadata"]["namespace"].as_str().unwrap_or("default").to_owned()
        } else {
            String::new()
        };
        let mut inner = self.lock();
        let key = (resource, namespace.clone(), name.clone());
        if inner.objects.contains_key(&key) {
            return Err(StoreError::AlreadyExists { resource: resource.qualified(), name });
        }
        inner.rv += 1;
        object["apiVersion"] = Value::from(resource.api_version());
        object["kind"] = Value::from(resource.kind());
        let meta = &mut object["metadata"];
        if resource.namespaced() {
            meta["namespace"] = Value::from(namespace);
        }
        meta["uid"] = Value::from(new_uid());
        meta["creationTimestamp"] = Value::from(now_rfc3339());
        meta["resourceVersion"] = Value::from(inner.rv.to_string());
        let object = Arc::new(object);
        inner.objects.insert(key, object.clone());
        self.record(&mut inner, EventType::Added, resource, object.clone());
        Ok(object)
    }

    /// Changes an object in place; no event when nothing changed.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if it does not exist.
    pub fn update(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut Value),
    ) -> Result<Arc<Value>, StoreError> {
        let mut inner = self.lock();
        let key = (resource, namespace.to_owned(), name.to_owned());
        let current = inner.objects.get(&key).ok_or_else(|| not_found(resource, name))?;
        let mut next = (**current).clone();
        change(&mut next);
        if next == **current {
            return Ok(current.clone());
        }
        inner.rv += 1;
        next["metadata"]["resourceVersion"] = Value::from(inner.rv.to_string());
        let next = Arc::new(next);
        inner.objects.insert(key, next.clone());
        self.record(&mut inner, EventType::Modified, resource, next.clone());
        Ok(next)
    }

    /// Removes an object.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if it does not exist.
    pub fn delete(
        &self,
        resource: Resource,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, StoreError> {
        let mut inner = self.lock();
        let key = (resource, namespace.to_owned(), name.to_owned());
        let mut gone = inner.objects.remove(&key).ok_or_else(|| not_found(resource, name))?;
        inner.rv += 1;
        Arc::make_mut(&mut gone)["metadata"]["resourceVersion"] = Value::from(inner.rv.to_string());
        self.record(&mut inner, EventType::Deleted, resource, gone.clone());
        Ok(gone)
    }

    /// One object.
    #[must_use]
    pub fn get(&self, resource: Resource, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.lock().objects.get(&(resource, namespace.to_owned(), name.to_owned())).cloned()
    }

    /// Objects of a resource (in one namespace, or all), filtered, with the list's version.
    #[must_use]
    pub fn list(
        &self,
        resource: Resource,
        namespace: Option<&str>,
        keep: impl Fn(&Value) -> bool,
    ) -> (Vec<Arc<Value>>, u64) {
        let inner = self.lock();
        let items = inner
            .objects
            .iter()
            .filter(|((r, ns, _), _)| *r == resource && namespace.is_none_or(|n| n == ns))
            .map(|(_, o)| o)
            .filter(|o| keep(o))
            .cloned()
            .collect();
        (items, inner.rv)
    }

    /// Starts a watch: the events after `since` (or synthetic ADDED events for every object when
    /// `since` is `None`), then a live receiver for what follows.
    ///
    /// # Errors
    /// [`StoreError::Gone`] when `since` is older than the kept history.
    pub fn watch(&self, resource: Resource, since: Option<u64>) -> Result<WatchStart, StoreError> {
        let inner = self.lock();
        let rx = self.events_tx.subscribe();
        let backlog = match since {
            None => inner
                .objects
                .iter()
                .filter(|((r, _, _), _)| *r == resource)
                .map(|(_, o)| {
                    let rv = o["metadata"]["resourceVersion"].as_str().and_then(|v| v.parse().ok());
                    Arc::new(WatchEvent {
                        rv: rv.unwrap_or(inner.rv),
                        kind: EventType::Added,
                        resource,
                        object: o.clone(),
                    })
                })
                .collect(),
            Some(since) => {
                let oldest = inner.history.front().map_or(inner.rv, |e| e.rv.saturating_sub(1));
                if since < oldest {
                    return Err(StoreError::Gone { requested: since, oldest });
                }
                inner
                    .history
                    .iter()
                    .filter(|e| e.rv > since && e.resource == resource)
                    .cloned()
                    .collect()
            }
        };
        Ok((backlog, rx))
    }
}

fn not_found(resource: Resource, name: &str) -> StoreError {
    StoreError::NotFound { resource: resource.qualified(), name: name.to_owned() }
}

#[cfg(test)]
mod tests;
