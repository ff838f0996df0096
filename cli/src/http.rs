//! The end of an HTTP/1.1 answer read off a raw connection: complete once its head and
//! `Content-Length` bytes are in, without waiting for the close (`tether demo`'s requests, and
//! xtask's check of a socket-activated tetherd, read only that far).

use anyhow::Context as _;

/// The body (trimmed), once the head and `Content-Length` bytes are in `raw`; `None` while
/// more is to come.
///
/// # Errors
/// The answer is not `HTTP/1.1 200`, or its head has no `Content-Length`.
pub fn complete(raw: &[u8]) -> anyhow::Result<Option<String>> {
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
