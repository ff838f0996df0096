//! The local side of a forward: accept loops, and one task per connection that waits for a
//! tunnel (up to `hold`), relays, and replays a connection that was never delivered.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::super::events::{Event, EventKind, now_ms};
use super::super::relay::relay;
use super::super::state::Desired;
use super::{Active, Context, Shared};

/// How many times a connection is replayed on another pod or tunnel before it fails.
const REPLAYS: u32 = 3;
/// The first pause after an accept error; it doubles up to [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Accepts local connections; each is served by its own task.
pub(super) async fn accept_loop(
    ctx: Context,
    fwd: Arc<Shared>,
    listener: Arc<TcpListener>,
    index: usize,
    active_rx: watch::Receiver<Option<Active>>,
    desired_rx: watch::Receiver<Desired>,
    cancel: CancellationToken,
) {
    let mut next_id = 0u64;
    let mut backoff = ACCEPT_BACKOFF;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = cancel.cancelled() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => {
                backoff = ACCEPT_BACKOFF;
                a
            }
            Err(e) => {
                // Out of descriptors, most likely: pause rather than spin.
                tracing::warn!(error = %e, "failed to accept a local connection");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = cancel.cancelled() => return,
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        if *desired_rx.borrow() == Desired::Paused {
            // The port stays reserved while paused; connections are refused politely.
            drop(tcp);
            continue;
        }
        next_id += 1;
        let conn =
            Conn { ctx: ctx.clone(), fwd: fwd.clone(), index, id: next_id, peer: peer.to_string() };
        let span = tracing::debug_span!("conn", forward = %fwd.spec.name, id = next_id);
        ctx.tracker.spawn(conn.serve(tcp, active_rx.clone(), cancel.clone()).instrument(span));
    }
}

struct Conn {
    ctx: Context,
    fwd: Arc<Shared>,
    index: usize,
    id: u64,
    peer: String,
}

impl Conn {
    fn emit(&self, kind: EventKind) {
        let event = Event { time_ms: now_ms(), forward: self.fwd.spec.name.clone(), kind };
        let _receivers = self.ctx.events_tx.send(event);
    }

    /// The current tunnel, waiting for one up to `deadline`; `None` after it or on cancel.
    async fn tunnel(
        &self,
        active_rx: &mut watch::Receiver<Option<Active>>,
        deadline: Instant,
        avoid: Option<&str>,
    ) -> Option<Active> {
        loop {
            let current = active_rx.borrow_and_update().clone();
            if let Some(a) = current
                && !a.tunnel.dead().is_cancelled()
                && avoid.is_none_or(|pod| pod != a.pod)
            {
                return Some(a);
            }
            if tokio::time::timeout_at(deadline, active_rx.changed()).await.is_err() {
                return None;
            }
        }
    }

    async fn serve(
        self,
        mut tcp: TcpStream,
        mut active_rx: watch::Receiver<Option<Active>>,
        cancel: CancellationToken,
    ) {
        let _nodelay = tcp.set_nodelay(true);
        let counters = &self.fwd.counters;
        counters.connections.fetch_add(1, Ordering::Relaxed);
        counters.active.fetch_add(1, Ordering::Relaxed);
        let deadline = Instant::now() + self.ctx.settings.hold;
        let (mut preface, mut eof, mut avoid) = (Vec::new(), false, None::<String>);
        let mut opened = false;
        let mut result = (0, 0, Some("no tunnel became ready in time".to_owned()));
        for replay in 0..=REPLAYS {
            let hold_until =
                if replay == 0 { deadline } else { Instant::now() + self.ctx.settings.hold };
            let active = tokio::select! {
                a = self.tunnel(&mut active_rx, hold_until, avoid.as_deref()) => a,
                () = cancel.cancelled() => None,
            };
            let Some(active) = active else { break };
            let stream = match active.tunnel.open(active.ports[self.index]).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(error = %e, "tunnel refused a stream; waiting for the next one");
                    avoid = None;
                    continue;
                }
            };
            if !opened {
                opened = true;
                self.emit(EventKind::Opened {
                    id: self.id,
                    peer: self.peer.clone(),
                    pod: active.pod.clone(),
                });
            }
            let outcome = tokio::select! {
                o = relay(&mut tcp, stream, std::mem::take(&mut preface), eof, counters) => o,
                () = cancel.cancelled() => break,
            };
            result = (outcome.bytes_out, outcome.bytes_in, outcome.error.clone());
            match outcome.replay {
                Some((chunks, finished)) if replay < REPLAYS => {
                    tracing::debug!(pod = %active.pod, error = ?outcome.error, "replaying the connection");
                    preface = chunks;
                    eof = finished;
                    // A pod that refused is avoided; after a dead tunnel, a new tunnel to the
                    // same pod will do.
                    avoid = outcome.refused_by_pod.then(|| active.pod.clone());
                }
                _ => break,
            }
        }
        if result.2.is_some() {
            // An abnormal end shows as a reset, not as a clean close the client could trust.
            let _ignored = tcp.set_zero_linger();
        }
        counters.active.fetch_sub(1, Ordering::Relaxed);
        let (bytes_out, bytes_in, error) = result;
        self.emit(EventKind::Closed { id: self.id, bytes_out, bytes_in, error });
    }
}
