//! Kubernetes objects into the facts forward logic needs.

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::cluster::{ClusterError, PodInfo, PodSelector, Resolved, ServicePort, TargetPort};
use crate::forward::spec::Target;

fn unix(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> i64 {
    t.map_or(0, |t| t.0.as_second())
}

/// A pod's facts.
pub(crate) fn pod(p: &Pod) -> PodInfo {
    let meta = &p.metadata;
    let status = p.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"));
    let ports = p
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|cp| u16::try_from(cp.container_port).ok().map(|n| (cp.name.clone(), n)))
        .collect();
    PodInfo {
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
        ready: ready.is_some_and(|c| c.status == "True"),
        ready_since: unix(ready.and_then(|c| c.last_transition_time.as_ref())),
        terminating: meta.deletion_timestamp.is_some(),
        scheduled: p.spec.as_ref().is_some_and(|s| s.node_name.is_some()),
        restarts: status
            .and_then(|s| s.container_statuses.as_ref())
            .map_or(0, |cs| cs.iter().map(|c| u32::try_from(c.restart_count).unwrap_or(0)).sum()),
        created: unix(meta.creation_timestamp.as_ref()),
        ports,
        containers: p
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .map(|c| c.name.clone())
            .collect(),
        default_container: meta
            .annotations
            .as_ref()
            .and_then(|a| a.get("kubectl.kubernetes.io/default-container"))
            .cloned(),
    }
}

/// A service's selector and ports.
pub(crate) fn service(svc: &Service, target: &Target) -> Result<Resolved, ClusterError> {
    let spec = svc.spec.as_ref();
    let selector = spec.and_then(|s| s.selector.as_ref()).filter(|m| !m.is_empty());
    let Some(selector) = selector else {
        return Err(ClusterError::NotFound(format!(
            "pods for {target}: the service has no selector"
        )));
    };
    let labels = selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    let ports = spec
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .filter(|p| p.protocol.as_deref().is_none_or(|proto| proto == "TCP"))
        .filter_map(|p| {
            let port = u16::try_from(p.port).ok()?;
            let target = match &p.target_port {
                Some(IntOrString::Int(n)) => TargetPort::Number(u16::try_from(*n).ok()?),
                Some(IntOrString::String(name)) => TargetPort::Name(name.clone()),
                None => TargetPort::Number(0),
            };
            Some(ServicePort { name: p.name.clone(), port, target })
        })
        .collect();
    Ok(Resolved { pods: PodSelector::Labels(labels), service_ports: Some(ports) })
}

/// A deployment's or statefulset's selector as a label selector string.
pub(crate) fn workload_selector(
    selector: Option<LabelSelector>,
    target: &Target,
) -> Result<Resolved, ClusterError> {
    let selector = selector.unwrap_or_default();
    let mut parts: Vec<String> =
        selector.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            other => {
                return Err(ClusterError::NotFound(format!(
                    "pods for {target}: unknown selector operator {other}"
                )));
            }
        });
    }
    if parts.is_empty() {
        return Err(ClusterError::NotFound(format!("pods for {target}: it has no selector")));
    }
    Ok(Resolved { pods: PodSelector::Labels(parts.join(",")), service_ports: None })
}
