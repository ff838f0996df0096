//! Discovery: `/version`, `/api`, `/apis`, and the resource lists of `v1` and `apps/v1`.
//!
//! Only the legacy (non-aggregated) documents are served; kubectl asks for aggregated discovery
//! first and falls back when the content type says it got the plain one.

use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::response::{Body, json};
use crate::cluster::Cluster;
use crate::store::Resource;

pub(crate) fn version(cluster: &Cluster) -> Response<Body> {
    let (major, minor, git) = cluster.config.server_version();
    json(
        StatusCode::OK,
        &json!({
            "major": major, "minor": minor, "gitVersion": git, "gitCommit": "tether-testkit",
            "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.6",
            "compiler": "gc", "platform": "linux/amd64",
        }),
    )
}

fn cidrs() -> Value {
    json!([{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}])
}

pub(crate) fn api_versions() -> Response<Body> {
    json(
        StatusCode::OK,
        &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": cidrs()}),
    )
}

fn apps() -> Value {
    json!({"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}})
}

pub(crate) fn api_groups() -> Response<Body> {
    json(StatusCode::OK, &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [apps()]}))
}

pub(crate) fn apps_group() -> Response<Body> {
    let mut group = apps();
    group["kind"] = json!("APIGroup");
    group["apiVersion"] = json!("v1");
    json(StatusCode::OK, &group)
}

pub(crate) fn resources(group_version: &str) -> Response<Body> {
    let verbs = json!(["create", "delete", "get", "list", "watch"]);
    let mut list: Vec<Value> = Resource::ALL
        .into_iter()
        .filter(|r| r.api_version() == group_version)
        .map(|r| {
            json!({"name": r.plural(), "singularName": r.singular(), "namespaced": r.namespaced(),
                "kind": r.kind(), "verbs": verbs, "shortNames": r.short_names()})
        })
        .collect();
    if group_version == "v1" {
        for (sub, kind) in [
            ("exec", "PodExecOptions"),
            ("attach", "PodAttachOptions"),
            ("portforward", "PodPortForwardOptions"),
        ] {
            list.push(
                json!({"name": format!("pods/{sub}"), "singularName": "", "namespaced": true,
                "kind": kind, "verbs": ["create", "get"]}),
            );
        }
    }
    json(
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list}),
    )
}
