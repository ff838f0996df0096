//! Storage of forwards and sessions behind a trait, so forward and session logic never see sled.
//!
//! Implementations: [`SledStore`] (the daemon's, on disk, with a schema version and corruption
//! handling), [`MemoryStore`] (tests), and [`FailingStore`] (a double that fails on demand).
//! Every implementation must pass [`conformance::run`].

pub mod conformance;
mod failing;
mod memory;
mod sled_store;

pub use failing::FailingStore;
pub use memory::MemoryStore;
pub use sled_store::{OpenReport, SCHEMA_VERSION, SledStore};

use crate::forward::state::{Counters, StoredForward};
use crate::session::Record as SessionRecord;

/// Errors from a store. Each says what failed and chains the cause.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error("failed to open the state store at {path}")]
    Open {
        /// Where.
        path: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The store was written by an incompatible version of tetherd.
    #[error(
        "failed to open the state store at {path}: it has schema version {found}, this tetherd supports {supported}; upgrade tetherd or move the folder aside"
    )]
    Schema {
        /// Where.
        path: String,
        /// The version found.
        found: u32,
        /// The version this build supports.
        supported: u32,
    },
    /// A read or write failed.
    #[error("failed to {action} forward {name:?} in the state store")]
    Io {
        /// What was being done ("read", "write", "delete").
        action: &'static str,
        /// Which forward ("*" for all).
        name: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stored record could not be decoded.
    #[error("failed to decode forward {name:?} from the state store")]
    Decode {
        /// Which forward.
        name: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A session record could not be read, written or decoded.
    #[error("failed to {action} session {id} in the state store")]
    Session {
        /// What was being done ("read", "write", "delete", "decode").
        action: &'static str,
        /// Which session ("*" for all).
        id: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A forward of that name exists already.
    #[error(
        "failed to create forward {0:?}: a forward with that name exists; choose another --name or remove it first"
    )]
    AlreadyExists(String),
}

/// Where forwards live.
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Every stored forward, ordered by name.
    ///
    /// # Errors
    /// A read or decode failure.
    fn forwards(&self) -> Result<Vec<StoredForward>, StoreError>;

    /// One forward, if stored.
    ///
    /// # Errors
    /// A read or decode failure.
    fn forward(&self, name: &str) -> Result<Option<StoredForward>, StoreError>;

    /// Stores a new forward; durable when this returns.
    ///
    /// # Errors
    /// [`StoreError::AlreadyExists`] if the name is taken, or a write failure.
    fn create_forward(&self, forward: &StoredForward) -> Result<(), StoreError>;

    /// Replaces a stored forward (or stores it); durable when this returns.
    ///
    /// # Errors
    /// A write failure.
    fn put_forward(&self, forward: &StoredForward) -> Result<(), StoreError>;

    /// Removes a forward; `false` if there was none. Durable when this returns.
    ///
    /// # Errors
    /// A write failure.
    fn delete_forward(&self, name: &str) -> Result<bool, StoreError>;

    /// Updates a forward's counters; may be made durable later (a crash can lose the last
    /// few seconds of counts, never a forward). No-op for an unknown name.
    ///
    /// # Errors
    /// A write failure.
    fn put_counters(&self, name: &str, counters: &Counters) -> Result<(), StoreError>;

    /// Every stored session, ordered by id. A record that does not decode is skipped with a
    /// warning: one bad session must not hide the others, nor the forwards.
    ///
    /// # Errors
    /// A read failure.
    fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError>;

    /// Stores or replaces a session's record; durable when this returns.
    ///
    /// # Errors
    /// A write failure.
    fn put_session(&self, record: &SessionRecord) -> Result<(), StoreError>;

    /// Removes a session's record; `false` if there was none.
    ///
    /// # Errors
    /// A write failure.
    fn delete_session(&self, id: &str) -> Result<bool, StoreError>;
}

/// Runs a store call off the async workers (sled blocks on disk). A panic in it becomes an
/// I/O error of `action`.
pub(crate) async fn blocking<T: Send + 'static>(
    action: &'static str,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(StoreError::Io { action, name: "*".into(), source: Box::new(std::io::Error::other(e)) })
    })
}

#[cfg(test)]
mod tests;
