//! All forwards of the daemon: create, get, list, delete, pause, resume; restore at start.
//!
//! A forward is stored (durably) before `create` returns and before its supervisor starts, so
//! a daemon killed right after restarts with it, on the same local ports. A failed store write
//! leaves nothing half-done: the ports are released and no supervisor runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::{Mutex, broadcast, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::events::{Event, EventKind, LiveCounters, Status, now_ms};
use super::spec::{ForwardSpec, SpecError};
use super::state::{Counters, Desired, ForwardState, StoredForward};
use super::supervisor::{self, Active, Context, Shared};
use crate::store::{Store, StoreError, blocking};

/// Errors of registry operations, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The spec is invalid.
    #[error("failed to accept the forward")]
    Invalid(#[from] SpecError),
    /// The name is taken by a forward with another spec.
    #[error(
        "failed to create forward {name:?}: a forward of that name exists with {field} {existing}, \
         not {requested}; remove it first (`tether rm {name}`) or choose another name"
    )]
    AlreadyExists {
        /// The name.
        name: String,
        /// The first field that differs, as the API names it (`spec.ports`).
        field: &'static str,
        /// Its value in the existing forward.
        existing: String,
        /// Its value in the request.
        requested: String,
    },
    /// No such forward.
    #[error("failed to find forward {0:?}: see `tether ls` for the forwards that exist")]
    NotFound(String),
    /// The daemon holds as many forwards as it takes.
    #[error(
        "failed to create forward {name:?}: tetherd already holds {limit} forwards, the most it \
         takes; remove some (`tether rm`) first"
    )]
    TooMany {
        /// The name.
        name: String,
        /// The limit.
        limit: usize,
    },
    /// The process ran out of file descriptors.
    #[error(
        "failed to listen on {addr}: tetherd has no file descriptors left ({source}); raise its \
         limit (`ulimit -n` where it starts, LimitNOFILE= in its systemd unit) or remove unused \
         forwards"
    )]
    Descriptors {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A local port could not be bound.
    #[error(
        "failed to listen on {addr}: {source}; choose another local port (LOCAL:REMOTE) or stop what uses it"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The store failed; nothing was changed.
    #[error("failed to save the forward; nothing was changed")]
    Store(#[source] StoreError),
}

/// What [`Registry::create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The forward.
    pub snapshot: Snapshot,
    /// An identical forward existed and was returned unchanged.
    pub existed: bool,
}

/// A forward as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The spec.
    pub spec: ForwardSpec,
    /// Local ports.
    pub local_ports: Vec<u16>,
    /// Status.
    pub status: Status,
    /// Counters.
    pub counters: Counters,
    /// Connections open now.
    pub active: u32,
    /// Unix seconds of creation.
    pub created_at: u64,
}

#[derive(Debug)]
struct Entry {
    shared: Arc<Shared>,
    desired_tx: watch::Sender<Desired>,
    cancel: CancellationToken,
}

impl Entry {
    fn snapshot(&self) -> Snapshot {
        let s = &self.shared;
        Snapshot {
            spec: s.spec.clone(),
            local_ports: s.local_ports.clone(),
            status: s.status.borrow().clone(),
            counters: s.counters.snapshot(),
            active: s.counters.active.load(std::sync::atomic::Ordering::Relaxed),
            created_at: s.created_at,
        }
    }

    fn stored(&self) -> StoredForward {
        StoredForward {
            spec: self.shared.spec.clone(),
            local_ports: self.shared.local_ports.clone(),
            desired: *self.desired_tx.borrow(),
            counters: self.shared.counters.snapshot(),
            created_at: self.shared.created_at,
        }
    }
}

/// The daemon's forwards.
#[derive(Debug)]
pub struct Registry {
    entries: Mutex<BTreeMap<String, Entry>>,
    store: Arc<dyn Store>,
    ctx: Context,
    cancel: CancellationToken,
}

/// How long a pause or resume waits for the supervisor to act before answering.
const APPLY: Duration = Duration::from_secs(2);

/// Runs a store call (which may wait for an fsync) off the async workers.
async fn bind(addr: SocketAddr) -> Result<Arc<TcpListener>, RegistryError> {
    TcpListener::bind(addr).await.map(Arc::new).map_err(|source| {
        let code = source.raw_os_error();
        if code == Some(nix::libc::EMFILE) || code == Some(nix::libc::ENFILE) {
            RegistryError::Descriptors { addr, source }
        } else {
            RegistryError::Bind { addr, source }
        }
    })
}

/// The most forwards a daemon holds; see `docs/SECURITY.md`.
pub const MAX_FORWARDS: usize = 1000;

