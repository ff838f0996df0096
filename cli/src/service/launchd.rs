//! The launchd agent: tetherd at login, restarted after a failure, logging to its file (`tether
//! daemon logs`). launchd binds no socket for it: tetherd binds its own, as when started by hand.

use std::path::{Path, PathBuf};

use super::{Installed, Service, ServiceError, Socket, Step, fill, utf8, writable};

/// The agent's template.
pub const TEMPLATE: &str = include_str!("../../../packaging/launchd/dev.tether.tetherd.plist");
/// The agent's label.
pub const LABEL: &str = "dev.tether.tetherd";

/// The agent's file name.
#[must_use]
pub fn file_name() -> String {
    format!("{LABEL}.plist")
}

/// Renders the agent.
///
/// # Errors
/// A path that is not UTF-8, or a value with a line break.
pub fn render(service: &Service) -> Result<String, ServiceError> {
    let mut args = vec![utf8(&service.tetherd)?.to_owned()];
    if let Socket::Path(path) = &service.socket {
        args.extend(["--socket".to_owned(), utf8(path)?.to_owned()]);
    }
    args.push("--log-file".into());
    let arguments = args
        .iter()
        .map(|a| writable("an argument", a).map(|()| format!("    <string>{}</string>", xml(a))))
        .collect::<Result<Vec<_>, _>>()?
        .join("\n");
    let environment = service
        .env
        .iter()
        .map(|(name, value)| {
            writable(name, value)?;
            Ok(format!("    <key>{}</key>\n    <string>{}</string>", xml(name), xml(value)))
        })
        .collect::<Result<Vec<_>, ServiceError>>()?
        .join("\n");
    // The origin goes into a comment, where `--` may not appear.
    let origin = service.origin.comment().replace("--", "- -");
    Ok(fill(
        TEMPLATE,
        &[
            ("ORIGIN", &origin),
            ("LABEL", LABEL),
            ("ARGUMENTS", &arguments),
            ("ENVIRONMENT", &environment),
        ],
    ))
}

/// `text` with XML's special characters escaped.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The user's agents folder, `~/Library/LaunchAgents`.
///
/// # Errors
/// [`ServiceError::NoHome`].
pub fn agents_dir() -> Result<PathBuf, ServiceError> {
    Ok(super::home_dir()?.join("Library/LaunchAgents"))
}

/// launchd's name for the agent in the login session of `uid`.
fn target(uid: u32) -> String {
    format!("gui/{uid}/{LABEL}")
}

/// Writes the agent into `dir`, unloads the one loaded (if any), then loads the new one.
#[must_use]
pub fn install_plan(plist: &str, dir: &Path, uid: u32) -> Vec<Step> {
    let path = dir.join(file_name());
    let domain = format!("gui/{uid}");
    let file = path.display().to_string();
    vec![
        Step::Write { path, contents: plist.to_owned() },
        Step::try_run("launchctl", &["bootout", &target(uid)]),
        Step::run("launchctl", &["enable", &target(uid)]),
        Step::run("launchctl", &["bootstrap", &domain, &file]),
    ]
}

/// Unloads the agent and removes the file `tether daemon install` wrote; empty when there is
/// none.
///
/// # Errors
/// [`ServiceError::NotOurs`] for an agent that install did not write.
pub fn uninstall_plan(dir: &Path, uid: u32) -> Result<Vec<Step>, ServiceError> {
    let path = dir.join(file_name());
    if !path.exists() {
        return Ok(Vec::new());
    }
    if !super::is_ours(&path) {
        return Err(ServiceError::NotOurs(path));
    }
    Ok(vec![Step::try_run("launchctl", &["bootout", &target(uid)]), Step::Remove { path }])
}

/// The agent in `dir`, if there is one.
#[must_use]
pub fn installed(dir: &Path) -> Option<Installed> {
    let path = dir.join(file_name());
    path.exists().then(|| Installed { files: vec![path] })
}
