//! A local reader slower than the pod: its download completes (the tunnel pauses for it instead
//! of dropping it), a reader that takes nothing is reset after the stall limit, and the other
//! connections on the same tunnel are served in both cases.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use tether_proto::pb;
use tether_testsupport::until_async;

use crate::harness::{Options, World, echo_exact, payload};

/// Sends `data` through the echo forward and reads it back in 64 KiB pieces with `pause`
/// between them: a consumer slower than the network, as a client writing to a slow disk is.
fn slow_echo(port: u16, data: Vec<u8>, pause: Duration) -> std::io::Result<Vec<u8>> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = tcp.try_clone()?;
    let len = data.len();
    let w = std::thread::spawn(move || writer.write_all(&data));
    let mut back = vec![0u8; len];
    for piece in back.chunks_mut(64 * 1024) {
        tcp.read_exact(piece)?;
        std::thread::sleep(pause);
    }
    w.join().map_err(|_| std::io::Error::other("writer panicked"))??;
    Ok(back)
}

/// Small echoes on fresh connections until `until`; how many succeeded, and the first error.
fn keep_echoing(port: u16, until: Instant) -> (usize, Option<String>) {
    let mut ok = 0;
    while Instant::now() < until {
        match echo_exact(port, b"ping through the same tunnel") {
            Ok(back) if back == b"ping through the same tunnel" => ok += 1,
            Ok(back) => return (ok, Some(format!("wrong echo: {back:?}"))),
            Err(e) => return (ok, Some(e.to_string())),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (ok, None)
}

/// What the daemon said about the forward's connections and tunnels, for failure messages.
async fn events(w: &mut World) -> tonic::Streaming<pb::Event> {
    let req = pb::WatchEventsRequest { names: vec!["echo".into()] };
    w.client.forwards.watch_events(req).await.expect("events").into_inner()
}

/// Every event received so far, as lines.
async fn drain(stream: &mut tonic::Streaming<pb::Event>) -> String {
    let mut lines = Vec::new();
    while let Ok(Ok(Some(e))) =
        tokio::time::timeout(Duration::from_millis(200), stream.message()).await
    {
        lines.push(format!("{:?}", e.kind));
    }
    lines.join("\n")
}

/// Waits for [`keep_echoing`]: every echo succeeded, and at least one ran.
async fn all_served(
    others: tokio::task::JoinHandle<(usize, Option<String>)>,
    log: &mut tonic::Streaming<pb::Event>,
) {
    let (ok, error) = tokio::time::timeout(Duration::from_secs(60), others)
        .await
        .expect("the other connections end within a minute")
        .expect("task");
    if error.is_some() || ok == 0 {
        panic!("other connections fail: {error:?} ({ok} succeeded); events:\n{}", drain(log).await);
    }
}

/// How long the forward's bytes from the pod stay put before its one connection counts as stuck.
const QUIET: Duration = Duration::from_millis(500);

/// Waits until the forward's one connection takes nothing more from the pod: open, with bytes
/// from the pod that have not grown for [`QUIET`] (its reader's buffers are full, and the tunnel
/// holds its stream), or already cut by the stall limit.
async fn wait_stuck(w: &mut World) {
    let mut last = (0, tokio::time::Instant::now());
    until_async(Duration::from_secs(20), "the stuck reader's buffers are full", async || {
        let stats = w.get("echo").await.stats.expect("stats");
        let now = tokio::time::Instant::now();
        if stats.bytes_in != last.0 {
            last = (stats.bytes_in, now);
        }
        let held = stats.connections_active == 1 && stats.bytes_in > 0 && now - last.1 >= QUIET;
        let cut = stats.connections_total >= 1 && stats.connections_active == 0;
        if held || cut { Ok(()) } else { Err(stats) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_gets_every_byte_and_others_are_still_served() {
    let mut w = World::start("slow-reader", Options::default()).await;
    let port = w.forward("echo", "svc/echo", &[":70"]).await;
    let mut log = events(&mut w).await;
    // 24 MiB read at about 13 MB/s: far more than the 4 MiB stream buffer, so the tunnel
    // pauses again and again; before the pause policy this connection was reset.
    let data = payload(7, 24 << 20);
    let sent = Sha256::digest(&data);
    let slow = tokio::task::spawn_blocking(move || slow_echo(port, data, Duration::from_millis(5)));
    let others = tokio::task::spawn_blocking(move || {
        keep_echoing(port, Instant::now() + Duration::from_secs(2))
    });
    let back = tokio::time::timeout(Duration::from_secs(60), slow)
        .await
        .expect("the slow download ends within a minute")
        .expect("task");
    let back = match back {
        Ok(b) => b,
        Err(e) => panic!("the slow reader was cut ({e}); events:\n{}", drain(&mut log).await),
    };
    assert_eq!(Sha256::digest(&back), sent, "every byte, in order");
    all_served(others, &mut log).await;
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_takes_nothing_is_reset_and_the_tunnel_goes_on() {
    let mut w = World::start("stuck-reader", Options::default()).await;
    let port = w.forward("echo", "svc/echo", &[":70"]).await;
    let mut log = events(&mut w).await;
    let stuck = tokio::task::spawn_blocking(move || -> std::io::Result<(usize, bool)> {
        let mut tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
        tcp.set_write_timeout(Some(Duration::from_secs(30)))?;
        // Writes until the echo comes back faster than it is read: nothing is read for 6 s,
        // three times the stall limit.
        let data = payload(9, 32 << 20);
        let mut writer = tcp.try_clone()?;
        let w = std::thread::spawn(move || writer.write_all(&data).is_ok());
        std::thread::sleep(Duration::from_secs(6));
        let mut got = Vec::new();
        // Cut means EOF or a reset; a read timeout would mean the connection was left hanging.
        let cut = match tcp.read_to_end(&mut got) {
            Ok(_) => true,
            Err(e) => {
                !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
            }
        };
        let _wrote_all = w.join();
        Ok((got.len(), cut))
    });
    // Once the stuck reader has filled its buffers and the tunnel holds its stream, check that
    // the tunnel serves others again once the limit has reset the stuck connection.
    wait_stuck(&mut w).await;
    let others = tokio::task::spawn_blocking(move || {
        keep_echoing(port, Instant::now() + Duration::from_secs(5))
    });
    all_served(others, &mut log).await;
    let (got, cut) = tokio::time::timeout(Duration::from_secs(60), stuck)
        .await
        .expect("the stuck reader ends within a minute")
        .expect("task")
        .expect("connect");
    assert!(got < 32 << 20 && cut, "the stuck connection was cut: got {got} bytes");
    assert_eq!(w.get("echo").await.status.expect("status").phase(), pb::Phase::Ready);
    w.shutdown().await;
}
