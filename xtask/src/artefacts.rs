//! `cargo xtask test artefacts`: builds the release archive and (on Linux) the Debian package,
//! then checks what a user gets: the archive's files and the sums, the manifests, the package's
//! files and binaries, the units under `systemd-analyze verify`, a socket-activated tetherd
//! serving a forward, the completion script and the man pages. It ends with
//! `artefacts: N passed, N failed`.
//!
//! A tool a check needs (`systemd-analyze`, `dpkg-deb`, ...) fails the check when missing,
//! unless `TETHER_ALLOW_SKIP=1`; `.ci/run` installs them.

mod activation;
mod demo;
mod files;
mod package;
mod proc;
mod units;

use std::path::{Path, PathBuf};

use crate::dist::{self, Built};

/// Allows a check to be skipped when a tool it needs is missing.
pub const ENV_ALLOW_SKIP: &str = "TETHER_ALLOW_SKIP";

/// What a check found.
pub enum Verdict {
    /// It holds.
    Pass,
    /// It does not apply here (such as a Linux package on macOS), or a tool is missing and
    /// skipping is allowed; the reason.
    Skip(String),
}

/// Everything a check may look at.
pub struct Artefacts {
    /// The workspace.
    pub root: PathBuf,
    /// The archive, and the folder it was made from.
    pub built: Built,
    /// The archive, unpacked: its top folder.
    pub tree: PathBuf,
    /// The Debian package (Linux only).
    pub deb: Option<PathBuf>,
    /// A scratch folder for this run.
    pub scratch: PathBuf,
}

type Check = fn(&Artefacts) -> anyhow::Result<Verdict>;

const CHECKS: [(&str, Check); 11] = [
    ("the archive holds the binaries, the plugin link, docs and service files", files::archive),
    ("SHA256SUMS matches every archive and package (sha256sum -c)", files::sums),
    ("the krew manifest and the Homebrew formula name the archive and its sum", files::manifests),
    ("the completion script parses (bash -n) and the man pages render (groff)", files::docs),
    ("the launchd agent is a valid property list", files::plist),
    (
        "the .deb holds binaries, user units, man pages and completions (dpkg-deb -c)",
        package::contents,
    ),
    ("the binaries extracted from the .deb run --version", package::versions),
    ("the units pass systemd-analyze verify (installed and packaged)", units::verify),
    (
        "tether daemon install (--dry-run), status and uninstall, systemctl stood in for",
        units::install,
    ),
    ("a socket-activated tetherd says so and serves a forward", activation::serves),
    (
        "tether demo ends with a summary, no log line leaks, and says how to get the testkit",
        demo::ends,
    ),
];

/// Builds the artefacts and runs every check.
pub fn run(root: &Path) -> anyhow::Result<()> {
    let built = dist::run(root, None)?;
    let deb = if cfg!(target_os = "linux") { Some(crate::deb::run(root, &built)?) } else { None };
    // Sockets live under it: a short path, whatever the checkout's.
    let scratch = std::env::temp_dir().join(format!("tether-artefacts-{}", std::process::id()));
    let _stale = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let tree = files::unpack(&built.archive, &scratch.join("archive"))?;
    let artefacts = Artefacts { root: root.to_owned(), built, tree, deb, scratch };
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, check) in CHECKS {
        let started = std::time::Instant::now();
        match check(&artefacts) {
            Ok(Verdict::Pass) => {
                passed += 1;
                eprintln!("ok      {name} ({:.1} s)", started.elapsed().as_secs_f64());
            }
            Ok(Verdict::Skip(why)) => {
                skipped += 1;
                eprintln!("skipped {name}: {why}");
            }
            Err(e) => {
                failed += 1;
                eprintln!("FAILED  {name}: {e:#}");
            }
        }
    }
    eprintln!("artefacts: {passed} passed, {failed} failed, {skipped} skipped");
    anyhow::ensure!(
        failed == 0,
        "{failed} artefact check(s) failed; their logs are in {}",
        artefacts.scratch.display()
    );
    let _removed = std::fs::remove_dir_all(&artefacts.scratch);
    Ok(())
}

/// The path of `tool` on PATH; `Err(Skip)` when missing and skipping is allowed, else an
/// error that says how to install it.
pub fn tool(tool: &str, package: &str) -> Result<PathBuf, anyhow::Result<Verdict>> {
    let found = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|d| d.join(tool)).find(|p| p.is_file()));
    found.ok_or_else(|| {
        if std::env::var(ENV_ALLOW_SKIP).is_ok_and(|v| v == "1") {
            Ok(Verdict::Skip(format!("{tool} is missing ({ENV_ALLOW_SKIP}=1)")))
        } else {
            Err(anyhow::anyhow!(
                "{tool} is missing: install it (`apt-get install {package}`; .ci/run does), or set \
                 {ENV_ALLOW_SKIP}=1 to skip this check"
            ))
        }
    })
}

/// Returns early from a check with [`tool`]'s skip or error.
macro_rules! require {
    ($tool:expr, $package:expr) => {
        match $crate::artefacts::tool($tool, $package) {
            Ok(path) => path,
            Err(verdict) => return verdict,
        }
    };
}
pub(crate) use require;
