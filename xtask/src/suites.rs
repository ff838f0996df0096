//! The test suites of every language, run in one go. Tools that are not Rust are installed on
//! first use at the versions the bindings pin: a venv under `target/` for Python, `npm ci` for
//! the extension. A suite whose tools cannot be installed fails; none is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

/// A test suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// `cargo test --workspace` (after building every binary the other suites run).
    Rust,
    /// The Python bindings: pytest against tetherd and tether-testkit.
    Python,
    /// The VS Code extension: `npm test`.
    Node,
    /// The release artefacts: archive, sums, manifests, .deb, units, socket activation, man
    /// pages and completions (a release build; `.ci/run` runs it after the others).
    Artefacts,
}

/// The suites `cargo xtask test` runs when none is named.
const ALL: [Suite; 3] = [Suite::Rust, Suite::Python, Suite::Node];

/// The workspace root.
pub fn root() -> anyhow::Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_owned).context("xtask lives in the workspace")
}

/// Runs `only`, or every suite; stops at the first that fails.
pub fn run(root: &Path, only: &[Suite]) -> anyhow::Result<()> {
    let suites = if only.is_empty() { &ALL[..] } else { only };
    // Every suite runs the binaries: build them first, once (the artefacts suite builds its
    // own, in release).
    if suites.iter().any(|s| *s != Suite::Artefacts) {
        cargo(root, &["build", "--workspace", "--bins", "--locked"])?;
    }
    for suite in suites {
        eprintln!("xtask: {suite:?} suite");
        match suite {
            Suite::Rust => cargo(root, &["test", "--workspace", "--locked"])?,
            Suite::Python => python(root)?,
            Suite::Node => node(root)?,
            Suite::Artefacts => crate::artefacts::run(root)?,
        }
    }
    eprintln!("xtask: every suite passed: {suites:?}");
    Ok(())
}

/// Where the built binaries are, for the suites of other languages.
fn bin_dir(root: &Path) -> PathBuf {
    crate::dist::target_dir(root).join("debug")
}

/// Runs cargo (the one running xtask) in `root`.
pub fn cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    status(Command::new(cargo).args(args).current_dir(root), "cargo")
}

/// Runs `command`; fails unless it succeeds.
pub fn status(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("failed to run {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status}): {command:?}");
    }
    Ok(())
}

/// The Python of the venv both the Python and the extension's suites use, `target/venv`,
/// created (from `PYTHON`, else `python3`) when missing.
fn venv(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("target/venv");
    let py = venv.join("bin/python");
    if !py.is_file() {
        let system = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        status(Command::new(&system).args(["-m", "venv"]).arg(&venv), "python3 -m venv").context(
            "Python 3.10 or newer is needed for the Python suite and the extension's debugpy \
             test (set PYTHON to choose one)",
        )?;
    }
    Ok(py)
}

/// A venv under `target/` with the package and its test extras, then pytest.
fn python(root: &Path) -> anyhow::Result<()> {
    let py = venv(root)?;
    let package = root.join("bindings/python");
    status(
        Command::new(&py)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e"])
            .arg(format!("{}[test]", package.display())),
        "pip install bindings/python[test]",
    )?;
    status(
        Command::new(&py)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .current_dir(&package)
            .env("TETHER_BIN_DIR", bin_dir(root)),
        "pytest",
    )
}

/// `npm ci` when the lock file changed since the last install, then `npm test`. The
/// integration tests run debugpy in a fixture pod: it comes from the same venv as the Python
/// suite's (`target/venv`), at the version pinned here, passed on as `TETHER_PYTHON`.
fn node(root: &Path) -> anyhow::Result<()> {
    const DEBUGPY: &str = "debugpy==1.8.22";
    let py = venv(root)?;
    let pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", DEBUGPY];
    status(Command::new(&py).args(pip), "pip install debugpy")?;
    let ext = root.join("bindings/vscode");
    anyhow::ensure!(ext.join("package.json").is_file(), "bindings/vscode/package.json is missing");
    let stamp = ext.join("node_modules/.package-lock.json");
    let lock = ext.join("package-lock.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&stamp).is_none() || modified(&stamp) < modified(&lock) {
        status(
            Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&ext),
            "npm ci",
        )
        .context("Node.js 20 with npm is needed for the extension's suite")?;
    }
    status(
        Command::new("npm")
            .arg("test")
            .current_dir(&ext)
            .env("TETHER_BIN_DIR", bin_dir(root))
            .env("TETHER_PYTHON", &py),
        "npm test",
    )
}
