//! Remote commands over raw SPDY/3.1, the client side of spec §5: one stream per channel
//! (`error`, `stdin`, `stdout`, `stderr`, `resize`), opened at once; stdin EOF is a FIN; the
//! process has ended when the error stream ends (the kubelet writes the status, finishes the
//! output streams, then resets the rest).

use std::collections::HashMap;

use bytes::Bytes;
use tether_wire::channel::Version;
use tether_wire::spdy::{Event, HeaderBlock, HeaderCompression, Role, Session, StreamId};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::{Ending, Input, Output, Process, QUEUE, Request};
use crate::tunnel::Liveness;
use crate::tunnel::transport::{BoxIo, Reader, Transport, Writer};

/// The streams of one remote command.
#[derive(Debug, Default)]
struct Streams {
    error: StreamId,
    stdin: Option<StreamId>,
    resize: Option<StreamId>,
    kinds: HashMap<StreamId, &'static str>,
}

/// Starts the process's task on an upgraded SPDY connection speaking `version`.
pub(crate) fn start(
    io: BoxIo,
    version: Version,
    request: &Request,
    liveness: Liveness,
    cancel: &CancellationToken,
    tracker: &TaskTracker,
) -> Result<Process, String> {
    let (input, input_rx) = mpsc::channel(QUEUE);
    let (output_tx, output) = mpsc::channel(QUEUE);
    let mut spdy = Session::with_header_compression(Role::Client, HeaderCompression::Stored);
    let mut streams = Streams::default();
    let mut open = |kind: &'static str, spdy: &mut Session| -> Result<StreamId, String> {
        let id = spdy
            .open_stream(&HeaderBlock::from_pairs([("streamtype", kind)]), false)
            .map_err(|e| e.to_string())?;
        streams.kinds.insert(id, kind);
        Ok(id)
    };
    streams.error = open("error", &mut spdy)?;
    if request.stdin {
        streams.stdin = Some(open("stdin", &mut spdy)?);
    }
    open("stdout", &mut spdy)?;
    if !request.tty {
        open("stderr", &mut spdy)?;
    }
    if request.tty && version.has_resize() {
        streams.resize = Some(open("resize", &mut spdy)?);
    }
    if let (Some(resize), Some(size)) = (streams.resize, request.size) {
        let _queued = spdy.send_data(resize, Bytes::from(size.encode()), false);
    }
    let task = Task { spdy, version, streams, output_tx, status: Vec::new(), liveness };
    let span = tracing::debug_span!("exec", pod = %request.pod, protocol = "spdy");
    tracker.spawn(task.run(io, input_rx, cancel.clone()).instrument(span));
    Ok(Process { input, output, protocol: "spdy" })
}

struct Task {
    spdy: Session,
    version: Version,
    streams: Streams,
    output_tx: mpsc::Sender<Output>,
    status: Vec<u8>,
    liveness: Liveness,
}

/// Chunks of frames written at once, at most this many batches queued for the writer.
const BATCHES: usize = 8;

/// Writes what the session produces. It runs next to the reading loop, so a server that is
/// slow to take stdin never stops the output from being read (one loop doing both deadlocks
/// on a `cat` of a large input).
async fn write(mut wr: Writer, mut batches: mpsc::Receiver<Vec<Bytes>>) -> std::io::Result<()> {
    while let Some(mut batch) = batches.recv().await {
        wr.send(&mut batch).await?;
    }
    wr.close().await;
    Ok(())
}

impl Task {
    async fn run(
        mut self,
        io: BoxIo,
        mut input_rx: mpsc::Receiver<Input>,
        cancel: CancellationToken,
    ) {
        let (rd, wr) = Transport::raw(io).split();
        let (batch_tx, batch_rx) = mpsc::channel(BATCHES);
        let writer = write(wr, batch_rx);
        tokio::pin!(writer);
        let ending = tokio::select! {
            ending = self.serve(rd, &batch_tx, &mut input_rx) => ending,
            written = &mut writer => Some(Ending::Lost(match written {
                Ok(()) => "the connection dropped".into(),
                Err(e) => format!("the connection dropped: {e}"),
            })),
            () = cancel.cancelled() => Some(Ending::Lost("the daemon is shutting down".into())),
        };
        if let Some(ending) = ending {
            let _gone = self.output_tx.send(Output::End(ending)).await;
        }
        self.spdy.go_away(0);
        let mut last = Vec::new();
        while let Some(chunk) = self.spdy.poll_transmit() {
            last.push(chunk);
        }
        let _queued = batch_tx.try_send(last);
        drop(batch_tx);
        let _flushed = tokio::time::timeout(std::time::Duration::from_secs(1), writer).await;
    }

