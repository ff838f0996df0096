//! Linux: systemd user units in `~/.config/systemd/user`, run through `systemctl --user`.

use crate::service::{Installed, Service, ServiceError, Step, systemd};

/// What is installed, in words.
pub const KIND: &str = "the systemd user service";
/// Whether the default socket is the service manager's default too (`%t` is `XDG_RUNTIME_DIR`).
pub const RUNTIME_DIR_DEFAULT: bool = true;
/// Said after an install.
pub const INSTALLED: &str = "tetherd runs as a systemd user service: socket-activated, started \
     at login, logging to the journal (`journalctl --user -u tetherd`); run `tether daemon \
     install` again after PATH or KUBECONFIG change";
/// How to start it when installed but not running.
pub const START_INSTALLED: &str = "start it with `systemctl --user start tetherd.socket \
     tetherd.service`; `systemctl --user status tetherd` says why it stopped";
/// Said when `systemctl` fails.
pub const MANAGER_ADVICE: &str = "`tether daemon install` needs a systemd user session \
     (`systemctl --user status`; over ssh, `loginctl enable-linger $USER` keeps one); \
     `--dry-run` shows the files to write by hand otherwise";

/// The install plan.
///
/// # Errors
/// A value that cannot be written, or no home folder.
pub fn install_plan(service: &Service) -> Result<Vec<Step>, ServiceError> {
    let units = systemd::render(service)?;
    Ok(systemd::install_plan(&units, &systemd::user_unit_dir()?))
}

/// The uninstall plan.
///
/// # Errors
/// A unit that install did not write, or no home folder.
pub fn uninstall_plan() -> Result<Vec<Step>, ServiceError> {
    systemd::uninstall_plan(&systemd::user_unit_dir()?)
}

/// The units found, the user's own first.
pub fn installed() -> Option<Installed> {
    systemd::installed(&systemd::user_unit_dir().ok()?)
}
