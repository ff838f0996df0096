//! The fake SessionService: Exec runs a few scripted commands (cat, exit codes, kubectl's
//! errors, `test -d`, and `tar` both ways against in-memory tars), and sessions live in memory.
//!
//! - `cat` echoes stdin to stdout until `close_stdin`; `exit N` prints `out`/`err` and exits N;
//!   `warn` sends a warning; `tty` answers whether a TTY was asked for;
//! - pod `nopod`, container `nope` and command `no-such-command` end as the cluster reports them;
//! - `test -d P` succeeds for the folders in [`Script::dirs`];
//! - `tar -xmf - -C DIR` keeps its stdin in [`Script::uploads`] (DIR `/nodir` fails like GNU tar);
//! - `tar cf - P` sends [`Script::downloads`]`[P]` (a missing P fails like GNU tar).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures_util::{Stream, stream};
use tether_proto::pb::exec_request::Kind as ExecIn;
use tether_proto::pb::exec_response::Kind as ExecOut;
use tether_proto::pb::exit_status::Kind as ExitKind;
use tether_proto::pb::session_service_server::SessionService;
use tether_proto::pb::{self, attach_request, attach_response};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

type Reply<T> = Result<Response<T>, Status>;
type Out<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// What the fake knows and what it saw.
#[derive(Debug, Default)]
pub struct Script {
    /// Folders `test -d` finds.
    pub dirs: Vec<String>,
    /// Tars that `tar cf - PATH` sends, by PATH.
    pub downloads: HashMap<String, Vec<u8>>,
    /// What each `tar -xmf -` received: its command and its stdin.
    pub uploads: Vec<(Vec<String>, Vec<u8>)>,
    /// Every spec started, in order.
    pub started: Vec<pb::ProcessSpec>,
    /// Resizes received.
    pub resizes: Vec<pb::TerminalSize>,
    /// Sessions, in creation order.
    pub sessions: Vec<pb::Session>,
}

/// The service, sharing its [`Script`] with the test.
#[derive(Debug, Clone, Default)]
pub struct Sessions {
    pub script: Arc<Mutex<Script>>,
}

impl Sessions {
    pub fn script(&self) -> MutexGuard<'_, Script> {
        self.script.lock().expect("script lock")
    }
}

fn code(code: u32) -> pb::ExitStatus {
    pb::ExitStatus { kind: Some(ExitKind::Code(code)), ..Default::default() }
}

fn error(message: &str, reason: &str, from_server: bool) -> pb::ExitStatus {
    pb::ExitStatus {
        kind: Some(ExitKind::Error(message.into())),
        reason: reason.into(),
        from_server,
    }
}

/// Sends one exec response; false when the client went away.
async fn send(tx: &mpsc::Sender<Result<pb::ExecResponse, Status>>, kind: ExecOut) -> bool {
    tx.send(Ok(pb::ExecResponse { kind: Some(kind) })).await.is_ok()
}

/// The next stdin chunk; `None` at `close_stdin` (or the end of the requests). Resizes are
/// recorded on the way.
async fn next_stdin(requests: &mut Streaming<pb::ExecRequest>, script: &Sessions) -> Option<Bytes> {
    while let Ok(Some(request)) = requests.message().await {
        match request.kind {
            Some(ExecIn::Stdin(data)) => return Some(data),
            Some(ExecIn::Resize(size)) => script.script().resizes.push(size),
            Some(ExecIn::CloseStdin(_) | ExecIn::Start(_)) | None => return None,
        }
    }
    None
}

