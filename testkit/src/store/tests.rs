//! Store tests: versions, events, watches resuming from history, and `410 Gone`.

use serde_json::json;

use super::*;

fn pod(name: &str) -> Value {
    json!({"metadata": {"name": name, "labels": {"app": "web"}}, "spec": {}})
}

#[test]
fn create_fills_metadata_and_rejects_duplicates() {
    let store = Store::new();
    let created = store.create(Resource::Pods, pod("a")).expect("create");
    assert_eq!(created["kind"], "Pod");
    assert_eq!(created["metadata"]["namespace"], "default");
    assert_eq!(created["metadata"]["resourceVersion"], "2");
    assert!(created["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(matches!(
        store.create(Resource::Pods, pod("a")),
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(matches!(
        store.create(Resource::Pods, json!({"metadata": {}})),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn updates_bump_versions_only_on_change() {
    let store = Store::new();
    store.create(Resource::Pods, pod("a")).expect("create");
    let same = store.update(Resource::Pods, "default", "a", |_| {}).expect("noop");
    assert_eq!(same["metadata"]["resourceVersion"], "2");
    let changed = store
        .update(Resource::Pods, "default", "a", |p| p["status"]["phase"] = json!("Running"))
        .expect("update");
    assert_eq!(changed["metadata"]["resourceVersion"], "3");
    let gone = store.delete(Resource::Pods, "default", "a").expect("delete");
    assert_eq!(gone["metadata"]["resourceVersion"], "4");
    assert!(store.get(Resource::Pods, "default", "a").is_none());
    assert!(matches!(
        store.delete(Resource::Pods, "default", "a"),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn watches_replay_history_after_a_version_then_go_live() {
    let store = Store::new();
    store.create(Resource::Pods, pod("a")).expect("create");
    store.create(Resource::Services, json!({"metadata": {"name": "s"}})).expect("create");
    store.create(Resource::Pods, pod("b")).expect("create");
    let (backlog, mut live) = store.watch(Resource::Pods, Some(2)).expect("watch");
    let names: Vec<&str> =
        backlog.iter().filter_map(|e| e.object["metadata"]["name"].as_str()).collect();
    assert_eq!(names, ["b"], "only pods after version 2");
    store.delete(Resource::Pods, "default", "a").expect("delete");
    let next = live.try_recv().expect("live event");
    assert_eq!((next.kind, next.rv), (EventType::Deleted, 5));
    let (initial, _) = store.watch(Resource::Pods, None).expect("watch");
    assert_eq!(initial.len(), 1, "synthetic ADDED for the current pod b");
}

#[test]
fn a_version_older_than_history_is_gone() {
    let store = Store::new();
    for i in 0..(HISTORY + 10) {
        store.create(Resource::Pods, pod(&format!("p{i}"))).expect("create");
    }
    assert!(matches!(store.watch(Resource::Pods, Some(1)), Err(StoreError::Gone { .. })));
    let (items, rv) = store.list(Resource::Pods, Some("default"), |_| true);
    assert_eq!(items.len(), HISTORY + 10);
    assert!(store.watch(Resource::Pods, Some(rv)).expect("recent").0.is_empty());
}
