//! Controllers: deployments and statefulsets keep their replicas (replacing deleted pods after
//! the configured delay), and every service's Endpoints follow its ready pods.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::store::{LabelSelector, Resource};

/// Runs until the cluster is cancelled, reconciling after every change and every 250 ms.
pub(crate) async fn run(cluster: Arc<Cluster>) {
    let mut events =
        match cluster.store.watch(Resource::Pods, Some(cluster.store.resource_version())) {
            Ok((_, rx)) => rx,
            Err(_) => return,
        };
    // Since when each (kind, namespace, owner) has been missing replicas.
    let mut missing_since: HashMap<(Resource, String, String), Instant> = HashMap::new();
    let mut first = true;
    loop {
        reconcile(&cluster, &mut missing_since, first);
        first = false;
        tokio::select! {
            () = cluster.cancel.cancelled() => return,
            _ = events.recv() => {}
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

fn reconcile(
    cluster: &Arc<Cluster>,
    missing_since: &mut HashMap<(Resource, String, String), Instant>,
    first: bool,
) {
    let delay = *cluster.recreate_delay.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for owner in cluster.store.list(Resource::Deployments, None, |_| true).0 {
        scale(cluster, Resource::Deployments, &owner, delay, missing_since, first);
    }
    for owner in cluster.store.list(Resource::StatefulSets, None, |_| true).0 {
        scale(cluster, Resource::StatefulSets, &owner, delay, missing_since, first);
    }
    for service in cluster.store.list(Resource::Services, None, |_| true).0 {
        endpoints(cluster, &service);
    }
}

fn owned_pods(cluster: &Cluster, owner: &Value) -> Vec<Arc<Value>> {
    let ns = owner["metadata"]["namespace"].as_str().unwrap_or("default");
    let uid = &owner["metadata"]["uid"];
    cluster
        .store
        .list(Resource::Pods, Some(ns), |p| {
            p["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == *uid))
        })
        .0
}

fn scale(
    cluster: &Arc<Cluster>,
    kind: Resource,
    owner: &Value,
    delay: Duration,
    missing_since: &mut HashMap<(Resource, String, String), Instant>,
    first: bool,
) {
    let ns = owner["metadata"]["namespace"].as_str().unwrap_or("default").to_owned();
    let name = owner["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    let want = owner["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
    let pods = owned_pods(cluster, owner);
    let live: Vec<&Arc<Value>> =
        pods.iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).collect();
    let ready = live.iter().filter(|p| crate::runtime::is_ready(p)).count();
    let status = json!({"replicas": live.len(), "readyReplicas": ready, "availableReplicas": ready,
        "updatedReplicas": live.len(), "observedGeneration": 1});
    let _unchanged = cluster.store.update(kind, &ns, &name, |o| o["status"] = status);
    let key = (kind, ns.clone(), name.clone());
    let missing: Vec<String> = match kind {
        Resource::StatefulSets => (0..want)
            .map(|i| format!("{name}-{i}"))
            .filter(|n| !pods.iter().any(|p| p["metadata"]["name"] == n.as_str()))
            .collect(),
        _ => (live.len()..want)
            .map(|_| format!("{name}-{}-{}", template_hash(owner), suffix()))
            .collect(),
    };
    if missing.is_empty() {
        missing_since.remove(&key);
        for extra in live.iter().skip(want) {
            let pod = extra["metadata"]["name"].as_str().unwrap_or_default();
            let _gone = crate::runtime::delete_pod(cluster, &ns, pod);
        }
        return;
    }
    // Measured from when the pods went missing, so a changed delay applies at once.
    let since = *missing_since.entry(key.clone()).or_insert_with(Instant::now);
    if !first && since.elapsed() < delay {
        return;
    }
    missing_since.remove(&key);
    for pod_name in missing {
        let pod = pod_from_template(owner, kind, &pod_name);
        if let Err(e) = crate::runtime::create_pod(cluster, pod) {
            tracing::warn!(pod = %pod_name, error = %e, "failed to create replica");
        }
    }
}

fn pod_from_template(owner: &Value, kind: Resource, name: &str) -> Value {
    let template = &owner["spec"]["template"];
    let mut labels = template["metadata"]["labels"].clone();
    if kind == Resource::Deployments {
        labels["pod-template-hash"] = json!(template_hash(owner));
    } else {
        labels["statefulset.kubernetes.io/pod-name"] = json!(name);
    }
    json!({
        "metadata": {
            "name": name,
            "namespace": owner["metadata"]["namespace"],
            "labels": labels,
            "annotations": template["metadata"]["annotations"],
            "ownerReferences": [{
                "apiVersion": kind.api_version(), "kind": kind.kind(), "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": template["spec"],
    })
}

const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A stable 10-character hash of the pod template, like `pod-template-hash`.
fn template_hash(owner: &Value) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in owner["spec"]["template"].to_string().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (0..10)
        .map(|i| char::from(ALPHABET[((h >> (i * 5)) % ALPHABET.len() as u64) as usize]))
        .collect()
}

fn suffix() -> String {
    (0..5).map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())])).collect()
}

/// Keeps `Endpoints/<service>` equal to the service's ready and not-ready pod addresses.
fn endpoints(cluster: &Cluster, service: &Value) {
    let ns = service["metadata"]["namespace"].as_str().unwrap_or("default");
    let name = service["metadata"]["name"].as_str().unwrap_or_default();
    let selector = LabelSelector::from_map(&service["spec"]["selector"]);
    if selector.is_empty() {
        return;
    }
    let pods = cluster.store.list(Resource::Pods, Some(ns), |p| selector.matches(p)).0;
    let address = |p: &Value| {
        json!({"ip": p["status"]["podIP"], "nodeName": "testkit-node", "targetRef": {
            "kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}})
    };
    let with_ip: Vec<&Arc<Value>> =
        pods.iter().filter(|p| p["status"]["podIP"].is_string()).collect();
    let (ready, not_ready): (Vec<&&Arc<Value>>, Vec<&&Arc<Value>>) = with_ip
        .iter()
        .partition(|p| crate::runtime::is_ready(p) && p["metadata"]["deletionTimestamp"].is_null());
    let ports: Vec<Value> = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|sp| {
            let number = pods
                .first()
                .and_then(|p| target_port(p, &sp["targetPort"]))
                .or_else(|| sp["port"].as_u64());
            json!({"name": sp["name"], "port": number, "protocol": "TCP"})
        })
        .collect();
    let mut subset = json!({"ports": ports});
    if !ready.is_empty() {
        subset["addresses"] = ready.iter().map(|p| address(p)).collect();
    }
    if !not_ready.is_empty() {
        subset["notReadyAddresses"] = not_ready.iter().map(|p| address(p)).collect();
    }
    let subsets = if with_ip.is_empty() { json!([]) } else { json!([subset]) };
    let object = json!({"metadata": {"name": name, "namespace": ns, "labels": service["metadata"]["labels"]}, "subsets": subsets});
    if cluster
        .store
        .update(Resource::Endpoints, ns, name, |o| o["subsets"] = subsets.clone())
        .is_err()
    {
        let _raced = cluster.store.create(Resource::Endpoints, object);
    }
}

/// Resolves a service `targetPort` (number or name) against a pod's container ports.
pub(crate) fn target_port(pod: &Value, target: &Value) -> Option<u64> {
    if let Some(n) = target.as_u64() {
        return Some(n);
    }
    let name = target.as_str()?;
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    pod["spec"]["containers"].as_array()?.iter().find_map(|c| {
        c["ports"].as_array()?.iter().find(|p| p["name"] == name)?["containerPort"].as_u64()
    })
}
