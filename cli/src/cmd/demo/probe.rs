//! One HTTP request through the demo's forward.
//!
//! The answer is read up to its `Content-Length` rather than to the end of the connection: a
//! pod's close reaches the client through the kubelet only once both directions have ended (or
//! after containerd's one-second grace), so waiting for it would add a second to every request.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// `GET /` at `address`; the pod name that answered and how long it took.
pub async fn get(address: &str, timeout: Duration) -> anyhow::Result<(String, Duration)> {
    let started = Instant::now();
    let exchange = async {
        let mut tcp = tokio::net::TcpStream::connect(address).await.context("connect")?;
        tcp.set_nodelay(true)?;
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n").await?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = tcp.read(&mut buf).await?;
            anyhow::ensure!(n > 0, "the connection closed before a whole answer");
            raw.extend_from_slice(&buf[..n]);
            if let Some(body) = tether_cli::http::complete(&raw)? {
                return anyhow::Ok(body);
            }
        }
    };
    let body = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("timed out after {timeout:?}"))??;
    Ok((body, started.elapsed()))
}
