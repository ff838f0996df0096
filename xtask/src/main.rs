//! `cargo xtask`: the project's tasks that are not a single cargo command.
//!
//! - `test`: every suite of every language, the README's test command and what `.ci/run` calls:
//!   the Rust workspace, the Python bindings (pytest in a private venv), the VS Code extension
//!   (`npm test`). Each language's tools are installed on first use, at pinned versions.
//! - `schema`: writes the API's file descriptor set where the bindings load it.
//! - `dist`, `deb`, `docs`: release archives with SHA256SUMS, the krew manifest and the Homebrew
//!   formula; the Debian package; man pages and completions. `test artefacts` checks them.

mod artefacts;
mod deb;
mod dist;
mod docs;
mod schema;
mod suites;
#[cfg(test)]
mod workflow;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Tether's project tasks")]
struct Args {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Runs every test suite: Rust, Python, TypeScript (or only those named).
    Test {
        /// Only these suites.
        #[arg(value_enum)]
        only: Vec<suites::Suite>,
    },
    /// Writes `bindings/python/src/tether/_proto/tether_v1.binpb` from `tether-proto`.
    Schema {
        /// Fail instead of writing when the committed file differs.
        #[arg(long)]
        check: bool,
    },
    /// Builds the release archive of one target in target/dist, then SHA256SUMS, the krew
    /// manifest and the Homebrew formula over every archive there.
    Dist {
        /// The target triple; this machine's when not given.
        #[arg(long)]
        target: Option<String>,
        /// Only write SHA256SUMS and the manifests, over the archives already in target/dist.
        #[arg(long, conflicts_with = "target")]
        manifests: bool,
    },
    /// Builds the release archive, then the Debian package (cargo-deb) in target/dist.
    Deb {
        /// The target triple; this machine's when not given.
        #[arg(long)]
        target: Option<String>,
    },
    /// Writes the man pages and completion files under a prefix (share/man/man1, ...).
    Docs {
        /// The prefix.
        #[arg(long, default_value = "target/dist/docs")]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let root = suites::root()?;
    match args.task {
        Task::Test { only } => suites::run(&root, &only),
        Task::Schema { check } => schema::run(&root, check),
        Task::Dist { manifests: true, .. } => dist::manifests_only(&root),
        Task::Dist { target, .. } => dist::run(&root, target.as_deref()).map(drop),
        Task::Deb { target } => {
            let built = dist::run(&root, target.as_deref())?;
            deb::run(&root, &built).map(drop)
        }
        Task::Docs { out } => {
            let written = docs::write(&root.join(out))?;
            eprintln!("wrote {} files", written.len());
            Ok(())
        }
    }
}
