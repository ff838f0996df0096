//! A test double: a [`MemoryStore`] whose reads or writes fail on demand, so tests can prove
//! that a failed write leaves the daemon's state as it was.

use std::sync::atomic::{AtomicBool, Ordering};

use super::{MemoryStore, Store, StoreError};
use crate::forward::state::{Counters, StoredForward};
use crate::session::Record as SessionRecord;

/// A [`MemoryStore`] with switches that make reads or writes fail with [`StoreError::Io`].
#[derive(Debug, Default)]
pub struct FailingStore {
    inner: MemoryStore,
    fail_writes: AtomicBool,
    fail_reads: AtomicBool,
}

impl FailingStore {
    /// An empty store that fails nothing until told to.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every write (create, put, delete, counters) fail, or succeed again.
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// Makes every read (one forward or all) fail, or succeed again.
    pub fn fail_reads(&self, fail: bool) {
        self.fail_reads.store(fail, Ordering::SeqCst);
    }

    fn check(switch: &AtomicBool, action: &'static str, name: &str) -> Result<(), StoreError> {
        if switch.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                action,
                name: name.to_owned(),
                source: Box::new(std::io::Error::other(format!("injected {action} failure"))),
            });
        }
        Ok(())
    }

    fn check_read(&self, name: &str) -> Result<(), StoreError> {
        Self::check(&self.fail_reads, "read", name)
    }

    fn check_write(&self, action: &'static str, name: &str) -> Result<(), StoreError> {
        Self::check(&self.fail_writes, action, name)
    }
}

impl Store for FailingStore {
    fn forwards(&self) -> Result<Vec<StoredForward>, StoreError> {
        self.check_read("*")?;
        self.inner.forwards()
    }

    fn forward(&self, name: &str) -> Result<Option<StoredForward>, StoreError> {
        self.check_read(name)?;
        self.inner.forward(name)
    }

    fn create_forward(&self, forward: &StoredForward) -> Result<(), StoreError> {
        self.check_write("write", &forward.spec.name)?;
        self.inner.create_forward(forward)
    }

    fn put_forward(&self, forward: &StoredForward) -> Result<(), StoreError> {
        self.check_write("write", &forward.spec.name)?;
        self.inner.put_forward(forward)
    }

    fn delete_forward(&self, name: &str) -> Result<bool, StoreError> {
        self.check_write("delete", name)?;
        self.inner.delete_forward(name)
    }

    fn put_counters(&self, name: &str, counters: &Counters) -> Result<(), StoreError> {
        self.check_write("write", name)?;
        self.inner.put_counters(name, counters)
    }

    fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        self.check_read("*")?;
        self.inner.sessions()
    }

    fn put_session(&self, record: &SessionRecord) -> Result<(), StoreError> {
        self.check_write("write", &record.id)?;
        self.inner.put_session(record)
    }

    fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        self.check_write("delete", id)?;
        self.inner.delete_session(id)
    }
}
