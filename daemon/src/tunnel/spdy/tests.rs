//! The SPDY tunnel against a scripted server on an in-memory pipe: how a connection's streams
//! end, in the orders real servers end them.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tether_wire::spdy::{Event, HeaderBlock, Role, RstStatus, Session, StreamId};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ERROR_GRACE, SpdyTunnel};
use crate::tunnel::transport::Transport;
use crate::tunnel::{
    Chunk, EndReason, Health, Liveness, Opener as _, ProbeCause, Protocol, Refusal, RefusalKind,
    TunnelEnd,
};

const REFUSED: &str = "error forwarding port 80 to pod 0b3c, uid : failed to execute portforward \
                       in network namespace \"/var/run/netns/cni-0b3c\": failed to connect to \
                       localhost:80 inside namespace: dial tcp4 127.0.0.1:80: connect: connection refused";

/// What the server does once a connection's two streams are open.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// containerd and the kubelet: the data stream closes, then the error text, then its close.
    RefuseDataFirst,
    /// The error text first, then both streams reset (what the capture's fake server did).
    RefuseErrorFirst,
    /// A pod that accepts and closes at once: both streams end, no text.
    EmptyClose,
    /// The data stream ends and the error stream never does.
    DataCloseOnly,
    /// A byte, then both streams end.
    OneByteThenClose,
    /// A server that stops answering anything once the first connection arrives.
    Blackhole,
}

fn act(spdy: &mut Session, script: Script, data: StreamId, error: StreamId) {
    let text = || Bytes::from_static(REFUSED.as_bytes());
    match script {
        Script::RefuseDataFirst => {
            spdy.finish(data).expect("open");
            spdy.send_data(error, text(), false).expect("open");
            spdy.finish(error).expect("open");
        }
        Script::RefuseErrorFirst => {
            spdy.send_data(error, text(), false).expect("open");
            spdy.reset(data, RstStatus::CANCEL);
            spdy.reset(error, RstStatus::CANCEL);
        }
        Script::EmptyClose => {
            spdy.finish(data).expect("open");
            spdy.finish(error).expect("open");
        }
        Script::DataCloseOnly => spdy.finish(data).expect("open"),
        Script::Blackhole => {}
        Script::OneByteThenClose => {
            spdy.send_data(data, Bytes::from_static(b"x"), false).expect("open");
            spdy.finish(data).expect("open");
            spdy.finish(error).expect("open");
        }
    }
}

/// A kubelet that answers every stream pair with `script`; each frame is written on its own, so
/// the client reads the ending in as many pieces as the server wrote.
async fn server(io: DuplexStream, script: Script) {
    let (mut rd, mut wr) = tokio::io::split(io);
    let mut spdy = Session::new(Role::Server);
    let mut pairs: HashMap<String, (Option<StreamId>, Option<StreamId>)> = HashMap::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let Ok(n @ 1..) = rd.read(&mut buf).await else { return };
        spdy.receive(Bytes::copy_from_slice(&buf[..n]));
        while let Ok(Some(event)) = spdy.poll_event() {
            let Event::StreamOpened { stream_id, headers, .. } = event else { continue };
            if let Script::Blackhole = script {
                // Read on, never write: a half-open connection.
                loop {
                    if !matches!(rd.read(&mut buf).await, Ok(1..)) {
                        return;
                    }
                }
            }
            spdy.reply(stream_id, &HeaderBlock::new(), false).expect("reply");
            let id = headers.get("requestid").unwrap_or_default().to_owned();
            let pair = pairs.entry(id).or_default();
            if headers.get("streamtype") == Some("error") {
                pair.1 = Some(stream_id);
            } else {
                pair.0 = Some(stream_id);
            }
            if let (Some(data), Some(error)) = *pair {
                act(&mut spdy, script, data, error);
            }
        }
        while let Some(bytes) = spdy.poll_transmit() {
            if wr.write_all(&bytes).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
    }
}

fn tunnel(script: Script) -> (SpdyTunnel, CancellationToken) {
    let (client, far) = tokio::io::duplex(1 << 20);
    tokio::spawn(server(far, script));
    let stop = CancellationToken::new();
    let liveness = Liveness::default();
    let tracker = TaskTracker::new();
    let transport = Transport::raw(Box::new(client));
    (SpdyTunnel::start(transport, Protocol::Spdy, liveness, &stop, &tracker), stop)
}

