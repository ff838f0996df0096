//! What goes beside the archives: `SHA256SUMS` (as `sha256sum` writes it), and, rendered from
//! the templates in `packaging/` with those sums, the krew plugin manifest (`tether.yaml`) and
//! the Homebrew formula (`tether.rb`), each naming every archive present.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::Digest as _;

use super::{VERSION, archive_name};

/// The sums file.
pub const SUMS: &str = "SHA256SUMS";
/// Where releases are downloaded from.
const RELEASES: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/releases/download");

/// A target a release is built for: its triple, krew's `os`/`arch`, Homebrew's blocks.
struct Platform {
    triple: &'static str,
    os: &'static str,
    arch: &'static str,
    brew_os: &'static str,
    brew_cpu: &'static str,
}

const PLATFORMS: [Platform; 4] = [
    Platform {
        triple: "x86_64-unknown-linux-gnu",
        os: "linux",
        arch: "amd64",
        brew_os: "on_linux",
        brew_cpu: "on_intel",
    },
    Platform {
        triple: "aarch64-unknown-linux-gnu",
        os: "linux",
        arch: "arm64",
        brew_os: "on_linux",
        brew_cpu: "on_arm",
    },
    Platform {
        triple: "x86_64-apple-darwin",
        os: "darwin",
        arch: "amd64",
        brew_os: "on_macos",
        brew_cpu: "on_intel",
    },
    Platform {
        triple: "aarch64-apple-darwin",
        os: "darwin",
        arch: "arm64",
        brew_os: "on_macos",
        brew_cpu: "on_arm",
    },
];

/// Writes the sums of every archive and package in `dir`, then the manifests.
pub fn write(root: &Path, dir: &Path) -> anyhow::Result<()> {
    let sums = checksums(dir)?;
    let text: String = sums.iter().map(|(name, sum)| format!("{sum}  {name}\n")).collect();
    std::fs::write(dir.join(SUMS), text).context("failed to write SHA256SUMS")?;
    let present: Vec<(&Platform, &str)> = PLATFORMS
        .iter()
        .filter_map(|p| {
            let file = format!("{}.tar.gz", archive_name(p.triple));
            sums.iter().find(|(name, _)| *name == file).map(|(_, sum)| (p, sum.as_str()))
        })
        .collect();
    let krew = template(root, "packaging/krew/tether.yaml")?;
    let krew = fill(&krew, &krew_platforms(&present));
    serde_yaml::from_str::<serde_yaml::Value>(&krew).context("the krew manifest is not YAML")?;
    std::fs::write(dir.join("tether.yaml"), krew).context("failed to write tether.yaml")?;
    let brew = fill(&template(root, "packaging/homebrew/tether.rb")?, &brew_platforms(&present));
    std::fs::write(dir.join("tether.rb"), brew).context("failed to write tether.rb")?;
    Ok(())
}

/// `(file name, hex SHA-256)` of each `.tar.gz` and `.deb` in `dir`, by name.
pub fn checksums(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("failed to list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_str().is_some_and(|s| s.ends_with(".tar.gz") || s.ends_with(".deb")))
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path)
                .with_context(|| format!("failed to read {}", path.display()))?;
            let name = path.file_name().and_then(|n| n.to_str()).context("a UTF-8 file name")?;
            Ok((name.to_owned(), hex::encode(sha2::Sha256::digest(&bytes))))
        })
        .collect()
}

fn template(root: &Path, path: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(root.join(path)).with_context(|| format!("failed to read {path}"))
}

/// `template` with the version, the homepage and `platforms` in, as the service files are filled.
fn fill(template: &str, platforms: &str) -> String {
    tether_cli::service::fill(
        template,
        &[
            ("VERSION", VERSION),
            ("HOMEPAGE", env!("CARGO_PKG_REPOSITORY")),
            ("PLATFORMS", platforms.trim_end()),
        ],
    )
}

fn url(triple: &str) -> String {
    format!("{RELEASES}/v{VERSION}/{}.tar.gz", archive_name(triple))
}

fn krew_platforms(present: &[(&Platform, &str)]) -> String {
    let mut out = String::new();
    for (p, sum) in present {
        let top = archive_name(p.triple);
        let _ = write!(
            out,
            "  - selector:\n      matchLabels:\n        os: {}\n        arch: {}\n    uri: {}\n    \
             sha256: {sum}\n    files:\n    - from: {top}/bin/tether\n      to: .\n    \
             - from: {top}/bin/tetherd\n      to: .\n    - from: {top}/LICENSE\n      to: .\n    \
             bin: tether\n",
            p.os,
            p.arch,
            url(p.triple)
        );
    }
    out
}

fn brew_platforms(present: &[(&Platform, &str)]) -> String {
    let mut out = String::new();
    for os in ["on_macos", "on_linux"] {
        let blocks: Vec<String> = present
            .iter()
            .filter(|(p, _)| p.brew_os == os)
            .map(|(p, sum)| {
                format!(
                    "    {} do\n      url \"{}\"\n      sha256 \"{sum}\"\n    end\n",
                    p.brew_cpu,
                    url(p.triple)
                )
            })
            .collect();
        if !blocks.is_empty() {
            let _ = write!(out, "  {os} do\n{}  end\n", blocks.concat());
        }
    }
    out
}
