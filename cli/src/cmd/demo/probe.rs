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
            if let Some(body) = complete(&raw)? {
                return anyhow::Ok(body);
            }
        }
    };
    let body = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("timed out after {timeout:?}"))??;
    Ok((body, started.elapsed()))
}

/// The body once the head and `Content-Length` bytes are in.
fn complete(raw: &[u8]) -> anyhow::Result<Option<String>> {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { return Ok(None) };
    let head = String::from_utf8_lossy(&raw[..end]);
    anyhow::ensure!(
        head.starts_with("HTTP/1.1 200"),
        "unexpected answer {:?}",
        head.lines().next().unwrap_or_default()
    );
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .context("the answer has no Content-Length")?;
    let body = &raw[end + 4..];
    Ok((body.len() >= length).then(|| String::from_utf8_lossy(&body[..length]).trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_complete_at_their_content_length() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n";
        assert_eq!(complete(head).expect("ok"), None);
        let mut full = head.to_vec();
        full.extend_from_slice(b"web\n");
        assert_eq!(complete(&full).expect("ok").as_deref(), Some("web"));
        assert!(complete(b"HTTP/1.1 500 Oops\r\n\r\n").is_err());
    }
}
