//! `tether session attach`: the session's kept output, then live output, with local keys sent
//! to it. The terminal is in raw mode when the session has a TTY and stdin is a terminal; Enter
//! ~ . detaches ([`super::detach`]) and leaves the session running.

use std::io::{self, IsTerminal as _};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use tether_proto::pb;
use tether_proto::pb::attach_request::Kind as In;
use tether_proto::pb::attach_response::Kind as Out;
use tether_proto::pb::exit_status::Kind as ExitKind;
use tokio::signal::unix::Signal;
use tokio::sync::{Notify, mpsc};
use tonic::Streaming;

use super::detach::{Escape, Keys};
use super::failure;
use crate::cmd::Ctx;
use crate::error::{Exit, Failure, Terminated};
use crate::out;
use crate::remote::terminal::{self, RawMode};
use crate::remote::{outcome, stdin};
use crate::view::session::has_ended;

/// Requests queued for the stream.
const REQUESTS: usize = 8;
/// How long a detach waits for the daemon to end the stream.
const DETACH_GRACE: Duration = Duration::from_millis(500);

/// Why following the session stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The user typed the detach sequence (or Ctrl-C without raw mode).
    Detached,
    /// The session's process ended.
    Ended,
    /// The daemon ended the stream while the session runs.
    Dropped,
    /// SIGTERM or SIGHUP, with the exit code.
    Signal(u8),
}

/// Runs `tether session attach ID`.
///
/// # Errors
/// [`Terminated`] with the session's exit code when it ends non-zero; a [`Failure`] when the
/// daemon refuses or drops the stream.
pub async fn run(ctx: &Ctx, id: &str, no_replay: bool) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let (request_tx, mut request_rx) = mpsc::channel(REQUESTS);
    let open = pb::AttachOpen { session: id.to_owned(), no_replay };
    send(&request_tx, In::Open(open)).await;
    let requests = stream::poll_fn(move |cx| request_rx.poll_recv(cx));
    let mut responses = client
        .sessions
        .attach_session(requests)
        .await
        .map_err(|status| failure(&format!("attach to session {id}"), &status))?
        .into_inner();
    let session = first_session(&mut responses, id).await?;
    let spec = session.spec.clone().unwrap_or_default();
    let local_tty = io::stdin().is_terminal();
    let raw = spec.tty && local_tty;
    if local_tty {
        out::note(&format!("attached to session {id}; detach with Enter ~ ."));
    }
    let guard = if raw { Some(RawMode::enable()?) } else { None };
    let detach = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    if local_tty || spec.stdin {
        let chunks = stdin::spawn()?;
        let escape = local_tty.then(Escape::default);
        let keys = pump_keys(request_tx.clone(), chunks, escape, spec.stdin, detach.clone());
        tasks.push(tokio::spawn(keys));
    }
    if raw {
        if let Some(size) = terminal::size() {
            send(&request_tx, In::Resize(size)).await;
        }
        tasks.push(tokio::spawn(pump_resizes(request_tx.clone(), terminal::resizes()?)));
    }
    let mut follower = Follower { id, raw, session };
    let end = follower.follow(&mut responses, &detach).await;
    if matches!(end, Ok(End::Detached | End::Signal(_))) {
        send(&request_tx, In::Detach(true)).await;
        let drain = async { while let Ok(Some(_)) = responses.message().await {} };
        let _ended = tokio::time::timeout(DETACH_GRACE, drain).await;
    }
    for task in tasks {
        task.abort();
    }
    drop(guard);
    conclude(end?, &follower.session, id, raw)
}

/// The session's state as this client saw it.
#[derive(Debug)]
struct Follower<'a> {
    id: &'a str,
    /// Raw mode: notices need `\r\n`.
    raw: bool,
    session: pb::Session,
}

