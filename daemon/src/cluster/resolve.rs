//! Pure resolution logic: which pod to use, and which container port a requested port means.

use std::cmp::Ordering;

use super::{PodInfo, ServicePort, TargetPort};
use crate::forward::spec::RemotePort;

/// kubectl's preference (`podutils.ActivePods`, reversed): scheduled, running, ready, not being
/// deleted, ready for longer, fewer restarts, older. Returns the best usable pod: Ready and not
/// terminating.
#[must_use]
pub fn choose_pod(pods: &[PodInfo]) -> Option<&PodInfo> {
    pods.iter()
        .filter(|p| p.ready && !p.terminating && p.phase == "Running")
        .min_by(|a, b| better(a, b))
}

/// `Less` when `a` is preferred over `b`.
fn better(a: &PodInfo, b: &PodInfo) -> Ordering {
    let phase = |p: &PodInfo| match p.phase.as_str() {
        "Running" => 0,
        "Unknown" => 1,
        "Pending" => 2,
        _ => 3,
    };
    b.scheduled
        .cmp(&a.scheduled)
        .then(phase(a).cmp(&phase(b)))
        .then(b.ready.cmp(&a.ready))
        .then(a.terminating.cmp(&b.terminating))
        .then(a.ready_since.cmp(&b.ready_since))
        .then(a.restarts.cmp(&b.restarts))
        .then(a.created.cmp(&b.created))
        .then(a.name.cmp(&b.name))
}

/// Why a port could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// A service port that the service does not have.
    #[error("service has no port {0}")]
    NoServicePort(String),
    /// A named port the pod does not declare.
    #[error("pod {pod} has no container port named {name}")]
    NoContainerPort {
        /// The pod.
        pod: String,
        /// The name.
        name: String,
    },
}

/// The container port `remote` reaches on `pod`, through `service_ports` for a service target
/// (as kubectl's `translateServicePortToTargetPort`).
///
/// # Errors
/// When a named or service port does not exist.
pub fn container_port(
    remote: &RemotePort,
    service_ports: Option<&[ServicePort]>,
    pod: &PodInfo,
) -> Result<u16, PortError> {
    let target = match service_ports {
        Some(ports) => {
            let sp = ports
                .iter()
                .find(|sp| match remote {
                    RemotePort::Number(n) => sp.port == n.get(),
                    RemotePort::Name(name) => sp.name.as_deref() == Some(name.as_str()),
                })
                .ok_or_else(|| PortError::NoServicePort(remote.to_string()))?;
            match &sp.target {
                TargetPort::Number(0) => TargetPort::Number(sp.port),
                t => t.clone(),
            }
        }
        None => match remote {
            RemotePort::Number(n) => TargetPort::Number(n.get()),
            RemotePort::Name(name) => TargetPort::Name(name.clone()),
        },
    };
    match target {
        TargetPort::Number(n) => Ok(n),
        TargetPort::Name(name) => pod
            .ports
            .iter()
            .find(|(n, _)| n.as_deref() == Some(name.as_str()))
            .map(|(_, p)| *p)
            .ok_or(PortError::NoContainerPort { pod: pod.name.clone(), name }),
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU16;

    use super::*;

    fn pod(name: &str, ready: bool, created: i64) -> PodInfo {
        PodInfo {
            name: name.into(),
            phase: "Running".into(),
            ready,
            scheduled: true,
            created,
            ports: vec![(Some("http".into()), 8080)],
            ..PodInfo::default()
        }
    }

    #[test]
    fn the_oldest_ready_pod_wins_and_unready_ones_never_do() {
        let pods = [pod("young", true, 20), pod("old", true, 10), pod("older-unready", false, 1)];
        assert_eq!(choose_pod(&pods).map(|p| p.name.as_str()), Some("old"));
        let mut restarted = pods.clone();
        restarted[1].restarts = 3;
        assert_eq!(choose_pod(&restarted).map(|p| p.name.as_str()), Some("young"));
        let mut terminating = pods.clone();
        terminating[0].terminating = true;
        terminating[1].terminating = true;
        assert_eq!(choose_pod(&terminating), None);
        assert_eq!(choose_pod(&[]), None);
    }

    #[test]
    fn ports_map_through_services_and_names() {
        let p = pod("a", true, 1);
        let n = |v| RemotePort::Number(NonZeroU16::new(v).expect("non-zero"));
        let svc = [ServicePort {
            name: Some("web".into()),
            port: 80,
            target: TargetPort::Name("http".into()),
        }];
        assert_eq!(container_port(&n(80), Some(&svc), &p), Ok(8080));
        assert_eq!(container_port(&RemotePort::Name("web".into()), Some(&svc), &p), Ok(8080));
        assert_eq!(
            container_port(&n(81), Some(&svc), &p),
            Err(PortError::NoServicePort("81".into()))
        );
        assert_eq!(container_port(&n(9000), None, &p), Ok(9000));
        assert_eq!(container_port(&RemotePort::Name("http".into()), None, &p), Ok(8080));
        assert!(container_port(&RemotePort::Name("grpc".into()), None, &p).is_err());
        let plain = [ServicePort { name: None, port: 5432, target: TargetPort::Number(0) }];
        assert_eq!(container_port(&n(5432), Some(&plain), &p), Ok(5432));
    }
}
