//! The pod an exec or attach runs in, as `kubectl exec TARGET` picks it, with the apiserver's
//! own words when something is missing (`pods "x" not found`, or `namespaces "y" not found`
//! when the namespace is what is missing, as kubectl checks).

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;

use super::{KubeCluster, REST_TIMEOUT, classify, convert, target_label};
use crate::cluster::{Cluster as _, ClusterError, PodInfo, PodSelector, Resolved};
use crate::forward::spec::{Target, TargetKind};

fn not_found(message: String) -> ClusterError {
    ClusterError::Rejected { code: 404, reason: "NotFound".into(), message }
}

pub(super) async fn pod_for(
    cluster: &KubeCluster,
    target: &Target,
) -> Result<PodInfo, ClusterError> {
    let found = find(cluster, target).await;
    match found {
        Err(ClusterError::Rejected { code: 404, .. }) if !namespace_exists(cluster).await => {
            Err(not_found(format!("namespaces \"{}\" not found", cluster.namespace)))
        }
        other => other,
    }
}

/// `false` only when the server says the namespace does not exist.
async fn namespace_exists(cluster: &KubeCluster) -> bool {
    let ns = cluster.namespace.clone();
    let got = cluster
        .with_refresh(|client| {
            let ns = ns.clone();
            async move {
                let api: Api<Namespace> = Api::all(client);
                match tokio::time::timeout(REST_TIMEOUT, api.get(&ns)).await {
                    Ok(Err(e)) => Err(classify(&e)),
                    _ => Ok(()),
                }
            }
        })
        .await;
    !matches!(got, Err(ClusterError::NotFound(_)))
}

async fn find(cluster: &KubeCluster, target: &Target) -> Result<PodInfo, ClusterError> {
    let resolved = cluster.resolve(target).await.map_err(|e| match e {
        ClusterError::NotFound(_) => {
            let resource = match target.kind {
                TargetKind::Pod => "pods",
                TargetKind::Service => "services",
                TargetKind::Deployment => "deployments.apps",
                TargetKind::StatefulSet => "statefulsets.apps",
            };
            not_found(format!("{resource} \"{}\" not found", target.name))
        }
        other => other,
    })?;
    let ns = cluster.namespace.clone();
    cluster
        .with_refresh(|client| {
            let (resolved, ns) = (resolved.clone(), ns.clone());
            async move { pick(client, &ns, &resolved).await }
        })
        .await
}

async fn pick(
    client: kube::Client,
    ns: &str,
    resolved: &Resolved,
) -> Result<PodInfo, ClusterError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let timeout = |_| ClusterError::Connection("timed out reading pods".into());
    match &resolved.pods {
        PodSelector::Name(name) => {
            let pod = tokio::time::timeout(REST_TIMEOUT, api.get(name)).await.map_err(timeout)?;
            let pod = pod.map_err(|e| match classify(&e) {
                ClusterError::NotFound(message) => not_found(message),
                other => other,
            })?;
            Ok(convert::pod(&pod))
        }
        PodSelector::Labels(labels) => {
            let lp = kube::api::ListParams::default().labels(labels);
            let list = tokio::time::timeout(REST_TIMEOUT, super::query::list(&client, ns, &lp))
                .await
                .map_err(timeout)?
                .map_err(|e| classify(&e))?;
            let pods: Vec<_> = list.items.iter().map(convert::pod).collect();
            crate::cluster::resolve::choose_pod(&pods).cloned().ok_or_else(|| {
                ClusterError::NotFound(format!("a Ready pod for {}", target_label(resolved)))
            })
        }
    }
}
