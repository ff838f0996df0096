//! The local socket the API is served on: a 0700 folder, a 0600 socket, one daemon at a time
//! (held by a lock file beside the socket), a socket left at the path whose lock nobody holds
//! taken for a crashed daemon's and removed (any other kind of file is refused and left alone),
//! or a listening socket handed over by systemd. Peers of another
//! user are answered PERMISSION_DENIED with the reason ([`OwnUser`]).

mod own_user;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::tokio::{Listener as LocalListener, Stream as LocalStream};
use interprocess::local_socket::{GenericFilePath, ListenerOptions};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub use own_user::{OwnUser, PeerUid};

/// Errors setting up the socket.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The folder could not be prepared.
    #[error("failed to prepare the socket folder")]
    Folder(#[from] tether_proto::paths::PathError),
    /// Another daemon holds the lock.
    #[error("failed to start: another tetherd already serves {0}; use `tether daemon status`")]
    AlreadyRunning(PathBuf),
    /// Something other than a socket is in the way; it is never removed.
    #[error(
        "failed to bind {0}: it exists and is not a socket; move it away or choose another --socket"
    )]
    NotASocket(PathBuf),
    /// The socket path would be taken for a lock file.
    #[error("failed to use {0} as the socket: a socket path must not end in .lock")]
    LockName(PathBuf),
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
    /// We created the socket file, so we remove it when done (never one systemd made).
    owned: bool,
    _lock: nix::fcntl::Flock<File>,
}

/// The lock file of the daemon serving `socket`: `SOCKET.lock`.
#[must_use]
pub fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn io_err(action: &'static str, p: &Path) -> impl FnOnce(std::io::Error) -> SocketError {
    let path = p.to_owned();
    move |source| SocketError::Io { action, path, source }
}

/// Takes the lock for `socket`, or says another daemon serves it.
fn lock(socket: &Path) -> Result<nix::fcntl::Flock<File>, SocketError> {
    if socket.extension().is_some_and(|e| e == "lock") {
        return Err(SocketError::LockName(socket.to_owned()));
    }
    let dir = socket.parent().unwrap_or_else(|| Path::new("."));
    tether_proto::paths::socket_dir(dir)?;
    let lock_path = lock_path(socket);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err("open the lock file", &lock_path))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .map_err(|_| SocketError::AlreadyRunning(socket.to_owned()))
}

impl Listener {
    /// Binds `path`: prepares its folder, takes the lock, removes a stale socket (only a
    /// socket), binds with mode 0600 from the start.
    ///
    /// # Errors
    /// Another daemon runs, something else is at the path, or the files cannot be created.
    pub fn bind(path: &Path) -> Result<Self, SocketError> {
        use std::os::unix::fs::FileTypeExt as _;
        let lock = lock(path)?;
        // We hold the lock, so a socket left here belongs to a daemon that died.
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                tracing::info!(socket = %path.display(), "reclaiming a stale socket");
                std::fs::remove_file(path).map_err(io_err("remove the stale socket", path))?;
            }
            Ok(_) => return Err(SocketError::NotASocket(path.to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("inspect", path)(e)),
        }
        let name = path.to_fs_name::<GenericFilePath>().map_err(io_err("name the socket", path))?;
        let inner = private_listener(ListenerOptions::new().name(name))
            .map_err(io_err("bind the socket", path))?;
        Ok(Self { inner, path: path.to_owned(), owned: true, _lock: lock })
    }

    /// Serves the listening socket systemd passed (socket activation, `LISTEN_FDS`), for
    /// `path`; `None` when none was passed. The lock is still taken; the socket, which systemd
    /// made, is never removed.
    ///
    /// # Errors
    /// Another daemon runs, or the passed descriptor is not a listening Unix socket.
    pub fn from_systemd(path: &Path) -> Result<Option<Self>, SocketError> {
        let mut fds = listenfd::ListenFd::from_env();
        let Some(std) = fds.take_unix_listener(0).map_err(io_err("take systemd's socket", path))?
        else {
            return Ok(None);
        };
        let lock = lock(path)?;
        let fd = std::os::fd::OwnedFd::from(std);
        let uds = interprocess::os::unix::uds_local_socket::tokio::Listener::try_from(fd)
            .map_err(io_err("serve systemd's socket", path))?;
        Ok(Some(Self { inner: uds.into(), path: path.to_owned(), owned: false, _lock: lock }))
    }

    /// The socket path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next connection, with its peer's uid (another user's requests are refused by
    /// [`OwnUser`], with the reason).
    ///
    /// # Errors
    /// When accepting fails (such as when descriptors run out).
    pub async fn accept(&self) -> std::io::Result<Peer> {
        let stream = self.inner.accept().await?;
        let uid = stream.peer_creds().ok().and_then(|c| c.euid());
        if uid != Some(nix::unistd::getuid().as_raw()) {
            tracing::warn!(peer_uid = ?uid, "a connection from another user: its calls are refused");
        }
        Ok(Peer { stream, uid: PeerUid(uid) })
    }
}

/// Binds with the socket's mode set before `bind()`, so it is never reachable by others.
#[cfg(target_os = "linux")]
fn private_listener(options: ListenerOptions<'_>) -> std::io::Result<LocalListener> {
    use interprocess::os::unix::local_socket::ListenerOptionsExt as _;
    options.mode(0o600).create_tokio()
}

/// Binds under a umask that leaves the socket 0600 (the platform cannot set the mode before
/// `bind()`). The umask is the process's: the daemon binds before anything else it runs
/// creates files.
#[cfg(not(target_os = "linux"))]
fn private_listener(options: ListenerOptions<'_>) -> std::io::Result<LocalListener> {
    use nix::sys::stat::{Mode, umask};
    let before = umask(Mode::from_bits_truncate(0o177));
    let bound = options.create_tokio();
    let _ours = umask(before);
    bound
}

impl Drop for Listener {
    fn drop(&mut self) {
        if self.owned {
            let _gone = std::fs::remove_file(&self.path);
        }
    }
}

/// An accepted connection and its peer's uid.
#[derive(Debug)]
pub struct Peer {
    stream: LocalStream,
    uid: PeerUid,
}

impl tonic::transport::server::Connected for Peer {
    type ConnectInfo = PeerUid;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.uid
    }
}

impl AsyncRead for Peer {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Peer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
