//! `tether exec` and `kubectl exec`, run the same way: stdout, stderr and the exit code match.

use tether_testsupport::payload;

use crate::{Env, text};

/// Runs `exec ARGS` with both, and asserts they agree.
async fn same(env: &Env, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut full = vec!["exec"];
    full.extend_from_slice(args);
    let ours = env.tether(&full, stdin).await;
    let theirs = env.kubectl(&full, stdin).await;
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "exit codes of {args:?}: tether {}, kubectl {}",
        text(&ours.stderr),
        text(&theirs.stderr)
    );
    assert!(
        ours.stdout == theirs.stdout,
        "stdout of {args:?}: tether {} bytes, kubectl {} bytes",
        ours.stdout.len(),
        theirs.stdout.len()
    );
    assert_eq!(text(&ours.stderr), text(&theirs.stderr), "stderr of {args:?}");
    ours
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_matches_kubectl_byte_for_byte() {
    let Some(env) = Env::start("exec").await else { return };
    let data = payload(7, 10 << 20);
    let out =
        same(&env, &["-i", "toolbox", "--", "sh", "-c", "cat; echo done >&2; exit 3"], Some(&data))
            .await;
    assert!(out.stdout == data, "10 MiB of stdin came back whole");
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(text(&out.stderr), "done\ncommand terminated with exit code 3\n");
    same(&env, &["-i", "toolbox", "--", "wc", "-c"], Some(&data)).await;
    for code in ["0", "255"] {
        same(
            &env,
            &["deploy/web", "--", "sh", "-c", &format!("echo out; echo err >&2; exit {code}")],
            None,
        )
        .await;
    }
    let out = same(&env, &["toolbox", "--", "nosuchcmd"], None).await;
    assert!(text(&out.stderr).contains("executable file not found"), "{}", text(&out.stderr));
    let out = same(&env, &["toolbox", "-c", "nope", "--", "true"], None).await;
    assert_eq!(
        text(&out.stderr),
        "Error from server (BadRequest): container nope is not valid for pod toolbox\n"
    );
    for missing in ["nope", "svc/nope", "deploy/nope", "sts/nope"] {
        same(&env, &[missing, "--", "true"], None).await;
    }
    let out = same(&env, &["-n", "nope", "toolbox", "--", "true"], None).await;
    assert_eq!(text(&out.stderr), "Error from server (NotFound): namespaces \"nope\" not found\n");
    env.finish().await;
}
