//! The tar from `tar cf - SRC` in a pod, unpacked into a local destination the way kubectl cp
//! does it, and no further: entries whose path leaves the destination are refused.
//!
//! - A name that does not start with the source's prefix, or an absolute name, means the tar was
//!   tampered with: the copy fails with kubectl's `tar contents corrupted`.
//! - A name that climbs out with `..` is skipped with kubectl's warning.
//! - Symbolic links are skipped with kubectl's warning, so none can point outside; hard links and
//!   special files are skipped too. A path through a symbolic link that already exists in the
//!   destination is skipped, so that no write follows a link out, however the destination is
//!   spelled (`.`, `./`, `sub/..`, absolute); a path that cannot be related to the destination is
//!   skipped too (the check fails closed). A destination that is itself a symbolic link to a
//!   folder is where the user asked the files to go, and is followed.
//! - Files get default permissions (umask), as with kubectl.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::spec;

/// How to place entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// What every entry name starts with ([`spec::download_prefix`]).
    pub prefix: String,
    /// The local destination, as the user wrote it.
    pub dest: String,
    /// The folder a relative destination is in (the current folder).
    pub base: PathBuf,
    /// A command that copies symbolic links too, suggested with the first skipped one.
    pub symlink_hint: String,
}

/// Where an entry goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Inside the destination, at this path.
    Inside(String),
    /// Outside the destination (kubectl's cleaned path, for the warning): skip it.
    Outside(String),
}

/// Why unpacking stopped.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// A name without the prefix, or an absolute one.
    #[error("tar contents corrupted")]
    Corrupted,
    /// The stream is not a valid tar.
    #[error("failed to read the tar stream from the container")]
    Read(#[source] io::Error),
    /// A local file or folder could not be written.
    #[error("failed to write {path}")]
    Write {
        /// The local path.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// What was unpacked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Files written.
    pub files: u64,
    /// Entries skipped, each with a warning.
    pub skipped: u64,
}

/// Where the entry `name` goes under `rules`, as kubectl computes it.
///
/// # Errors
/// [`UnpackError::Corrupted`] for a name without the prefix, or an absolute name.
pub fn place(rules: &Rules, name: &str) -> Result<Placement, UnpackError> {
    let Some(rest) = name.strip_prefix(rules.prefix.as_str()) else {
        return Err(UnpackError::Corrupted);
    };
    if name.starts_with('/') {
        return Err(UnpackError::Corrupted);
    }
    let rest = spec::remote_path(rest);
    let path = spec::join(&rules.dest, &rest);
    Ok(if climbs_out(&rest) { Placement::Outside(path) } else { Placement::Inside(path) })
}

/// Whether a relative path goes above its start at any point.
fn climbs_out(path: &str) -> bool {
    let mut depth = 0_usize;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if depth == 0 => return true,
            ".." => depth -= 1,
            _ => depth += 1,
        }
    }
    false
}

/// The first symbolic link on the way from `dest` down to `path` (`path` included), if any,
/// with relative paths taken from `base`. `path` must lie inside `dest` (a
/// [`Placement::Inside`]); should it not relate to `dest`, it is reported as if behind a link,
/// so that nothing is written where the check could not look.
#[must_use]
pub fn symlink_on_the_way(base: &Path, dest: &str, path: &str) -> Option<PathBuf> {
    let dest = spec::clean(dest);
    // `spec::join` drops a leading `./`: under `.` the path is the rest itself.
    let rest =
        if dest == "." { Some(Path::new(path)) } else { Path::new(path).strip_prefix(&dest).ok() };
    let Some(rest) = rest else { return Some(base.join(path)) };
    if rest.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
        return Some(base.join(path));
    }
    let mut at = base.join(&dest);
    for part in rest.components() {
        at.push(part);
        match fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => return Some(at),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Unpacks `tar` under `rules`, calling `warn` with each warning line.
///
/// # Errors
/// An [`UnpackError`]; what was written before stays.
pub fn unpack(
    tar: impl Read,
    rules: &Rules,
    warn: &mut dyn FnMut(String),
) -> Result<Stats, UnpackError> {
    let mut archive = tar::Archive::new(tar);
    let mut stats = Stats::default();
    let mut hinted = false;
    for entry in archive.entries().map_err(UnpackError::Read)? {
        let mut entry = entry.map_err(UnpackError::Read)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            continue;
        }
        let path = match place(rules, &name)? {
            Placement::Inside(path) => path,
            Placement::Outside(path) => {
                warn(format!("warning: file {path:?} is outside target destination, skipping"));
                stats.skipped += 1;
                continue;
            }
        };
        if let Some(link) = symlink_on_the_way(&rules.base, &rules.dest, &path) {
            let link = link.display();
            warn(format!(
                "warning: file {path:?} is behind the symbolic link {:?}, skipping",
                link.to_string()
            ));
            stats.skipped += 1;
            continue;
        }
        let target = || {
            let bytes = entry.link_name_bytes().unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let skip = match kind {
            EntryType::Directory => None,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => None,
            EntryType::Symlink if hinted => {
                Some(format!("skipping symlink: {path:?} -> {:?}", target()))
            }
            EntryType::Symlink => {
                hinted = true;
                Some(format!(
                    "skipping symlink: {path:?} -> {:?} (consider using \"{}\")",
                    target(),
                    rules.symlink_hint
                ))
            }
            EntryType::Link => Some(format!("skipping hard link: {path:?} -> {:?}", target())),
            _ => Some(format!("skipping special file: {path:?}")),
        };
        if let Some(skip) = skip {
            warn(format!("warning: {skip}"));
            stats.skipped += 1;
            continue;
        }
        write(&rules.base, &path, kind == EntryType::Directory, &mut entry)?;
        stats.files += u64::from(kind != EntryType::Directory);
    }
    Ok(stats)
}

/// Creates the folder `path`, or the file `path` with `data`, and the folders above it; a
/// relative `path` is taken from `base`.
fn write(base: &Path, path: &str, is_dir: bool, data: &mut impl Read) -> Result<(), UnpackError> {
    let failed = |source| UnpackError::Write { path: path.to_owned(), source };
    let on_disk = base.join(path);
    if is_dir {
        return fs::create_dir_all(&on_disk).map_err(failed);
    }
    if let Some(parent) = on_disk.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(failed)?;
    }
    let mut file = fs::File::create(&on_disk).map_err(failed)?;
    io::copy(data, &mut file).map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests;