impl Registry {
    /// An empty registry over `store`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, ctx: Context, cancel: CancellationToken) -> Self {
        Self { entries: Mutex::default(), store, ctx, cancel }
    }

    /// Events of every forward.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.ctx.events_tx.subscribe()
    }

    /// Starts every stored forward on its stored ports. Forwards whose ports are taken are kept,
    /// in `Failed`, so the user can see why; returns their names and errors.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn restore(&self) -> Result<Vec<(String, RegistryError)>, StoreError> {
        let mut problems = Vec::new();
        for stored in self.store.forwards()? {
            let name = stored.spec.name.clone();
            let mut listeners = Vec::new();
            let mut failure = None;
            for port in &stored.local_ports {
                match bind(SocketAddr::new(stored.spec.address, *port)).await {
                    Ok(l) => listeners.push(l),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            let entry = match failure {
                None => self.start(stored, listeners),
                Some(e) => {
                    let reason = super::state::Reason::Bind(e.to_string());
                    problems.push((name.clone(), e));
                    self.failed(stored, reason)
                }
            };
            self.entries.lock().await.insert(name, entry);
        }
        Ok(problems)
    }

    /// Starts the supervisor of a stored forward.
    fn start(&self, stored: StoredForward, listeners: Vec<Arc<TcpListener>>) -> Entry {
        let initial = if stored.desired == Desired::Paused {
            ForwardState::Paused
        } else {
            ForwardState::Pending
        };
        let (entry, active_tx, desired_rx) = self.entry(stored, initial);
        let span = tracing::info_span!(
            "forward",
            name = %entry.shared.spec.name,
            target = %entry.shared.spec.target
        );
        let task = supervisor::run(
            self.ctx.clone(),
            entry.shared.clone(),
            listeners,
            active_tx,
            desired_rx,
            entry.cancel.clone(),
        );
        self.ctx.tracker.spawn(task.instrument(span));
        entry
    }

    /// A stored forward that cannot run (its local port is taken): kept, shown as failed with
    /// `reason`, and without a supervisor, so nothing else sets its state.
    fn failed(&self, stored: StoredForward, reason: super::state::Reason) -> Entry {
        let (entry, _active_tx, _desired_rx) = self.entry(stored, ForwardState::Failed { reason });
        entry.cancel.cancel();
        entry
    }

    /// The entry of a stored forward in its initial state, and the ends its supervisor takes.
    fn entry(
        &self,
        stored: StoredForward,
        initial: ForwardState,
    ) -> (Entry, watch::Sender<Option<Active>>, watch::Receiver<Desired>) {
        let (active_tx, active) = watch::channel(None);
        let shared = Arc::new(Shared {
            active,
            local_ports: stored.local_ports.clone(),
            status: watch::channel(Status::new(initial, Vec::new())).0,
            counters: LiveCounters::from_stored(&stored.counters),
            created_at: stored.created_at,
            spec: stored.spec,
        });
        let addresses = shared.local_addresses();
        shared.status.send_modify(|s| s.local_addresses = addresses);
        let (desired_tx, desired_rx) = watch::channel(stored.desired);
        let cancel = self.cancel.child_token();
        (Entry { shared, desired_tx, cancel }, active_tx, desired_rx)
    }

    /// Ensures a forward: validates, binds, stores and starts it, or returns the forward of the
    /// same name when its spec is identical (scripts and IDEs create the same forward again and
    /// again). An identical forward that has failed is started again, as a resume does; a paused
    /// one stays paused.
    ///
    /// # Errors
    /// Invalid spec, the name taken by another spec, port taken, or a store failure (then
    /// nothing changed).
    pub async fn create(&self, mut spec: ForwardSpec) -> Result<Created, RegistryError> {
        if spec.name.is_empty() {
            spec.name = ForwardSpec::default_name(&spec.target, &spec.ports);
        }
        spec.validate()?;
        let mut entries = self.entries.lock().await;
        if let Some(entry) = entries.get(&spec.name) {
            if let Some((field, existing, requested)) = entry.shared.spec.difference(&spec) {
                let name = spec.name;
                return Err(RegistryError::AlreadyExists { name, field, existing, requested });
            }
            let failed = matches!(entry.shared.status.borrow().state, ForwardState::Failed { .. });
            if failed && *entry.desired_tx.borrow() == Desired::Running {
                entry.desired_tx.send_replace(Desired::Running);
            }
            return Ok(Created { snapshot: entry.snapshot(), existed: true });
        }
        if entries.len() >= MAX_FORWARDS {
            return Err(RegistryError::TooMany { name: spec.name, limit: MAX_FORWARDS });
        }
        let mut listeners = Vec::new();
        let mut local_ports = Vec::new();
        for mapping in &spec.ports {
            let port = mapping.local.map_or(0, std::num::NonZeroU16::get);
            let listener = bind(SocketAddr::new(spec.address, port)).await?;
            local_ports.push(
                listener
                    .local_addr()
                    .map_err(|source| RegistryError::Bind {
                        addr: SocketAddr::new(spec.address, port),
                        source,
                    })?
                    .port(),
            );
            listeners.push(listener);
        }
        let created_at = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let stored = StoredForward {
            spec,
            local_ports,
            desired: Desired::Running,
            counters: Counters::default(),
            created_at,
        };
        let (store, record) = (self.store.clone(), stored.clone());
        blocking("write", move || store.create_forward(&record))
            .await
            .map_err(RegistryError::Store)?;
        let name = stored.spec.name.clone();
        let entry = self.start(stored, listeners);
        let snapshot = entry.snapshot();
        entries.insert(name, entry);
        Ok(Created { snapshot, existed: false })
    }

    /// One forward.
    pub async fn get(&self, name: &str) -> Option<Snapshot> {
        self.entries.lock().await.get(name).map(Entry::snapshot)
    }

    /// Every forward, by name.
    pub async fn list(&self) -> Vec<Snapshot> {
        self.entries.lock().await.values().map(Entry::snapshot).collect()
    }

    /// Up to `limit` forwards whose names come after `after`, by name, and whether more follow.
    pub async fn page(&self, after: &str, limit: usize) -> (Vec<Snapshot>, bool) {
        use std::ops::Bound::{Excluded, Unbounded};
        let entries = self.entries.lock().await;
        let start = if after.is_empty() { Unbounded } else { Excluded(after.to_owned()) };
        let mut range = entries.range((start, Unbounded));
        let page: Vec<Snapshot> = range.by_ref().take(limit).map(|(_, e)| e.snapshot()).collect();
        (page, range.next().is_some())
    }

    /// Stops and forgets a forward, freeing its ports.
    ///
    /// # Errors
    /// Unknown name, or a store failure (then the forward keeps running).
    pub async fn delete(&self, name: &str) -> Result<(), RegistryError> {
        let mut entries = self.entries.lock().await;
        if !entries.contains_key(name) {
            return Err(RegistryError::NotFound(name.to_owned()));
        }
        let (store, owned) = (self.store.clone(), name.to_owned());
        blocking("delete", move || store.delete_forward(&owned))
            .await
            .map_err(RegistryError::Store)?;
        if let Some(entry) = entries.remove(name) {
            entry.cancel.cancel();
        }
        let _receivers = self.ctx.events_tx.send(Event {
            time_ms: now_ms(),
            forward: name.to_owned(),
            kind: EventKind::Deleted,
        });
        Ok(())
    }

    /// Pauses or resumes a forward (stored, so it survives restarts).
    ///
    /// # Errors
    /// Unknown name, or a store failure (then nothing changed).
    pub async fn set_desired(
        &self,
        name: &str,
        desired: Desired,
    ) -> Result<Snapshot, RegistryError> {
        let entries = self.entries.lock().await;
        let entry = entries.get(name).ok_or_else(|| RegistryError::NotFound(name.to_owned()))?;
        let mut stored = entry.stored();
        stored.desired = desired;
        let store = self.store.clone();
        blocking("write", move || store.put_forward(&stored))
            .await
            .map_err(RegistryError::Store)?;
        // A resume also restarts a forward that failed.
        let mut status = entry.shared.status.subscribe();
        entry.desired_tx.send_replace(desired);
        drop(entries);
        // Answer with the state the change led to (briefly: the supervisor acts at once).
        let applied =
            |s: &Status| (s.state == ForwardState::Paused) == (desired == Desired::Paused);
        let wait = async { status.wait_for(applied).await.map(|_| ()) };
        let _late = tokio::time::timeout(APPLY, wait).await;
        self.get(name).await.ok_or_else(|| RegistryError::NotFound(name.to_owned()))
    }

    /// Waits until a forward is Ready or Failed, up to `timeout`; returns its snapshot then.
    ///
    /// # Errors
    /// Unknown name.
    pub async fn wait_settled(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<Snapshot, RegistryError> {
        let mut status_rx = {
            let entries = self.entries.lock().await;
            entries
                .get(name)
                .ok_or_else(|| RegistryError::NotFound(name.to_owned()))?
                .shared
                .status
                .subscribe()
        };
        let settled = |s: &Status| match &s.state {
            ForwardState::Ready | ForwardState::Failed { .. } | ForwardState::Paused => true,
            // Waiting on something only the user can fix: say so now.
            ForwardState::Reconnecting { reason, .. } => reason.needs_the_user(),
            ForwardState::Pending | ForwardState::Connecting => false,
        };
        let settle = async { status_rx.wait_for(settled).await.map(|_| ()) };
        let _timed_out = tokio::time::timeout(timeout, settle).await;
        self.get(name).await.ok_or_else(|| RegistryError::NotFound(name.to_owned()))
    }

    /// Writes every forward's counters to the store.
    pub async fn flush_counters(&self) {
        let counters: Vec<(String, Counters)> = self
            .entries
            .lock()
            .await
            .iter()
            .map(|(name, e)| (name.clone(), e.shared.counters.snapshot()))
            .collect();
        let store = self.store.clone();
        let _done = tokio::task::spawn_blocking(move || {
            for (name, c) in counters {
                if let Err(e) = store.put_counters(&name, &c) {
                    tracing::warn!(forward = %name, error = %e, "failed to save counters");
                }
            }
        })
        .await;
    }

    /// Number of forwards, and of those Ready.
    pub async fn counts(&self) -> (usize, usize) {
        let entries = self.entries.lock().await;
        let ready = entries
            .values()
            .filter(|e| e.shared.status.borrow().state == ForwardState::Ready)
            .count();
        (entries.len(), ready)
    }
}

mod dial;

pub use dial::DialError;
