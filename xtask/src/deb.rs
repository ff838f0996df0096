//! `cargo xtask deb`: the Debian package, through cargo-deb (installed at the version pinned
//! here when missing) and the `[package.metadata.deb]` of `cli/Cargo.toml`: the binaries, the
//! `kubectl-tether` link, the user units (`/usr/lib/systemd/user`), man pages and completions.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

use crate::dist::{self, Built};
use crate::suites::{cargo, status};

/// The cargo-deb release the package is built with.
pub const CARGO_DEB: &str = "3.8.0";

/// Builds the package from the binaries of `built`; its path.
pub fn run(root: &Path, built: &Built) -> anyhow::Result<PathBuf> {
    ensure_cargo_deb(root)?;
    dist::lay_out_deb(&built.bins)?;
    let out = dist::out_dir(root);
    let out_arg = out.display().to_string();
    let mut args = vec!["deb", "-p", "tether-cli", "--no-build", "--locked", "-o", &out_arg];
    if built.named {
        args.extend(["--target", &built.target]);
    }
    cargo(root, &args)?;
    let deb = newest_deb(&out)?;
    // The sums cover the package too.
    dist::manifests_only(root)?;
    let size = std::fs::metadata(&deb).map(|m| m.len()).unwrap_or_default();
    eprintln!("  {:<48} {:>6.1} MB", deb.display(), dist::mb(size));
    Ok(deb)
}

/// Installs cargo-deb at [`CARGO_DEB`] unless `cargo deb --version` already says it.
fn ensure_cargo_deb(root: &Path) -> anyhow::Result<()> {
    let cargo_bin = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let have = Command::new(&cargo_bin).args(["deb", "--version"]).output();
    let version = have.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if version.as_deref().is_ok_and(|v| v == format!("cargo-deb {CARGO_DEB}")) {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-deb {CARGO_DEB} (found: {version:?})");
    status(
        Command::new(&cargo_bin)
            .args(["install", "cargo-deb", "--locked", "--version", CARGO_DEB])
            .current_dir(root),
        "cargo install cargo-deb",
    )
    .context("cargo-deb builds the Debian package; installing it needs crates.io")
}

/// The most recently written `.deb` in `dir`.
fn newest_deb(dir: &Path) -> anyhow::Result<PathBuf> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("failed to list {}", dir.display()))?;
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .context("cargo-deb wrote no .deb")
}