impl Follower<'_> {
    /// Prints output and notices until the session ends, the user detaches, or the stream ends.
    async fn follow(
        &mut self,
        responses: &mut Streaming<pb::AttachResponse>,
        detach: &Notify,
    ) -> anyhow::Result<End> {
        let ctrl_c = tokio::signal::ctrl_c();
        let hangup = terminal::hangup_or_terminate();
        tokio::pin!(ctrl_c, hangup);
        loop {
            let message = tokio::select! {
                message = responses.message() => message,
                () = detach.notified() => return Ok(End::Detached),
                _ = &mut ctrl_c, if !self.raw => return Ok(End::Detached),
                code = &mut hangup, if self.raw => return Ok(End::Signal(code)),
            };
            let kind = match message {
                Ok(Some(response)) => response.kind,
                Ok(None) if has_ended(self.session.phase) => return Ok(End::Ended),
                Ok(None) => return Ok(End::Dropped),
                Err(status) => {
                    return Err(failure(&format!("attach to session {}", self.id), &status).into());
                }
            };
            if let Some(end) = self.handle(kind)? {
                return Ok(end);
            }
        }
    }

    fn handle(&mut self, kind: Option<Out>) -> anyhow::Result<Option<End>> {
        match kind {
            Some(Out::Output(output)) if output.stderr => out::stderr(&output.data),
            Some(Out::Output(output)) => out::bytes(&output.data)?,
            Some(Out::Lagged(skipped)) => self.notice(&format!(
                "this terminal fell behind: {skipped} bytes of output were skipped"
            )),
            Some(Out::Changed(session) | Out::Session(session)) => {
                let before = self.session.phase;
                self.session = session;
                if has_ended(self.session.phase) {
                    return Ok(Some(End::Ended));
                }
                self.phase_notice(before);
            }
            Some(Out::ReplayDone(_)) if has_ended(self.session.phase) => {
                return Ok(Some(End::Ended));
            }
            Some(Out::ReplayDone(_)) | None => {}
        }
        Ok(None)
    }

    fn phase_notice(&self, before: i32) {
        use pb::SessionPhase as P;
        let id = self.id;
        match (P::try_from(before), P::try_from(self.session.phase)) {
            (Ok(was), Ok(now)) if was == now => {}
            (_, Ok(P::Reconnecting)) => {
                let reason = &self.session.reason;
                let why = if reason.is_empty() { String::new() } else { format!(" ({reason})") };
                self.notice(&format!(
                    "session {id} is reconnecting{why}; output follows when it is back"
                ));
            }
            (Ok(P::Reconnecting), Ok(P::Running)) => {
                self.notice(&format!("session {id} is running again"));
            }
            _ => {}
        }
    }

    /// A line for the user on stderr, on a line of its own.
    fn notice(&self, text: &str) {
        let line =
            if self.raw { format!("\r\ntether: {text}\r\n") } else { format!("tether: {text}\n") };
        out::stderr(line.as_bytes());
    }
}

/// The first response, which must be the session.
async fn first_session(
    responses: &mut Streaming<pb::AttachResponse>,
    id: &str,
) -> anyhow::Result<pb::Session> {
    match responses.message().await {
        Ok(Some(pb::AttachResponse { kind: Some(Out::Session(session)) })) => Ok(session),
        Ok(_) => {
            let message = format!(
                "tetherd did not answer the attach to session {id} with the session; see `tether \
                 daemon logs`"
            );
            Err(Failure::new(Exit::Error, message).into())
        }
        Err(status) => Err(failure(&format!("attach to session {id}"), &status).into()),
    }
}

/// The outcome once the terminal is restored: a notice, and the session's exit code. After raw
/// mode the cursor may be mid-line (at a prompt), so the notice starts a line of its own.
fn conclude(end: End, session: &pb::Session, id: &str, raw: bool) -> anyhow::Result<()> {
    let (code, text) = match end {
        End::Signal(code) => return Err(Terminated { code, line: None }.into()),
        End::Detached => {
            let text = format!(
                "detached from session {id}; it keeps running: reattach with `tether session \
                 attach {id}`"
            );
            (0, text)
        }
        End::Dropped => {
            let message = format!(
                "tetherd ended the attach stream; the session keeps running: reattach with \
                 `tether session attach {id}`, or check `tether daemon status`"
            );
            return Err(Failure::new(Exit::Error, message).into());
        }
        End::Ended => ended(session, id),
    };
    let newline = if raw && end == End::Detached { "\n" } else { "" };
    out::note(&format!("{newline}tether: {text}"));
    if code == 0 { Ok(()) } else { Err(Terminated { code, line: None }.into()) }
}

