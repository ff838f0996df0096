//! The CI workflow for a public forge, `.github/workflows/ci.yml`, cannot run here: this test
//! keeps it valid YAML, and keeps each job running what `.ci/run` runs (the script itself, or
//! a `cargo xtask` task that `.ci/run` also calls).

use std::path::PathBuf;

const WORKFLOW: &str = ".github/workflows/ci.yml";

fn root() -> PathBuf {
    crate::suites::root().expect("xtask lives in the workspace")
}

/// The `run:` lines of every step of `job`.
fn runs(job: &serde_yaml::Value) -> Vec<String> {
    let steps = job["steps"].as_sequence().map(Vec::as_slice).unwrap_or_default();
    steps.iter().filter_map(|s| s["run"].as_str()).flat_map(str::lines).map(str::to_owned).collect()
}

#[test]
fn every_job_runs_what_ci_run_runs() {
    let text = std::fs::read_to_string(root().join(WORKFLOW)).expect("the workflow exists");
    let workflow: serde_yaml::Value = serde_yaml::from_str(&text).expect("the workflow is YAML");
    let script = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run exists");
    let xtasks: Vec<&str> =
        script.lines().map(str::trim).filter(|l| l.starts_with("cargo xtask ")).collect();
    assert!(!xtasks.is_empty(), ".ci/run calls cargo xtask");
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    assert!(jobs.len() >= 2, "a test job and a release job");
    for (name, job) in jobs {
        let lines = runs(job);
        let calls_script = lines.iter().any(|l| l.contains(".ci/run"));
        let same_task = lines.iter().any(|l| {
            let task = |line: &str| line.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
            l.trim().starts_with("cargo xtask ") && xtasks.iter().any(|x| task(x) == task(l.trim()))
        });
        assert!(
            calls_script || same_task,
            "job {name:?} runs neither .ci/run nor a task of it: {lines:?}"
        );
    }
}

#[test]
fn tests_run_on_linux_and_macos_and_releases_cover_four_targets() {
    let text = std::fs::read_to_string(root().join(WORKFLOW)).expect("the workflow exists");
    for want in [
        "ubuntu-",
        "macos-",
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ] {
        assert!(text.contains(want), "{WORKFLOW} lacks {want}");
    }
}
