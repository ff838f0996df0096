//! The transport-independent part of exec and attach: starting (or joining) the process,
//! reading its output, feeding its input, and deciding the exit status.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tether_wire::channel::{ExitOutcome, Status, Version};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{Kind, Session};
use crate::runtime::{Container, Input, Output, SpawnError};

/// A process an exec or attach session is connected to.
pub(crate) struct Running {
    input: Option<mpsc::Sender<Input>>,
    output: Source,
    exit: Exit,
    /// When an attach client closed its stdin: the session ends once the output goes quiet.
    attach_eof: Option<tokio::time::Instant>,
}

/// After an attach client's stdin ends, output is still relayed until it pauses this long.
const ATTACH_QUIET: Duration = Duration::from_millis(300);
/// ... but no longer than this.
const ATTACH_LINGER: Duration = Duration::from_secs(5);

enum Source {
    Exec(mpsc::Receiver<Output>),
    Attach(broadcast::Receiver<Output>),
    Done,
}

enum Exit {
    /// The exec'd process group and its exit code, once known.
    Exec { pgid: i32, code: oneshot::Receiver<u8>, known: Option<u8> },
    /// The attached main process, by the group it had when joined.
    Attach { container: Arc<Container>, pgid: i32 },
}

/// Why a session could not start: a status to report on the error channel.
pub(crate) fn internal_error(message: &str) -> Status {
    let mut status =
        Status::failure("InternalError", format!("Internal error occurred: {message}"), 500);
    status.details = Some(tether_wire::channel::StatusDetails {
        causes: vec![tether_wire::channel::StatusCause {
            message: message.to_owned(),
            ..Default::default()
        }],
        ..Default::default()
    });
    status
}

/// What the API server's v5 translator reports for an error from the kubelet's side: its SPDY
/// client turns the kubelet's Status into an error, and the translator wraps that in an
/// InternalError of its own (`apierrors.NewInternalError(err)` in `streamtranslator.go`), so a
/// kubelet InternalError reads "Internal error occurred: Internal error occurred: ...".
pub(crate) fn translated(kubelet: &Status) -> Status {
    internal_error(&kubelet.message)
}

/// Starts the exec process or joins the attached container.
pub(crate) fn start(session: &Session) -> Result<Running, Box<Status>> {
    let pod = &session.pod;
    let container = pod.container(&session.opts.container).cloned().ok_or_else(|| {
        Box::new(internal_error(&format!("container {} not found", session.opts.container)))
    })?;
    match session.kind {
        Kind::Attach => {
            let pgid = container.pgid.load(Ordering::SeqCst);
            if pgid == 0 {
                return Err(Box::new(internal_error("container is not running")));
            }
            let (output, input) = container.attach();
            // kubectl does not check `stdin: true`; input for a container without it is dropped.
            let input = input.filter(|_| container.spec.stdin);
            Ok(Running {
                input,
                output: Source::Attach(output),
                exit: Exit::Attach { container, pgid },
                attach_eof: None,
            })
        }
        _ => {
            let cluster = &session.ctx.cluster;
            let tracker = &cluster.tracker;
            let spawned = cluster
                .runtime
                .exec(pod, &container, &session.opts.command, session.opts.tty, session.opts.stdin, tracker)
                                .map_err(|e| Box::new(match e {
                    SpawnError::NotFound(_) => internal_error(&format!(
                        "error executing command in container: failed to exec in container: failed to start exec: \
                         OCI runtime exec failed: exec failed: unable to start container process: {e}: unknown"
                    )),
                                        other => internal_error(&format!("error executing command in container: {other}")),
                }))?;
            let (code_tx, code_rx) = oneshot::channel();
            let pgid = spawned.pgid;
            let mut child = spawned.child;
            let cl = cluster.clone();
            tracker.spawn(async move {
                let code = child.wait().await.map(crate::runtime::exit_code).unwrap_or(1);
                cl.runtime.reaped(pgid);
                let _gone = code_tx.send(code);
            });
            Ok(Running {
                input: Some(spawned.input_tx),
                output: Source::Exec(spawned.output_rx),
                exit: Exit::Exec { pgid, code: code_rx, known: None },
                attach_eof: None,
            })
        }
    }
}

/// Input on its way to the process. Connections queue what they read here and hand it over as
/// the process takes it, so reading the connection never waits for a process that is slow to
/// read stdin while its output still has to go out (the kubelet copies each stream in a
/// goroutine of its own; one loop doing both deadlocks on `cat` of a large input).
pub(crate) struct Feed {
    tx: Option<mpsc::Sender<Input>>,
    queue: std::collections::VecDeque<Input>,
}

