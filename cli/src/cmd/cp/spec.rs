//! kubectl cp's file specs, `[[NAMESPACE/]POD:]PATH`, and the path rules it applies to them:
//! Go's `path` package (remote paths always; local paths too, on Unix).

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSpec {
    /// A local path, without a trailing slash.
    Local(String),
    /// A path in a pod's container, without a trailing slash.
    Remote {
        /// The namespace given in the spec, if any.
        namespace: Option<String>,
        /// The pod.
        pod: String,
        /// The path in the container.
        path: String,
    },
}

/// What to copy, and which way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copy {
    /// A local file or folder into a pod.
    ToPod {
        /// The local path.
        src: String,
        /// The namespace given in the spec, if any.
        namespace: Option<String>,
        /// The pod.
        pod: String,
        /// The path in the container.
        dest: String,
    },
    /// A file or folder in a pod to a local path.
    FromPod {
        /// The namespace given in the spec, if any.
        namespace: Option<String>,
        /// The pod.
        pod: String,
        /// The path in the container.
        src: String,
        /// The local path.
        dest: String,
    },
}

/// kubectl's message for a spec it cannot read.
pub const BAD_FORMAT: &str =
    "filespec must match the canonical format: [[namespace/]pod:]file/path";

/// Reads one side, as kubectl's `extractFileSpec` does: everything before the first `:` names the
/// pod (`POD` or `NAMESPACE/POD`); without a `:`, the argument is a local path.
///
/// # Errors
/// kubectl's message, for a spec that starts with `:`, has more than one `/` before it, or an
/// empty pod name.
pub fn parse(arg: &str) -> Result<FileSpec, &'static str> {
    let Some((pod, path)) = arg.split_once(':') else {
        return Ok(FileSpec::Local(strip_trailing_slash(arg).to_owned()));
    };
    let path = remote_path(path);
    match pod.split('/').collect::<Vec<_>>()[..] {
        [pod] if !pod.is_empty() => {
            Ok(FileSpec::Remote { namespace: None, pod: pod.to_owned(), path })
        }
        [namespace, pod] if !pod.is_empty() => Ok(FileSpec::Remote {
            namespace: Some(namespace.to_owned()).filter(|ns| !ns.is_empty()),
            pod: pod.to_owned(),
            path,
        }),
        _ => Err(BAD_FORMAT),
    }
}

/// Reads both sides and checks them, with kubectl's messages.
///
/// # Errors
/// Both sides local or both remote, an empty path, or a spec [`parse`] refuses.
pub fn plan(src: &str, dest: &str) -> Result<Copy, &'static str> {
    match (parse(src)?, parse(dest)?) {
        (FileSpec::Remote { .. }, FileSpec::Remote { .. }) => {
            Err("one of src or dest must be a local file specification")
        }
        (FileSpec::Local(a) | FileSpec::Remote { path: a, .. }, _) if a.is_empty() => {
            Err("filepath can not be empty")
        }
        (_, FileSpec::Local(b) | FileSpec::Remote { path: b, .. }) if b.is_empty() => {
            Err("filepath can not be empty")
        }
        (FileSpec::Remote { namespace, pod, path }, FileSpec::Local(dest)) => {
            Ok(Copy::FromPod { namespace, pod, src: path, dest })
        }
        (FileSpec::Local(src), FileSpec::Remote { namespace, pod, path }) => {
            Ok(Copy::ToPod { src, namespace, pod, dest: path })
        }
        (FileSpec::Local(_), FileSpec::Local(_)) => {
            Err("one of src or dest must be a remote file specification")
        }
    }
}

/// Where an upload lands: the name of the top entry in the tar, and the folder `tar -x` runs in
/// (`-C`). Into an existing folder `dest`, the source keeps its name; otherwise it is renamed
/// to `dest`'s last part, in `dest`'s parent folder.
#[must_use]
pub fn upload_target(src: &str, dest: &str, dest_is_dir: bool) -> (String, String) {
    let dest = if dest_is_dir { join(dest, &base(src)) } else { dest.to_owned() };
    let dest = clean(&remote_path(&dest));
    (base(&dest), dir(&dest))
}

/// The part of entry names that the source path accounts for in `tar cf - SRC`: GNU tar drops
/// leading slashes (and `../`), so `/var/log/` gives `var/log`.
#[must_use]
pub fn download_prefix(src: &str) -> String {
    let stripped = remote_path(src.trim_start_matches(['/', '\\']));
    strip_path_shortcuts(&clean(&stripped))
}

/// kubectl's remote path: backslashes become slashes, and one trailing slash goes.
#[must_use]
pub fn remote_path(path: &str) -> String {
    strip_trailing_slash(path).replace('\\', "/")
}

fn strip_trailing_slash(path: &str) -> &str {
    if path != "/" { path.strip_suffix('/').unwrap_or(path) } else { path }
}

/// Leading `../` and a lone `.` or `..` removed, then one leading slash.
fn strip_path_shortcuts(path: &str) -> String {
    let mut path = path;
    while let Some(rest) = path.strip_prefix("../") {
        path = rest;
    }
    if path == "." || path == ".." {
        path = "";
    }
    path.strip_prefix('/').unwrap_or(path).to_owned()
}

/// Go's `path.Clean`: the shortest equivalent path, by lexical processing only.
#[must_use]
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|last| *last != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            part => parts.push(part),
        }
    }
    match (rooted, parts.is_empty()) {
        (true, _) => format!("/{}", parts.join("/")),
        (false, true) => ".".to_owned(),
        (false, false) => parts.join("/"),
    }
}

/// Go's `path.Join` of two parts: joined with a slash and cleaned; empty parts are left out.
#[must_use]
pub fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean(b),
        (false, true) => clean(a),
        (false, false) => clean(&format!("{a}/{b}")),
    }
}

/// Go's `path.Base`: the last element, without trailing slashes; `.` for an empty path.
#[must_use]
pub fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_owned();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

/// Go's `path.Dir`: everything before the last element, cleaned.
#[must_use]
pub fn dir(path: &str) -> String {
    let cut = path.rfind('/').map_or(0, |i| i + 1);
    clean(&path[..cut])
}
