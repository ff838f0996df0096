//! tetherd as a user service: the files `tether daemon install` writes (systemd user units on
//! Linux, a launchd agent on macOS), rendered from the templates in `packaging/`, and the plan of
//! writes and commands that installs or removes them. Everything here is pure, so that the plans
//! of both platforms are tested on either, and release packages render the same templates.

use std::fmt;
use std::path::{Path, PathBuf};

pub mod launchd;
pub mod systemd;
#[cfg(test)]
mod tests;

/// The variables `tether daemon install` records from the shell it runs in: credential plugins
/// are looked up on PATH, and KUBECONFIG is the kubeconfig of requests that name none.
pub const RECORDED_ENV: [&str; 3] =
    ["PATH", crate::args::ENV_KUBECONFIG, tether_proto::paths::ENV_STATE_DIR];

/// The line every file `tether daemon install` writes carries, so that uninstall removes only
/// its own files.
pub const MARKER: &str = "Written by `tether daemon install`";

/// Who writes a service file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `tether daemon install`, for this user, with the recorded variables.
    Install,
    /// A release package (the archive, the .deb), for every user, without them.
    Package,
}

impl Origin {
    /// The comment line that says so.
    #[must_use]
    pub fn comment(self) -> &'static str {
        match self {
            Self::Install => {
                "Written by `tether daemon install`; run it again to update, `tether daemon \
                 uninstall` removes it."
            }
            Self::Package => {
                "Shipped with tether. `tether daemon install` writes your own copy, with your PATH."
            }
        }
    }
}

/// Errors rendering service files.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A value cannot be written into a service file.
    #[error(
        "failed to record {name}: its value has a line break or a NUL, which a service file cannot \
         hold; fix it in this shell, then run `tether daemon install` again"
    )]
    Unwritable {
        /// The variable or argument.
        name: String,
    },
    /// A path is not UTF-8.
    #[error("failed to record the path {0:?}: service files hold only UTF-8 paths")]
    NotUtf8(PathBuf),
    /// No home folder to install into.
    #[error("failed to find your home folder, where user services are installed; set HOME")]
    NoHome,
    /// This platform has no service manager tether knows.
    #[error(
        "failed to install tetherd as a service: only systemd (Linux) and launchd (macOS) are \
         supported; run `tetherd` under your service manager by hand"
    )]
    Unsupported,
    /// A file at the service's path was not written by `tether daemon install`.
    #[error(
        "failed to remove {0}: it was not written by `tether daemon install`; remove it yourself \
         if it is no longer wanted"
    )]
    NotOurs(PathBuf),
}

/// What a service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The `tetherd` binary, absolute.
    pub tetherd: PathBuf,
    /// Where it serves.
    pub socket: Socket,
    /// Variables to set, in this order (see [`RECORDED_ENV`]).
    pub env: Vec<(String, String)>,
    /// Who writes the files.
    pub origin: Origin,
}

/// The socket a service serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socket {
    /// The clients' default: `$XDG_RUNTIME_DIR/tether/tetherd.sock` (systemd's `%t`), or the
    /// per-user folder where there is no runtime folder (launchd).
    Default,
    /// A socket the user chose (`--socket`, `TETHER_SOCKET`), or the default of a shell without
    /// `XDG_RUNTIME_DIR`, written as it is.
    Path(PathBuf),
}

impl Service {
    /// The service release packages ship: `tetherd` at `tetherd`, the default socket, and no
    /// recorded variables.
    #[must_use]
    pub fn packaged(tetherd: impl Into<PathBuf>) -> Self {
        let tetherd = tetherd.into();
        Self { tetherd, socket: Socket::Default, env: Vec::new(), origin: Origin::Package }
    }

    /// The environment recorded from `lookup` (each of [`RECORDED_ENV`] that is set).
    #[must_use]
    pub fn recorded_env(lookup: impl Fn(&str) -> Option<String>) -> Vec<(String, String)> {
        RECORDED_ENV
            .iter()
            .filter_map(|name| lookup(name).filter(|v| !v.is_empty()).map(|v| ((*name).into(), v)))
            .collect()
    }
}

/// One thing an install or uninstall does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write a file, creating its folder first.
    Write {
        /// The file.
        path: PathBuf,
        /// Its contents.
        contents: String,
    },
    /// Remove a file.
    Remove {
        /// The file.
        path: PathBuf,
    },
    /// Run a program.
    Run {
        /// The program, found on PATH.
        program: String,
        /// Its arguments.
        args: Vec<String>,
        /// Whether a failure fails the plan; `false` where failing is expected (such as
        /// unloading an agent that is not loaded).
        check: bool,
    },
}

impl Step {
    /// A checked [`Step::Run`].
    #[must_use]
    pub fn run(program: &str, args: &[&str]) -> Self {
        let args = args.iter().map(|a| (*a).to_owned()).collect();
        Self::Run { program: program.into(), args, check: true }
    }

    /// A [`Step::Run`] whose failure is expected and harmless.
    #[must_use]
    pub fn try_run(program: &str, args: &[&str]) -> Self {
        let args = args.iter().map(|a| (*a).to_owned()).collect();
        Self::Run { program: program.into(), args, check: false }
    }

    /// The command line of a [`Step::Run`], as a shell would show it.
    #[must_use]
    pub fn command_line(program: &str, args: &[String]) -> String {
        std::iter::once(program)
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Steps as `--dry-run` prints them: each file with its contents, each command after `$`.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Write { path, contents } => {
                write!(f, "# write {}\n{contents}", path.display())?;
                if contents.ends_with('\n') { Ok(()) } else { writeln!(f) }
            }
            Self::Remove { path } => writeln!(f, "$ rm {}", path.display()),
            Self::Run { program, args, check } => {
                let tail = if *check { "" } else { "    # may fail: nothing to undo" };
                writeln!(f, "$ {}{tail}", Step::command_line(program, args))
            }
        }
    }
}

/// The files a platform installs, for status and uninstall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Where they are.
    pub files: Vec<PathBuf>,
}

/// Whether `path` is a file `tether daemon install` wrote.
#[must_use]
pub fn is_ours(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.contains(MARKER))
}

/// `path` as UTF-8 text.
///
/// # Errors
/// [`ServiceError::NotUtf8`].
pub fn utf8(path: &Path) -> Result<&str, ServiceError> {
    path.to_str().ok_or_else(|| ServiceError::NotUtf8(path.to_owned()))
}

/// Fails when `value` holds a character no service file can carry.
///
/// # Errors
/// [`ServiceError::Unwritable`] naming `name`.
pub fn writable(name: &str, value: &str) -> Result<(), ServiceError> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(ServiceError::Unwritable { name: name.into() });
    }
    Ok(())
}

/// Replaces each `@KEY@` of `template`; a template key left unreplaced is a bug in the caller.
#[must_use]
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in values {
        out = out.replace(&format!("@{key}@"), value);
    }
    out
}

/// The home folder (`HOME`, else the password database), as etcetera finds it.
///
/// # Errors
/// [`ServiceError::NoHome`].
pub fn home_dir() -> Result<PathBuf, ServiceError> {
    use etcetera::BaseStrategy as _;
    etcetera::choose_base_strategy()
        .map(|base| base.home_dir().to_owned())
        .map_err(|_| ServiceError::NoHome)
}
