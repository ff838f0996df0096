//! `tether session`: sessions tetherd keeps running whether or not a terminal is attached.
//! `new` starts one and prints its id, `ls` lists them, `kill` ends one; `attach` is in
//! [`attach`].

use anyhow::Context as _;
use tether_proto::pb;
use tonic::Code;

use super::Ctx;
use crate::args::{Format, Restart, SessionCommand, SessionKillArgs, SessionNewArgs};
use crate::error::Failure;
use crate::remote::{self, terminal};
use crate::view::session::{SessionView, phase_name};
use crate::{out, table, time};

mod attach;
mod detach;

/// Runs a `tether session` subcommand.
///
/// # Errors
/// A [`Failure`] when the daemon cannot be reached or refuses; for `attach`, the session's end.
pub async fn run(ctx: &Ctx, command: SessionCommand) -> anyhow::Result<()> {
    match command {
        SessionCommand::New(args) => new(ctx, args).await,
        SessionCommand::Attach(args) => attach::run(ctx, &args.id, args.no_replay).await,
        SessionCommand::Ls(args) => list(ctx, args.output).await,
        SessionCommand::Kill(args) => kill(ctx, args).await,
    }
}

async fn new(ctx: &Ctx, args: SessionNewArgs) -> anyhow::Result<()> {
    let kind =
        if args.command.is_empty() { pb::SessionKind::Attach } else { pb::SessionKind::Exec };
    let mut spec =
        remote::spec(&args.target, args.container.as_deref(), &args.kube, args.command.clone())?;
    spec.stdin = args.takes_stdin();
    spec.tty = args.tty;
    spec.size = if args.tty { terminal::size() } else { None };
    let restart = match args.restart {
        None => pb::RestartPolicy::Unspecified,
        Some(Restart::OnDrop) => pb::RestartPolicy::OnDrop,
        Some(Restart::Never) => pb::RestartPolicy::Never,
    };
    let request = pb::CreateSessionRequest {
        spec: Some(spec),
        kind: kind.into(),
        restart: restart.into(),
        scrollback_bytes: 0,
    };
    let mut client = ctx.client().await?;
    let response = client
        .sessions
        .create_session(request)
        .await
        .map_err(|status| failure(&format!("create a session in {}", args.target), &status))?;
    let session = response.into_inner().session.context("tetherd answered without the session")?;
    if !args.attach {
        return out::line(&session.id);
    }
    out::note(&format!("session {} created", session.id));
    attach::run(ctx, &session.id, false).await
}

async fn list(ctx: &Ctx, format: Option<Format>) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let response = client
        .sessions
        .list_sessions(pb::ListSessionsRequest {})
        .await
        .map_err(|status| failure("list sessions", &status))?;
    let mut sessions: Vec<SessionView> =
        response.into_inner().sessions.iter().map(SessionView::from).collect();
    sessions.sort_by(|a, b| (a.created_unix, &a.id).cmp(&(b.created_unix, &b.id)));
    if sessions.is_empty() && matches!(format, None | Some(Format::Wide)) {
        out::note("No sessions. Start one with `tether session new TARGET -- COMMAND`.");
        return Ok(());
    }
    let text = table::session::render(&sessions, format, time::now_unix(), out::stdout_color())?;
    out::text(&text)
}

async fn kill(ctx: &Ctx, args: SessionKillArgs) -> anyhow::Result<()> {
    let id = &args.id;
    let mut client = ctx.client().await?;
    let request = pb::KillSessionRequest { id: id.clone(), graceful: args.graceful };
    let response = client
        .sessions
        .kill_session(request)
        .await
        .map_err(|status| failure(&format!("kill session {id}"), &status))?;
    let phase = response.into_inner().session.map_or(pb::SessionPhase::Killed.into(), |s| s.phase);
    match pb::SessionPhase::try_from(phase) {
        Ok(pb::SessionPhase::Killed) => out::line(&format!("session {id} killed")),
        _ => {
            let was = phase_name(phase).to_lowercase();
            out::line(&format!("session {id} removed (it was already {was})"))
        }
    }
}

/// A failed session call, with advice that fits sessions.
#[must_use]
pub fn failure(action: &str, status: &tonic::Status) -> Failure {
    let hint = match status.code() {
        Code::NotFound if status.message().contains("session") => {
            Some("list the sessions with `tether session ls`".to_owned())
        }
        _ => return remote::rpc_failure(action, status),
    };
    Failure::rpc(action, status, hint)
}
