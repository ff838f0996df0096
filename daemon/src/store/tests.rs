//! Tests of the stores: the conformance suite for each, and sled's reopen, schema and corruption
//! handling, and the failing double.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::conformance::{self, sample};
use super::sled_store::open_db;
use super::{FailingStore, MemoryStore, SCHEMA_VERSION, SledStore, Store, StoreError};
use crate::forward::state::{Counters, Desired};

/// A folder of its own under the system temp folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("tether-store-{label}-{}-{n}", std::process::id()));
        // A leftover from an earlier run with the same process id would make tests flaky.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp folder");
        Self(path)
    }

    /// Where the store goes: a folder that does not exist yet, so `.corrupt-*` lands beside it.
    fn store(&self) -> PathBuf {
        self.0.join("state")
    }

    /// The `state.corrupt-*` folders beside the store.
    fn corrupt_folders(&self) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&self.0)
            .expect("list the temp folder")
            .map(|e| e.expect("read a temp folder entry").path())
            .filter(|p| {
                p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("state.corrupt-"))
            })
            .collect();
        found.sort();
        found
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open(dir: &Path) -> SledStore {
    let (store, report) = SledStore::open(dir).expect("open the sled store");
    assert_eq!(report.moved_aside, None, "a healthy store is not moved aside");
    store
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list a folder") {
        let path = entry.expect("read a folder entry").path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn memory_store_conforms() {
    conformance::run(&|| Box::new(MemoryStore::new()));
}

#[test]
fn failing_store_with_no_failures_conforms() {
    conformance::run(&|| Box::new(FailingStore::new()));
}

#[test]
fn sled_store_conforms() {
    let dirs = RefCell::new(Vec::new());
    conformance::run(&|| {
        let dir = TempDir::new("conformance");
        let store = open(&dir.store());
        dirs.borrow_mut().push(dir);
        Box::new(store)
    });
}

#[test]
fn sled_store_keeps_forwards_and_counters_across_reopen() {
    let tmp = TempDir::new("reopen");
    let db = sample("db");
    let mut web = sample("web");
    web.desired = Desired::Running;
    let counters = Counters { connections: 1, reconnects: 0, bytes_out: 10, bytes_in: 20 };
    {
        let store = open(&tmp.store());
        store.create_forward(&web).expect("create `web`");
        store.create_forward(&db).expect("create `db`");
        store.put_counters("db", &counters).expect("put counters of `db`");
    }
    let store = open(&tmp.store());
    let expected = vec![crate::forward::state::StoredForward { counters, ..db }, web];
    assert_eq!(store.forwards().expect("list forwards"), expected, "everything survives a reopen");
    assert_eq!(tmp.corrupt_folders(), Vec::<PathBuf>::new(), "nothing is moved aside");
}

#[test]
fn sled_store_of_another_schema_is_an_error_and_left_untouched() {
    let tmp = TempDir::new("schema");
    let path = tmp.store();
    open(&path).create_forward(&sample("db")).expect("create `db`");
    {
        let raw = open_db(&path).expect("open the store with sled");
        let meta = raw.open_tree("meta").expect("open the meta tree");
        meta.insert("schema", &(SCHEMA_VERSION + 1).to_be_bytes()).expect("write a schema");
        raw.flush().expect("flush");
    }
    match SledStore::open(&path) {
        Err(StoreError::Schema { found, supported, .. }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("another schema version must be an error, got {other:?}"),
    }
    assert_eq!(tmp.corrupt_folders(), Vec::<PathBuf>::new(), "nothing is moved aside");
    let raw = open_db(&path).expect("open the store with sled again");
    let schema = raw.open_tree("meta").expect("meta").get("schema").expect("read the schema");
    assert_eq!(schema.as_deref(), Some(&(SCHEMA_VERSION + 1).to_be_bytes()[..]), "schema kept");
    let record = raw.open_tree("forwards").expect("forwards").get("db").expect("read `db`");
    assert!(record.is_some(), "the forward is kept");
}

/// Checks that the corrupt store at `tmp.store()` is moved aside whole, and replaced by an empty
/// store that works; returns where it went and why.
fn assert_moved_aside_and_fresh(tmp: &TempDir) -> (PathBuf, String) {
    let path = tmp.store();
    let (store, report) = SledStore::open(&path).expect("a corrupt store still opens, fresh");
    let aside = report.moved_aside.expect("the report says the store was moved aside");
    assert_eq!(tmp.corrupt_folders(), std::slice::from_ref(&aside), "moved to state.corrupt-*");
    let reason = report.reason.expect("the report says why");
    for file in ["db", "conf"] {
        assert!(aside.join(file).is_file(), "sled's {file} file was moved aside, not deleted");
    }
    assert_eq!(store.forwards().expect("list forwards"), Vec::new(), "the new store is empty");
    store.create_forward(&sample("db")).expect("the new store takes writes");
    drop(store);
    assert_eq!(open(&path).forwards().expect("list forwards"), vec![sample("db")]);
    assert_eq!(tmp.corrupt_folders(), std::slice::from_ref(&aside), "the new one is healthy");
    (aside, reason)
}

/// Creates a store with a forward, overwrites the files `pick` chooses with junk, and checks
/// that opening moves it aside, with the junk intact when sled refuses it (a log that sled reads
/// as empty is partly rewritten by sled's own recovery before tetherd can look).
fn check_junk_is_moved_aside(label: &str, pick: fn(&Path) -> bool, intact: bool) {
    let tmp = TempDir::new(label);
    open(&tmp.store()).create_forward(&sample("db")).expect("create `db`");
    let junked: Vec<PathBuf> = files(&tmp.store()).into_iter().filter(|f| pick(f)).collect();
    assert!(!junked.is_empty(), "sled wrote the files to overwrite");
    for file in &junked {
        let len = std::fs::metadata(file).expect("stat a file").len().max(64);
        let junk: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(31) + 7) as u8).collect();
        std::fs::write(file, junk).expect("overwrite a file with junk");
    }
    let (aside, _) = assert_moved_aside_and_fresh(&tmp);
    for file in junked.iter().filter(|_| intact) {
        let moved = aside.join(file.strip_prefix(tmp.store()).expect("a file of the store"));
        let junk = std::fs::read(&moved).expect("read a moved file");
        assert!(junk.starts_with(&[7, 38, 69]), "{} is moved as it was", moved.display());
    }
}

