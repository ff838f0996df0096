//! systemd user units: `tetherd.socket` (socket activation: systemd holds the socket, so a client
//! that connects while tetherd starts waits in the queue) and `tetherd.service`, which also
//! starts at login so that stored forwards listen again.

use std::path::{Path, PathBuf};

use super::{Installed, Service, ServiceError, Socket, Step, fill, utf8, writable};

/// The socket unit's template.
pub const SOCKET_TEMPLATE: &str = include_str!("../../../packaging/systemd/tetherd.socket");
/// The service unit's template.
pub const SERVICE_TEMPLATE: &str = include_str!("../../../packaging/systemd/tetherd.service");
/// The socket unit's file name.
pub const SOCKET_UNIT: &str = "tetherd.socket";
/// The service unit's file name.
pub const SERVICE_UNIT: &str = "tetherd.service";
/// The default socket as systemd names it: `%t` is the user's runtime folder, which clients
/// know as `$XDG_RUNTIME_DIR`.
pub const DEFAULT_LISTEN: &str = "%t/tether/tetherd.sock";
/// Where packages put user units, searched after the user's own folder.
pub const PACKAGE_UNIT_DIRS: [&str; 3] =
    ["/etc/systemd/user", "/usr/local/lib/systemd/user", "/usr/lib/systemd/user"];

/// The two units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Units {
    /// `tetherd.socket`.
    pub socket: String,
    /// `tetherd.service`.
    pub service: String,
}

/// Renders both units.
///
/// # Errors
/// A path that is not UTF-8, or a value with a line break.
pub fn render(service: &Service) -> Result<Units, ServiceError> {
    let (listen, socket_arg) = match &service.socket {
        Socket::Default => (DEFAULT_LISTEN.to_owned(), DEFAULT_LISTEN.to_owned()),
        Socket::Path(path) => {
            let path = checked("the socket path", utf8(path)?)?;
            (specifiers(path), exec_word(path))
        }
    };
    let tetherd = exec_word(checked("the tetherd path", utf8(&service.tetherd)?)?);
    let exec_start = format!("{tetherd} --socket {socket_arg}");
    let environment = environment(&service.env)?;
    let origin = service.origin.comment();
    Ok(Units {
        socket: fill(SOCKET_TEMPLATE, &[("ORIGIN", origin), ("LISTEN", &listen)]),
        service: fill(
            SERVICE_TEMPLATE,
            &[("ORIGIN", origin), ("EXEC_START", &exec_start), ("ENVIRONMENT", &environment)],
        ),
    })
}

/// The `Environment=` lines, or a comment that says there are none.
fn environment(env: &[(String, String)]) -> Result<String, ServiceError> {
    if env.is_empty() {
        return Ok("# No Environment= lines: the manager's PATH applies.".into());
    }
    let lines = env
        .iter()
        .map(|(name, value)| {
            writable(name, value)?;
            let quoted = specifiers(&format!("{name}={value}")).replace('\\', "\\\\");
            Ok(format!("Environment=\"{}\"", quoted.replace('"', "\\\"")))
        })
        .collect::<Result<Vec<_>, ServiceError>>()?;
    Ok(lines.join("\n"))
}

fn checked<'a>(name: &str, value: &'a str) -> Result<&'a str, ServiceError> {
    writable(name, value).map(|()| value)
}

/// `value` with systemd's specifier character escaped (`%` is `%%`).
fn specifiers(value: &str) -> String {
    value.replace('%', "%%")
}

/// One word of `ExecStart=`: specifiers and variables escaped, quoted when it has more than
/// plain path characters.
fn exec_word(word: &str) -> String {
    let escaped = specifiers(word).replace('$', "$$");
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:=,@%$".contains(c);
    if !escaped.is_empty() && escaped.chars().all(plain) {
        escaped
    } else {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The user's unit folder: `$XDG_CONFIG_HOME/systemd/user` (`~/.config/systemd/user`).
///
/// # Errors
/// [`ServiceError::NoHome`].
pub fn user_unit_dir() -> Result<PathBuf, ServiceError> {
    use etcetera::BaseStrategy as _;
    let base = etcetera::choose_base_strategy().map_err(|_| ServiceError::NoHome)?;
    Ok(base.config_dir().join("systemd/user"))
}

/// Writes the units into `dir`, then has systemd load them, enable both (the service starts at
/// login, the socket at once) and restart the service on the new files.
#[must_use]
pub fn install_plan(units: &Units, dir: &Path) -> Vec<Step> {
    vec![
        Step::Write { path: dir.join(SOCKET_UNIT), contents: units.socket.clone() },
        Step::Write { path: dir.join(SERVICE_UNIT), contents: units.service.clone() },
        Step::run("systemctl", &["--user", "daemon-reload"]),
        Step::run("systemctl", &["--user", "enable", SOCKET_UNIT, SERVICE_UNIT]),
        // The service lets go of the socket, so that a changed socket unit takes effect.
        Step::run("systemctl", &["--user", "stop", SERVICE_UNIT]),
        Step::run("systemctl", &["--user", "restart", SOCKET_UNIT]),
        Step::run("systemctl", &["--user", "start", SERVICE_UNIT]),
    ]
}

/// Stops and disables the units, removes the files `tether daemon install` wrote in `dir`, and
/// has systemd forget them; empty when none is there.
///
/// # Errors
/// [`ServiceError::NotOurs`] for a unit in `dir` that install did not write.
pub fn uninstall_plan(dir: &Path) -> Result<Vec<Step>, ServiceError> {
    let files = present(dir);
    if files.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(foreign) = files.iter().find(|p| !super::is_ours(p)) {
        return Err(ServiceError::NotOurs(foreign.clone()));
    }
    let mut steps =
        vec![Step::run("systemctl", &["--user", "disable", "--now", SOCKET_UNIT, SERVICE_UNIT])];
    steps.extend(files.into_iter().map(|path| Step::Remove { path }));
    steps.push(Step::run("systemctl", &["--user", "daemon-reload"]));
    Ok(steps)
}

/// The units found: in the user's folder (`tether daemon install`), else where packages put
/// them; `None` when neither has them.
#[must_use]
pub fn installed(user_dir: &Path) -> Option<Installed> {
    let dirs = std::iter::once(user_dir.to_owned()).chain(PACKAGE_UNIT_DIRS.map(PathBuf::from));
    dirs.map(|dir| present(&dir)).find(|files| !files.is_empty()).map(|files| Installed { files })
}

/// The units that are in `dir`.
fn present(dir: &Path) -> Vec<PathBuf> {
    [SOCKET_UNIT, SERVICE_UNIT].iter().map(|u| dir.join(u)).filter(|p| p.exists()).collect()
}
