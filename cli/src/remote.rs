//! A command in a container through tetherd's `Exec` stream: start it, feed it input, and read
//! its output and its end. `tether exec` and `tether cp` both run on this.

use bytes::Bytes;
use futures_util::stream;
use tether_proto::client::Client;
use tether_proto::pb;
use tether_proto::pb::exec_request::Kind as In;
use tether_proto::pb::exec_response::Kind as Out;
use tokio::sync::mpsc;
use tonic::Code;

use crate::args::KubeFlags;
use crate::error::{Exit, Failure};

pub mod outcome;
pub mod stdin;
pub mod terminal;

/// Requests queued for the stream; the transport takes them as the daemon reads.
const REQUESTS: usize = 8;

/// Sends input to the process; cheap to clone. Each method answers whether the stream still
/// takes requests.
#[derive(Debug, Clone)]
pub struct Input {
    /// To the request stream of the call.
    request_tx: mpsc::Sender<pb::ExecRequest>,
}

impl Input {
    async fn send(&self, kind: In) -> bool {
        self.request_tx.send(pb::ExecRequest { kind: Some(kind) }).await.is_ok()
    }

    /// Bytes for the process's stdin.
    pub async fn stdin(&self, data: Bytes) -> bool {
        self.send(In::Stdin(data)).await
    }

    /// No more stdin.
    pub async fn close_stdin(&self) -> bool {
        self.send(In::CloseStdin(true)).await
    }

    /// The terminal's new size.
    pub async fn resize(&self, size: pb::TerminalSize) -> bool {
        self.send(In::Resize(size)).await
    }
}

/// Sends `chunks` as the process's stdin, then `close_stdin` when they end.
pub async fn pump_stdin(input: Input, mut chunks: mpsc::Receiver<Bytes>) {
    while let Some(data) = chunks.recv().await {
        if !input.stdin(data).await {
            return;
        }
    }
    input.close_stdin().await;
}

/// What the process did.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Bytes on its stdout (everything, with a TTY).
    Stdout(Bytes),
    /// Bytes on its stderr.
    Stderr(Bytes),
    /// Something the user should know.
    Warning(String),
    /// How it ended; nothing follows.
    Exit(pb::ExitStatus),
}

/// A started process.
#[derive(Debug)]
pub struct Process {
    /// Its input. The stream stays open while this or a clone lives; dropping the [`Process`]
    /// ends the call.
    pub input: Input,
    /// Its output.
    output: tonic::Streaming<pb::ExecResponse>,
}

/// The process spec for `target` with the flags given; the kubeconfig list is made absolute,
/// since the daemon does not share our current folder.
///
/// # Errors
/// A kubeconfig path that cannot be made absolute or is not UTF-8.
pub fn spec(
    target: &str,
    container: Option<&str>,
    kube: &KubeFlags,
    command: Vec<String>,
) -> anyhow::Result<pb::ProcessSpec> {
    Ok(pb::ProcessSpec {
        target: target.to_owned(),
        namespace: kube.namespace.clone().unwrap_or_default(),
        context: kube.context.clone().unwrap_or_default(),
        kubeconfig: crate::cmd::kubeconfig(kube.kubeconfig.clone())?,
        container: container.unwrap_or_default().to_owned(),
        command,
        ..Default::default()
    })
}

/// Starts `spec` through the daemon.
///
/// # Errors
/// A [`Failure`] when the daemon refuses the call.
pub async fn start(client: &mut Client, spec: pb::ProcessSpec) -> anyhow::Result<Process> {
    let (request_tx, mut request_rx) = mpsc::channel(REQUESTS);
    let target = spec.target.clone();
    let input = Input { request_tx };
    input.send(In::Start(spec)).await;
    let requests = stream::poll_fn(move |cx| request_rx.poll_recv(cx));
    let output = client
        .sessions
        .exec(requests)
        .await
        .map_err(|status| rpc_failure(&format!("exec in {target}"), &status))?
        .into_inner();
    Ok(Process { input, output })
}

impl Process {
    /// The next thing the process did; [`Event::Exit`] is the last. Cancel-safe.
    ///
    /// # Errors
    /// A [`Failure`] when the stream fails or ends before the exit status.
    pub async fn next(&mut self) -> anyhow::Result<Event> {
        loop {
            let message = self.output.message().await;
            let kind = match message {
                Ok(Some(response)) => response.kind,
                Ok(None) => {
                    let message = "tetherd ended the exec stream without the command's exit \
                                   status; see `tether daemon logs`";
                    return Err(Failure::new(Exit::Error, message).into());
                }
                Err(status) => return Err(rpc_failure("exec", &status).into()),
            };
            return Ok(match kind {
                Some(Out::Stdout(data)) => Event::Stdout(data),
                Some(Out::Stderr(data)) => Event::Stderr(data),
                Some(Out::Warning(text)) => Event::Warning(text),
                Some(Out::Exit(exit)) => Event::Exit(exit),
                Some(Out::Started(_)) | None => continue,
            });
        }
    }
}

/// A failed Exec call, with advice that fits remote commands.
#[must_use]
pub fn rpc_failure(action: &str, status: &tonic::Status) -> Failure {
    let hint = match status.code() {
        Code::NotFound => Some("check the target with `kubectl get pods`".to_owned()),
        Code::InvalidArgument => Some("see `tether exec --help`".to_owned()),
        _ => None,
    };
    Failure::rpc(action, status, hint)
}
