//! Driving exec and sessions through the API: one-shot exec with its output collected, and
//! attached clients that read replay and live output with deadlines.

use std::time::Duration;

use bytes::Bytes;
use tether_proto::client::Client;
use tether_proto::pb::{self, attach_request, attach_response, exec_request, exec_response};
use tether_testsupport::until_async;
use tokio::sync::mpsc;

/// A request stream fed by a bounded channel.
fn requests<T: Send + 'static>(
    rx: mpsc::Receiver<T>,
) -> std::pin::Pin<Box<dyn futures_util::Stream<Item = T> + Send>> {
    Box::pin(futures_util::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
    ))
}

/// What a one-shot exec produced.
#[derive(Debug, Default)]
pub struct ExecResult {
    pub started: Option<pb::ExecStarted>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub warnings: Vec<String>,
    pub exit: Option<pb::ExitStatus>,
}

impl ExecResult {
    pub fn code(&self) -> Option<u32> {
        match self.exit.as_ref()?.kind.as_ref()? {
            pb::exit_status::Kind::Code(c) => Some(*c),
            pb::exit_status::Kind::Error(_) => None,
        }
    }

    pub fn error(&self) -> Option<(&str, &str, bool)> {
        let exit = self.exit.as_ref()?;
        match exit.kind.as_ref()? {
            pb::exit_status::Kind::Error(m) => {
                Some((m.as_str(), exit.reason.as_str(), exit.from_server))
            }
            pb::exit_status::Kind::Code(_) => None,
        }
    }
}

/// A process spec for `target` in the world's cluster.
pub fn process(
    cluster: &tether_testkit::TestCluster,
    target: &str,
    command: &[&str],
) -> pb::ProcessSpec {
    pb::ProcessSpec {
        target: target.into(),
        namespace: "default".into(),
        kubeconfig: cluster.kubeconfig().display().to_string(),
        command: command.iter().map(|c| (*c).to_owned()).collect(),
        ..pb::ProcessSpec::default()
    }
}

/// Runs a one-shot exec, sending `stdin` (then its end) if given; fails the test after 60 s.
pub async fn exec(
    client: &mut Client,
    mut spec: pb::ProcessSpec,
    stdin: Option<Vec<u8>>,
) -> ExecResult {
    spec.stdin = stdin.is_some();
    let (tx, rx) = mpsc::channel(16);
    tx.send(pb::ExecRequest { kind: Some(exec_request::Kind::Start(spec)) })
        .await
        .expect("queue start");
    let writer = tokio::spawn(async move {
        if let Some(data) = stdin {
            for chunk in data.chunks(64 * 1024) {
                let msg = pb::ExecRequest {
                    kind: Some(exec_request::Kind::Stdin(Bytes::copy_from_slice(chunk))),
                };
                if tx.send(msg).await.is_err() {
                    return;
                }
            }
            let _gone =
                tx.send(pb::ExecRequest { kind: Some(exec_request::Kind::CloseStdin(true)) }).await;
        }
        // Keep the request stream open until the call ends.
        tx.closed().await;
    });
    let run = async {
        let mut replies = client.sessions.exec(requests(rx)).await.expect("exec call").into_inner();
        let mut out = ExecResult::default();
        while let Some(msg) = replies.message().await.expect("exec stream") {
            match msg.kind.expect("a reply kind") {
                exec_response::Kind::Started(s) => out.started = Some(s),
                exec_response::Kind::Stdout(b) => out.stdout.extend_from_slice(&b),
                exec_response::Kind::Stderr(b) => out.stderr.extend_from_slice(&b),
                exec_response::Kind::Warning(w) => out.warnings.push(w),
                exec_response::Kind::Exit(e) => out.exit = Some(e),
            }
        }
        out
    };
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("exec finished within 60 s");
    writer.abort();
    out
}

/// Creates a session and returns it as the daemon answered (after it started or failed).
pub async fn create(
    client: &mut Client,
    spec: pb::ProcessSpec,
    kind: pb::SessionKind,
    restart: pb::RestartPolicy,
) -> pb::Session {
    let req = pb::CreateSessionRequest {
        spec: Some(spec),
        kind: kind as i32,
        restart: restart as i32,
        scrollback_bytes: 0,
    };
    client
        .sessions
        .create_session(req)
        .await
        .expect("create session")
        .into_inner()
        .session
        .expect("session")
}