/// Opens one connection and returns how it ended: every chunk, then the queue's error.
async fn ending(script: Script) -> (Vec<Chunk>, Option<EndReason>, Duration) {
    let (tunnel, stop) = tunnel(script);
    let started = Instant::now();
    let mut stream = tunnel.open(80).await.expect("open");
    let mut chunks = Vec::new();
    let read = async {
        // As the relay does: a FIN ends the pod's direction.
        while let Some(chunk) = stream.from_pod.recv().await {
            let fin = chunk == Chunk::Fin;
            chunks.push(chunk);
            if fin {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("the connection ends");
    let elapsed = started.elapsed();
    stop.cancel();
    (chunks, stream.from_pod.error(), elapsed)
}

#[tokio::test(start_paused = true)]
async fn a_refusal_after_the_data_stream_closed_is_a_refusal_not_an_empty_reply() {
    let (chunks, error, _) = ending(Script::RefuseDataFirst).await;
    assert_eq!(chunks, [], "no FIN reaches the local client");
    assert_eq!(error, Some(EndReason::Refused(Refusal::classify(REFUSED.to_owned()))));
    assert!(matches!(error, Some(EndReason::Refused(r)) if r.kind == RefusalKind::PortRefused));
}

#[tokio::test(start_paused = true)]
async fn a_refusal_before_the_resets_is_a_refusal() {
    let (chunks, error, _) = ending(Script::RefuseErrorFirst).await;
    assert_eq!(chunks, []);
    assert!(matches!(error, Some(EndReason::Refused(r)) if r.kind == RefusalKind::PortRefused));
}

#[tokio::test(start_paused = true)]
async fn an_empty_close_is_a_clean_close_as_soon_as_the_error_stream_ends() {
    let (chunks, error, elapsed) = ending(Script::EmptyClose).await;
    assert_eq!(chunks, [Chunk::Fin]);
    assert_eq!(error, None);
    assert!(elapsed < ERROR_GRACE, "not held for the grace: {elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_fin_whose_error_stream_never_ends_is_passed_on_after_the_grace() {
    let (chunks, error, elapsed) = ending(Script::DataCloseOnly).await;
    assert_eq!(chunks, [Chunk::Fin]);
    assert_eq!(error, None);
    assert!(elapsed >= ERROR_GRACE, "held for the grace: {elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_fin_after_data_is_passed_on_at_once() {
    let (chunks, error, elapsed) = ending(Script::OneByteThenClose).await;
    assert_eq!(chunks, [Chunk::Data(Bytes::from_static(b"x")), Chunk::Fin]);
    assert_eq!(error, None);
    assert!(elapsed < ERROR_GRACE, "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_connection_waiting_on_a_silent_tunnel_probes_it_and_is_not_delivered() {
    let (tunnel, stop) = tunnel(Script::Blackhole);
    let mut health = tunnel.health();
    let started = Instant::now();
    let mut stream = tunnel.open(80).await.expect("open");
    stream.to_pod.send(Bytes::from_static(b"GET / HTTP/1.0\r\n\r\n")).await.expect("send");
    let probing =
        tokio::time::timeout(Duration::from_secs(30), health.wait_for(|h| *h != Health::Alive))
            .await
            .expect("in time")
            .expect("health")
            .clone();
    assert!(matches!(probing, Health::Probing { cause: ProbeCause::Demand, .. }), "{probing:?}");
    let quiet = Liveness::default().quiet;
    assert!(started.elapsed() >= quiet, "probed once quiet: {:?}", started.elapsed());
    let ended = tokio::time::timeout(Duration::from_secs(30), stream.from_pod.recv()).await;
    assert_eq!(ended.expect("the stream ends"), None);
    let error = stream.from_pod.error();
    assert!(
        matches!(
            error,
            Some(EndReason::Tunnel {
                end: TunnelEnd::ProbeUnanswered { cause: ProbeCause::Demand, .. },
                acknowledged: false
            })
        ),
        "{error:?}"
    );
    let limit = quiet + Liveness::default().probe_floor + Duration::from_millis(100);
    assert!(started.elapsed() <= limit, "dead within quiet + the probe: {:?}", started.elapsed());
    stop.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_probe_of_a_live_tunnel_is_answered() {
    let (tunnel, stop) = tunnel(Script::OneByteThenClose);
    let mut health = tunnel.health();
    health.mark_unchanged();
    tunnel.probe(ProbeCause::Wake);
    // Probing, then answered within a round trip.
    tokio::time::timeout(Duration::from_secs(5), health.changed())
        .await
        .expect("a change")
        .expect("health");
    let answered = async {
        while tunnel.stats().rtt().is_none() || *health.borrow() != Health::Alive {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), answered).await.expect("answered");
    assert!(!tunnel.dead().is_cancelled(), "alive");
    stop.cancel();
}