/// The exit code and the words for a session that ended.
fn ended(session: &pb::Session, id: &str) -> (u8, String) {
    use pb::SessionPhase as P;
    let exit = session.exit.clone().unwrap_or_default();
    match (P::try_from(session.phase), &exit.kind) {
        (Ok(P::Exited), Some(ExitKind::Code(0))) => (0, format!("session {id} exited")),
        (Ok(P::Exited), Some(ExitKind::Code(code))) => {
            let code = u8::try_from(*code).unwrap_or(u8::MAX);
            (code, format!("session {id} exited with code {code}"))
        }
        (Ok(P::Exited), Some(ExitKind::Error(message))) => {
            let line = outcome::error_line(message, &exit.reason, exit.from_server);
            (1, format!("session {id} failed: {line}"))
        }
        (Ok(P::Lost), _) => {
            let reason = &session.reason;
            let why = if reason.is_empty() { String::new() } else { format!(": {reason}") };
            (
                1,
                format!(
                    "session {id} was lost{why}; its output is kept (`tether session attach \
                     {id}` replays it)"
                ),
            )
        }
        (Ok(P::Killed), _) => (1, format!("session {id} was killed")),
        _ => (1, format!("session {id} ended")),
    }
}

async fn send(request_tx: &mpsc::Sender<pb::AttachRequest>, kind: In) -> bool {
    request_tx.send(pb::AttachRequest { kind: Some(kind) }).await.is_ok()
}

/// Typed keys to the session (when it takes stdin), watching for the detach sequence.
async fn pump_keys(
    request_tx: mpsc::Sender<pb::AttachRequest>,
    mut chunks: mpsc::Receiver<Bytes>,
    mut escape: Option<Escape>,
    forward: bool,
    detach: Arc<Notify>,
) {
    while let Some(chunk) = chunks.recv().await {
        let keys = match &mut escape {
            Some(escape) => escape.feed(&chunk),
            None => Keys { send: chunk.to_vec(), detach: false },
        };
        if forward && !keys.send.is_empty() && !send(&request_tx, In::Stdin(keys.send.into())).await
        {
            return;
        }
        if keys.detach {
            detach.notify_one();
            return;
        }
    }
}

/// The terminal's size at every SIGWINCH.
async fn pump_resizes(request_tx: mpsc::Sender<pb::AttachRequest>, mut resizes: Signal) {
    while resizes.recv().await.is_some() {
        if let Some(size) = terminal::size()
            && !send(&request_tx, In::Resize(size)).await
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(phase: pb::SessionPhase, exit: Option<ExitKind>) -> pb::Session {
        pb::Session {
            phase: phase.into(),
            exit: exit.map(|kind| pb::ExitStatus { kind: Some(kind), ..Default::default() }),
            reason: "pod deleted".into(),
            ..Default::default()
        }
    }

    #[test]
    fn ended_sessions_give_their_exit_code() {
        let exited =
            |code| ended(&session(pb::SessionPhase::Exited, Some(ExitKind::Code(code))), "s");
        assert_eq!(exited(0), (0, "session s exited".into()));
        assert_eq!(exited(7), (7, "session s exited with code 7".into()));
        let failed = session(pb::SessionPhase::Exited, Some(ExitKind::Error("no tar".into())));
        assert_eq!(ended(&failed, "s"), (1, "session s failed: error: no tar".into()));
        let lost = ended(&session(pb::SessionPhase::Lost, None), "s");
        assert_eq!(lost.0, 1);
        assert!(lost.1.starts_with("session s was lost: pod deleted;"), "{}", lost.1);
        assert_eq!(ended(&session(pb::SessionPhase::Killed, None), "s").0, 1);
    }
}