#[test]
fn sled_store_with_junk_files_is_moved_aside() {
    // sled itself refuses to open these.
    check_junk_is_moved_aside("junk", |_| true, true);
}

#[test]
fn sled_store_with_a_junk_data_file_is_moved_aside() {
    // sled opens this as an empty database; the missing schema version gives it away.
    check_junk_is_moved_aside("junk-db", |f| f.ends_with("db"), false);
}

#[test]
fn sled_store_with_a_record_that_does_not_decode_is_moved_aside() {
    let tmp = TempDir::new("json");
    open(&tmp.store()).create_forward(&sample("web")).expect("create `web`");
    {
        let raw = open_db(&tmp.store()).expect("open the store with sled");
        let forwards = raw.open_tree("forwards").expect("open the forwards tree");
        forwards.insert("db", &b"{\"spec\": not json"[..]).expect("write a bad record");
        raw.flush().expect("flush");
    }
    let (aside, reason) = assert_moved_aside_and_fresh(&tmp);
    assert!(reason.contains("decode forward \"db\""), "the reason names the record: {reason}");
    let raw = open_db(&aside).expect("open the moved store with sled");
    let forwards = raw.open_tree("forwards").expect("open the forwards tree");
    assert_eq!(forwards.len(), 2, "the moved store still holds both records");
}