impl Sessions {
    async fn run(
        &self,
        spec: pb::ProcessSpec,
        mut requests: Streaming<pb::ExecRequest>,
        tx: mpsc::Sender<Result<pb::ExecResponse, Status>>,
    ) {
        let started = pb::ExecStarted {
            pod: spec.target.clone(),
            container: spec.container.clone(),
            protocol: "fake".into(),
        };
        send(&tx, ExecOut::Started(started)).await;
        let command: Vec<&str> = spec.command.iter().map(String::as_str).collect();
        let exit = match (spec.target.as_str(), spec.container.as_str(), &command[..]) {
            ("nopod", ..) => error("pods \"nopod\" not found", "NotFound", true),
            (pod, "nope", _) => {
                error(&format!("container nope is not valid for pod {pod}"), "BadRequest", true)
            }
            (_, _, ["no-such-command"]) => error(
                "Internal error occurred: error executing command in container: failed to exec \
                 in container: failed to start exec: OCI runtime exec failed: exec failed: unable \
                 to start container process: exec: \"no-such-command\": executable file not \
                 found in $PATH: unknown",
                "InternalError",
                false,
            ),
            (_, _, ["cat"]) => {
                while let Some(data) = next_stdin(&mut requests, self).await {
                    send(&tx, ExecOut::Stdout(data)).await;
                }
                code(0)
            }
            (_, _, ["exit", n]) => {
                send(&tx, ExecOut::Stdout(Bytes::from_static(b"out\n"))).await;
                send(&tx, ExecOut::Stderr(Bytes::from_static(b"err\n"))).await;
                code(n.parse().expect("a number"))
            }
            (_, _, ["warn"]) => {
                send(&tx, ExecOut::Warning("stdin EOF cannot be signalled".into())).await;
                code(0)
            }
            (_, _, ["tty"]) => {
                let answer = if spec.tty { "/dev/pts/0\n" } else { "not a tty\n" };
                send(&tx, ExecOut::Stdout(Bytes::from(answer))).await;
                code(u32::from(!spec.tty))
            }
            (_, _, ["test", "-d", path]) => {
                code(u32::from(!self.script().dirs.iter().any(|d| d == path)))
            }
            (_, _, ["tar", .., "-C", dir]) => self.untar(&spec, dir, &mut requests, &tx).await,
            (_, _, ["tar", "cf", "-", path]) => self.tar(path, &tx).await,
            _ => error("the fake does not know this command", "InternalError", false),
        };
        send(&tx, ExecOut::Exit(exit)).await;
    }

    async fn untar(
        &self,
        spec: &pb::ProcessSpec,
        dir: &str,
        requests: &mut Streaming<pb::ExecRequest>,
        tx: &mpsc::Sender<Result<pb::ExecResponse, Status>>,
    ) -> pb::ExitStatus {
        if dir == "/nodir" {
            let text = "tar: /nodir: Cannot open: No such file or directory\n";
            send(tx, ExecOut::Stderr(Bytes::from(text))).await;
            return code(2);
        }
        let mut stdin = Vec::new();
        while let Some(data) = next_stdin(requests, self).await {
            stdin.extend_from_slice(&data);
        }
        self.script().uploads.push((spec.command.clone(), stdin));
        code(0)
    }

    async fn tar(
        &self,
        path: &str,
        tx: &mpsc::Sender<Result<pb::ExecResponse, Status>>,
    ) -> pb::ExitStatus {
        let tar = self.script().downloads.get(path).cloned();
        let Some(mut tar) = tar else {
            let text = format!("tar: {path}: Cannot stat: No such file or directory\n");
            send(tx, ExecOut::Stderr(Bytes::from(text))).await;
            return code(2);
        };
        if path.starts_with('/') {
            let text = "tar: Removing leading `/' from member names\n";
            send(tx, ExecOut::Stderr(Bytes::from(text))).await;
        }
        // GNU tar pads to 10 KiB records: the padding goes past the end-of-archive blocks.
        tar.resize(tar.len().div_ceil(10_240) * 10_240 + 10_240, 0);
        for chunk in tar.chunks(10_000) {
            if !send(tx, ExecOut::Stdout(Bytes::copy_from_slice(chunk))).await {
                break;
            }
        }
        code(0)
    }

    fn find(&self, id: &str) -> Result<pb::Session, Status> {
        let script = self.script();
        let session = script.sessions.iter().find(|s| s.id == id).cloned();
        session.ok_or_else(|| Status::not_found(format!("session {id} not found")))
    }
}

fn contains(data: &[u8], needle: &[u8]) -> bool {
    data.windows(needle.len()).any(|w| w == needle)
}

fn attach_out(kind: attach_response::Kind) -> Result<pb::AttachResponse, Status> {
    Ok(pb::AttachResponse { kind: Some(kind) })
}

#[tonic::async_trait]
impl SessionService for Sessions {
    type ExecStream = Out<pb::ExecResponse>;

