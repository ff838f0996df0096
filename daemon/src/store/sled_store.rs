//! The daemon's store: forwards on disk in sled, with a schema version and corruption handling.
//!
//! Layout: tree `forwards` maps a forward's name to the JSON of its [`StoredForward`]; tree
//! `sessions` maps a session id to the JSON of its [`SessionRecord`]; tree `meta` holds
//! `schema`, the [`SCHEMA_VERSION`] as a big-endian `u32`. (A tetherd without sessions ignores
//! that tree, so it needs no new schema version.)
//!
//! Opening never discards data silently: a store of another schema version is an error, and a
//! store that sled cannot open or whose records do not decode is moved aside whole to
//! `<dir>.corrupt-<unix-seconds>` (with a warning naming both paths) before a fresh one starts.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{Store, StoreError};
use crate::forward::state::{Counters, StoredForward};
use crate::session::Record as SessionRecord;

/// The on-disk layout version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

const FORWARDS_TREE: &str = "forwards";
const SESSIONS_TREE: &str = "sessions";
const META_TREE: &str = "meta";
const SCHEMA_KEY: &str = "schema";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What [`SledStore::open`] had to do besides opening.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct OpenReport {
    /// Where a corrupt store was moved, if one was; an empty store replaced it.
    pub moved_aside: Option<PathBuf>,
    /// Why the moved store was judged corrupt (its error chain on one line).
    pub reason: Option<String>,
}

/// Forwards stored in sled at a folder of their own.
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    forwards: sled::Tree,
    sessions: sled::Tree,
}

/// Why opening failed: either the folder holds a corrupt store, or it could not be tried at all
/// (permissions, a lock held by another tetherd, another schema), which is never corruption.
enum OpenProblem {
    Corrupt(BoxError),
    Fatal(StoreError),
}

impl SledStore {
    /// Opens the store in `dir`, creating it if needed.
    ///
    /// # Errors
    /// [`StoreError::Schema`] for a store of another schema version (left untouched), and
    /// [`StoreError::Open`] when the folder cannot be created, opened or locked, or a corrupt
    /// store cannot be moved aside.
    pub fn open(dir: &Path) -> Result<(Self, OpenReport), StoreError> {
        let reason = match Self::try_open(dir) {
            Ok(store) => return Ok((store, OpenReport::default())),
            Err(OpenProblem::Fatal(e)) => return Err(e),
            Err(OpenProblem::Corrupt(cause)) => cause,
        };
        let reason = crate::error_chain(&*reason);
        let aside = move_aside(dir, &reason)?;
        tracing::warn!(
            store = %dir.display(),
            moved_to = %aside.display(),
            error = %reason,
            "the state store at {} is corrupt; moved it aside to {} and started an empty store \
             (stored forwards are lost; the old folder is kept for inspection)",
            dir.display(),
            aside.display(),
        );
        match Self::try_open(dir) {
            Ok(store) => Ok((store, OpenReport { moved_aside: Some(aside), reason: Some(reason) })),
            Err(OpenProblem::Fatal(e)) => Err(e),
            Err(OpenProblem::Corrupt(source)) => Err(open_error(dir, source)),
        }
    }

