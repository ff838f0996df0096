//! `kubectl attach` to the toolbox's main shell, over WebSocket v5 and SPDY.

use crate::harness::{Kubectl, modern};

fn attach_case(kubectl: &Kubectl, marker: &str) {
    let line = format!("echo {marker}-$((40+2))\n");
    let out = kubectl.run(modern(), &["attach", "-i", "toolbox"], Some(line.as_bytes()));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stdout_str().contains(&format!("{marker}-42")),
        "the shell ran our line: {:?}",
        out.stdout_str()
    );
}

#[test]
fn attach_over_websocket_and_spdy() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    attach_case(&kubectl, "ws");
    attach_case(&kubectl.with_env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false"), "spdy");
}
