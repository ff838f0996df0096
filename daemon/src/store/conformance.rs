//! The conformance suite every [`Store`] must pass; it panics on the first broken promise.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU16;

use super::{Store, StoreError};
use crate::forward::spec::{ForwardSpec, PortMapping, RemotePort, Target, TargetKind};
use crate::forward::state::{Counters, Desired, StoredForward};
use crate::session::{self, Record as SessionRecord};

/// Runs every check, each against a fresh, empty store from `make`.
///
/// # Panics
/// When the store breaks a promise of the [`Store`] trait.
pub fn run(make: &dyn Fn() -> Box<dyn Store>) {
    empty_store_lists_nothing(&*make());
    create_round_trips_every_field(&*make());
    create_of_an_existing_name_fails_and_keeps_the_first(&*make());
    concurrent_creates_of_one_name_let_exactly_one_win(&*make());
    put_stores_and_replaces(&*make());
    delete_reports_whether_there_was_one(&*make());
    put_counters_changes_only_counters(&*make());
    list_is_ordered_by_name(&*make());
    odd_but_valid_names_work(&*make());
    sessions_round_trip_replace_and_delete(&*make());
    sessions_and_forwards_are_separate(&*make());
}

/// A session record with every field set away from its default.
#[must_use]
pub fn sample_session(id: &str) -> SessionRecord {
    SessionRecord {
        id: id.to_owned(),
        kind: session::Kind::Attach,
        spec: session::Spec {
            target: Target { kind: TargetKind::Deployment, name: "web".to_owned() },
            namespace: Some("team-a".to_owned()),
            context: Some("kind-dev".to_owned()),
            kubeconfig: Some("/home/dev/.kube/config".to_owned()),
            container: Some("main".to_owned()),
            command: vec![],
            stdin: true,
            tty: true,
            size: Some((120, 40)),
        },
        restart: session::Restart::OnDrop,
        scrollback: 4096,
        phase: session::Phase::Exited(session::Exit::Error {
            reason: Some("InternalError".to_owned()),
            message: "command terminated".to_owned(),
        }),
        pod: "web-1".to_owned(),
        container: "main".to_owned(),
        protocol: "websocket-v5".to_owned(),
        created_at: 1_754_000_000,
        output_bytes: 1 << 33,
        restarts: 3,
        tail: "aGVsbG8K".to_owned(),
    }
}

fn sessions_round_trip_replace_and_delete(store: &dyn Store) {
    assert!(store.sessions().expect("list sessions").is_empty());
    let mut b = sample_session("s-b");
    store.put_session(&b).expect("put s-b");
    store.put_session(&sample_session("s-a")).expect("put s-a");
    let ids: Vec<_> = store.sessions().expect("list").into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["s-a", "s-b"], "sessions are ordered by id");
    b.phase = session::Phase::Lost("the daemon restarted".to_owned());
    b.tail = String::new();
    store.put_session(&b).expect("replace s-b");
    let stored = store.sessions().expect("list");
    assert_eq!(stored[1], b, "a put replaces the whole record");
    assert_eq!(stored[0], sample_session("s-a"), "every field round-trips");
    assert!(store.delete_session("s-b").expect("delete"));
    assert!(!store.delete_session("s-b").expect("delete again"));
    assert_eq!(store.sessions().expect("list").len(), 1);
}

fn sessions_and_forwards_are_separate(store: &dyn Store) {
    store.create_forward(&sample("same")).expect("create forward");
    store.put_session(&sample_session("same")).expect("put session");
    assert!(store.delete_session("same").expect("delete session"));
    assert!(store.forward("same").expect("read").is_some(), "deleting a session keeps the forward");
    assert!(store.delete_forward("same").expect("delete forward"));
    store.put_session(&sample_session("same")).expect("put session");
    assert!(!store.delete_forward("same").expect("delete forward"));
    assert_eq!(store.sessions().expect("list").len(), 1, "deleting a forward keeps the session");
}

/// A record with every field set away from its default.
#[must_use]
pub fn sample(name: &str) -> StoredForward {
    let port = |n: u16| NonZeroU16::new(n).expect("a non-zero port");
    StoredForward {
        spec: ForwardSpec {
            name: name.to_owned(),
            target: Target { kind: TargetKind::StatefulSet, name: "db.primary".to_owned() },
            namespace: Some("team-a".to_owned()),
            context: Some("kind-dev".to_owned()),
            kubeconfig: Some("/home/dev/.kube/other config".to_owned()),
            ports: vec![
                PortMapping { local: Some(port(5432)), remote: RemotePort::Number(port(5432)) },
                PortMapping { local: None, remote: RemotePort::Name("http-admin".to_owned()) },
                PortMapping { local: Some(port(8080)), remote: RemotePort::Number(port(80)) },
            ],
            address: IpAddr::V6(Ipv6Addr::LOCALHOST),
        },
        local_ports: vec![5432, 41_234, 8080],
        desired: Desired::Paused,
        counters: Counters {
            connections: 7,
            reconnects: 2,
            bytes_out: 1 << 40,
            bytes_in: u64::MAX,
        },
        created_at: 1_754_000_000,
    }
}

fn names(store: &dyn Store) -> Vec<String> {
    store.forwards().expect("list forwards").into_iter().map(|f| f.spec.name).collect()
}

