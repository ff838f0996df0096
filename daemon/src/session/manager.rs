//! The daemon's sessions: create, list, get, kill; restore after a daemon restart.
//!
//! A session is stored before its task starts, so a daemon killed right after restarts knowing
//! it. On restore, an exec session that was running becomes `Lost` (its process died with the
//! connection; its last output is kept), and an attach session re-joins its container.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::runner::{self, Deps, Live};
use super::{Kind, Phase, Record, Restart, Spec, new_id};
use crate::store::{self, StoreError};

/// Output kept per session when the caller does not say.
pub const DEFAULT_SCROLLBACK: usize = 1 << 20;

/// The most output a caller may ask to keep per session.
pub const MAX_SCROLLBACK: usize = 64 << 20;

/// The most sessions a daemon holds, running or ended; see `docs/SECURITY.md`.
pub const MAX_SESSIONS: usize = 64;

/// The most output all sessions together may keep.
pub const MAX_TOTAL_SCROLLBACK: usize = 1 << 30;

/// The shortest id prefix that finds a session.
const MIN_PREFIX: usize = 6;

/// How long a kill waits for the process to end.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Errors of session operations, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No such session.
    #[error("failed to find session {0:?}: see `tether session ls` for the sessions that exist")]
    NotFound(String),
    /// The store failed; nothing was changed.
    #[error("failed to save session {0:?}; nothing was changed")]
    Store(String, #[source] StoreError),
    /// The daemon holds as many sessions, or as much scrollback, as it takes.
    #[error(
        "failed to create a session: {0}; kill or forget sessions you no longer need \
         (`tether session kill ID`)"
    )]
    TooMany(String),
}

/// What a new session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// Exec or attach.
    pub kind: Kind,
    /// What to run and where.
    pub spec: Spec,
    /// What a drop means.
    pub restart: Restart,
    /// Bytes of output kept.
    pub scrollback: usize,
}

