//! `tether daemon install|uninstall`, and what `daemon status` says about the service: the
//! platform's plan from [`tether_cli::service`], printed by `--dry-run` or carried out.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tether_proto::paths;

use super::super::{Ctx, kubeconfig_list};
use crate::args::ENV_KUBECONFIG;
use crate::error::{Exit, Failure};
use crate::out;
use crate::service::{Installed, Origin, Service, Socket, Step};

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod other;

#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(target_os = "macos")]
use macos as platform;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
use other as platform;

/// Writes (or with `dry_run` prints) the service files and starts the service.
///
/// # Errors
/// A [`Failure`] when tetherd cannot be found, a file cannot be written or a command fails.
pub async fn install(ctx: &Ctx, dry_run: bool) -> anyhow::Result<()> {
    let service = Service {
        tetherd: tetherd()?,
        socket: socket(&ctx.socket),
        env: Service::recorded_env(recorded),
        origin: Origin::Install,
    };
    let steps = platform::install_plan(&service)?;
    // A daemon the service manager did not start holds the socket: it goes first, and the
    // service restores its forwards from the store.
    let running = unmanaged(ctx).await?;
    if dry_run {
        if let Some(pid) = running {
            out::line(&format!("$ tether daemon stop    # tetherd (pid {pid}) holds the socket"))?;
        }
        return print(&steps);
    }
    if let Some(pid) = running {
        out::note(&format!("stopping tetherd (pid {pid}): the service takes over its socket"));
        super::stop(ctx).await?;
    }
    carry_out(&steps).await?;
    out::note(platform::INSTALLED);
    out::note("check it with `tether daemon status`");
    Ok(())
}

/// Stops the service and removes what install wrote (or with `dry_run` prints how).
///
/// # Errors
/// A [`Failure`] when a file is not install's or a command fails.
pub async fn uninstall(dry_run: bool) -> anyhow::Result<()> {
    let steps = platform::uninstall_plan()?;
    if steps.is_empty() {
        out::note("nothing to uninstall: `tether daemon install` has not installed a service");
        return Ok(());
    }
    if dry_run {
        return print(&steps);
    }
    carry_out(&steps).await?;
    out::note("tetherd's service is removed; tether commands start tetherd on demand again");
    Ok(())
}

/// The service's files, when installed, for `daemon status`.
#[must_use]
pub fn installed() -> Option<Installed> {
    platform::installed()
}

/// What `daemon status` advises when no daemon answers.
#[must_use]
pub fn not_running_advice() -> String {
    match installed() {
        Some(found) => format!(
            "{} is installed ({}); {}",
            platform::KIND,
            files(&found),
            platform::START_INSTALLED
        ),
        None => "start it with `tether daemon start`, run any command, or run it as a service \
                 with `tether daemon install`"
            .into(),
    }
}

/// The files as a comma-separated list.
#[must_use]
pub fn files(found: &Installed) -> String {
    found.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Carries out `steps` in order, noting each on stderr; stops at the first failure.
async fn carry_out(steps: &[Step]) -> anyhow::Result<()> {
    for step in steps {
        match step {
            Step::Write { path, contents } => {
                write(path, contents)?;
                out::note(&format!("wrote {}", path.display()));
            }
            Step::Remove { path } => {
                std::fs::remove_file(path)
                    .with_context(|| format!("failed to remove {}", path.display()))?;
                out::note(&format!("removed {}", path.display()));
            }
            Step::Run { program, args, check } => run(program, args, *check).await?,
        }
    }
    Ok(())
}

/// Writes `contents` to `path` through a temporary file beside it, so that a reader never sees
/// half a file.
fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    let dir = path.parent().context("a service file has a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let mut temp = path.as_os_str().to_owned();
    temp.push(".new");
    std::fs::write(&temp, contents)
        .and_then(|()| std::fs::rename(&temp, path))
        .with_context(|| format!("failed to write {}", path.display()))
}

async fn run(program: &str, args: &[String], check: bool) -> anyhow::Result<()> {
    let line = Step::command_line(program, args);
    let output = tokio::process::Command::new(program).args(args).output().await;
    let output = output.map_err(|e| {
        let message = format!("failed to run `{line}`: {e}; {}", platform::MANAGER_ADVICE);
        Failure::new(Exit::Error, message)
    })?;
    if check && !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        let message = format!(
            "failed to run `{line}` ({}): {said}; {}",
            output.status,
            platform::MANAGER_ADVICE
        );
        return Err(Failure::new(Exit::Error, message).into());
    }
    out::note(&format!("ran {line}"));
    Ok(())
}

/// Prints `steps` as `--dry-run` shows them: each file, then a blank line; each command.
fn print(steps: &[Step]) -> anyhow::Result<()> {
    let shown: String = steps
        .iter()
        .map(|step| match step {
            Step::Write { .. } => format!("{step}\n"),
            _ => step.to_string(),
        })
        .collect();
    out::text(&shown)
}

/// The pid of a running daemon that no service manager started; `None` when none runs or the
/// service manager runs it.
async fn unmanaged(ctx: &Ctx) -> anyhow::Result<Option<u32>> {
    let Some(info) = super::info(ctx).await? else { return Ok(None) };
    let managed = tether_proto::Launch::from_name(&info.launch).is_some_and(|l| l.managed());
    Ok((!managed).then_some(info.pid))
}

/// The `tetherd` to run, absolute: `TETHER_DAEMON_BIN`, the one beside `tether`, or PATH's.
fn tetherd() -> anyhow::Result<PathBuf> {
    let bin = tether_proto::autostart::daemon_bin(None);
    let found = if bin.components().count() > 1 {
        Some(bin.clone()).filter(|p| p.is_file())
    } else {
        tether_proto::autostart::on_path(&bin)
    };
    let found = found.ok_or_else(|| {
        let message = format!(
            "failed to find {} beside tether or on PATH; install both from the same release (see \
             docs/INSTALL.md), or set {}",
            bin.display(),
            paths::ENV_DAEMON_BIN,
        );
        Failure::new(Exit::Error, message)
    })?;
    std::path::absolute(&found).with_context(|| format!("failed to resolve {}", found.display()))
}

/// The socket the service serves: the caller's, named as the service manager names the default
/// (systemd's `%t` is `$XDG_RUNTIME_DIR`) when it is the default there.
fn socket(caller: &Path) -> Socket {
    let default = paths::xdg_runtime_dir().map(|dir| dir.join(paths::SOCKET_FILE));
    if platform::RUNTIME_DIR_DEFAULT && default.as_deref() == Some(caller) {
        Socket::Default
    } else {
        Socket::Path(caller.to_owned())
    }
}

/// The caller's value of a recorded variable, with kubeconfig and state paths made absolute.
fn recorded(name: &str) -> Option<String> {
    let value: OsString = std::env::var_os(name).filter(|v| !v.is_empty())?;
    match name {
        ENV_KUBECONFIG => kubeconfig_list(Some(value)).ok(),
        paths::ENV_STATE_DIR => {
            std::path::absolute(value).ok()?.into_os_string().into_string().ok()
        }
        _ => value.into_string().ok(),
    }
}
