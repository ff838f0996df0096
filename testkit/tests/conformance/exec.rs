//! `kubectl exec`: piped stdin to EOF, exit codes, errors, and a TTY with resize, over WebSocket
//! v5, over SPDY, and through the fallback on an old cluster; each asserting the protocol the
//! cluster saw negotiated.

use std::time::Duration;

use tether_testsupport::PtyProcess;

use crate::harness::{Env, Kubectl, SPDY_EXEC};

/// The non-interactive exec cases, for one kubectl against one private cluster: six streams
/// (all but the refused container), over the protocol that kubectl must negotiate there.
pub fn exec_cases(kubectl: &Kubectl, env: &Env) {
    env.expect_upgrades(kubectl.remote_command_protocol(env), 6, || exec_steps(kubectl, env));
}

fn exec_steps(kubectl: &Kubectl, env: &Env) {
    // stdin piped and closed: `wc -c` only answers after EOF, and cat's echo must be complete.
    // 10 MiB fills every buffer both ways at once: the server must read stdin and write stdout
    // concurrently, as the kubelet does.
    let input: Vec<u8> = (0..10u32 << 20).map(|i| (i % 251) as u8).collect();
    let out = kubectl.run(env, &["exec", "-i", "toolbox", "--", "cat"], Some(&input));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout == input, "cat echoed {} of {} bytes", out.stdout.len(), input.len());
    let out = kubectl.run(env, &["exec", "-i", "toolbox", "--", "wc", "-c"], Some(&input));
    assert_eq!(
        out.stdout_str().trim(),
        (10 << 20).to_string(),
        "stdin EOF must reach the process: {}",
        out.stderr
    );

    for code in [0, 3, 255] {
        let script = format!("echo out; echo err >&2; exit {code}");
        let out = kubectl.run(env, &["exec", "toolbox", "--", "sh", "-c", &script], None);
        assert_eq!(out.code(), code, "{}", out.stderr);
        assert_eq!(out.stdout_str(), "out\n");
        assert!(out.stderr.starts_with("err\n"), "{}", out.stderr);
        if code != 0 {
            assert!(
                out.stderr.contains(&format!("command terminated with exit code {code}")),
                "{}",
                out.stderr
            );
        }
    }

    let out = kubectl.run(env, &["exec", "toolbox", "--", "no-such-command"], None);
    assert_eq!(out.code(), 1);
    assert!(out.stderr.contains("executable file not found"), "{}", out.stderr);
    // Through the API server's v5 translator the kubelet's InternalError is wrapped once more;
    // straight from the kubelet over SPDY it is not.
    let prefixes = out.stderr.matches("Internal error occurred: ").count();
    let over_spdy = kubectl.remote_command_protocol(env) == SPDY_EXEC;
    assert_eq!(prefixes, if over_spdy { 1 } else { 2 }, "{}", out.stderr);

    let out = kubectl.run(env, &["exec", "toolbox", "-c", "nope", "--", "true"], None);
    assert_eq!(out.code(), 1);
    assert!(out.stderr.contains("container nope is not valid for pod toolbox"), "{}", out.stderr);
}

/// `kubectl exec -it` on a pty: the initial size and a resize both reach the process.
pub fn tty_case(kubectl: &Kubectl, env: &Env) {
    env.expect_upgrades(kubectl.remote_command_protocol(env), 1, || {
        let command = kubectl.command(env, &["exec", "-it", "toolbox", "--", "sh"]);
        let mut session = PtyProcess::spawn(&command, 24, 80);
        session.write(b"stty size\r");
        session.expect("24 80");
        // The new size travels apart from the input (SIGWINCH to kubectl, then the resize
        // stream): ask again until the shell has it.
        session.resize(40, 132);
        session.retype_until(b"stty size\r", "40 132", Duration::from_millis(500));
        session.write(b"exit 7\r");
        let status = session.wait(Duration::from_secs(20)).expect("exits");
        assert_eq!(status.code(), Some(7), "{}", session.text());
    });
}

#[test]
fn websocket_v5() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let env = Env::start(|_| {});
    exec_cases(&kubectl, &env);
    tty_case(&kubectl, &env);
}

#[test]
fn spdy_when_websockets_are_disabled() {
    let Some(kubectl) = Kubectl::on_path() else { return };
    let kubectl = kubectl.with_env("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false");
    let env = Env::start(|_| {});
    exec_cases(&kubectl, &env);
    tty_case(&kubectl, &env);
}

#[test]
fn old_cluster_forces_the_spdy_fallback() {
    // The gcloud dispatcher would run kubectl 1.29 against a 1.29 server; run 1.32 directly.
    let Some(kubectl) = Kubectl::version(32) else { return };
    let env = Env::start(|c| c.old_cluster = true);
    exec_cases(&kubectl, &env);
    tty_case(&kubectl, &env);
    let out = env.expect_upgrades(SPDY_EXEC, 1, || {
        kubectl.run(&env, &["-v=4", "exec", "toolbox", "--", "true"], None)
    });
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("RemoteCommand fallback"),
        "kubectl must have fallen back: {}",
        out.stderr
    );
}
