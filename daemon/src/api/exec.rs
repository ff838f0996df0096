//! `Exec`: a one-shot command with its I/O streamed to the caller, like `kubectl exec`.
//!
//! The process lives exactly as long as the call: when the caller goes away, the connection to
//! the cluster is closed, which ends the process as kubectl's exit would.

use tether_proto::pb::{self, exec_request, exec_response};
use tokio::sync::mpsc;
use tonic::{Status, Streaming};

use super::forwards::{ReplyStream, stream_of};
use super::{ApiState, session_convert as convert};
use crate::exec::{Ending, Input, Output, Process};
use crate::session::{Kind, runner};

fn reply(kind: exec_response::Kind) -> Result<pb::ExecResponse, Status> {
    Ok(pb::ExecResponse { kind: Some(kind) })
}

pub(super) async fn exec(
    state: &ApiState,
    mut input: Streaming<pb::ExecRequest>,
) -> Result<ReplyStream<pb::ExecResponse>, Status> {
    let first = input.message().await?.and_then(|m| m.kind);
    let Some(exec_request::Kind::Start(spec)) = first else {
        return Err(Status::invalid_argument("start: the first message must be start"));
    };
    let spec = convert::process_spec(Some(spec), Kind::Exec, "start")?;
    let (tx, rx) = mpsc::channel(crate::exec::QUEUE);
    let factory = state.factory.clone();
    let cancel = state.shutdown.clone();
    let stdin = spec.stdin;
    state.tracker.spawn(async move {
        let started = tokio::select! {
            s = runner::start(factory.as_ref(), &spec) => s,
            () = tx.closed() => return,
            () = cancel.cancelled() => return,
        };
        let started = match started {
            Ok(s) => s,
            Err(e) => {
                let _gone =
                    tx.send(reply(exec_response::Kind::Exit(convert::start_failure(&e)))).await;
                return;
            }
        };
        let hello = pb::ExecStarted {
            pod: started.pod,
            container: started.container,
            protocol: started.process.protocol.to_owned(),
        };
        if tx.send(reply(exec_response::Kind::Started(hello))).await.is_err() {
            return;
        }
        tokio::select! {
                        () = pump(started.process, input, stdin, &tx) => {}
            () = cancel.cancelled() => {
                let _gone = tx.send(Err(Status::unavailable("the daemon is shutting down"))).await;
            }
        }
    });
    Ok(stream_of(rx))
}

/// Moves the caller's input to the process and its output back, until the process ends or
/// the caller goes away.
async fn pump(
    mut process: Process,
    mut input: Streaming<pb::ExecRequest>,
    stdin: bool,
    tx: &mpsc::Sender<Result<pb::ExecResponse, Status>>,
) {
    let mut reading = true;
    loop {
        tokio::select! {
            out = process.output.recv() => {
                let kind = match out {
                    Some(Output::Stdout(b)) => exec_response::Kind::Stdout(b),
                    Some(Output::Stderr(b)) => exec_response::Kind::Stderr(b),
                    Some(Output::Warning(w)) => exec_response::Kind::Warning(w),
                    Some(Output::End(Ending::Exited(o))) => exec_response::Kind::Exit(convert::outcome(&o)),
                    Some(Output::End(Ending::Lost(why))) => {
                        let _gone = tx.send(Err(Status::unavailable(format!(
                            "failed to keep the connection to the cluster: {why}; the command's outcome is unknown"
                        )))).await;
                        return;
                    }
                    None => return,
                };
                let last = matches!(kind, exec_response::Kind::Exit(_));
                if tx.send(reply(kind)).await.is_err() || last {
                    return;
                }
            }
            msg = input.message(), if reading => {
                let forwarded = match msg {
                    Ok(Some(pb::ExecRequest { kind: Some(exec_request::Kind::Stdin(b)) })) => Input::Stdin(b),
                    Ok(Some(pb::ExecRequest { kind: Some(exec_request::Kind::CloseStdin(true)) })) => Input::CloseStdin,
                    Ok(Some(pb::ExecRequest { kind: Some(exec_request::Kind::Resize(s)) })) => {
                        match convert::size("resize", &s) {
                            Ok(size) => Input::Resize(size),
                            Err(status) => {
                                let _gone = tx.send(Err(status)).await;
                                return;
                            }
                        }
                    }
                    Ok(Some(_)) => continue,
                                        // The caller sends no more but still reads: the end of its stdin.
                    Ok(None) if stdin => {
                        reading = false;
                        Input::CloseStdin
                    }
                    Ok(None) => {
                        reading = false;
                        continue;
                    }
                    // The caller went away: dropping the process closes the connection.
                    Err(_) => return,
                };
                if process.input.send(forwarded).await.is_err() {
                    reading = false;
                }
            }
            () = tx.closed() => return,
        }
    }
}
