//! Local stdin, read on a thread of its own: a blocking read must not hold up the runtime, nor
//! its shutdown when the remote command ends while a terminal still waits for a key.

use std::io::{self, Read};

use bytes::Bytes;
use tokio::sync::mpsc;

/// The most bytes one read takes, and so the largest `stdin` message.
pub const CHUNK: usize = 32 * 1024;
/// Chunks read ahead of the sender (at most 256 KiB).
const AHEAD: usize = 8;

/// Starts reading stdin until EOF; the channel closes at EOF (or on a read error).
///
/// # Errors
/// The thread could not be started.
pub fn spawn() -> io::Result<mpsc::Receiver<Bytes>> {
    spawn_reader(io::stdin())
}

/// Starts reading `reader` on a thread, chunk by chunk, until EOF or an error.
///
/// # Errors
/// The thread could not be started.
pub fn spawn_reader(mut reader: impl Read + Send + 'static) -> io::Result<mpsc::Receiver<Bytes>> {
    // stdin's reader thread sends each chunk read to the sender of stdin messages.
    let (chunk_tx, chunk_rx) = mpsc::channel(AHEAD);
    std::thread::Builder::new().name("stdin".into()).spawn(move || {
        let mut buf = vec![0; CHUNK];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            if chunk_tx.blocking_send(Bytes::copy_from_slice(&buf[..n])).is_err() {
                return;
            }
        }
    })?;
    Ok(chunk_rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_arrive_in_order_then_the_channel_closes() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut rx = spawn_reader(io::Cursor::new(data.clone())).expect("spawn");
        let mut got = Vec::new();
        while let Some(chunk) = rx.recv().await {
            assert!(chunk.len() <= CHUNK);
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, data);
    }
}
