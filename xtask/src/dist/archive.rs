//! The `.tar.gz` writer: the stage folder under its own name, links kept as links, and no owner
//! or time in the headers, so that the same files give the same archive.

use std::fs::File;
use std::path::Path;

use anyhow::Context as _;
use flate2::Compression;
use flate2::write::GzEncoder;

/// Writes `stage` (its folder name first in every path) to `archive`.
pub fn write(stage: &Path, archive: &Path) -> anyhow::Result<()> {
    let name = stage.file_name().context("the stage folder has a name")?;
    let file =
        File::create(archive).with_context(|| format!("failed to create {}", archive.display()))?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::best()));
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    tar.append_dir_all(name, stage)
        .and_then(|()| tar.into_inner())
        .and_then(GzEncoder::finish)
        .with_context(|| format!("failed to write {}", archive.display()))?;
    Ok(())
}

/// The paths in `archive`, with `@ -> TARGET` after links.
pub fn list(archive: &Path) -> anyhow::Result<Vec<String>> {
    let file =
        File::open(archive).with_context(|| format!("failed to open {}", archive.display()))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut paths = Vec::new();
    for entry in tar.entries().with_context(|| format!("failed to read {}", archive.display()))? {
        let entry = entry.with_context(|| format!("failed to read {}", archive.display()))?;
        let path = entry.path()?.display().to_string();
        match entry.link_name()? {
            Some(target) => paths.push(format!("{path} -> {}", target.display())),
            None => paths.push(path),
        }
    }
    paths.sort();
    Ok(paths)
}
