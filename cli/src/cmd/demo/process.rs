//! What the demo's two children share: a log file for their stderr, and stopping with SIGTERM,
//! then SIGKILL after a deadline.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;

/// `path`, created for a child's stderr.
///
/// # Errors
/// When it cannot be created.
pub fn log_file(path: &Path) -> anyhow::Result<Stdio> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("failed to create the log file {}", path.display()))?;
    Ok(file.into())
}

/// Sends SIGTERM to `child` and waits up to `within` for it to exit, then kills it.
pub async fn stop(mut child: tokio::process::Child, within: Duration) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) else { return };
    let _sent = kill(Pid::from_raw(pid), Signal::SIGTERM);
    if tokio::time::timeout(within, child.wait()).await.is_err() {
        let _killed = child.kill().await;
    }
}
