//! A second, independent client: the Python `kubernetes` package's `stream()` exec and
//! `portforward()` (legacy channel port-forward), against the modern and the old cluster.

use std::process::{Command, Stdio};
use std::time::Duration;

use tether_testsupport::{missing, wait_output};

use crate::harness::{Env, modern, old};

fn python_with_kubernetes() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import kubernetes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    probe.is_ok_and(|s| s.success())
}

fn run(env: &Env) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client_check.py");
    let child = Command::new("python3")
        .arg(script)
        .arg(&env.kubeconfig)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let out = wait_output(child, Duration::from_secs(90), "python client check");
    assert_eq!(out.code(), 0, "stdout: {}\nstderr: {}", out.stdout_str(), out.stderr);
    for line in ["exec output ok", "exec exit code ok", "exec stdin ok", "port-forward ok"] {
        assert!(out.stdout_str().contains(line), "{line} missing: {}", out.stdout_str());
    }
}

#[test]
fn python_kubernetes_client() {
    if !python_with_kubernetes() {
        let how = "pip install kubernetes==37.0.2 for the python3 on PATH (as .ci/run does)";
        return missing("python3 with the `kubernetes` package", how);
    }
    run(&modern());
    run(&old());
}
