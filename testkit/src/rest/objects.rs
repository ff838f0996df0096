//! Object endpoints: get, list (plain or as a Table), create and delete.

use std::collections::HashMap;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::response::{Body, json, status, store_error};
use crate::cluster::Cluster;
use crate::store::{FieldSelector, LabelSelector, Resource, SelectorError};

/// Query parameters, last value wins.
pub(crate) fn query(req: &Request<Incoming>) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

pub(crate) fn get(
    cluster: &Cluster,
    req: &Request<Incoming>,
    resource: Resource,
    ns: &str,
    name: &str,
) -> Response<Body> {
    match cluster.store.get(resource, ns, name) {
        Some(object) if wants_table(req) => json(
            StatusCode::OK,
            &super::table::table(resource, &[object], cluster.store.resource_version()),
        ),
        Some(object) => json(StatusCode::OK, &object),
        None => not_found(resource, name),
    }
}

/// Whether the client asked for a `meta.k8s.io` Table (as `kubectl get` does).
fn wants_table(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

pub(crate) fn not_found(resource: Resource, name: &str) -> Response<Body> {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{} \"{name}\" not found", resource.qualified()),
    )
}

/// Parsed `labelSelector` and `fieldSelector`.
pub(crate) struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    pub(crate) fn from_query(q: &HashMap<String, String>) -> Result<Self, SelectorError> {
        let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))?;
        let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", String::as_str))?;
        Ok(Self { labels, fields })
    }

    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.labels.matches(object) && self.fields.matches(object)
    }
}

pub(crate) async fn list_or_watch(
    cluster: &Arc<Cluster>,
    req: &Request<Incoming>,
    resource: Resource,
    ns: Option<&str>,
) -> Response<Body> {
    let q = query(req);
    let filter = match Filter::from_query(&q) {
        Ok(f) => f,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
    };
    if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
        return super::watch::watch(cluster, resource, ns, filter, &q);
    }
    let ns = ns.filter(|_| resource.namespaced());
    let (items, rv) = cluster.store.list(resource, ns, |o| filter.matches(o));
    let accept =
        req.headers().get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if accept.contains("as=Table") {
        return json(StatusCode::OK, &super::table::table(resource, &items, rv));
    }
    let items: Vec<&Value> = items.iter().map(AsRef::as_ref).collect();
    json(
        StatusCode::OK,
        &json!({
            "kind": format!("{}List", resource.kind()), "apiVersion": resource.api_version(),
            "metadata": {"resourceVersion": rv.to_string()}, "items": items,
        }),
    )
}

pub(crate) async fn create(
    cluster: &Arc<Cluster>,
    req: Request<Incoming>,
    resource: Resource,
    ns: &str,
) -> Response<Body> {
    let bytes = match super::response::read_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut object: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return status(StatusCode::BAD_REQUEST, "BadRequest", "the body must be a JSON object");
        }
        Err(e) => {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("failed to decode body: {e}"),
            );
        }
    };
    object["metadata"]["namespace"] = json!(ns);
    if object["metadata"]["name"].as_str().is_none_or(str::is_empty)
        && let Some(prefix) = object["metadata"]["generateName"].as_str()
    {
        object["metadata"]["name"] =
            json!(format!("{prefix}{:05x}", rand::random::<u32>() & 0xfffff));
    }
    let created = match resource {
        Resource::Pods => crate::runtime::create_pod(cluster, object),
        r => cluster.store.create(r, object),
    };
    match created {
        Ok(o) => json(StatusCode::CREATED, &o),
        Err(e) => store_error(&e),
    }
}

pub(crate) fn delete(
    cluster: &Arc<Cluster>,
    resource: Resource,
    ns: &str,
    name: &str,
) -> Response<Body> {
    let deleted = match resource {
        Resource::Pods => crate::runtime::delete_pod(cluster, ns, name),
        r => cluster.store.delete(r, ns, name),
    };
    match deleted {
        Ok(o) => json(StatusCode::OK, &o),
        Err(e) => store_error(&e),
    }
}
