//! `tether daemon logs [-f]`: prints tetherd's log file, and follows it across truncation and
//! rotation.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use tether_proto::{paths, pb};

use super::Ctx;
use crate::error::{Exit, Failure};
use crate::out;

/// How often `-f` looks for more.
const POLL: Duration = Duration::from_millis(250);

/// Runs `tether daemon logs`.
///
/// # Errors
/// A [`Failure`] when there is no log file; the error when reading or writing fails.
pub async fn run(ctx: &Ctx, follow: bool) -> anyhow::Result<()> {
    let path = log_file(ctx).await?;
    let mut file = File::open(&path).map_err(|e| {
        let message = format!(
            "failed to open tetherd's log file {}: {e}; tetherd writes it once it runs \
             (`tether daemon start`)",
            path.display()
        );
        Failure::new(Exit::Error, message)
    })?;
    copy(&mut file)?;
    if !follow {
        return Ok(());
    }
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = &mut ctrl_c => return Ok(()),
        }
        match change(&path, &file)? {
            Change::None => {}
            Change::Truncated => {
                file.seek(SeekFrom::Start(0)).context("failed to rewind tetherd's log file")?;
            }
            Change::Rotated => {
                copy(&mut file)?;
                file = File::open(&path).context("failed to open tetherd's new log file")?;
            }
        }
        copy(&mut file)?;
    }
}

/// The log file: the one the running daemon names, else `<state_dir>/logs/tetherd.log`.
async fn log_file(ctx: &Ctx) -> anyhow::Result<PathBuf> {
    if let Some(mut daemon) = ctx.running_daemon().await?
        && let Ok(info) = daemon.get_info(pb::GetInfoRequest {}).await
    {
        let info = info.into_inner();
        if !info.log_file.is_empty() {
            return Ok(PathBuf::from(info.log_file));
        }
        if tether_proto::Launch::from_name(&info.launch).is_some_and(|l| l.journal()) {
            let message = "tetherd runs under systemd and logs to the journal: \
                           `journalctl --user -u tetherd` (add -f to follow)";
            return Err(Failure::new(Exit::Error, message).into());
        }
    }
    let state = paths::state_dir(None).context("failed to find tetherd's state folder")?;
    Ok(state.join("logs").join("tetherd.log"))
}

/// What happened to the log file since it was opened.
enum Change {
    None,
    /// Shorter than what was read: start over.
    Truncated,
    /// Another file now has its name: finish the old one, then open the new one.
    Rotated,
}

fn change(path: &Path, open: &File) -> anyhow::Result<Change> {
    let Ok(now) = std::fs::metadata(path) else { return Ok(Change::None) };
    let was = open.metadata().context("failed to read the log file's metadata")?;
    let position =
        (&mut &*open).stream_position().context("failed to read the log file's position")?;
    Ok(if now.ino() != was.ino() || now.dev() != was.dev() {
        Change::Rotated
    } else if now.len() < position {
        Change::Truncated
    } else {
        Change::None
    })
}

/// Copies what is left in `file` to stdout.
fn copy(file: &mut File) -> anyhow::Result<()> {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buf).context("failed to read tetherd's log file")?;
        if n == 0 {
            return Ok(());
        }
        out::bytes(&buf[..n])?;
    }
}
