//! Session and exec messages to domain values and back. Parsing errors name the field.

use tether_proto::pb;
use tether_wire::channel::{ExitOutcome, TerminalSize};
use tonic::Status;

use super::errors::invalid;
use super::limits;
use crate::cluster::ClusterError;
use crate::forward::spec::{self, Target};
use crate::session::{Exit, Kind, Phase, Record, Restart, Spec, manager};

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Parses a terminal size; both sides must be 1 to 65535.
///
/// # Errors
/// INVALID_ARGUMENT naming `field`.
pub fn size(field: &str, s: &pb::TerminalSize) -> Result<TerminalSize, Status> {
    let side = |v: u32| u16::try_from(v).ok().filter(|v| *v > 0);
    match (side(s.width), side(s.height)) {
        (Some(width), Some(height)) => Ok(TerminalSize { width, height }),
        _ => Err(Status::invalid_argument(format!(
            "{field}: {}x{} is not a terminal size; width and height must be 1 to 65535",
            s.width, s.height
        ))),
    }
}

/// Parses a `ProcessSpec` for a session of `kind`.
///
/// # Errors
/// INVALID_ARGUMENT naming the field.
pub fn process_spec(p: Option<pb::ProcessSpec>, kind: Kind, field: &str) -> Result<Spec, Status> {
    let p = p.ok_or_else(|| Status::invalid_argument(format!("{field}: required")))?;
    let sub = |name: &str| format!("{field}.{name}");
    limits::check(&sub("target"), &p.target, limits::TARGET)?;
    limits::check(&sub("namespace"), &p.namespace, limits::NAMESPACE)?;
    limits::check(&sub("context"), &p.context, limits::CONTEXT)?;
    limits::check(&sub("container"), &p.container, limits::CONTAINER)?;
    super::convert::kubeconfig(&sub("kubeconfig"), &p.kubeconfig)?;
    limits::check_count(&sub("command"), p.command.len(), limits::COMMAND_WORDS)?;
    let bytes: usize = p.command.iter().map(String::len).sum();
    if bytes > limits::COMMAND_BYTES {
        return Err(Status::invalid_argument(format!(
            "{}: {bytes} bytes, more than the {} a command takes; copy a long script into the \
             container and run it instead",
            sub("command"),
            limits::COMMAND_BYTES
        )));
    }
    let target: Target = p.target.parse().map_err(|e| invalid(&format!("{field}.target"), &e))?;
    if let Some(ns) = opt(&p.namespace) {
        spec::check_name("namespace", &ns)
            .map_err(|e| invalid(&format!("{field}.namespace"), &e))?;
    }
    if let Some(c) = opt(&p.container) {
        spec::check_name("container", &c)
            .map_err(|e| invalid(&format!("{field}.container"), &e))?;
    }
    match kind {
        Kind::Exec if p.command.is_empty() => {
            return Err(Status::invalid_argument(format!(
                "{field}.command: required: give the command to run after `--`"
            )));
        }
        Kind::Attach if !p.command.is_empty() => {
            return Err(Status::invalid_argument(format!(
                "{field}.command: an attach joins the container's main process and takes no command"
            )));
        }
        _ => {}
    }
    let size = match &p.size {
        Some(s) if p.tty => Some(size(&format!("{field}.size"), s)?),
        _ => None,
    };
    Ok(Spec {
        target,
        namespace: opt(&p.namespace),
        context: opt(&p.context),
        kubeconfig: opt(&p.kubeconfig),
        container: opt(&p.container),
        command: p.command,
        stdin: p.stdin,
        tty: p.tty,
        size: size.map(|s| (s.width, s.height)),
    })
}

