//! `kubectl attach` to the toolbox's main shell, over WebSocket v5 and SPDY, asserting the
//! protocol the cluster saw negotiated.

use crate::harness::{Env, Kubectl};

fn attach_case(kubectl: &Kubectl, env: &Env, marker: &str) {
    let line = format!("echo {marker}-$((40+2))\n");
    let out = env.expect_upgrades(kubectl.remote_command_protocol(env), 1, || {
        kubectl.run(env, &["attach", "-i", "toolbox"], Some(line.as_bytes()))
    });
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
    let env = Env::start(|_| {});
    attach_case(&kubectl, &env, "ws");
    attach_case(&kubectl.with_env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false"), &env, "spdy");
}
