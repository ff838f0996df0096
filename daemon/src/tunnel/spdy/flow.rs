//! What lets a SPDY tunnel's session task read and write without one waiting on the other: a
//! stream whose reader's queue is full (the tunnel pauses reading for it, with a deadline), the
//! write of one batch in flight, and optional deadlines (a FIN held for its error stream, a
//! probe on demand).

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use tether_wire::spdy::StreamId;
use tokio::time::Instant;

use super::super::queue::Room;
use super::super::transport::Writer;

/// A full stream that paused the tunnel: what did not fit, and until when it may wait.
pub(super) struct Stall {
    pub(super) data: StreamId,
    pub(super) chunk: Bytes,
    pub(super) fin: bool,
    pub(super) room: Room,
    pub(super) until: Instant,
}

/// Resolves to whether the stalled reader took data in time; never, when nothing is stalled.
pub(super) async fn room_or_deadline(stall: Option<(Room, Instant)>) -> bool {
    match stall {
        Some((room, until)) => tokio::time::timeout_at(until, room.wait()).await.is_ok(),
        None => std::future::pending().await,
    }
}

/// Resolves at `until`; never, without one.
pub(super) async fn at(until: Option<Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}

/// A write of one batch in flight, polled by the session's loop beside the reading (a server
/// slow to take our bytes never stops us reading its bytes, nor the reverse: one loop doing
/// both in turn deadlocks when a paused stream and a pod echoing its input wait on each
/// other). Polled in place, not handed to another task: a round trip costs no extra wake-up.
pub(super) type Writing = Pin<Box<dyn Future<Output = (Writer, std::io::Result<()>)> + Send>>;

/// Where the writing half is: idle, or carrying a batch.
pub(super) enum WriteState {
    Idle(Writer),
    Busy(Writing),
    Gone,
}

/// Resolves when the batch in flight is written; never, when none is.
pub(super) async fn written(state: &mut WriteState) -> (Writer, std::io::Result<()>) {
    match state {
        WriteState::Busy(w) => w.await,
        WriteState::Idle(_) | WriteState::Gone => std::future::pending().await,
    }
}

impl WriteState {
    /// Starts writing everything in `pending` when the writer is idle (taking it); false,
    /// leaving `pending` as it is, while a batch is still in flight.
    pub(super) fn start(&mut self, pending: &mut Vec<Bytes>) -> bool {
        if !matches!(self, Self::Idle(_)) {
            return false;
        }
        let Self::Idle(mut writer) = std::mem::replace(self, Self::Gone) else { return false };
        let mut batch = std::mem::take(pending);
        *self = Self::Busy(Box::pin(async move {
            let result = writer.send(&mut batch).await;
            (writer, result)
        }));
        true
    }

    /// Ends the transport: the batch in flight, then `last` (a GOAWAY), then the close.
    pub(super) async fn finish(self, mut last: Vec<Bytes>) {
        let writer = match self {
            Self::Idle(w) => Some(w),
            Self::Busy(w) => match w.await {
                (w, Ok(())) => Some(w),
                (_, Err(_)) => None,
            },
            Self::Gone => None,
        };
        if let Some(mut w) = writer
            && w.send(&mut last).await.is_ok()
        {
            w.close().await;
        }
    }
}
