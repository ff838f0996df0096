//! Sessions as users see them: serde views of the protobuf messages (for `-o json|yaml`), and
//! the names of kinds, phases and restart policies.

use serde::Serialize;
use tether_proto::pb;
use tether_proto::pb::exit_status::Kind as ExitKind;

use super::timestamp;

/// The list printed by `tether session ls -o json|yaml`.
#[derive(Debug, Serialize)]
pub struct SessionList<'a> {
    /// The sessions, oldest first.
    pub items: &'a [SessionView],
}

/// One session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: String,
    /// `Exec` or `Attach`.
    pub kind: &'static str,
    pub target: String,
    pub namespace: String,
    pub context: String,
    pub container: String,
    pub command: Vec<String>,
    pub stdin: bool,
    pub tty: bool,
    /// `Starting`, `Running`, `Reconnecting`, `Exited`, `Lost`, `Killed` or `Unknown`.
    pub phase: &'static str,
    pub pod: String,
    pub reason: String,
    pub exit: Option<ExitView>,
    /// RFC 3339; `None` when the daemon did not say.
    pub created: Option<String>,
    /// Unix seconds, for ages.
    #[serde(skip)]
    pub created_unix: i64,
    pub attached: u32,
    pub output_bytes: u64,
    pub protocol: String,
    /// `Never`, `OnDrop`, or `Default` (the daemon's choice).
    pub restart: &'static str,
    pub restarts: u32,
}

/// How a session's process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExitView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl From<&pb::Session> for SessionView {
    fn from(session: &pb::Session) -> Self {
        let spec = session.spec.clone().unwrap_or_default();
        let container =
            if session.container.is_empty() { spec.container } else { session.container.clone() };
        Self {
            id: session.id.clone(),
            kind: kind_name(session.kind),
            target: spec.target,
            namespace: spec.namespace,
            context: spec.context,
            container,
            command: spec.command,
            stdin: spec.stdin,
            tty: spec.tty,
            phase: phase_name(session.phase),
            pod: session.pod.clone(),
            reason: session.reason.clone(),
            exit: session.exit.as_ref().and_then(ExitView::from_status),
            created: timestamp(session.created_unix),
            created_unix: session.created_unix,
            attached: session.attached,
            output_bytes: session.output_bytes,
            protocol: session.protocol.clone(),
            restart: restart_name(session.restart),
            restarts: session.restarts,
        }
    }
}

impl ExitView {
    fn from_status(exit: &pb::ExitStatus) -> Option<Self> {
        let (code, error) = match &exit.kind {
            Some(ExitKind::Code(code)) => (Some(*code), None),
            Some(ExitKind::Error(error)) => (None, Some(error.clone())),
            None => return None,
        };
        Some(Self { code, error, reason: exit.reason.clone() })
    }

    /// The exit as a short text: the code, or the error.
    #[must_use]
    pub fn text(&self) -> String {
        match (&self.code, &self.error) {
            (Some(code), _) => code.to_string(),
            (None, Some(error)) => error.clone(),
            (None, None) => String::new(),
        }
    }
}

/// A session kind's name, such as `Exec`.
#[must_use]
pub fn kind_name(kind: i32) -> &'static str {
    match pb::SessionKind::try_from(kind) {
        Ok(pb::SessionKind::Exec) => "Exec",
        Ok(pb::SessionKind::Attach) => "Attach",
        Ok(pb::SessionKind::Unspecified) | Err(_) => "Unknown",
    }
}

/// A session phase's name, such as `Running`.
#[must_use]
pub fn phase_name(phase: i32) -> &'static str {
    use pb::SessionPhase as P;
    match P::try_from(phase) {
        Ok(P::Starting) => "Starting",
        Ok(P::Running) => "Running",
        Ok(P::Reconnecting) => "Reconnecting",
        Ok(P::Exited) => "Exited",
        Ok(P::Lost) => "Lost",
        Ok(P::Killed) => "Killed",
        Ok(P::Unspecified) | Err(_) => "Unknown",
    }
}

/// Whether a phase is final: the process has ended and will not run again.
#[must_use]
pub fn has_ended(phase: i32) -> bool {
    use pb::SessionPhase as P;
    matches!(P::try_from(phase), Ok(P::Exited | P::Lost | P::Killed))
}

/// A restart policy's name, such as `OnDrop`.
#[must_use]
pub fn restart_name(restart: i32) -> &'static str {
    match pb::RestartPolicy::try_from(restart) {
        Ok(pb::RestartPolicy::Never) => "Never",
        Ok(pb::RestartPolicy::OnDrop) => "OnDrop",
        Ok(pb::RestartPolicy::Unspecified) | Err(_) => "Default",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_convert_with_names() {
        let session = pb::Session {
            id: "s1".into(),
            kind: pb::SessionKind::Exec.into(),
            spec: Some(pb::ProcessSpec {
                target: "deploy/web".into(),
                container: "app".into(),
                command: vec!["sh".into()],
                tty: true,
                ..Default::default()
            }),
            phase: pb::SessionPhase::Exited.into(),
            exit: Some(pb::ExitStatus { kind: Some(ExitKind::Code(3)), ..Default::default() }),
            restart: pb::RestartPolicy::OnDrop.into(),
            ..Default::default()
        };
        let view = SessionView::from(&session);
        assert_eq!((view.kind, view.phase, view.restart), ("Exec", "Exited", "OnDrop"));
        assert_eq!(view.container, "app");
        assert_eq!(view.exit.as_ref().map(ExitView::text).as_deref(), Some("3"));
        assert!(has_ended(session.phase));
        assert!(!has_ended(pb::SessionPhase::Reconnecting.into()));
        let json = serde_json::to_value(&view).expect("json");
        assert_eq!(json["exit"], serde_json::json!({"code": 3}));
        assert_eq!(json["outputBytes"], 0);
    }
}
