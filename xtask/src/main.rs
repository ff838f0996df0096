//! `cargo xtask`: the project's tasks that are not a single cargo command.
//!
//! - `test`: every suite of every language, the README's test command and what `.ci/run` calls:
//!   the Rust workspace, the Python bindings (pytest in a private venv), the VS Code extension
//!   (`npm test`). Each language's tools are installed on first use, at pinned versions.
//! - `schema`: writes the API's file descriptor set where the bindings load it.

mod schema;
mod suites;

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
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let root = suites::root()?;
    match args.task {
        Task::Test { only } => suites::run(&root, &only),
        Task::Schema { check } => schema::run(&root, check),
    }
}
