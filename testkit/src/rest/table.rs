//! `meta.k8s.io/v1` Table responses, so `kubectl get` prints like it does against a real server.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::store::Resource;

/// Formats an age like kubectl: `42s`, `5m`, `3h`, `2d`.
fn age(created: &Value) -> String {
    use k8s_openapi::jiff::Timestamp;
    let Some(since) = created.as_str().and_then(|t| t.parse::<Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    let secs = (crate::store::unix_now() - since.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 3600 * 2 => format!("{}m", s / 60),
        s if s < 86400 * 2 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn pod_cells(pod: &Value) -> Vec<Value> {
    let statuses = pod["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let restarts: u64 = statuses.iter().filter_map(|c| c["restartCount"].as_u64()).sum();
    let phase = if pod["metadata"]["deletionTimestamp"].is_string() {
        "Terminating".to_owned()
    } else {
        pod["status"]["phase"].as_str().unwrap_or("Pending").to_owned()
    };
    vec![
        pod["metadata"]["name"].clone(),
        json!(format!("{ready}/{total}")),
        json!(phase),
        json!(restarts),
        json!(age(&pod["metadata"]["creationTimestamp"])),
        pod["status"]["podIP"].clone(),
        json!("testkit-node"),
    ]
}

fn column(name: &str, kind: &str, priority: u8) -> Value {
    json!({"name": name, "type": kind, "format": if name == "Name" { "name" } else { "" }, "description": name, "priority": priority})
}

/// How a row's cells are made from an object.
type Cells = fn(&Value) -> Vec<Value>;

/// A Table of `items`, with pod-specific columns for pods.
pub(crate) fn table(resource: Resource, items: &[Arc<Value>], rv: u64) -> Value {
    let (columns, cells): (Vec<Value>, Cells) = if resource == Resource::Pods {
        (
            vec![
                column("Name", "string", 0),
                column("Ready", "string", 0),
                column("Status", "string", 0),
                column("Restarts", "integer", 0),
                column("Age", "string", 0),
                column("IP", "string", 1),
                column("Node", "string", 1),
            ],
            pod_cells,
        )
    } else {
        (vec![column("Name", "string", 0), column("Age", "string", 0)], |o| {
            vec![o["metadata"]["name"].clone(), json!(age(&o["metadata"]["creationTimestamp"]))]
        })
    };
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            json!({"cells": cells(o), "object": {
                "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()},
        "columnDefinitions": columns, "rows": rows})
}
