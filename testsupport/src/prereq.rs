//! Prerequisites of a test: a tool on PATH, a binary built beside another. A missing one fails
//! the test with what is missing and how to get it, unless `TETHER_ALLOW_SKIP=1` is set, in
//! which case the test prints a loud SKIPPED line and returns early. A skip is never silent, and
//! never the default: `.ci/run` unsets the variable.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The environment variable that turns a missing prerequisite from a failure into a skip, when
/// set to `1`.
pub const ALLOW_SKIP: &str = "TETHER_ALLOW_SKIP";

/// What becomes of a test whose prerequisite is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The test fails with this message.
    Fail(String),
    /// The test prints this message and returns early.
    Skip(String),
}

/// The verdict for `test`, whose prerequisite `what` is missing (`how` tells how to get it),
/// when skips are `allowed`.
pub fn verdict(allowed: bool, test: &str, what: &str, how: &str) -> Verdict {
    if allowed {
        Verdict::Skip(format!(
            "\n*** SKIPPED {test} ({ALLOW_SKIP}=1): {what} is missing, so this test did not run. \
             To run it: {how}. ***\n"
        ))
    } else {
        Verdict::Fail(format!(
            "{what} is missing: {how}. To skip the tests that need it instead, set \
             {ALLOW_SKIP}=1 (they then pass without running)."
        ))
    }
}

/// Whether `TETHER_ALLOW_SKIP=1` is set.
pub fn skip_allowed() -> bool {
    std::env::var_os(ALLOW_SKIP).is_some_and(|v| v == "1")
}

/// `found`, when it is there. Otherwise the test fails naming `what` is missing and `how` to get
/// it, or, under `TETHER_ALLOW_SKIP=1`, a loud SKIPPED line and `None` (return early on it).
#[track_caller]
pub fn require<T>(found: Option<T>, what: &str, how: &str) -> Option<T> {
    if found.is_none() {
        missing(what, how);
    }
    found
}

/// Fails the test because `what` is missing (see [`require`]), or prints the skip when allowed.
#[track_caller]
pub fn missing(what: &str, how: &str) {
    // libtest names each test's thread after the test.
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    match verdict(skip_allowed(), &test, what, how) {
        Verdict::Fail(message) => panic!("{message}"),
        // Straight to the process's stderr: the test harness captures `eprintln!` of passing
        // tests, and a skip must show.
        Verdict::Skip(message) => {
            let _shown = writeln!(std::io::stderr(), "{message}");
        }
    }
}

/// The file `name` in a folder of PATH, the first found.
pub fn which(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// The file `name` in the folder of `file`, once links are resolved (kubectl.1.29 beside the
/// kubectl that PATH links to, tetherd beside tether).
pub fn beside(file: &Path, name: &str) -> Option<PathBuf> {
    let sibling = std::fs::canonicalize(file).ok()?.parent()?.join(name);
    sibling.is_file().then_some(sibling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_prerequisite_fails_unless_a_skip_is_allowed() {
        let how = "install kubectl 1.32";
        let Verdict::Fail(message) = verdict(false, "exec::tty", "kubectl on PATH", how) else {
            panic!("a failure by default")
        };
        assert!(message.starts_with("kubectl on PATH is missing: install kubectl 1.32."));
        assert!(message.contains("TETHER_ALLOW_SKIP=1"), "{message}");
        let Verdict::Skip(message) = verdict(true, "exec::tty", "kubectl on PATH", how) else {
            panic!("a skip when allowed")
        };
        let expected = "*** SKIPPED exec::tty (TETHER_ALLOW_SKIP=1): kubectl on PATH is missing";
        assert!(message.contains(expected), "{message}");
        assert!(message.contains(how), "{message}");
    }

    #[test]
    fn which_finds_files_on_path() {
        assert!(which("sh").is_some_and(|p| p.is_file()));
        assert_eq!(which("tether-no-such-tool"), None);
    }

    #[test]
    fn beside_looks_in_the_folder_a_link_resolves_to() {
        let dir = crate::TempDir::new("beside");
        std::fs::create_dir(dir.join("real")).expect("mkdir");
        std::fs::write(dir.join("real/kubectl"), "").expect("write");
        std::fs::write(dir.join("real/kubectl.1.29"), "").expect("write");
        std::os::unix::fs::symlink(dir.join("real/kubectl"), dir.join("kubectl")).expect("link");
        let found = beside(&dir.join("kubectl"), "kubectl.1.29");
        assert_eq!(
            found,
            Some(std::fs::canonicalize(dir.join("real/kubectl.1.29")).expect("real"))
        );
        assert_eq!(beside(&dir.join("kubectl"), "kubectl.1.30"), None);
        assert_eq!(beside(&dir.join("none"), "kubectl.1.29"), None);
    }
}