/// Parses a `CreateSessionRequest`.
///
/// # Errors
/// INVALID_ARGUMENT naming the field.
pub fn new_session(req: pb::CreateSessionRequest) -> Result<manager::NewSession, Status> {
    let kind = match pb::SessionKind::try_from(req.kind) {
        Ok(pb::SessionKind::Exec) => Kind::Exec,
        Ok(pb::SessionKind::Attach) => Kind::Attach,
        _ => {
            return Err(Status::invalid_argument(
                "kind: required: SESSION_KIND_EXEC or SESSION_KIND_ATTACH",
            ));
        }
    };
    let restart = match pb::RestartPolicy::try_from(req.restart) {
        Ok(pb::RestartPolicy::Unspecified | pb::RestartPolicy::Never) => Restart::Never,
        Ok(pb::RestartPolicy::OnDrop) => Restart::OnDrop,
        Err(_) => {
            return Err(Status::invalid_argument(format!(
                "restart: unknown policy {}",
                req.restart
            )));
        }
    };
    let scrollback = match usize::try_from(req.scrollback_bytes) {
        Ok(0) => manager::DEFAULT_SCROLLBACK,
        Ok(n) if n <= manager::MAX_SCROLLBACK => n,
        _ => {
            return Err(Status::invalid_argument(format!(
                "scrollback_bytes: {} is more than the most a session may keep ({} bytes)",
                req.scrollback_bytes,
                manager::MAX_SCROLLBACK
            )));
        }
    };
    let spec = process_spec(req.spec, kind, "spec")?;
    Ok(manager::NewSession { kind, spec, restart, scrollback })
}

fn spec_message(s: &Spec) -> pb::ProcessSpec {
    pb::ProcessSpec {
        target: s.target.to_string(),
        namespace: s.namespace.clone().unwrap_or_default(),
        context: s.context.clone().unwrap_or_default(),
        kubeconfig: s.kubeconfig.clone().unwrap_or_default(),
        container: s.container.clone().unwrap_or_default(),
        command: s.command.clone(),
        stdin: s.stdin,
        tty: s.tty,
        size: s.size.map(|(w, h)| pb::TerminalSize { width: u32::from(w), height: u32::from(h) }),
    }
}

/// An exit status message; `from_server` when the API server refused the request itself.
#[must_use]
pub fn exit(e: &Exit, from_server: bool) -> pb::ExitStatus {
    use pb::exit_status::Kind as K;
    match e {
        Exit::Code(c) => pb::ExitStatus {
            kind: Some(K::Code(u32::from(*c))),
            reason: String::new(),
            from_server: false,
        },
        Exit::Error { reason, message } => pb::ExitStatus {
            kind: Some(K::Error(message.clone())),
            reason: reason.clone().unwrap_or_default(),
            from_server,
        },
    }
}

/// The exit status for a command's own outcome.
#[must_use]
pub fn outcome(o: &ExitOutcome) -> pb::ExitStatus {
    exit(&Exit::from(o), false)
}

/// The exit status for a failure to start. A refusal by the API server carries the server's
/// own words (kubectl prints them as `Error from server (REASON): MESSAGE`).
#[must_use]
pub fn start_failure(e: &ClusterError) -> pb::ExitStatus {
    match e {
        ClusterError::Rejected { reason, message, .. } => {
            exit(&Exit::Error { reason: Some(reason.clone()), message: message.clone() }, true)
        }
        other => exit(&crate::session::runner::failure(other), false),
    }
}

/// A session message.
#[must_use]
pub fn session(r: &Record, attached: u32) -> pb::Session {
    let (phase, reason, exit_status) = match &r.phase {
        Phase::Starting => (pb::SessionPhase::Starting, String::new(), None),
        Phase::Running => (pb::SessionPhase::Running, String::new(), None),
        Phase::Reconnecting(why) => (pb::SessionPhase::Reconnecting, why.clone(), None),
        Phase::Exited(e) => (pb::SessionPhase::Exited, String::new(), Some(exit(e, false))),
        Phase::Lost(why) => (pb::SessionPhase::Lost, why.clone(), None),
        Phase::Killed => (pb::SessionPhase::Killed, String::new(), None),
    };
    pb::Session {
        id: r.id.clone(),
        kind: match r.kind {
            Kind::Exec => pb::SessionKind::Exec,
            Kind::Attach => pb::SessionKind::Attach,
        } as i32,
        spec: Some(spec_message(&r.spec)),
        phase: phase as i32,
        pod: r.pod.clone(),
        container: r.container.clone(),
        reason,
        exit: exit_status,
        created_unix: i64::try_from(r.created_at).unwrap_or(i64::MAX),
        attached,
        output_bytes: r.output_bytes,
        protocol: r.protocol.clone(),
        restart: match r.restart {
            Restart::Never => pb::RestartPolicy::Never,
            Restart::OnDrop => pb::RestartPolicy::OnDrop,
        } as i32,
        restarts: r.restarts,
    }
}
