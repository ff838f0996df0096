//! Protobuf messages to domain values and back. Parsing errors name the field.

use std::num::NonZeroU16;

use tether_proto::pb;
use tonic::Status;

use super::errors::invalid;
use super::limits;
use crate::forward::events::{Event, EventKind, Status as ForwardStatus};
use crate::forward::registry::Snapshot;
use crate::forward::spec::{self, ForwardSpec, PortMapping, RemotePort, Target};
use crate::forward::state::{ForwardState, Reason};

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Parses a `ForwardSpec` message.
///
/// # Errors
/// INVALID_ARGUMENT naming the field.
pub fn spec(p: Option<pb::ForwardSpec>) -> Result<ForwardSpec, Status> {
    let p = p.ok_or_else(|| Status::invalid_argument("spec: required"))?;
    limits::check("spec.name", &p.name, limits::NAME)?;
    limits::check("spec.target", &p.target, limits::TARGET)?;
    limits::check("spec.namespace", &p.namespace, limits::NAMESPACE)?;
    limits::check("spec.context", &p.context, limits::CONTEXT)?;
    limits::check("spec.address", &p.address, limits::ADDRESS)?;
    limits::check_count("spec.ports", p.ports.len(), limits::PORTS)?;
    for (i, port) in p.ports.iter().enumerate() {
        limits::check(&format!("spec.ports[{i}]"), port, limits::PORT)?;
    }
    kubeconfig("spec.kubeconfig", &p.kubeconfig)?;
    let target: Target = p.target.parse().map_err(|e| invalid("spec.target", &e))?;
    if p.ports.is_empty() {
        return Err(invalid("spec.ports", &spec::SpecError::NoPorts));
    }
    let ports = p
        .ports
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<PortMapping>().map_err(|e| invalid(&format!("spec.ports[{i}]"), &e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let address = if p.address.is_empty() { "127.0.0.1" } else { p.address.as_str() };
    let address = spec::parse_address(address).map_err(|e| invalid("spec.address", &e))?;
    let out = ForwardSpec {
        name: p.name,
        target,
        namespace: opt(&p.namespace),
        context: opt(&p.context),
        kubeconfig: opt(&p.kubeconfig),
        ports,
        address,
    };
    if !out.name.is_empty() {
        spec::check_name("forward name", &out.name).map_err(|e| invalid("spec.name", &e))?;
    }
    if let Some(ns) = &out.namespace {
        spec::check_name("namespace", ns).map_err(|e| invalid("spec.namespace", &e))?;
    }
    Ok(out)
}

/// Checks a kubeconfig field: bounded, and absolute paths (the daemon does not share the
/// caller's folder), so the daemon never guesses what a relative path meant.
///
/// # Errors
/// INVALID_ARGUMENT naming `field`.
pub fn kubeconfig(field: &str, value: &str) -> Result<(), Status> {
    limits::check(field, value, limits::KUBECONFIG)?;
    if value.contains('\0') {
        return Err(Status::invalid_argument(format!("{field}: a path cannot contain NUL")));
    }
    let relative =
        std::env::split_paths(value).find(|p| !p.as_os_str().is_empty() && p.is_relative());
    if let Some(p) = relative {
        let p = p.display().to_string();
        return Err(Status::invalid_argument(format!(
            "{field}: {} is a relative path; give absolute paths (the daemon does not share your \
             current folder)",
            limits::shown(&p)
        )));
    }
    Ok(())
}

/// Parses a remote port (number or name), or `None` when empty.
///
/// # Errors
/// INVALID_ARGUMENT naming `field`.
pub fn remote_port(field: &str, text: &str) -> Result<Option<RemotePort>, Status> {
    if text.is_empty() {
        return Ok(None);
    }
    let mapping: PortMapping = format!(":{text}").parse().map_err(|e| invalid(field, &e))?;
    Ok(Some(mapping.remote))
}

/// A reason's text, bounded: it echoes what clusters said, and every reply stays small.
fn reason_text(r: &Reason) -> String {
    limits::cut(&r.to_string(), limits::REASON)
}

fn reason_kind(r: &Reason) -> pb::ReasonKind {
    match r {
        Reason::Unauthorized(_) => pb::ReasonKind::Unauthorized,
        Reason::Forbidden(_) => pb::ReasonKind::Forbidden,
        Reason::NotFound(_) => pb::ReasonKind::NotFound,
        Reason::NoReadyPod(_) => pb::ReasonKind::NoReadyPod,
        Reason::Connection(_) => pb::ReasonKind::Connection,
        Reason::DeadPeer(_) => pb::ReasonKind::DeadPeer,
        Reason::Wake(_) => pb::ReasonKind::Wake,
        Reason::Freeze(_) => pb::ReasonKind::Freeze,
        Reason::PodGone(_) => pb::ReasonKind::PodGone,
        Reason::NoSuchPort(_) => pb::ReasonKind::NoSuchPort,
        Reason::Bind(_) => pb::ReasonKind::Bind,
        Reason::Other(_) => pb::ReasonKind::Other,
    }
}

/// A status message.
#[must_use]
pub fn status(s: &ForwardStatus) -> pb::ForwardStatus {
    let (phase, attempt, reason) = match &s.state {
        ForwardState::Pending => (pb::Phase::Pending, 0, None),
        ForwardState::Connecting => (pb::Phase::Connecting, 0, None),
        ForwardState::Ready => (pb::Phase::Ready, 0, None),
        ForwardState::Reconnecting { attempt, reason } => {
            (pb::Phase::Reconnecting, *attempt, Some(reason))
        }
        ForwardState::Paused => (pb::Phase::Paused, 0, None),
        ForwardState::Failed { reason } => (pb::Phase::Failed, 0, Some(reason)),
    };
    pb::ForwardStatus {
        phase: phase.into(),
        attempt,
        reason_kind: reason.map_or(pb::ReasonKind::Unspecified, reason_kind).into(),
        reason: reason.map(reason_text).unwrap_or_default(),
        pod: s.pod.clone().unwrap_or_default(),
        local_addresses: s.local_addresses.clone(),
        since_unix: s.since_ms / 1000,
        protocol: s.protocol.unwrap_or_default().to_owned(),
    }
}

fn spec_message(s: &ForwardSpec, local_ports: &[u16]) -> pb::ForwardSpec {
    let ports = s
        .ports
        .iter()
        .zip(local_ports.iter().copied().map(Some).chain(std::iter::repeat(None)))
        .map(|(m, bound)| {
            PortMapping {
                local: m.local.or(bound.and_then(NonZeroU16::new)),
                remote: m.remote.clone(),
            }
            .to_string()
        })
        .collect();
    pb::ForwardSpec {
        name: s.name.clone(),
        target: s.target.to_string(),
        namespace: s.namespace.clone().unwrap_or_default(),
        context: s.context.clone().unwrap_or_default(),
        kubeconfig: s.kubeconfig.clone().unwrap_or_default(),
        ports,
        address: s.address.to_string(),
    }
}

/// A forward message.
#[must_use]
pub fn forward(s: &Snapshot) -> pb::Forward {
    pb::Forward {
        spec: Some(spec_message(&s.spec, &s.local_ports)),
        status: Some(status(&s.status)),
        stats: Some(pb::ForwardStats {
            connections_total: s.counters.connections,
            connections_active: s.active,
            reconnects: s.counters.reconnects,
            bytes_out: s.counters.bytes_out,
            bytes_in: s.counters.bytes_in,
        }),
        created_unix: i64::try_from(s.created_at).unwrap_or(i64::MAX),
    }
}

/// An event message.
#[must_use]
pub fn event(e: &Event) -> pb::Event {
    use pb::event::Kind;
    let kind = match &e.kind {
        EventKind::Status(s) => Kind::Status(status(s)),
        EventKind::Opened { id, peer, pod } => {
            Kind::Opened(pb::ConnectionOpened { id: *id, peer: peer.clone(), pod: pod.clone() })
        }
        EventKind::Closed { id, bytes_out, bytes_in, error } => {
            Kind::Closed(pb::ConnectionClosed {
                id: *id,
                bytes_out: *bytes_out,
                bytes_in: *bytes_in,
                error: error.clone().unwrap_or_default(),
            })
        }
        EventKind::TunnelUp { pod, protocol, setup_ms } => Kind::TunnelUp(pb::TunnelUp {
            pod: pod.clone(),
            protocol: (*protocol).to_owned(),
            setup_ms: *setup_ms,
        }),
        EventKind::TunnelDown { pod, reason } => Kind::TunnelDown(pb::TunnelDown {
            pod: pod.clone(),
            reason: reason_text(reason),
            reason_kind: reason_kind(reason).into(),
        }),
        EventKind::Deleted => Kind::Deleted(pb::Deleted {}),
        EventKind::Session { id, phase, reason, pod } => Kind::Session(pb::SessionChanged {
            id: id.clone(),
            phase: phase.clone(),
            reason: reason.clone(),
            pod: pod.clone(),
        }),
    };
    pb::Event { time_unix_ms: e.time_ms, forward: e.forward.clone(), kind: Some(kind) }
}
