//! Platforms without a supported service manager: install says so.

use crate::service::{Installed, Service, ServiceError, Step};

/// What is installed, in words.
pub const KIND: &str = "a service";
/// Whether the default socket is the service manager's default too.
pub const RUNTIME_DIR_DEFAULT: bool = false;
/// Said after an install.
pub const INSTALLED: &str = "";
/// How to start it when installed but not running.
pub const START_INSTALLED: &str = "start it with `tether daemon start`";
/// Said when a command fails.
pub const MANAGER_ADVICE: &str = "run `tetherd` under your service manager by hand";

/// Fails: there is no service manager to install into.
///
/// # Errors
/// Always.
pub fn install_plan(_service: &Service) -> Result<Vec<Step>, ServiceError> {
    Err(ServiceError::Unsupported)
}

/// Nothing to remove.
///
/// # Errors
/// Never.
pub fn uninstall_plan() -> Result<Vec<Step>, ServiceError> {
    Ok(Vec::new())
}

/// Nothing installed.
pub fn installed() -> Option<Installed> {
    None
}