fn empty_store_lists_nothing(store: &dyn Store) {
    assert_eq!(store.forwards().expect("list forwards"), Vec::new(), "a new store is empty");
    assert_eq!(store.forward("db").expect("get a forward"), None, "a new store has no `db`");
}

fn create_round_trips_every_field(store: &dyn Store) {
    let db = sample("db");
    store.create_forward(&db).expect("create `db`");
    assert_eq!(store.forward("db").expect("get `db`"), Some(db.clone()), "get returns the record");
    assert_eq!(store.forwards().expect("list forwards"), vec![db], "list returns the record");
    assert_eq!(store.forward("d").expect("get `d`"), None, "names are matched whole");
}

fn create_of_an_existing_name_fails_and_keeps_the_first(store: &dyn Store) {
    let first = sample("db");
    store.create_forward(&first).expect("create `db`");
    let mut second = sample("db");
    second.desired = Desired::Running;
    second.created_at += 60;
    match store.create_forward(&second) {
        Err(StoreError::AlreadyExists(name)) => assert_eq!(name, "db", "the error names it"),
        other => panic!("creating `db` twice must fail with AlreadyExists, got {other:?}"),
    }
    assert_eq!(store.forward("db").expect("get `db`"), Some(first), "the first record stays");
    assert_eq!(names(store), ["db"], "no second record");
}

fn concurrent_creates_of_one_name_let_exactly_one_win(store: &dyn Store) {
    const THREADS: u64 = 8;
    let results: Vec<(u64, bool)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                scope.spawn(move || {
                    let mut forward = sample("race");
                    forward.created_at = i;
                    match store.create_forward(&forward) {
                        Ok(()) => (i, true),
                        Err(StoreError::AlreadyExists(_)) => (i, false),
                        Err(e) => panic!("a concurrent create failed: {e:?}"),
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a creating thread panicked")).collect()
    });
    let winners: Vec<u64> = results.iter().filter(|(_, won)| *won).map(|(i, _)| *i).collect();
    assert_eq!(winners.len(), 1, "exactly one concurrent create succeeds, got {winners:?}");
    let stored = store.forward("race").expect("get `race`").expect("`race` is stored");
    assert_eq!(stored.created_at, winners[0], "the stored record is the winner's");
}

fn put_stores_and_replaces(store: &dyn Store) {
    let mut db = sample("db");
    store.put_forward(&db).expect("put a new `db`");
    assert_eq!(store.forward("db").expect("get `db`"), Some(db.clone()), "put stores a new one");
    db.desired = Desired::Running;
    db.local_ports = vec![5432, 40_000, 8080];
    db.spec.ports.pop();
    db.spec.namespace = None;
    store.put_forward(&db).expect("put `db` again");
    assert_eq!(store.forward("db").expect("get `db`"), Some(db), "put replaces");
    assert_eq!(names(store), ["db"], "put does not add a second record");
}

fn delete_reports_whether_there_was_one(store: &dyn Store) {
    store.create_forward(&sample("db")).expect("create `db`");
    store.create_forward(&sample("web")).expect("create `web`");
    assert!(store.delete_forward("db").expect("delete `db`"), "the first delete finds it");
    assert!(!store.delete_forward("db").expect("delete `db` again"), "the second finds none");
    assert!(!store.delete_forward("nothing").expect("delete `nothing`"), "unknown names: false");
    assert_eq!(store.forward("db").expect("get `db`"), None, "a deleted forward is gone");
    assert_eq!(names(store), ["web"], "other forwards stay");
    store.create_forward(&sample("db")).expect("create `db` after deleting it");
}

fn put_counters_changes_only_counters(store: &dyn Store) {
    let db = sample("db");
    store.create_forward(&db).expect("create `db`");
    let counters = Counters { connections: 8, reconnects: 3, bytes_out: 0, bytes_in: 12 };
    store.put_counters("db", &counters).expect("put counters of `db`");
    let expected = StoredForward { counters, ..db };
    assert_eq!(store.forward("db").expect("get `db`"), Some(expected.clone()), "only counters");
    store.put_counters("nothing", &counters).expect("put counters of an unknown name");
    assert_eq!(store.forward("nothing").expect("get `nothing`"), None, "no record is made");
    assert_eq!(store.forwards().expect("list forwards"), vec![expected], "nothing else changed");
}

fn list_is_ordered_by_name(store: &dyn Store) {
    for name in ["web", "api-2", "db", "api-10", "a", "z9", "api"] {
        store.create_forward(&sample(name)).expect("create a forward");
    }
    assert_eq!(names(store), ["a", "api", "api-10", "api-2", "db", "web", "z9"], "by name");
}

fn odd_but_valid_names_work(store: &dyn Store) {
    let long = "n".repeat(253);
    let odd = ["a", "0", "db.primary.team-a", "x--y..z", "svc-db-5432", long.as_str()];
    for name in odd {
        store.create_forward(&sample(name)).expect("create an odd name");
        let got = store.forward(name).expect("get an odd name").expect("the odd name is stored");
        assert_eq!(got.spec.name, name, "the name round-trips");
    }
    let mut expected: Vec<String> = odd.iter().map(|&n| n.to_owned()).collect();
    expected.sort();
    assert_eq!(names(store), expected, "odd names list in order");
    for name in odd {
        assert!(store.delete_forward(name).expect("delete an odd name"), "{name:?} is deleted");
    }
    assert_eq!(names(store), Vec::<String>::new(), "all gone");
}