    fn try_open(dir: &Path) -> Result<Self, OpenProblem> {
        let existed = holds_a_store(dir).map_err(OpenProblem::Fatal)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| OpenProblem::Fatal(open_error(dir, Box::new(e))))?;
        let db = open_db(dir).map_err(|e| classify(dir, e))?;
        let meta = db.open_tree(META_TREE).map_err(|e| classify(dir, e))?;
        let forwards = db.open_tree(FORWARDS_TREE).map_err(|e| classify(dir, e))?;
        let sessions = db.open_tree(SESSIONS_TREE).map_err(|e| classify(dir, e))?;
        match meta.get(SCHEMA_KEY).map_err(|e| classify(dir, e))? {
            Some(raw) => {
                let bytes: [u8; 4] = raw.as_ref().try_into().map_err(|_| {
                    OpenProblem::Corrupt(
                        format!("the schema version is {} bytes long, not 4", raw.len()).into(),
                    )
                })?;
                let found = u32::from_be_bytes(bytes);
                if found != SCHEMA_VERSION {
                    return Err(OpenProblem::Fatal(StoreError::Schema {
                        path: dir.display().to_string(),
                        found,
                        supported: SCHEMA_VERSION,
                    }));
                }
            }
            // sled may read junk files as an empty database, so only a new folder may lack it.
            None if !existed => {
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(|e| OpenProblem::Fatal(open_error(dir, Box::new(e))))?;
                db.flush().map_err(|e| OpenProblem::Fatal(open_error(dir, Box::new(e))))?;
            }
            None => return Err(OpenProblem::Corrupt("the store has no schema version".into())),
        }
        // Decode every record now, so a corrupt one is found at start rather than mid-run.
        for entry in &forwards {
            let (key, value) = entry.map_err(|e| classify(dir, e))?;
            let record = decode(&key, &value).map_err(|e| OpenProblem::Corrupt(Box::new(e)))?;
            if record.spec.name.as_bytes() != key.as_ref() {
                return Err(OpenProblem::Corrupt(
                    format!(
                        "the record under {:?} is named {:?}",
                        String::from_utf8_lossy(&key),
                        record.spec.name
                    )
                    .into(),
                ));
            }
        }
        Ok(Self { db, forwards, sessions })
    }

    /// Makes a change to `name` durable. If that fails, puts back `previous` where `current`
    /// is, so an error means nothing changed (best effort: after an I/O error sled usually
    /// refuses every write).
    fn commit(
        &self,
        action: &'static str,
        name: &str,
        current: Option<&sled::IVec>,
        previous: Option<sled::IVec>,
    ) -> Result<(), StoreError> {
        self.db.flush().map(drop).map_err(|e| {
            let _ = self.forwards.compare_and_swap(name, current, previous);
            io_error(action, name, e)
        })
    }
}

/// How long [`open_db`] waits for sled's lock: sled releases it only when its I/O threads let go
/// of the file, a moment after the last handle is dropped (sled issues #1234 and #1289).
const LOCK_WAIT: Duration = Duration::from_secs(1);

/// Opens sled at `dir`, waiting up to [`LOCK_WAIT`] for its lock, so an in-process restart does
/// not fail; a lock held longer (another tetherd) is an error.
pub(super) fn open_db(dir: &Path) -> sled::Result<sled::Db> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match sled::Config::new().path(dir).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

/// Whether `dir` holds a store already: `false` for a missing or empty folder. A folder with
/// other files is refused, so a mistyped path never gets sled files, nor is moved aside.
fn holds_a_store(dir: &Path) -> Result<bool, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(open_error(dir, Box::new(e))),
    };
    let mut any = false;
    for entry in entries {
        let name = entry.map_err(|e| open_error(dir, Box::new(e)))?.file_name();
        let name = name.to_string_lossy();
        if matches!(&*name, "db" | "conf" | "blobs") || name.starts_with("snap.") {
            return Ok(true);
        }
        any = true;
    }
    if any {
        return Err(open_error(
            dir,
            "the folder holds other files and no state store; use an empty or new folder".into(),
        ));
    }
    Ok(false)
}

/// Sorts a sled error: I/O errors (permissions, the lock of another tetherd, a full disk) stop
/// the daemon; anything sled reports about the content of its files means a corrupt store.
fn classify(dir: &Path, error: sled::Error) -> OpenProblem {
    match error {
        sled::Error::Io(_) => OpenProblem::Fatal(open_error(dir, Box::new(error))),
        _ => OpenProblem::Corrupt(Box::new(error)),
    }
}

/// Renames `dir` to `<dir>.corrupt-<unix-seconds>`, with `-N` appended if that exists.
fn move_aside(dir: &Path, reason: &str) -> Result<PathBuf, StoreError> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut base = dir.as_os_str().to_owned();
    base.push(format!(".corrupt-{secs}"));
    let mut aside = PathBuf::from(&base);
    let mut n = 1;
    while aside.exists() {
        n += 1;
        let mut next = base.clone();
        next.push(format!("-{n}"));
        aside = PathBuf::from(next);
    }
    std::fs::rename(dir, &aside).map_err(|source| {
        open_error(
            dir,
            Box::new(MoveAsideError { reason: reason.to_owned(), to: aside.clone(), source }),
        )
    })?;
    Ok(aside)
}

/// Moving a corrupt store aside failed; the store is left where it was.
#[derive(Debug, thiserror::Error)]
#[error("the store is corrupt ({reason}) and could not be moved aside to {}", to.display())]
struct MoveAsideError {
    reason: String,
    to: PathBuf,
    #[source]
    source: std::io::Error,
}

fn open_error(dir: &Path, source: BoxError) -> StoreError {
    StoreError::Open { path: dir.display().to_string(), source }
}