#[test]
fn sled_store_keeps_sessions_across_reopen_and_skips_a_bad_one() {
    let tmp = TempDir::new("sessions");
    let kept = conformance::sample_session("s-1");
    {
        let store = open(&tmp.store());
        store.create_forward(&sample("web")).expect("create `web`");
        store.put_session(&kept).expect("put a session");
    }
    {
        let raw = open_db(&tmp.store()).expect("open the store with sled");
        let sessions = raw.open_tree("sessions").expect("open the sessions tree");
        sessions.insert("s-2", &b"{\"id\": not json"[..]).expect("write a bad record");
        raw.flush().expect("flush");
    }
    let store = open(&tmp.store());
    assert_eq!(store.sessions().expect("list sessions"), vec![kept], "the good session survives");
    assert_eq!(store.forwards().expect("list forwards").len(), 1, "a bad session costs no forward");
    assert_eq!(tmp.corrupt_folders(), Vec::<PathBuf>::new(), "nothing is moved aside");
}

#[test]
fn sled_store_refuses_a_folder_of_other_files() {
    let tmp = TempDir::new("foreign");
    let path = tmp.store();
    std::fs::create_dir_all(&path).expect("create the folder");
    std::fs::write(path.join("notes.txt"), "mine").expect("write a file");
    let err = SledStore::open(&path).expect_err("a folder of other files is refused");
    assert!(matches!(err, StoreError::Open { .. }), "an open error, got {err:?}");
    assert_eq!(files(&path), [path.join("notes.txt")], "the folder is left as it was");
    assert_eq!(tmp.corrupt_folders(), Vec::<PathBuf>::new(), "nothing is moved aside");
}

#[test]
fn sled_store_in_use_is_an_error_and_not_moved_aside() {
    let tmp = TempDir::new("locked");
    let first = open(&tmp.store());
    first.create_forward(&sample("db")).expect("create `db`");
    let err = SledStore::open(&tmp.store()).expect_err("a store in use cannot be opened twice");
    assert!(matches!(err, StoreError::Open { .. }), "an open error, got {err:?}");
    assert_eq!(tmp.corrupt_folders(), Vec::<PathBuf>::new(), "a locked store is not corrupt");
    assert_eq!(first.forwards().expect("list forwards"), vec![sample("db")], "still in use");
}

#[test]
fn sled_store_opens_an_empty_existing_folder() {
    let tmp = TempDir::new("empty");
    std::fs::create_dir_all(tmp.store()).expect("create the folder");
    assert_eq!(open(&tmp.store()).forwards().expect("list forwards"), Vec::new());
}

#[test]
fn failing_store_failed_writes_leave_the_state_unchanged() {
    let store = FailingStore::new();
    let db = sample("db");
    store.create_forward(&db).expect("create `db`");
    store.fail_writes(true);
    let mut changed = db.clone();
    changed.desired = Desired::Running;
    let errors = [
        store.create_forward(&sample("web")).expect_err("create fails"),
        store.put_forward(&changed).expect_err("put fails"),
        store
            .put_counters("db", &Counters { connections: 9, ..Counters::default() })
            .expect_err("put counters fails"),
        store.delete_forward("db").expect_err("delete fails"),
    ];
    for err in errors {
        let StoreError::Io { source, .. } = &err else { panic!("an I/O error, got {err:?}") };
        assert!(source.downcast_ref::<std::io::Error>().is_some(), "caused by an io::Error");
    }
    assert_eq!(store.forwards().expect("reads still work"), vec![db.clone()], "state unchanged");
    store.fail_reads(true);
    assert!(matches!(store.forwards(), Err(StoreError::Io { action: "read", .. })));
    assert!(matches!(store.forward("db"), Err(StoreError::Io { action: "read", .. })));
    store.fail_reads(false);
    store.fail_writes(false);
    store.put_forward(&changed).expect("writes work again");
    assert_eq!(store.forward("db").expect("get `db`"), Some(changed), "the write took");
}
