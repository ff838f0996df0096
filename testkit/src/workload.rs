//! Built-in workloads that fixtures run as pod processes, so no external programs are needed.
//!
//! - `http`: HTTP/1.1; `GET /` answers the pod's name, `GET /bytes/N` N bytes of a fixed
//!   pattern, `POST /echo` the request body.
//! - `echo`: every byte back, half-close passed on.
//! - `sink`: reads to EOF, then answers `<bytes> <sha256 hex>\n`.
//! - `source`: writes `--bytes` of the pattern, then closes.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Which workload to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// HTTP server answering with the pod name.
    Http,
    /// TCP echo.
    Echo,
    /// Reads everything, answers with the byte count and SHA-256.
    Sink,
    /// Writes a fixed number of pattern bytes.
    Source,
}

/// The byte at `offset` of the pattern `source` and `/bytes/N` produce.
#[must_use]
pub fn pattern_byte(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// Fills `buf` with the pattern starting at `offset`.
pub fn fill_pattern(buf: &mut [u8], offset: u64) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern_byte(offset + i as u64);
    }
}

/// Serves `workload` on 127.0.0.1:`port`; on SIGTERM stops accepting and exits once the
/// connections in flight are done.
///
/// # Errors
/// Fails if the port cannot be bound.
pub async fn run(workload: Workload, port: u16, bytes: u64) -> std::io::Result<()> {
    // Die with the testkit even when it is killed without a chance to stop its pods.
    #[cfg(target_os = "linux")]
    let _best_effort = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let name: &'static str =
        Box::leak(std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown".into()).into_boxed_str());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            // Like a well-behaved server: stop accepting, finish what is in flight, then exit
            // (the kubelet's SIGKILL after the grace period bounds the wait).
            _ = term.recv() => break,
        };
        let _nodelay = tcp.set_nodelay(true);
        connections.spawn(async move {
            let result = match workload {
                Workload::Http => http(tcp, name).await,
                Workload::Echo => echo(tcp).await,
                Workload::Sink => sink(tcp).await,
                Workload::Source => source(tcp, bytes).await,
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "workload connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

async fn echo(tcp: TcpStream) -> std::io::Result<()> {
    let (mut r, mut w) = tcp.into_split();
    tokio::io::copy(&mut r, &mut w).await?;
    w.shutdown().await
}

async fn sink(mut tcp: TcpStream) -> std::io::Result<()> {
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tcp.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    tcp.write_all(format!("{total} {hex}\n").as_bytes()).await?;
    tcp.shutdown().await
}

async fn source(mut tcp: TcpStream, bytes: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; 251 * 256];
    fill_pattern(&mut buf, 0);
    let mut sent = 0u64;
    while sent < bytes {
        let n = usize::try_from((bytes - sent).min(buf.len() as u64)).unwrap_or(buf.len());
        // The buffer is a whole number of pattern periods, so every write starts at offset 0.
        tcp.write_all(&buf[..n]).await?;
        sent += n as u64;
    }
    tcp.shutdown().await
}

async fn http(tcp: TcpStream, name: &'static str) -> std::io::Result<()> {
    let service = service_fn(move |req| answer(req, name));
    // Answer requests whose client half-closed after sending them, as most servers do.
    http1::Builder::new()
        .half_close(true)
        .serve_connection(TokioIo::new(tcp), service)
        .await
        .map_err(std::io::Error::other)
}

async fn answer(req: Request<Incoming>, name: &str) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let reply = |code: StatusCode, body: Bytes| {
        let mut resp = Response::new(Full::new(body));
        *resp.status_mut() = code;
        Ok(resp)
    };
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/") => reply(StatusCode::OK, Bytes::from(format!("{name}\n"))),
        (Method::GET, p) if p.starts_with("/bytes/") => match p["/bytes/".len()..].parse::<usize>()
        {
            Ok(n) if n <= 1 << 30 => {
                let mut body = vec![0u8; n];
                fill_pattern(&mut body, 0);
                reply(StatusCode::OK, Bytes::from(body))
            }
            _ => reply(StatusCode::BAD_REQUEST, Bytes::from_static(b"bad size\n")),
        },
        (Method::POST, "/echo") => match req.into_body().collect().await {
            Ok(body) => reply(StatusCode::OK, body.to_bytes()),
            Err(_) => reply(StatusCode::BAD_REQUEST, Bytes::new()),
        },
        _ => reply(StatusCode::NOT_FOUND, Bytes::from_static(b"not found\n")),
    }
}
