//! Where tetherd's files live, and the environment variables that move them.
//!
//! - Socket: `TETHER_SOCKET`, else `$XDG_RUNTIME_DIR/tether/tetherd.sock`, else (macOS, or a
//!   Linux session without one) `$XDG_STATE_HOME/tether/run/tetherd.sock`
//!   (`~/.local/state/tether/run`): a per-user folder no other user can create first and no
//!   `/tmp` cleaner ages out. Its folder is created 0700.
//! - State (store, logs): `TETHER_STATE_DIR`, else `$XDG_STATE_HOME/tether`
//!   (`~/.local/state/tether`).

use std::path::{Path, PathBuf};

/// Overrides the socket path.
pub const ENV_SOCKET: &str = "TETHER_SOCKET";
/// Overrides the state folder.
pub const ENV_STATE_DIR: &str = "TETHER_STATE_DIR";
/// Names the `tetherd` binary to start.
pub const ENV_DAEMON_BIN: &str = "TETHER_DAEMON_BIN";
/// The log filter (`info`, `tether_daemon=debug`, ...).
pub const ENV_LOG: &str = "TETHER_LOG";
/// The socket's file name in its folder.
pub const SOCKET_FILE: &str = "tetherd.sock";

/// Errors finding paths.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// No home folder to put state in.
    #[error("failed to find a home folder for tether's state; set {ENV_STATE_DIR}")]
    NoHome,
    /// The socket's folder or the socket belongs to someone else, or others may replace it.
    #[error(
        "refusing to use {path}: it is owned by uid {owner} with mode {mode:04o}, and it must be \
         yours and writable only by you; remove it, or set TETHER_SOCKET (or XDG_RUNTIME_DIR) to \
         a folder of your own"
    )]
    Untrusted {
        /// The folder or socket.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// Its permission bits.
        mode: u32,
    },
    /// A folder could not be created or secured.
    #[error("failed to prepare {path} (it must be a folder only you can use)")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The socket path, from `override_path`, `TETHER_SOCKET`, or the default.
#[must_use]
pub fn socket_path(override_path: Option<&Path>) -> PathBuf {
    if let Some(p) = override_path {
        return p.to_owned();
    }
    if let Some(p) = std::env::var_os(ENV_SOCKET).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    runtime_dir().join(SOCKET_FILE)
}

/// The folder for runtime files (socket, lifecycle lock): `$XDG_RUNTIME_DIR/tether`, else
/// `run` in the per-user state home (`TETHER_STATE_DIR` does not move it), else, without a home,
/// `<temp>/tether-<uid>`.
#[must_use]
pub fn runtime_dir() -> PathBuf {
    if let Some(dir) = xdg_runtime_dir() {
        return dir;
    }
    match default_state_dir() {
        Ok(state) => state.join("run"),
        Err(_) => std::env::temp_dir().join(format!("tether-{}", nix::unistd::getuid())),
    }
}

/// `$XDG_RUNTIME_DIR/tether`, when the session has a runtime folder (systemd's `%t/tether`).
#[must_use]
pub fn xdg_runtime_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty())?;
    Some(PathBuf::from(dir).join("tether"))
}

/// The state folder, from `override_dir`, `TETHER_STATE_DIR`, or the XDG default.
///
/// # Errors
/// Fails when there is no home folder and nothing overrides it.
pub fn state_dir(override_dir: Option<&Path>) -> Result<PathBuf, PathError> {
    if let Some(p) = override_dir {
        return Ok(p.to_owned());
    }
    if let Some(p) = std::env::var_os(ENV_STATE_DIR).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    default_state_dir()
}

/// `$XDG_STATE_HOME/tether` (`~/.local/state/tether`), on macOS too.
fn default_state_dir() -> Result<PathBuf, PathError> {
    use etcetera::BaseStrategy as _;
    let base = etcetera::choose_base_strategy().map_err(|_| PathError::NoHome)?;
    Ok(base.state_dir().unwrap_or_else(|| base.data_dir()).join("tether"))
}

