//! `cargo xtask dist`: the release archive of one target, `tether-VERSION-TARGET.tar.gz`, laid
//! out as a prefix (`bin/`, `share/man/man1/`, completions, service files) with LICENSE,
//! README.md and INSTALL.md; then `SHA256SUMS`, the krew manifest and the Homebrew formula over
//! every archive in `target/dist/`.

mod archive;
mod manifests;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use tether_cli::service::{Service, launchd, systemd};

use crate::docs;
use crate::suites::cargo;

pub use archive::list as list_archive;
pub use manifests::{SUMS, checksums};

/// The workspace's version, which every binary reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The binaries shipped, all in `bin/`.
pub const BINARIES: [&str; 3] = ["tether", "tetherd", "tether-testkit"];
/// The link kubectl finds the plugin by, to `tether`.
pub const PLUGIN_LINK: &str = "kubectl-tether";
/// The packages the binaries come from.
const PACKAGES: [&str; 3] = ["tether-cli", "tether-daemon", "tether-testkit"];
/// Where the archive's service files point to for `tetherd`.
const ARCHIVE_TETHERD: &str = "/usr/local/bin/tetherd";

/// What one `dist` run built.
#[derive(Debug)]
pub struct Built {
    /// The target triple.
    pub target: String,
    /// Whether it was named (`--target`), so that cargo put the binaries under it.
    pub named: bool,
    /// Where cargo put the release binaries.
    pub bins: PathBuf,
    /// The archive.
    pub archive: PathBuf,
    /// The folder the archive was made from (its top folder).
    pub stage: PathBuf,
}

/// The folder of every artefact: `target/dist`.
#[must_use]
pub fn out_dir(root: &Path) -> PathBuf {
    target_dir(root).join("dist")
}

/// Cargo's target folder.
#[must_use]
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// The archive's top folder and file stem for `target`.
#[must_use]
pub fn archive_name(target: &str) -> String {
    format!("tether-{VERSION}-{target}")
}

/// This machine's target triple, from `rustc -vV`.
pub fn host_target() -> anyhow::Result<String> {
    let output = Command::new("rustc").arg("-vV").output().context("failed to run rustc -vV")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let host = text.lines().find_map(|l| l.strip_prefix("host: "));
    host.map(str::to_owned).context("rustc -vV named no host target")
}

/// Builds the release binaries of `target` (the host's when `None`), then its archive, then the
/// sums and manifests over every archive.
pub fn run(root: &Path, target: Option<&str>) -> anyhow::Result<Built> {
    let (triple, bins) = build(root, target)?;
    let stage_root = out_dir(root).join("stage");
    let stage = stage_root.join(archive_name(&triple));
    let _stale = std::fs::remove_dir_all(&stage);
    lay_out(root, &bins, &stage)?;
    let archive = out_dir(root).join(format!("{}.tar.gz", archive_name(&triple)));
    archive::write(&stage, &archive)?;
    manifests::write(root, &out_dir(root))?;
    let built = Built { target: triple, named: target.is_some(), bins, archive, stage };
    report(&built)?;
    Ok(built)
}

/// Only the sums and manifests, over the archives already in `target/dist` (CI's last step,
/// once every target's archive is there).
pub fn manifests_only(root: &Path) -> anyhow::Result<()> {
    manifests::write(root, &out_dir(root))
}

/// `cargo build --release` of the shipped binaries; the target triple and where they are.
fn build(root: &Path, target: Option<&str>) -> anyhow::Result<(String, PathBuf)> {
    let mut args = vec!["build", "--release", "--locked"];
    for package in PACKAGES {
        args.extend(["-p", package]);
    }
    if let Some(target) = target {
        args.extend(["--target", target]);
    }
    cargo(root, &args)?;
    Ok(match target {
        Some(t) => (t.to_owned(), target_dir(root).join(t).join("release")),
        None => (host_target()?, target_dir(root).join("release")),
    })
}

/// Lays the archive's files out in `stage`.
fn lay_out(root: &Path, bins: &Path, stage: &Path) -> anyhow::Result<()> {
    for bin in BINARIES {
        copy(&bins.join(bin), &stage.join("bin").join(bin))?;
    }
    link(&stage.join("bin").join(PLUGIN_LINK))?;
    docs::write(stage)?;
    let service = Service::packaged(ARCHIVE_TETHERD);
    let units = systemd::render(&service)?;
    let services = stage.join("share/tether");
    docs::write_file(
        &services.join("systemd").join(systemd::SOCKET_UNIT),
        units.socket.as_bytes(),
    )?;
    docs::write_file(
        &services.join("systemd").join(systemd::SERVICE_UNIT),
        units.service.as_bytes(),
    )?;
    let plist = launchd::render(&service)?;
    docs::write_file(&services.join("launchd").join(launchd::file_name()), plist.as_bytes())?;
    for (from, to) in
        [("LICENSE", "LICENSE"), ("README.md", "README.md"), ("docs/INSTALL.md", "INSTALL.md")]
    {
        copy(&root.join(from), &stage.join(to))?;
    }
    Ok(())
}

/// Lays out the files of the Debian package beside the binaries (`deb-assets/`), where
/// cargo-deb's `target/release/` asset paths find them: man pages, completions, and the user
/// units with `/usr/bin/tetherd`.
pub fn lay_out_deb(bins: &Path) -> anyhow::Result<()> {
    let assets = bins.join("deb-assets");
    let _stale = std::fs::remove_dir_all(&assets);
    // Debian ships man pages gzipped.
    for page in docs::man_pages(&assets.join("man"))? {
        gzip(&page)?;
    }
    for (shell, relative) in docs::COMPLETIONS {
        let name = Path::new(relative).file_name().context("a completion has a file name")?;
        docs::write_file(&assets.join("completions").join(name), &docs::completion(shell))?;
    }
    let units = systemd::render(&Service::packaged("/usr/bin/tetherd"))?;
    docs::write_file(&assets.join("systemd").join(systemd::SOCKET_UNIT), units.socket.as_bytes())?;
    docs::write_file(
        &assets.join("systemd").join(systemd::SERVICE_UNIT),
        units.service.as_bytes(),
    )?;
    link(&assets.join(PLUGIN_LINK))
}

/// Replaces `path` with `path.gz`, compressed as `gzip -9n` would (no name, no time).
fn gzip(path: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    let bytes =
        std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes)?;
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    std::fs::write(&name, gz.finish()?).with_context(|| format!("failed to write {name:?}"))?;
    std::fs::remove_file(path).with_context(|| format!("failed to remove {}", path.display()))
}

fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    std::fs::copy(from, to)
        .with_context(|| format!("failed to copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// A relative link `path` -> `tether`.
fn link(path: &Path) -> anyhow::Result<()> {
    let _stale = std::fs::remove_file(path);
    std::os::unix::fs::symlink("tether", path)
        .with_context(|| format!("failed to link {}", path.display()))
}

/// Prints the sizes of the binaries and the archive.
fn report(built: &Built) -> anyhow::Result<()> {
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .with_context(|| format!("failed to read {}", p.display()))
    };
    for bin in BINARIES {
        let path = built.stage.join("bin").join(bin);
        eprintln!("  {:<48} {:>6.1} MB", format!("bin/{bin}"), mb(size(&path)?));
    }
    eprintln!("  {:<48} {:>6.1} MB", built.archive.display(), mb(size(&built.archive)?));
    Ok(())
}

/// Bytes in megabytes (10^6), as `ls -h --si` and the docs give them.
#[expect(clippy::cast_precision_loss, reason = "sizes are far below 2^52 bytes")]
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}
