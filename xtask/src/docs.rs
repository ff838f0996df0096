//! Man pages and shell completions, rendered from the clap definitions of `tether`
//! (`tether_cli::args`) and `tetherd` (`tether_daemon::args`): one page for each command and
//! subcommand, and completion files for bash, zsh and fish, laid out as under a prefix
//! (`share/man/man1`, `share/bash-completion/completions`, ...).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::CommandFactory as _;
use clap_complete::Shell;

/// Where each shell looks for completions under a prefix, and the file's name there.
pub const COMPLETIONS: [(Shell, &str); 3] = [
    (Shell::Bash, "share/bash-completion/completions/tether"),
    (Shell::Zsh, "share/zsh/site-functions/_tether"),
    (Shell::Fish, "share/fish/vendor_completions.d/tether.fish"),
];

/// Where man pages go under a prefix.
pub const MAN_DIR: &str = "share/man/man1";

/// Writes the man pages and completions under `prefix`; the files written.
pub fn write(prefix: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = man_pages(&prefix.join(MAN_DIR))?;
    for (shell, relative) in COMPLETIONS {
        let path = prefix.join(relative);
        write_file(&path, &completion(shell))?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `tether.1`, `tether-<subcommand>.1` for every subcommand (and theirs), and
/// `tetherd.1` into `dir`; the pages in it.
pub fn man_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    clap_mangen::generate_to(tether_cli::args::command(false), dir)
        .and_then(|()| clap_mangen::generate_to(tether_daemon::args::Args::command(), dir))
        .with_context(|| format!("failed to write the man pages into {}", dir.display()))?;
    let mut pages: Vec<PathBuf> = listing(dir)?.into_iter().filter(|p| is_page(p)).collect();
    pages.sort();
    Ok(pages)
}

/// The completion script of `tether` for `shell`.
#[must_use]
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut command = tether_cli::args::command(false);
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "tether", &mut script);
    script
}

fn is_page(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "1")
}

fn listing(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("failed to list {}", dir.display()))?;
    entries
        .map(|e| e.map(|e| e.path()).with_context(|| format!("failed to list {}", dir.display())))
        .collect()
}

/// Writes `contents` to `path`, creating its folder.
pub fn write_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    std::fs::write(path, contents).with_context(|| format!("failed to write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_page_and_the_pages_parse_as_roff() {
        let dir = std::env::temp_dir().join(format!("tether-xtask-man-{}", std::process::id()));
        let _fresh = std::fs::remove_dir_all(&dir);
        let pages = man_pages(&dir).expect("pages");
        let names: Vec<String> =
            pages.iter().filter_map(|p| p.file_name()?.to_str().map(str::to_owned)).collect();
        for want in ["tether.1", "tether-forward.1", "tether-daemon-install.1", "tetherd.1"] {
            assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
        }
        let tether = std::fs::read_to_string(dir.join("tether.1")).expect("read");
        assert!(tether.starts_with(".ie \\n(.g .ds Aq") || tether.contains(".TH tether 1"));
        assert!(tether.contains("kubectl\\-tether"), "the plugin is mentioned");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn completions_name_the_commands() {
        let bash = String::from_utf8(completion(Shell::Bash)).expect("utf-8");
        assert!(bash.contains("complete -F _tether") && bash.contains("install"), "{bash}");
        let fish = String::from_utf8(completion(Shell::Fish)).expect("utf-8");
        assert!(fish.contains("complete -c tether"));
    }
}