/// Checks, before a client connects, that the socket's folder and the socket (when they exist)
/// are the user's own and that nobody else may write to the folder, as ssh and gpg-agent check
/// theirs: whoever controls that folder can stand in for the daemon and read every spec sent.
///
/// # Errors
/// [`PathError::Untrusted`] naming the owner and mode of what is not trusted.
pub fn check_trusted(socket: &Path) -> Result<(), PathError> {
    use std::os::unix::fs::MetadataExt as _;
    let me = nix::unistd::getuid().as_raw();
    let dir = socket.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    for (path, writable_by_others_ok) in [(dir, false), (socket, true)] {
        let Ok(meta) = std::fs::metadata(path) else { continue };
        let mode = meta.mode() & 0o7777;
        let others_write = mode & 0o022 != 0;
        if meta.uid() != me || (others_write && !writable_by_others_ok) {
            return Err(PathError::Untrusted { path: path.to_owned(), owner: meta.uid(), mode });
        }
    }
    Ok(())
}

/// Prepares the folder of a socket: the default runtime folder is made private (0700); a folder
/// the user chose is created 0700 when missing, and otherwise only checked to be ours, so that a
/// project folder keeps its permissions.
///
/// # Errors
/// Fails if it cannot be created, or is owned by another user.
pub fn socket_dir(dir: &Path) -> Result<(), PathError> {
    use std::os::unix::fs::MetadataExt as _;
    if dir == runtime_dir() || !dir.exists() {
        return private_dir(dir);
    }
    let meta = std::fs::metadata(dir)
        .map_err(|source| PathError::Folder { path: dir.to_owned(), source })?;
    if meta.uid() != nix::unistd::getuid().as_raw() {
        let source =
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, "owned by another user");
        return Err(PathError::Folder { path: dir.to_owned(), source });
    }
    Ok(())
}

/// Creates `dir` (and parents) and makes it 0700, owned by us.
///
/// # Errors
/// Fails if it cannot be created, or exists and is owned by another user.
pub fn private_dir(dir: &Path) -> Result<(), PathError> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let err = |source| PathError::Folder { path: dir.to_owned(), source };
    std::fs::create_dir_all(dir).map_err(err)?;
    let meta = std::fs::metadata(dir).map_err(err)?;
    if meta.uid() != nix::unistd::getuid().as_raw() {
        return Err(err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "owned by another user",
        )));
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_paths_win() {
        assert_eq!(socket_path(Some(Path::new("/x/s.sock"))), PathBuf::from("/x/s.sock"));
        assert_eq!(state_dir(Some(Path::new("/x/state"))).expect("dir"), PathBuf::from("/x/state"));
        let runtime = runtime_dir();
        assert!(
            runtime.ends_with("tether") || runtime.ends_with("tether/run"),
            "{}",
            runtime.display()
        );
    }

    #[test]
    fn a_socket_folder_others_may_write_or_do_not_own_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("tether-trust-{}", std::process::id()));
        private_dir(&dir).expect("create");
        let socket = dir.join("tetherd.sock");
        check_trusted(&socket).expect("a private folder of ours");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = check_trusted(&socket).expect_err("world-writable");
        assert!(err.to_string().contains("with mode 0777"), "{err}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        check_trusted(&socket).expect("readable by others is fine: the socket itself is 0600");
        // Another user's folder: root makes one; anyone else finds one at `/`, which is root's.
        if nix::unistd::getuid().is_root() {
            let nobody = nix::unistd::Uid::from_raw(65534);
            nix::unistd::chown(&dir, Some(nobody), None).expect("chown");
            let err = check_trusted(&socket).expect_err("another owner");
            assert!(err.to_string().contains("owned by uid 65534"), "{err}");
        } else {
            let err = check_trusted(Path::new("/tetherd.sock")).expect_err("root's folder");
            assert!(err.to_string().contains("owned by uid 0"), "{err}");
        }
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn private_dirs_are_0700() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir =
            std::env::temp_dir().join(format!("tether-paths-{}", std::process::id())).join("a/b");
        private_dir(&dir).expect("create");
        let mode = std::fs::metadata(&dir).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::remove_dir_all(dir.parent().and_then(Path::parent).expect("root"))
            .expect("cleanup");
    }
}
