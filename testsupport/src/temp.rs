//! Temporary folders: one per use, unique within a process and across processes, removed when
//! dropped (a failing test's too: tests say what went wrong in their messages).

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A new, empty folder under the system's temporary folder, removed on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `tether-TAG-PID-N`. Keep `tag` short: sockets go in these folders, and a Unix
    /// socket path has at most 107 bytes.
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let pid = std::process::id();
        for _ in 0..1000 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("tether-{tag}-{pid}-{n}"));
            match std::fs::create_dir(&path) {
                Ok(()) => return Self { path },
                // Left by an earlier process with the same id: take the next number.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => panic!("failed to create the folder {}: {e}", path.display()),
            }
        }
        panic!("failed to find a free name for a temporary folder tether-{tag}-{pid}-N")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _removed = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_new_distinct_and_removed_on_drop() {
        let (a, b) = (TempDir::new("t"), TempDir::new("t"));
        assert_ne!(a.path(), b.path());
        assert!(a.is_dir() && std::fs::read_dir(&a).expect("list").next().is_none());
        std::fs::write(a.join("file"), "x").expect("write");
        let path = a.path().to_owned();
        drop(a);
        assert!(!path.exists());
    }
}
