//! `AttachSession`: replays a session's kept output, then streams it live, and passes the
//! client's input on. A client that reads too slowly skips ahead and is told by how much; it
//! never slows the session or the other clients down. Leaving never stops the session.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tether_proto::pb::{self, attach_request, attach_response::Kind as Out};
use tokio::sync::{broadcast, mpsc};
use tonic::{Status, Streaming};

use super::forwards::{ReplyStream, stream_of};
use super::sessions::send;
use super::{ApiState, session_convert as convert};
use crate::exec::Input;
use crate::session::runner::Live;
use crate::session::scrollback::{Piece, Update};

/// Counts an attached client for as long as it lives.
struct Attached(Arc<Live>);

impl Drop for Attached {
    fn drop(&mut self) {
        self.0.attached.fetch_sub(1, Ordering::Relaxed);
    }
}

fn output(p: Piece) -> Out {
    Out::Output(pb::Output { data: p.data, stderr: p.stderr })
}

pub(super) fn attach(
    state: &ApiState,
    live: Arc<Live>,
    input: Streaming<pb::AttachRequest>,
    no_replay: bool,
) -> ReplyStream<pb::AttachResponse> {
    let (tx, rx) = mpsc::channel(64);
    let (past, total, updates) = live.scrollback.join();
    live.attached.fetch_add(1, Ordering::Relaxed);
    let guard = Attached(live.clone());
    let shutdown = state.shutdown.clone();
    state.tracker.spawn(async move {
        let _guard = guard;
        let snapshot = live.summary();
        if !send(&tx, Out::Session(convert::session(&snapshot, live.attached.load(Ordering::Relaxed)))).await {
            return;
        }
        if !no_replay {
            for piece in past {
                if !send(&tx, output(piece)).await {
                    return;
                }
            }
        }
        if !send(&tx, Out::ReplayDone(true)).await {
            return;
        }
        let mut client = Client { live, tx, updates, next: total };
        if snapshot.phase.ended() {
            return client.drain().await;
        }
        tokio::select! {
            () = client.serve(input) => {}
            () = shutdown.cancelled() => {
                let _gone = client.tx.send(Err(Status::unavailable("the daemon is shutting down; the session is kept"))).await;
            }
        }
    });
    stream_of(rx)
}

struct Client {
    live: Arc<Live>,
    tx: mpsc::Sender<Result<pb::AttachResponse, Status>>,
    updates: broadcast::Receiver<Update>,
    /// The offset of the next byte this client should see.
    next: u64,
}

impl Client {
    /// Sends a live piece, saying first how much was skipped if the client lagged.
    async fn piece(&mut self, piece: Piece) -> bool {
        if piece.offset > self.next && !send(&self.tx, Out::Lagged(piece.offset - self.next)).await
        {
            return false;
        }
        self.next = piece.offset + piece.data.len() as u64;
        send(&self.tx, output(piece)).await
    }

    /// Sends what is queued already, for a session that has ended.
    async fn drain(&mut self) {
        while let Ok(update) = self.updates.try_recv() {
            if let Update::Output(piece) = update
                && !self.piece(piece).await
            {
                return;
            }
        }
    }

    async fn serve(&mut self, mut input: Streaming<pb::AttachRequest>) {
        let mut reading = true;
        loop {
            tokio::select! {
                update = self.updates.recv() => match update {
                    Ok(Update::Output(piece)) => if !self.piece(piece).await { return },
                    Ok(Update::Changed) => {
                        let record = self.live.summary();
                        let attached = self.live.attached.load(Ordering::Relaxed);
                        if !send(&self.tx, Out::Changed(convert::session(&record, attached))).await || record.phase.ended() {
                            return;
                        }
                    }
                    // The next piece's offset shows the gap.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                msg = input.message(), if reading => {
                                        let forwarded = match msg.map(|m| m.map(|m| m.kind)) {
                        Ok(Some(Some(attach_request::Kind::Stdin(b)))) => Input::Stdin(b),
                        Ok(Some(Some(attach_request::Kind::Resize(s)))) => match convert::size("resize", &s) {
                            Ok(size) => Input::Resize(size),
                            Err(status) => {
                                let _gone = self.tx.send(Err(status)).await;
                                return;
                            }
                        },
                                                Ok(Some(Some(attach_request::Kind::Detach(true)))) | Err(_) => return,
                        Ok(Some(_)) => continue,
                        Ok(None) => {
                            reading = false;
                            continue;
                        }
                    };
                    // A session that has ended takes no input; its end arrives as an update.
                    let _ended = self.live.input_tx.send(forwarded).await;
                }
                () = self.tx.closed() => return,
            }
        }
    }
}
