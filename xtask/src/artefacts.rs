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

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use tether_testsupport::prereq::{ALLOW_SKIP, skip_allowed, which};

use crate::dist::{self, Built};

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
    /// The Debian package, unpacked: its root, once a check asked for it ([`Self::deb_tree`]).
    deb_tree: OnceCell<PathBuf>,
    /// A scratch folder for this run.
    pub scratch: PathBuf,
}

impl Artefacts {
    /// The Debian package as `dpkg-deb -x` unpacks it: its root. The first check that asks
    /// unpacks it; the others look at the same files.
    pub fn deb_tree(&self, dpkg_deb: &Path) -> anyhow::Result<&Path> {
        if let Some(root) = self.deb_tree.get() {
            return Ok(root);
        }
        let deb = self.deb.as_deref().context("no Debian package was built")?;
        let root = self.scratch.join("deb");
        let mut unpack = Command::new(dpkg_deb);
        proc::success(unpack.arg("-x").arg(deb).arg(&root), Duration::from_secs(60))?;
        Ok(self.deb_tree.get_or_init(|| root))
    }
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
    let deb_tree = OnceCell::new();
    let artefacts = Artefacts { root: root.to_owned(), built, tree, deb, deb_tree, scratch };
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
    which(tool).ok_or_else(|| {
        if skip_allowed() {
            Ok(Verdict::Skip(format!("{tool} is missing ({ALLOW_SKIP}=1)")))
        } else {
            Err(anyhow::anyhow!(
                "{tool} is missing: install it (`apt-get install {package}`; .ci/run does), or set \
                 {ALLOW_SKIP}=1 to skip this check"
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