    async fn exec(&self, request: Request<Streaming<pb::ExecRequest>>) -> Reply<Self::ExecStream> {
        let mut requests = request.into_inner();
        let spec = match requests.message().await? {
            Some(pb::ExecRequest { kind: Some(ExecIn::Start(spec)) }) => spec,
            _ => return Err(Status::invalid_argument("the first request must be start")),
        };
        self.script().started.push(spec.clone());
        let (tx, mut rx) = mpsc::channel(16);
        let service = self.clone();
        tokio::spawn(async move { service.run(spec, requests, tx).await });
        Ok(Response::new(Box::pin(stream::poll_fn(move |cx| rx.poll_recv(cx)))))
    }

    async fn create_session(
        &self,
        request: Request<pb::CreateSessionRequest>,
    ) -> Reply<pb::CreateSessionResponse> {
        let request = request.into_inner();
        let mut script = self.script();
        let session = pb::Session {
            id: format!("s{}", script.sessions.len() + 1),
            kind: request.kind,
            pod: "toolbox".into(),
            spec: request.spec,
            phase: pb::SessionPhase::Running.into(),
            restart: request.restart,
            created_unix: 1,
            ..Default::default()
        };
        script.sessions.push(session.clone());
        Ok(Response::new(pb::CreateSessionResponse { session: Some(session) }))
    }

    type AttachSessionStream = Out<pb::AttachResponse>;

    /// Replays `hello\n`, then echoes stdin as output; `bye` ends the session with code 5.
    async fn attach_session(
        &self,
        request: Request<Streaming<pb::AttachRequest>>,
    ) -> Reply<Self::AttachSessionStream> {
        let mut requests = request.into_inner();
        let id = match requests.message().await? {
            Some(pb::AttachRequest { kind: Some(attach_request::Kind::Open(open)) }) => {
                open.session
            }
            _ => return Err(Status::invalid_argument("the first request must be open")),
        };
        let session = self.find(&id)?;
        let (tx, mut rx) = mpsc::channel(16);
        let service = self.clone();
        tokio::spawn(async move {
            use attach_response::Kind as K;
            let output = |data: &[u8]| {
                K::Output(pb::Output { data: Bytes::copy_from_slice(data), stderr: false })
            };
            for kind in [K::Session(session.clone()), output(b"hello\n"), K::ReplayDone(true)] {
                let _ = tx.send(attach_out(kind)).await;
            }
            while let Ok(Some(request)) = requests.message().await {
                match request.kind {
                    Some(attach_request::Kind::Stdin(data)) if contains(&data, b"bye") => {
                        let _ = tx.send(attach_out(output(&data))).await;
                        let mut ended = session.clone();
                        ended.phase = pb::SessionPhase::Exited.into();
                        ended.exit = Some(code(5));
                        service.script().sessions.retain(|s| s.id != id);
                        service.script().sessions.push(ended.clone());
                        let _ = tx.send(attach_out(K::Changed(ended))).await;
                        return;
                    }
                    Some(attach_request::Kind::Stdin(data)) => {
                        let _ = tx.send(attach_out(output(&data))).await;
                    }
                    Some(attach_request::Kind::Detach(_)) => return,
                    _ => {}
                }
            }
        });
        Ok(Response::new(Box::pin(stream::poll_fn(move |cx| rx.poll_recv(cx)))))
    }

    async fn list_sessions(
        &self,
        _: Request<pb::ListSessionsRequest>,
    ) -> Reply<pb::ListSessionsResponse> {
        Ok(Response::new(pb::ListSessionsResponse { sessions: self.script().sessions.clone() }))
    }

    async fn get_session(
        &self,
        request: Request<pb::GetSessionRequest>,
    ) -> Reply<pb::GetSessionResponse> {
        let session = self.find(&request.into_inner().id)?;
        Ok(Response::new(pb::GetSessionResponse { session: Some(session) }))
    }

    async fn kill_session(
        &self,
        request: Request<pb::KillSessionRequest>,
    ) -> Reply<pb::KillSessionResponse> {
        let mut session = self.find(&request.into_inner().id)?;
        session.phase = pb::SessionPhase::Killed.into();
        self.script().sessions.retain(|s| s.id != session.id);
        Ok(Response::new(pb::KillSessionResponse { session: Some(session) }))
    }
}
