//! macOS: a launchd agent in `~/Library/LaunchAgents`, loaded through `launchctl`.

use crate::service::{Installed, Service, ServiceError, Step, launchd};

/// What is installed, in words.
pub const KIND: &str = "the launchd agent";
/// Whether the default socket is the service manager's default too: launchd sets no
/// `XDG_RUNTIME_DIR`, so the agent is given the caller's socket.
pub const RUNTIME_DIR_DEFAULT: bool = false;
/// Said after an install.
pub const INSTALLED: &str = "tetherd runs as a launchd agent: started at login and again after \
     a failure, logging to its file (`tether daemon logs`); run `tether daemon install` again \
     after PATH or KUBECONFIG change";
/// How to start it when installed but not running.
pub const START_INSTALLED: &str = "start it with `launchctl kickstart gui/$(id -u)/dev.tether.tetherd`; \
     `launchctl print gui/$(id -u)/dev.tether.tetherd` says why it stopped";
/// Said when `launchctl` fails.
pub const MANAGER_ADVICE: &str = "`launchctl print gui/$(id -u)/dev.tether.tetherd` shows the \
     agent's state; `--dry-run` shows the file to write by hand";

fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// The install plan.
///
/// # Errors
/// A value that cannot be written, or no home folder.
pub fn install_plan(service: &Service) -> Result<Vec<Step>, ServiceError> {
    let plist = launchd::render(service)?;
    Ok(launchd::install_plan(&plist, &launchd::agents_dir()?, uid()))
}

/// The uninstall plan.
///
/// # Errors
/// An agent that install did not write, or no home folder.
pub fn uninstall_plan() -> Result<Vec<Step>, ServiceError> {
    launchd::uninstall_plan(&launchd::agents_dir()?, uid())
}

/// The agent, if installed.
pub fn installed() -> Option<Installed> {
    launchd::installed(&launchd::agents_dir().ok()?)
}