/// The daemon's sessions.
#[derive(Debug)]
pub struct Manager {
    sessions: Mutex<BTreeMap<String, Arc<Live>>>,
    deps: Deps,
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl Manager {
    /// No sessions yet; tasks run on `tracker` until `cancel`.
    #[must_use]
    pub fn new(deps: Deps, tracker: TaskTracker, cancel: CancellationToken) -> Self {
        Self { sessions: Mutex::new(BTreeMap::new()), deps, tracker, cancel }
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Arc<Live>>> {
        // Every change is one map operation, so a poisoned map is still consistent.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads stored sessions: running exec sessions become `Lost`, attach sessions re-join.
    /// Returns how many were restored.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub async fn restore(&self) -> Result<usize, StoreError> {
        let store = self.deps.store.clone();
        let records = store::blocking("read", move || store.sessions()).await?;
        let count = records.len();
        for mut record in records {
            let id = record.id.clone();
            let resume = !record.phase.ended() && record.kind == Kind::Attach;
            if !record.phase.ended() && record.kind == Kind::Exec {
                record.phase = Phase::Lost(
                    "the daemon restarted; an exec'd process ends with its connection and cannot be resumed".into(),
                );
                if let Err(e) = self.save(&record).await {
                    tracing::warn!(session = %id, error = %e, "failed to mark a session lost");
                }
            }
            if resume {
                record.phase = Phase::Reconnecting("the daemon restarted".into());
            }
            let (live, input_rx) = Live::new(record);
            self.map().insert(id.clone(), live.clone());
            if resume {
                self.spawn(&id, live, input_rx);
            } else {
                live.finished.cancel();
            }
        }
        Ok(count)
    }

    async fn save(&self, record: &Record) -> Result<(), SessionError> {
        let (store, copy) = (self.deps.store.clone(), record.clone());
        store::blocking("write", move || store.put_session(&copy))
            .await
            .map_err(|e| SessionError::Store(record.id.clone(), e))
    }

    fn spawn(
        &self,
        id: &str,
        live: Arc<Live>,
        input_rx: tokio::sync::mpsc::Receiver<crate::exec::Input>,
    ) {
        let span = tracing::info_span!("session", id = %id);
        let task = runner::run(live, self.deps.clone(), input_rx, self.cancel.child_token());
        self.tracker.spawn(task.instrument(span));
    }

    /// Stores and starts a session, which is `Starting`; phases follow as events (see
    /// [`Live::settled`]).
    ///
    /// # Errors
    /// When the store fails (nothing is started).
    pub async fn create(&self, new: NewSession) -> Result<Arc<Live>, SessionError> {
        let scrollback = new.scrollback.clamp(1, MAX_SCROLLBACK);
        let id = {
            let map = self.map();
            if map.len() >= MAX_SESSIONS {
                return Err(SessionError::TooMany(format!(
                    "tetherd already holds {MAX_SESSIONS} sessions, the most it takes"
                )));
            }
            let kept: usize = map.values().map(|l| l.scrollback.capacity()).sum();
            if kept + scrollback > MAX_TOTAL_SCROLLBACK {
                return Err(SessionError::TooMany(format!(
                    "the sessions already keep {} MiB of output, and {} MiB more would pass the \
                     {} MiB they may keep together",
                    kept >> 20,
                    scrollback >> 20,
                    MAX_TOTAL_SCROLLBACK >> 20
                )));
            }
            // 128 random bits: a clash is all but impossible, and checked all the same.
            std::iter::repeat_with(new_id).find(|id| !map.contains_key(id)).unwrap_or_default()
        };
        let record = Record {
            id,
            kind: new.kind,
            spec: new.spec,
            restart: new.restart,
            scrollback,
            phase: Phase::Starting,
            pod: String::new(),
            container: String::new(),
            protocol: String::new(),
            created_at: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            output_bytes: 0,
            restarts: 0,
            tail: String::new(),
        };
        self.save(&record).await?;
        let (live, input_rx) = Live::new(record);
        let id = live.summary().id;
        self.map().insert(id.clone(), live.clone());
        self.spawn(&id, live.clone(), input_rx);
        Ok(live)
    }

    /// A session, to attach to.
    ///
    /// # Errors
    /// [`SessionError::NotFound`].
    pub fn get(&self, id: &str) -> Result<Arc<Live>, SessionError> {
        let map = self.map();
        if let Some(live) = map.get(id) {
            return Ok(live.clone());
        }
        // A unique prefix of at least six characters (after `s-`) will do, as with git.
        let prefix = id.strip_prefix("s-").unwrap_or(id);
        let mut found =
            map.iter().filter(|(k, _)| k.strip_prefix("s-").is_some_and(|k| k.starts_with(prefix)));
        match (prefix.len() >= MIN_PREFIX, found.next(), found.next()) {
            (true, Some((_, live)), None) => Ok(live.clone()),
            _ => Err(SessionError::NotFound(id.to_owned())),
        }
    }

    /// Every session, oldest first, with how many clients are attached to each.
    #[must_use]
    pub fn list(&self) -> Vec<(Record, u32)> {
        let mut all: Vec<_> = self
            .map()
            .values()
            .map(|live| (live.summary(), live.attached.load(Ordering::Relaxed)))
            .collect();
        all.sort_by(|(a, _), (b, _)| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        all
    }

    /// Ends a running session's process (with `graceful` and a TTY, `exit` and Ctrl-D first)
    /// and waits for it; forgets a session that has already ended.
    ///
    /// # Errors
    /// [`SessionError::NotFound`], or a store failure when forgetting (nothing is forgotten).
    pub async fn kill(&self, id: &str, graceful: bool) -> Result<Record, SessionError> {
        let live = self.get(id)?;
        let full = live.summary().id;
        let id = full.as_str();
        if live.summary().phase.ended() && live.finished.is_cancelled() {
            let store = self.deps.store.clone();
            let key = id.to_owned();
            store::blocking("delete", move || store.delete_session(&key))
                .await
                .map_err(|e| SessionError::Store(id.to_owned(), e))?;
            self.map().remove(id);
            return Ok(live.summary());
        }
        live.graceful.store(graceful, Ordering::SeqCst);
        live.kill.cancel();
        if tokio::time::timeout(KILL_WAIT, live.finished.cancelled()).await.is_err() {
            tracing::warn!(session = %id, "the session did not end within {KILL_WAIT:?} of a kill");
        }
        Ok(live.summary())
    }

    /// How many sessions exist, and how many are not over.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        let map = self.map();
        let live = map.values().filter(|l| !l.summary().phase.ended()).count();
        (map.len(), live)
    }
}
