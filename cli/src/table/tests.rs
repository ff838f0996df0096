//! Rendering sample forwards as tables, JSON and YAML.

use super::*;
use crate::view::samples::{self, NOW};

fn views() -> Vec<ForwardView> {
    [samples::failed_api(), samples::ready_db(), samples::reconnecting_web()]
        .iter()
        .map(ForwardView::from)
        .collect()
}

#[test]
fn the_table_reads_like_kubectl() {
    let want = "\
NAME   TARGET       PORTS                STATE          POD      RECONNECTS   AGE
api    pod/api-0    7000:7000            Failed         <none>   0            5s
db     svc/db       5432:5432            Ready          db-0     3            60m
web    deploy/web   8080:80,40123:9090   Reconnecting   <none>   0            3m20s
";
    assert_eq!(table(&views(), false, NOW, false), want);
}

#[test]
fn the_wide_table_adds_columns() {
    let text = table(&views(), true, NOW, false);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    for column in COLUMNS.iter().chain(&WIDE_COLUMNS) {
        assert!(lines[0].contains(column), "header lacks {column}: {}", lines[0]);
    }
    assert!(lines[2].contains("shop") && lines[2].contains("<current>"), "{}", lines[2]);
    assert!(lines[2].contains("5.0MiB") && lines[2].contains("2.0KiB"), "{}", lines[2]);
    assert!(lines[2].contains("2/12") && lines[2].contains("websocket-tunnel"), "{}", lines[2]);
    assert!(lines[3].ends_with("NoReadyPod: no ready pod for deploy/web"), "{}", lines[3]);
    assert!(lines[1].contains("<default>"), "{}", lines[1]);
}

#[test]
fn colors_only_when_asked() {
    assert!(!table(&views(), false, NOW, false).contains('\x1b'));
    assert!(table(&views(), false, NOW, true).contains('\x1b'));
}

#[test]
fn json_has_items_with_enum_names() {
    let text = render(&views(), Some(Format::Json), NOW, false).expect("json");
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid json");
    let db = &value["items"][1];
    assert_eq!(db["name"], "db");
    assert_eq!(db["status"]["phase"], "Ready");
    assert_eq!(db["status"]["localAddresses"][0], "127.0.0.1:5432");
    assert_eq!(db["stats"]["bytesIn"], 5 * 1024 * 1024);
    assert_eq!(db["created"], "2024-05-01T11:00:00Z");
    assert_eq!(value["items"][2]["status"]["reasonKind"], "NoReadyPod");
    assert_eq!(value["items"][1]["status"]["reasonKind"], serde_json::Value::Null);
}

#[test]
fn yaml_has_the_same_list() {
    let text = render(&views(), Some(Format::Yaml), NOW, false).expect("yaml");
    assert!(text.starts_with("items:\n- name: api\n"), "{text}");
    assert!(text.contains("phase: Failed"), "{text}");
    let empty = render(&[], Some(Format::Json), NOW, false).expect("json");
    assert_eq!(empty, "{\n  \"items\": []\n}\n");
}

#[test]
fn byte_counts_are_human() {
    assert_eq!(bytes(0), "0B");
    assert_eq!(bytes(1023), "1023B");
    assert_eq!(bytes(1536), "1.5KiB");
    assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0GiB");
}

#[test]
fn a_forward_listening_beyond_loopback_shows_its_address() {
    let mut exposed = samples::ready_db();
    if let Some(spec) = exposed.spec.as_mut() {
        spec.address = "0.0.0.0".into();
    }
    if let Some(status) = exposed.status.as_mut() {
        status.local_addresses = vec!["0.0.0.0:5432".into()];
    }
    let views = [ForwardView::from(&exposed), ForwardView::from(&samples::ready_db())];
    assert!(views[0].exposed() && !views[1].exposed());
    let text = table(&views, false, NOW, false);
    assert!(text.contains("0.0.0.0:5432:5432"), "{text}");
    assert!(text.lines().nth(2).is_some_and(|l| l.contains(" 5432:5432 ")), "{text}");
}
