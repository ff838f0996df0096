//! `tether exec -it` on a real terminal: raw mode, the size at start, SIGWINCH as a resize, and
//! the terminal restored at the end.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tether_testsupport::PtyProcess;

use crate::{BIN, Env};

/// Runs `tether ARGS` of `env` on a new terminal of `rows` by `cols`.
fn tether_on_a_terminal(env: &Env, args: &[&str], rows: u16, cols: u16) -> PtyProcess {
    PtyProcess::spawn(env.command(Path::new(BIN), args).as_std(), rows, cols)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_it_has_the_terminal_size_follows_resizes_and_passes_the_exit_code() {
    let Some(env) = Env::start("pty").await else { return };
    let env = Arc::new(env);
    let e = env.clone();
    tokio::task::spawn_blocking(move || {
        let mut term = tether_on_a_terminal(&e, &["exec", "-it", "toolbox", "--", "sh"], 30, 100);
        term.write(b"stty size\r");
        term.expect("30 100");
        // The kernel sends SIGWINCH to the foreground process, which tether passes on: ask
        // again until the shell has the new size.
        term.resize(43, 132);
        term.retype_until(b"stty size\r", "43 132", Duration::from_millis(500));
        term.write(b"exit 7\r");
        let status = term.wait(Duration::from_secs(30)).expect("tether exits after the shell");
        assert_eq!(status.code(), Some(7), "{}", term.text());
    })
    .await
    .expect("pty session");
    if let Ok(env) = Arc::try_unwrap(env) {
        env.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_attached_on_a_terminal_detaches_with_enter_tilde_dot_and_keeps_running() {
    let Some(env) = Env::start("pty-session").await else { return };
    let new = env.tether(&["session", "new", "-t", "toolbox", "--", "sh"], None).await;
    assert!(new.status.success(), "{}", crate::text(&new.stderr));
    let id = crate::text(&new.stdout).trim().to_owned();
    assert!(id.starts_with("s-"), "session new prints the id: {id:?}");
    let env = Arc::new(env);
    let (e, i) = (env.clone(), id.clone());
    tokio::task::spawn_blocking(move || {
        let mut term = tether_on_a_terminal(&e, &["session", "attach", &i], 25, 90);
        term.write(b"stty size\r");
        term.expect("25 90");
        term.write(b"echo marker-$((40+2))\r");
        term.expect("marker-42");
        // Enter, then ~ and . at the start of the line: detach.
        term.write(b"\r~.");
        let status = term.wait(Duration::from_secs(30)).expect("tether detaches");
        assert_eq!(status.code(), Some(0), "{}", term.text());
        // A second attach replays what the first one saw.
        let mut again = tether_on_a_terminal(&e, &["session", "attach", &i], 25, 90);
        again.expect("marker-42");
        again.write(b"exit 5\r");
        let status = again.wait(Duration::from_secs(30)).expect("tether ends with the session");
        assert_eq!(status.code(), Some(5), "{}", again.text());
    })
    .await
    .expect("pty sessions");
    let listed = env.tether(&["session", "ls"], None).await;
    assert!(crate::text(&listed.stdout).contains("Exited"), "{}", crate::text(&listed.stdout));
    if let Ok(env) = Arc::try_unwrap(env) {
        env.finish().await;
    }
}
