//! `kubectl cp` both ways with a file of several MiB, checksummed, over WebSocket v5 and SPDY,
//! asserting the protocol the cluster saw negotiated.

use crate::harness::{Env, Kubectl, random_file, sha256_file};

fn cp_case(kubectl: &Kubectl, env: &Env, tag: &str) {
    // Four streams: `test -d` and `tar x` for the upload, the checksum, `tar c` to download.
    env.expect_upgrades(kubectl.remote_command_protocol(env), 4, || cp_steps(kubectl, env, tag));
}

fn cp_steps(kubectl: &Kubectl, env: &Env, tag: &str) {
    let dir = env.cluster.cluster().state_dir().join(format!("cp-{tag}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let (local, sum) = random_file(&dir, "payload.bin", 6 * 1024 * 1024 + 123);
    let remote = format!("toolbox:cp-{tag}.bin");
    let out = kubectl.run(env, &["cp", local.to_str().expect("utf8"), &remote], None);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let out =
        kubectl.run(env, &["exec", "toolbox", "--", "sha256sum", &format!("cp-{tag}.bin")], None);
    assert!(out.stdout_str().starts_with(&sum), "uploaded copy differs: {}", out.stdout_str());
    let back = dir.join("back.bin");
    let out = kubectl.run(env, &["cp", &remote, back.to_str().expect("utf8")], None);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(sha256_file(&back), sum, "downloaded copy differs");
}

#[test]
fn cp_both_ways_over_websocket_and_spdy() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|_| {});
    cp_case(&kubectl, &env, "ws");
    cp_case(&kubectl.with_env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false"), &env, "spdy");
}
