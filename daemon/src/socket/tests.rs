//! The socket's files: what is reclaimed and what never is, the lock's name, the mode from the
//! start, and another user's calls refused with a reason.

use std::os::unix::fs::PermissionsExt as _;
use tether_testsupport::TempDir;

use super::*;

#[tokio::test]
async fn a_file_at_the_socket_path_is_never_removed() {
    let d = TempDir::new("socket-notes");
    let notes = d.join("notes.txt");
    std::fs::write(&notes, "my notes").expect("write");
    let err = Listener::bind(&notes).expect_err("not a socket");
    assert!(matches!(err, SocketError::NotASocket(_)), "{err}");
    assert_eq!(std::fs::read_to_string(&notes).expect("kept"), "my notes");
}

#[tokio::test]
async fn a_stale_socket_is_reclaimed_and_the_new_one_is_private_and_removed_on_drop() {
    let d = TempDir::new("socket-stale");
    let path = d.join("tetherd.sock");
    // A daemon that died left its socket (and released its lock with its life).
    drop(std::os::unix::net::UnixListener::bind(&path).expect("a stale socket"));
    assert!(path.exists());
    let listener = Listener::bind(&path).expect("reclaimed");
    assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
    assert!(lock_path(&path).ends_with("tetherd.sock.lock"));
    let again = Listener::bind(&path).expect_err("one daemon at a time");
    assert!(matches!(again, SocketError::AlreadyRunning(_)), "{again}");
    drop(listener);
    assert!(!path.exists(), "removed on drop");
}

#[tokio::test]
async fn a_socket_named_like_its_lock_is_refused() {
    let d = TempDir::new("socket-lock");
    let err = Listener::bind(&d.join("tetherd.lock")).expect_err("refused");
    assert!(matches!(err, SocketError::LockName(_)), "{err}");
}

#[tokio::test]
async fn without_systemd_there_is_no_passed_socket() {
    let d = TempDir::new("socket-systemd");
    // SAFETY of the test: no LISTEN_FDS in the test environment.
    assert!(std::env::var_os("LISTEN_FDS").is_none());
    assert!(Listener::from_systemd(&d.join("s.sock")).expect("no error").is_none());
}

#[tokio::test]
async fn another_users_calls_are_refused_with_the_reason() {
    use tower::{Layer as _, Service as _, ServiceExt as _};
    let me = nix::unistd::getuid().as_raw();
    let inner = tower::service_fn(|_req: http::Request<()>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(tonic::body::Body::empty()))
    });
    let mut svc = OwnUser::new().layer(inner);
    for (peer, admitted) in [(Some(me), true), (Some(me + 1), false), (None, false)] {
        let mut req = http::Request::new(());
        req.extensions_mut().insert(PeerUid(peer));
        let resp = svc.ready().await.expect("ready").call(req).await.expect("answered");
        let status = tonic::Status::from_header_map(resp.headers());
        if admitted {
            assert!(status.is_none(), "{peer:?}");
        } else {
            let status = status.expect("a status");
            assert_eq!(status.code(), tonic::Code::PermissionDenied);
            assert!(
                status.message().contains(&format!("belongs to uid {me}")),
                "{}",
                status.message()
            );
        }
    }
}
