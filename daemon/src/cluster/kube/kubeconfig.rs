//! Reading kubeconfig files without trusting the path: only regular files (a FIFO would block
//! a thread forever, `/dev/zero` would fill the memory), of at most [`MAX_BYTES`], read off the
//! async workers and within [`READ_TIMEOUT`]. A bad path fails that one forward, with a reason.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::Kubeconfig;

use super::config_err;
use crate::cluster::ClusterError;

/// The largest kubeconfig read: real ones are kilobytes, tens with embedded certificates.
pub(crate) const MAX_BYTES: u64 = 4 << 20;
/// How long reading the files may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The files, as kubectl finds them: the given `:`-separated list, else the daemon's
/// `KUBECONFIG`, else `~/.kube/config`.
pub(super) fn paths(given: Option<&str>) -> Vec<PathBuf> {
    let list = match given {
        Some(list) => Some(list.into()),
        None => std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()),
    };
    match list {
        Some(list) => std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect(),
        None => std::env::var_os("HOME")
            .map(|home| vec![PathBuf::from(home).join(".kube/config")])
            .unwrap_or_default(),
    }
}

/// Checks that `path` is a regular file of at most [`MAX_BYTES`]. Opening does not block, even
/// on a FIFO. The file is then read again by path (kube resolves the certificate paths in it
/// against its folder): a file swapped for a FIFO in between is bounded by [`READ_TIMEOUT`].
fn check(path: &Path) -> Result<(), ClusterError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let shown = path.display();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| config_err(format!("cannot read the kubeconfig {shown}: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| config_err(format!("cannot read the kubeconfig {shown}: {e}")))?;
    if !meta.is_file() {
        return Err(config_err(format!(
            "the kubeconfig {shown} is not a regular file; give the path of a kubeconfig file"
        )));
    }
    if meta.len() > MAX_BYTES {
        return Err(config_err(format!(
            "the kubeconfig {shown} is larger than {} MiB; give the path of a kubeconfig file",
            MAX_BYTES >> 20
        )));
    }
    Ok(())
}

/// Reads and merges the files, as kubectl merges a `KUBECONFIG` list.
fn read_blocking(paths: &[PathBuf]) -> Result<Kubeconfig, ClusterError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in paths {
        check(path)?;
        let next = Kubeconfig::read_from(path).map_err(config_err)?;
        merged = Some(match merged {
            None => next,
            Some(m) => m.merge(next).map_err(config_err)?,
        });
    }
    merged.ok_or_else(|| config_err("no kubeconfig file: set KUBECONFIG or give --kubeconfig"))
}

/// The credential plugin (`users[].user.exec.command`) of the user that `context` (or the
/// current context) names, if it uses one.
pub(super) fn plugin(config: &Kubeconfig, context: Option<&str>) -> Option<String> {
    let context = context.or(config.current_context.as_deref())?;
    let user =
        config.contexts.iter().find(|c| c.name == context)?.context.as_ref()?.user.clone()?;
    let auth = config.auth_infos.iter().find(|a| a.name == user)?.auth_info.as_ref()?;
    auth.exec.as_ref()?.command.clone()
}

/// Reads the kubeconfig files for `given` (see [`paths`]) off the async workers.
pub(super) async fn read(given: Option<&str>) -> Result<Kubeconfig, ClusterError> {
    let paths = paths(given);
    let reading = tokio::task::spawn_blocking(move || read_blocking(&paths));
    match tokio::time::timeout(READ_TIMEOUT, reading).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(config_err(format!("failed to read the kubeconfig: {e}"))),
        Err(_) => Err(config_err(format!(
            "failed to read the kubeconfig within {READ_TIMEOUT:?}; is it on a slow or hung file system?"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tether_testsupport::TempDir;

    #[tokio::test]
    async fn a_device_a_fifo_and_a_folder_are_refused_at_once() {
        let d = TempDir::new("kc-special");
        let fifo = d.join("fifo");
        let _made = nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600));
        // A read that blocked would end in the timeout's message instead.
        for bad in [PathBuf::from("/dev/zero"), fifo, d.to_path_buf()] {
            let shown = bad.display().to_string();
            let err = read(Some(&shown)).await.expect_err("refused");
            assert!(err.to_string().contains("not a regular file"), "{shown}: {err}");
        }
    }

    #[tokio::test]
    async fn a_huge_file_and_a_missing_one_are_refused() {
        let d = TempDir::new("kc-huge");
        let huge = d.join("huge");
        let file = std::fs::File::create(&huge).expect("create");
        file.set_len(MAX_BYTES + 1).expect("sparse");
        let err = read(huge.to_str()).await.expect_err("too large");
        assert!(err.to_string().contains("larger than 4 MiB"), "{err}");
        let err = read(d.join("missing").to_str()).await.expect_err("missing");
        assert!(err.to_string().contains("cannot read the kubeconfig"), "{err}");
    }
}
