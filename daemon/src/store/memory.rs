//! A store in memory, for tests: the same semantics as the on-disk store, nothing kept.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Store, StoreError};
use crate::forward::state::{Counters, StoredForward};
use crate::session::Record as SessionRecord;

/// Forwards and sessions in maps, ordered by name and id.
#[derive(Debug, Default)]
pub struct MemoryStore {
    forwards: Mutex<BTreeMap<String, StoredForward>>,
    sessions: Mutex<BTreeMap<String, SessionRecord>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, StoredForward>> {
        // Every change is a single map operation, so a panic elsewhere cannot leave the map
        // half-changed: the data behind a poisoned lock is still consistent.
        self.forwards.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn session_map(&self) -> MutexGuard<'_, BTreeMap<String, SessionRecord>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn forwards(&self) -> Result<Vec<StoredForward>, StoreError> {
        Ok(self.map().values().cloned().collect())
    }

    fn forward(&self, name: &str) -> Result<Option<StoredForward>, StoreError> {
        Ok(self.map().get(name).cloned())
    }

    fn create_forward(&self, forward: &StoredForward) -> Result<(), StoreError> {
        let mut map = self.map();
        if map.contains_key(&forward.spec.name) {
            return Err(StoreError::AlreadyExists(forward.spec.name.clone()));
        }
        map.insert(forward.spec.name.clone(), forward.clone());
        Ok(())
    }

    fn put_forward(&self, forward: &StoredForward) -> Result<(), StoreError> {
        self.map().insert(forward.spec.name.clone(), forward.clone());
        Ok(())
    }

    fn delete_forward(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.map().remove(name).is_some())
    }

    fn put_counters(&self, name: &str, counters: &Counters) -> Result<(), StoreError> {
        if let Some(forward) = self.map().get_mut(name) {
            forward.counters = *counters;
        }
        Ok(())
    }

    fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        Ok(self.session_map().values().cloned().collect())
    }

    fn put_session(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.session_map().insert(record.id.clone(), record.clone());
        Ok(())
    }

    fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.session_map().remove(id).is_some())
    }
}