    /// Runs until the process ends; `None` when the client went away first.
    async fn serve(
        &mut self,
        mut rd: Reader,
        batch_tx: &mpsc::Sender<Vec<Bytes>>,
        input_rx: &mut mpsc::Receiver<Input>,
    ) -> Option<Ending> {
        let mut ping = tokio::time::interval(self.liveness.interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_pong = Instant::now();
        let mut pending: Vec<Bytes> = Vec::new();
        loop {
            while let Some(chunk) = self.spdy.poll_transmit() {
                pending.push(chunk);
            }
            tokio::select! {
                permit = batch_tx.reserve(), if !pending.is_empty() => match permit {
                    Ok(permit) => permit.send(std::mem::take(&mut pending)),
                    Err(_) => return Some(Ending::Lost("the connection dropped".into())),
                },
                received = rd.recv() => match received {
                    Ok(None) => return Some(Ending::Lost("the connection dropped".into())),
                    Ok(Some(bytes)) => {
                        self.spdy.receive(bytes);
                        match self.events(&mut last_pong).await {
                            Ok(None) => {}
                            Ok(Some(ending)) | Err(ending) => return Some(ending),
                        }
                    }
                    Err(e) => return Some(Ending::Lost(format!("the connection dropped: {e}"))),
                },
                // Input waits while the writer is behind: backpressure on the client.
                input = input_rx.recv(), if pending.len() < QUEUE => match input {
                    Some(Input::Stdin(bytes)) => if let Some(id) = self.streams.stdin {
                        let _closed = self.spdy.send_data(id, bytes, false);
                    },
                    Some(Input::CloseStdin) => if let Some(id) = self.streams.stdin {
                        let _closed = self.spdy.finish(id);
                    },
                    Some(Input::Resize(size)) => if let Some(id) = self.streams.resize {
                        let _closed = self.spdy.send_data(id, Bytes::from(size.encode()), false);
                    },
                    None => return None,
                },
                _ = ping.tick() => {
                    if last_pong.elapsed() > self.liveness.deadline {
                        return Some(Ending::Lost(format!("no answer to pings for {:?}", last_pong.elapsed())));
                    }
                    self.spdy.ping();
                }
            }
        }
    }

    /// Handles decoded events; `Some` once the process has ended, `Err` when the session broke.
    async fn events(&mut self, last_pong: &mut Instant) -> Result<Option<Ending>, Ending> {
        loop {
            let event = match self.spdy.poll_event() {
                Ok(Some(e)) => e,
                Ok(None) if self.spdy.is_closed() => return Err(self.ended_without_status()),
                Ok(None) => return Ok(None),
                Err(e) => return Err(Ending::Lost(format!("protocol error: {e}"))),
            };
            match event {
                Event::Data { stream_id, data, fin } => {
                    let kind = self.streams.kinds.get(&stream_id).copied();
                    let out = match kind {
                        Some("stdout") if !data.is_empty() => Some(Output::Stdout(data)),
                        Some("stderr") if !data.is_empty() => Some(Output::Stderr(data)),
                        Some("error") => {
                            self.status.extend_from_slice(&data);
                            if fin {
                                return Ok(Some(self.outcome()));
                            }
                            None
                        }
                        _ => None,
                    };
                    if let Some(out) = out {
                        self.output_tx
                            .send(out)
                            .await
                            .map_err(|_| Ending::Lost("the client went away".into()))?;
                    }
                }
                Event::Reset { stream_id, .. } if stream_id == self.streams.error => {
                    return Ok(Some(self.outcome()));
                }
                Event::Pong { .. } => *last_pong = Instant::now(),
                Event::GoAway { .. } => return Ok(Some(self.ended_without_status())),
                _ => {}
            }
        }
    }

    fn outcome(&self) -> Ending {
        super::exited(self.version, &self.status)
    }

    fn ended_without_status(&self) -> Ending {
        if self.status.is_empty() {
            Ending::Lost("the server ended the session without a status".into())
        } else {
            self.outcome()
        }
    }
}
