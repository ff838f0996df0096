//! Where tetherd's files live, and the environment variables that move them.
//!
//! - Socket: `TETHER_SOCKET`, else `$XDG_RUNTIME_DIR/tether/tetherd.sock`, else
//!   `/tmp/tether-<uid>/tetherd.sock`. Its folder is created 0700.
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

/// Errors finding paths.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// No home folder to put state in.
    #[error("failed to find a home folder for tether's state; set {ENV_STATE_DIR}")]
    NoHome,
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
    runtime_dir().join("tetherd.sock")
}

/// The folder for runtime files (socket, lifecycle lock).
#[must_use]
pub fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("tether"),
        None => std::env::temp_dir().join(format!("tether-{}", nix::unistd::getuid())),
    }
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
    use etcetera::BaseStrategy as _;
    let base = etcetera::choose_base_strategy().map_err(|_| PathError::NoHome)?;
    Ok(base.state_dir().unwrap_or_else(|| base.data_dir()).join("tether"))
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
        assert!(
            runtime_dir().ends_with("tether")
                || runtime_dir().to_string_lossy().contains("tether-")
        );
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