impl Feed {
    /// Whether input is waiting; read no more from the connection until it is handed over.
    pub(crate) fn busy(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Hands the oldest waiting input to the process once it has room.
    pub(crate) async fn hand_over(&mut self) {
        let Some(tx) = &self.tx else {
            self.queue.clear();
            return;
        };
        let gone = match tx.reserve().await {
            Ok(permit) => {
                if let Some(input) = self.queue.pop_front() {
                    permit.send(input);
                }
                false
            }
            Err(_) => true,
        };
        if gone {
            self.queue.clear();
            self.tx = None;
        }
    }
}

impl Running {
    /// The queue for this process's input (taken once).
    pub(crate) fn feed(&mut self) -> Feed {
        Feed { tx: self.input.take(), queue: std::collections::VecDeque::new() }
    }

    /// Queues input for the process; dropped silently when it has no stdin. For attach, the end
    /// of the client's stdin ends the session (the container keeps running).
    pub(crate) fn accept(&mut self, feed: &mut Feed, input: Input) {
        if matches!(input, Input::Eof) && matches!(self.exit, Exit::Attach { .. }) {
            self.attach_eof.get_or_insert_with(tokio::time::Instant::now);
            return;
        }
        if feed.tx.is_some() {
            feed.queue.push_back(input);
        }
    }

    /// The next output, or `None` once the process has finished and all output was read.
    pub(crate) async fn output(&mut self) -> Option<Output> {
        loop {
            match &mut self.output {
                Source::Exec(rx) => match self.exit {
                    Exit::Exec { known: Some(_), .. } => {
                        // After exit, give stragglers (a grandchild holding the pipe) a moment.
                        match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
                            Ok(Some(out)) => return Some(out),
                            _ => self.output = Source::Done,
                        }
                    }
                    Exit::Exec { ref mut code, ref mut known, .. } => {
                        let mut output_closed = false;
                        tokio::select! {
                            out = rx.recv() => match out {
                                Some(out) => return Some(out),
                                None => output_closed = true,
                            },
                            c = &mut *code => *known = Some(c.unwrap_or(1)),
                        }
                        if output_closed {
                            *known = Some((&mut *code).await.unwrap_or(1));
                            self.output = Source::Done;
                        }
                    }
                    Exit::Attach { .. } => self.output = Source::Done,
                },
                Source::Attach(rx) => {
                    let Exit::Attach { container, pgid } = &self.exit else { return None };
                    if let Some(eof) = self.attach_eof {
                        let quiet = tokio::time::timeout(ATTACH_QUIET, rx.recv()).await;
                        match quiet {
                            Ok(Ok(out)) if eof.elapsed() < ATTACH_LINGER => return Some(out),
                            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                            _ => self.output = Source::Done,
                        }
                        continue;
                    }
                    tokio::select! {
                        out = rx.recv() => match out {
                            Ok(out) => return Some(out),
                            Err(broadcast::error::RecvError::Lagged(n)) => tracing::debug!(skipped = n, "attach lagged"),
                            Err(broadcast::error::RecvError::Closed) => self.output = Source::Done,
                        },
                        () = tokio::time::sleep(Duration::from_millis(200)) => {
                            if container.pgid.load(Ordering::SeqCst) != *pgid {
                                self.output = Source::Done;
                            }
                        }
                    }
                }
                Source::Done => return None,
            }
        }
    }

    /// How the process ended; call after [`Running::output`] returned `None`.
    pub(crate) async fn outcome(&mut self) -> ExitOutcome {
        match &mut self.exit {
            Exit::Exec { code, known, .. } => {
                let code = match known {
                    Some(c) => *c,
                    None => code.await.unwrap_or(1),
                };
                if code == 0 { ExitOutcome::Success } else { ExitOutcome::ExitCode(code) }
            }
            Exit::Attach { .. } => ExitOutcome::Success,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A client that goes away takes its exec process with it.
        if let Exit::Exec { pgid, known: None, .. } = self.exit {
            crate::runtime::signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// The status to write on the error channel for `outcome`, per protocol version: v4 and later
/// always write JSON; older versions write text only on failure.
pub(crate) fn status_bytes(version: Version, outcome: &ExitOutcome) -> Option<Vec<u8>> {
    let status = match outcome {
        ExitOutcome::Success => Status::success(),
        ExitOutcome::ExitCode(code) => Status::exit_code(*code),
        ExitOutcome::Error { reason, message, code } => Status::failure(
            reason.as_deref().unwrap_or("InternalError"),
            message.clone(),
            code.unwrap_or(500),
        ),
    };
    status_for(version, &status)
}

/// Serialises `status` for `version` (None: nothing to write).
pub(crate) fn status_for(version: Version, status: &Status) -> Option<Vec<u8>> {
    if version.has_json_status() {
        Some(status.to_json())
    } else if status.status == "Success" {
        None
    } else {
        Some(status.message.clone().into_bytes())
    }
}
