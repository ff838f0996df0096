//! Connecting to tetherd over its local socket, and the version handshake.

use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use interprocess::local_socket::GenericFilePath;
use interprocess::local_socket::tokio::Stream as LocalStream;
use interprocess::local_socket::tokio::prelude::*;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::pb;
use crate::pb::daemon_service_client::DaemonServiceClient;
use crate::pb::forward_service_client::ForwardServiceClient;
use crate::pb::session_service_client::SessionServiceClient;

/// Errors of the client side.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens on the socket.
    #[error(
        "failed to connect to tetherd at {path}: is the daemon running? Start it with `tether daemon start`"
    )]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
    /// The handshake call failed.
    #[error("failed to talk to tetherd at {path}")]
    Rpc {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<tonic::Status>,
    },
    /// Client and daemon speak different API versions.
    #[error(
        "tetherd {daemon_version} at {path} is not compatible with this client ({client_version}): {message}"
    )]
    Incompatible {
        /// The socket.
        path: PathBuf,
        /// The daemon's version.
        daemon_version: String,
        /// Ours.
        client_version: String,
        /// The daemon's advice.
        message: String,
    },
    /// The socket's folder or the socket is not the user's own.
    #[error("failed to trust the daemon's socket")]
    Untrusted(#[from] crate::paths::PathError),
    /// The daemon could not be started.
    #[error("failed to start tetherd ({bin}): {reason}")]
    Start {
        /// The binary tried.
        bin: String,
        /// What went wrong and what to do.
        reason: String,
    },
    /// The lifecycle lock could not be taken.
    #[error("failed to take the daemon lifecycle lock {path}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A handshaken connection to the daemon.
#[derive(Debug, Clone)]
pub struct Client {
    /// Daemon-wide calls.
    pub daemon: DaemonServiceClient<Channel>,
    /// Forward calls.
    pub forwards: ForwardServiceClient<Channel>,
    /// Exec and session calls.
    pub sessions: SessionServiceClient<Channel>,
    /// What the daemon said in the handshake.
    pub handshake: pb::HandshakeResponse,
    /// The socket it came through.
    pub socket: PathBuf,
}

impl Client {
    /// Every forward, by name, following the pages of `ListForwards`.
    ///
    /// # Errors
    /// The status of the first call that fails.
    pub async fn all_forwards(&mut self) -> Result<Vec<pb::Forward>, tonic::Status> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = pb::ListForwardsRequest { page_size: 0, page_token };
            let page = self.forwards.list_forwards(request).await?.into_inner();
            all.extend(page.forwards);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }
}

/// Opens a gRPC channel over the local socket at `path`.
///
/// # Errors
/// [`ClientError::Connect`] when nothing listens there.
pub async fn channel(path: &Path) -> Result<Channel, ClientError> {
    let socket = path.to_owned();
    // The URI is a placeholder: the connector ignores it. The authority is `localhost`, which is
    // what clients of a socket must send (grpcio: `grpc.default_authority`).
    let endpoint = Endpoint::from_static("http://localhost");
    endpoint
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                let name = socket.as_path().to_fs_name::<GenericFilePath>()?;
                let stream = LocalStream::connect(name).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|source| ClientError::Connect { path: path.to_owned(), source })
}

/// Connects to the daemon at `path` and performs the version handshake.
///
/// # Errors
/// Fails when nothing listens, the call fails, or the versions are incompatible.
pub async fn connect(path: &Path, client_name: &str) -> Result<Client, ClientError> {
    crate::paths::check_trusted(path)?;
    let channel = channel(path).await?;
    let mut daemon = DaemonServiceClient::new(channel.clone());
    let request = pb::HandshakeRequest {
        client_version: crate::VERSION.into(),
        api_major: crate::API_MAJOR,
        client_name: client_name.into(),
    };
    let handshake = daemon
        .handshake(request)
        .await
        .map_err(|e| ClientError::Rpc { path: path.to_owned(), source: Box::new(e) })?
        .into_inner();
    if !handshake.compatible || handshake.api_major != crate::API_MAJOR {
        return Err(ClientError::Incompatible {
            path: path.to_owned(),
            daemon_version: handshake.daemon_version,
            client_version: crate::VERSION.into(),
            message: handshake.message,
        });
    }
    Ok(Client {
        daemon,
        forwards: ForwardServiceClient::new(channel.clone()),
        sessions: SessionServiceClient::new(channel),
        handshake,
        socket: path.to_owned(),
    })
}