pub async fn get(client: &mut Client, id: &str) -> pb::Session {
    let req = pb::GetSessionRequest { id: id.into() };
    client
        .sessions
        .get_session(req)
        .await
        .expect("get session")
        .into_inner()
        .session
        .expect("session")
}

/// Polls a session until `want` holds; fails the test after `timeout`.
pub async fn wait_session(
    client: &mut Client,
    id: &str,
    timeout: Duration,
    want: impl Fn(&pb::Session) -> bool,
) -> pb::Session {
    let what = format!("session {id} reaches the wanted state");
    until_async(timeout, &what, async || {
        let s = get(client, id).await;
        if want(&s) { Ok(s) } else { Err(s) }
    })
    .await
}

/// One client attached to a session.
pub struct Attached {
    tx: mpsc::Sender<pb::AttachRequest>,
    replies: tonic::Streaming<pb::AttachResponse>,
    /// The session as it was when joined.
    pub joined: pb::Session,
    /// The replayed output.
    pub replay: Vec<u8>,
    /// Live output read so far.
    pub live: Vec<u8>,
    /// Bytes skipped because this client lagged.
    pub lagged: u64,
    /// Phase changes seen.
    pub changes: Vec<pb::Session>,
    /// Whether the daemon ended the stream.
    pub ended: bool,
}

impl Attached {
    /// Joins session `id` and reads its replay.
    pub async fn open(client: &mut Client, id: &str) -> Self {
        let (tx, rx) = mpsc::channel(16);
        let open = pb::AttachOpen { session: id.into(), no_replay: false };
        tx.send(pb::AttachRequest { kind: Some(attach_request::Kind::Open(open)) })
            .await
            .expect("queue open");
        let mut replies =
            client.sessions.attach_session(requests(rx)).await.expect("attach call").into_inner();
        let first = replies.message().await.expect("attach stream").expect("a first reply");
        let Some(attach_response::Kind::Session(joined)) = first.kind else {
            panic!("the first reply is the session: {first:?}")
        };
        let mut me = Self {
            tx,
            replies,
            joined,
            replay: Vec::new(),
            live: Vec::new(),
            lagged: 0,
            changes: Vec::new(),
            ended: false,
        };
        let read_replay = async {
            loop {
                let msg =
                    me.replies.message().await.expect("attach stream").expect("replay then done");
                match msg.kind.expect("kind") {
                    attach_response::Kind::Output(o) => me.replay.extend_from_slice(&o.data),
                    attach_response::Kind::ReplayDone(_) => return,
                    other => panic!("unexpected during replay: {other:?}"),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), read_replay)
            .await
            .expect("replay within 30 s");
        me
    }

    pub async fn send(&self, kind: attach_request::Kind) {
        self.tx.send(pb::AttachRequest { kind: Some(kind) }).await.expect("send to the session");
    }

    pub async fn type_line(&self, line: &str) {
        self.send(attach_request::Kind::Stdin(Bytes::from(format!("{line}\n")))).await;
    }

    /// Reads one reply; `false` when the stream ended.
    pub async fn step(&mut self) -> bool {
        match self.replies.message().await.expect("attach stream") {
            None => {
                self.ended = true;
                false
            }
            Some(msg) => {
                match msg.kind.expect("kind") {
                    attach_response::Kind::Output(o) => self.live.extend_from_slice(&o.data),
                    attach_response::Kind::Lagged(n) => self.lagged += n,
                    attach_response::Kind::Changed(s) => self.changes.push(s),
                    other => panic!("unexpected live reply: {other:?}"),
                }
                true
            }
        }
    }

    /// Reads until the live output contains `needle`; fails the test after `timeout`.
    pub async fn read_until(&mut self, needle: &str, timeout: Duration) {
        let wait = async {
            while !String::from_utf8_lossy(&self.live).contains(needle) {
                assert!(
                    self.step().await,
                    "the stream ended before {needle:?}: {:?}",
                    String::from_utf8_lossy(&self.live)
                );
            }
        };
        if tokio::time::timeout(timeout, wait).await.is_err() {
            panic!(
                "no {needle:?} within {timeout:?}; live output: {:?}",
                String::from_utf8_lossy(&self.live)
            );
        }
    }

    /// Reads until the daemon ends the stream; fails the test after `timeout`.
    pub async fn read_to_end(&mut self, timeout: Duration) {
        let wait = async { while self.step().await {} };
        tokio::time::timeout(timeout, wait).await.expect("the stream ended in time");
    }
}
