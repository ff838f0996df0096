//! The local socket the API is served on: a 0700 folder, a 0600 socket, one daemon at a time
//! (held by a lock file), stale sockets of crashed daemons reclaimed, and peers of another user
//! refused.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::tokio::{Listener as LocalListener, Stream as LocalStream};
use interprocess::local_socket::{GenericFilePath, ListenerOptions};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Errors setting up the socket.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The folder could not be prepared.
    #[error("failed to prepare the socket folder")]
    Folder(#[from] tether_proto::paths::PathError),
    /// Another daemon holds the lock.
    #[error("failed to start: another tetherd already serves {0}; use `tether daemon status`")]
    AlreadyRunning(PathBuf),
    /// The lock file or socket could not be created.
    #[error("failed to {action} {path}")]
    Io {
        /// What.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The bound socket and the lock that makes it ours.
#[derive(Debug)]
pub struct Listener {
    inner: LocalListener,
    path: PathBuf,
    _lock: nix::fcntl::Flock<File>,
}

impl Listener {
    /// Binds `path`: prepares its folder, takes the lock, removes a stale socket, binds 0600.
    ///
    /// # Errors
    /// Another daemon runs, or the files cannot be created.
    pub fn bind(path: &Path) -> Result<Self, SocketError> {
        use std::os::unix::fs::PermissionsExt as _;
        let io = |action: &'static str, p: &Path| {
            let path = p.to_owned();
            move |source| SocketError::Io { action, path, source }
        };
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        tether_proto::paths::socket_dir(dir)?;
        let lock_path = path.with_extension("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("open the lock file", &lock_path))?;
        let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
            .map_err(|_| SocketError::AlreadyRunning(path.to_owned()))?;
        // We hold the lock, so a socket file left here belongs to a daemon that died.
        if path.exists() {
            tracing::info!(socket = %path.display(), "reclaiming a stale socket");
            std::fs::remove_file(path).map_err(io("remove the stale socket", path))?;
        }
        let name = path.to_fs_name::<GenericFilePath>().map_err(io("name the socket", path))?;
        let inner = ListenerOptions::new()
            .name(name)
            .create_tokio()
            .map_err(io("bind the socket", path))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(io("secure the socket", path))?;
        Ok(Self { inner, path: path.to_owned(), _lock: lock })
    }

    /// The socket path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next connection from a peer of our own user; others are refused and logged.
    ///
    /// # Errors
    /// When accepting fails.
    pub async fn accept(&self) -> std::io::Result<Peer> {
        let me = nix::unistd::getuid().as_raw();
        loop {
            let stream = self.inner.accept().await?;
            match stream.peer_creds().map(|c| c.euid()) {
                Ok(Some(uid)) if uid == me => return Ok(Peer(stream)),
                other => {
                    tracing::warn!(peer_uid = ?other.ok().flatten(), "refused a connection from another user")
                }
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _gone = std::fs::remove_file(&self.path);
    }
}

/// An accepted connection of our own user.
#[derive(Debug)]
pub struct Peer(LocalStream);

impl tonic::transport::server::Connected for Peer {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for Peer {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Peer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
