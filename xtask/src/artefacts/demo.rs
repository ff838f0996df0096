//! The demo from the archive: `tether demo` finds `tether-testkit` beside it, runs its script,
//! ends by itself with a summary, and no log line of its children reaches the terminal; a
//! `tether` without the testkit says how to get it.

use std::process::Command;
use std::time::Duration;

use super::{Artefacts, Verdict, proc};

/// The demo's own notes on stderr; any other line is a leak.
const NOTES: [&str; 4] = [
    "starting an emulated cluster",
    "started a private tetherd",
    "requesting it every",
    "stopping the private tetherd",
];

/// A short run of the demo ends with a summary of both faults, recovered from.
pub fn ends(a: &Artefacts) -> anyhow::Result<Verdict> {
    let temp = a.scratch.join("demo-tmp");
    std::fs::create_dir_all(&temp)?;
    let script = ["demo", "--interval", "250ms", "--kill-after", "1s", "--blackhole-after", "3s"];
    let out = proc::output(
        Command::new(a.tree.join("bin/tether"))
            .args(script)
            .env("TMPDIR", &temp)
            .env_remove("TETHER_TESTKIT_EXE")
            .env_remove("TETHER_DAEMON_BIN"),
        Duration::from_secs(120),
    )?;
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    anyhow::ensure!(
        out.status.success(),
        "tether demo failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for want in ["summary:\n", "  pod kill (", "  blackhole ", " requests, "] {
        anyhow::ensure!(stdout.contains(want), "the demo's output lacks {want:?}:\n{stdout}");
    }
    let summary = stdout.split("summary:\n").nth(1).unwrap_or_default();
    anyhow::ensure!(
        !summary.contains("not recovered"),
        "a fault was not recovered from:\n{stdout}"
    );
    let leaked: Vec<&str> =
        stderr.lines().filter(|l| !NOTES.iter().any(|n| l.starts_with(n))).collect();
    anyhow::ensure!(leaked.is_empty(), "lines on stderr that are not the demo's: {leaked:#?}");
    let left: Vec<_> = std::fs::read_dir(&temp)?.collect();
    anyhow::ensure!(left.is_empty(), "the demo left its folder behind: {left:?}");

    // Alone, without tether-testkit beside it or on PATH.
    let lonely = a.scratch.join("lonely");
    std::fs::create_dir_all(&lonely)?;
    std::fs::copy(a.tree.join("bin/tether"), lonely.join("tether"))?;
    let out = proc::output(
        Command::new(lonely.join("tether"))
            .arg("demo")
            .env("PATH", "/usr/bin:/bin")
            .env("TMPDIR", &temp)
            .env_remove("TETHER_TESTKIT_EXE"),
        Duration::from_secs(30),
    )?;
    let said = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(
        out.status.code() == Some(1)
            && said.contains("failed to find tether-testkit")
            && said.contains("cargo build --release -p tether-testkit"),
        "without the testkit, tether demo said ({}): {said}",
        out.status
    );
    Ok(Verdict::Pass)
}
