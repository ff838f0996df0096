//! Refusing another user's calls with a reason. The socket is 0600 in a 0700 folder, so only
//! the user (and root) can connect; should anyone else get through (a folder the user shared,
//! root), every call is answered PERMISSION_DENIED saying whose daemon this is, instead of a
//! connection closed without a word ("broken pipe").

use std::task::{Context, Poll};

use futures_util::future::{Either, Ready, ready};
use tonic::Status;

/// The uid of a connection's peer, when the platform tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerUid(pub Option<u32>);

/// The layer: calls from a peer whose uid is not ours get PERMISSION_DENIED.
#[derive(Debug, Clone, Copy)]
pub struct OwnUser {
    me: u32,
}

impl OwnUser {
    /// Admits only this process's user.
    #[must_use]
    pub fn new() -> Self {
        Self { me: nix::unistd::getuid().as_raw() }
    }
}

impl Default for OwnUser {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> tower::Layer<S> for OwnUser {
    type Service = OwnUserService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OwnUserService { inner, me: self.me }
    }
}

/// See [`OwnUser`].
#[derive(Debug, Clone)]
pub struct OwnUserService<S> {
    inner: S,
    me: u32,
}

impl<S, B> tower::Service<http::Request<B>> for OwnUserService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<Self::Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let peer = req.extensions().get::<PeerUid>().copied();
        match peer {
            Some(PeerUid(Some(uid))) if uid == self.me => Either::Left(self.inner.call(req)),
            other => {
                let who =
                    other.and_then(|p| p.0).map_or_else(|| "unknown".to_owned(), |u| u.to_string());
                let status = Status::permission_denied(format!(
                    "failed to serve this call: this tetherd belongs to uid {}, and the caller is \
                     uid {who}; every user runs a daemon of their own (set TETHER_SOCKET to yours)",
                    self.me
                ));
                Either::Right(ready(Ok(status.into_http())))
            }
        }
    }
}