fn io_error(action: &'static str, name: &str, source: sled::Error) -> StoreError {
    StoreError::Io { action, name: name.to_owned(), source: Box::new(source) }
}

fn decode(key: &[u8], value: &[u8]) -> Result<StoredForward, StoreError> {
    serde_json::from_slice(value).map_err(|source| StoreError::Decode {
        name: String::from_utf8_lossy(key).into_owned(),
        source,
    })
}

fn encode(forward: &StoredForward) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(forward).map_err(|e| StoreError::Io {
        action: "encode",
        name: forward.spec.name.clone(),
        source: Box::new(e),
    })
}

impl Store for SledStore {
    fn forwards(&self) -> Result<Vec<StoredForward>, StoreError> {
        self.forwards
            .iter()
            .map(|entry| {
                let (key, value) = entry.map_err(|e| io_error("read", "*", e))?;
                decode(&key, &value)
            })
            .collect()
    }

    fn forward(&self, name: &str) -> Result<Option<StoredForward>, StoreError> {
        match self.forwards.get(name).map_err(|e| io_error("read", name, e))? {
            Some(value) => decode(name.as_bytes(), &value).map(Some),
            None => Ok(None),
        }
    }

    fn create_forward(&self, forward: &StoredForward) -> Result<(), StoreError> {
        let name = &forward.spec.name;
        let value = sled::IVec::from(encode(forward)?);
        self.forwards
            .compare_and_swap(name, None::<&[u8]>, Some(value.clone()))
            .map_err(|e| io_error("write", name, e))?
            .map_err(|_| StoreError::AlreadyExists(name.clone()))?;
        self.commit("write", name, Some(&value), None)
    }

    fn put_forward(&self, forward: &StoredForward) -> Result<(), StoreError> {
        let name = &forward.spec.name;
        let value = sled::IVec::from(encode(forward)?);
        let old =
            self.forwards.insert(name, value.clone()).map_err(|e| io_error("write", name, e))?;
        self.commit("write", name, Some(&value), old)
    }

    fn delete_forward(&self, name: &str) -> Result<bool, StoreError> {
        let old = self.forwards.remove(name).map_err(|e| io_error("delete", name, e))?;
        let existed = old.is_some();
        self.commit("delete", name, None, old)?;
        Ok(existed)
    }

    fn put_counters(&self, name: &str, counters: &Counters) -> Result<(), StoreError> {
        // Read, change, compare-and-swap: a concurrent put or delete is never overwritten (a
        // deleted forward is not brought back); on a conflict, read again.
        loop {
            let Some(old) = self.forwards.get(name).map_err(|e| io_error("read", name, e))? else {
                return Ok(());
            };
            let mut record = decode(name.as_bytes(), &old)?;
            if record.counters == *counters {
                // An idle forward: nothing to write (and no flush every 10 s).
                return Ok(());
            }
            record.counters = *counters;
            let new = encode(&record)?;
            let swapped = self
                .forwards
                .compare_and_swap(name, Some(old), Some(new))
                .map_err(|e| io_error("write", name, e))?;
            if swapped.is_ok() {
                return Ok(());
            }
        }
    }

    fn sessions(&self) -> Result<Vec<SessionRecord>, StoreError> {
        let mut out = Vec::new();
        for entry in &self.sessions {
            let (key, value) = entry.map_err(|e| session_error("read", "*", e))?;
            match serde_json::from_slice::<SessionRecord>(&value) {
                Ok(record) => out.push(record),
                Err(e) => tracing::warn!(
                    session = %String::from_utf8_lossy(&key),
                    error = %e,
                    "skipping a session record that does not decode"
                ),
            }
        }
        Ok(out)
    }

    fn put_session(&self, record: &SessionRecord) -> Result<(), StoreError> {
        let value =
            serde_json::to_vec(record).map_err(|e| session_error("encode", &record.id, e))?;
        self.sessions
            .insert(&record.id, value)
            .map_err(|e| session_error("write", &record.id, e))?;
        self.db.flush().map_err(|e| session_error("write", &record.id, e))?;
        Ok(())
    }

    fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let old = self.sessions.remove(id).map_err(|e| session_error("delete", id, e))?;
        self.db.flush().map_err(|e| session_error("delete", id, e))?;
        Ok(old.is_some())
    }
}

fn session_error(
    action: &'static str,
    id: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::Session { action, id: id.to_owned(), source: Box::new(source) }
}
