//! Exec and sessions through the API against the emulated cluster: exact output and exit
//! outcomes, the v4 fallback, replay and live output to several clients, slow clients, kills.

use std::time::Duration;

use sha2::Digest as _;
use tether_proto::pb::{self, attach_request};

use crate::harness::{Options, World, payload};
use crate::session_harness::{Attached, create, exec, get, process, wait_session};

const SECS_30: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_passes_10_mib_of_stdin_output_and_exit_codes_exactly() {
    let mut w = World::start("exec", Options::default()).await;
    let data = payload(4, 10 << 20);
    let spec = process(&w.cluster, "toolbox", &["sh", "-c", "cat; echo done >&2; exit 3"]);
    let out = exec(&mut w.client, spec, Some(data.clone())).await;
    let started = out.started.clone().expect("started");
    assert_eq!((started.pod.as_str(), started.container.as_str()), ("toolbox", "main"));
    assert_eq!(started.protocol, "websocket-v5", "v5 first, so stdin EOF is a CLOSE");
    assert_eq!(out.stdout.len(), data.len(), "every byte of stdin came back");
    assert_eq!(sha2::Sha256::digest(&out.stdout), sha2::Sha256::digest(&data));
    assert_eq!(out.stderr, b"done\n");
    assert_eq!(out.code(), Some(3));
    for code in [0u32, 255] {
        let spec = process(&w.cluster, "deploy/web", &["sh", "-c", &format!("exit {code}")]);
        assert_eq!(exec(&mut w.client, spec, None).await.code(), Some(code));
    }
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_failures_name_their_cause_as_the_server_does() {
    let mut w = World::start("exec-fail", Options::default()).await;
    let mut spec = process(&w.cluster, "toolbox", &["true"]);
    spec.container = "nope".into();
    let out = exec(&mut w.client, spec, None).await;
    assert_eq!(
        out.error(),
        Some(("container nope is not valid for pod toolbox", "BadRequest", true)),
        "{out:?}"
    );
    let out = exec(&mut w.client, process(&w.cluster, "toolbox", &["nosuchcmd"]), None).await;
    let (message, reason, from_server) = out.error().expect("an error outcome");
    assert!(message.contains("\"nosuchcmd\": executable file not found in $PATH"), "{message}");
    assert_eq!((reason, from_server), ("InternalError", false));
    let out = exec(&mut w.client, process(&w.cluster, "pod/nope", &["true"]), None).await;
    assert_eq!(out.error(), Some(("pods \"nope\" not found", "NotFound", true)), "{out:?}");
    // Bad input is refused before anything runs, naming the field.
    let bad =
        pb::ProcessSpec { target: "pods//x".into(), ..process(&w.cluster, "toolbox", &["true"]) };
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(pb::ExecRequest { kind: Some(pb::exec_request::Kind::Start(bad)) })
        .await
        .expect("queue");
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let err = w.client.sessions.exec(Box::pin(stream)).await.expect_err("a bad target is refused");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().starts_with("start.target"), "{}", err.message());
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_cluster_gets_v4_with_exact_output_and_a_warning_for_stdin_eof() {
    let mut w = World::start("exec-old", Options { old_cluster: true, ..Options::default() }).await;
    let spec = process(&w.cluster, "toolbox", &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let out = exec(&mut w.client, spec, None).await;
    assert_eq!(out.started.as_ref().map(|s| s.protocol.as_str()), Some("websocket-v4"));
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice(), out.code()),
        (&b"out\n"[..], &b"err\n"[..], Some(3))
    );
    let spec = process(&w.cluster, "toolbox", &["sh", "-c", "echo early; cat"]);
    let out = exec(&mut w.client, spec, Some(b"piped".to_vec())).await;
    assert!(
        out.warnings.iter().any(|w| w.contains("cannot signal the end of stdin")),
        "{:?}",
        out.warnings
    );
    // The kubelet's x/net server takes the close as stdin's end and goes on: nothing is lost.
    assert_eq!((out.stdout.as_slice(), out.code()), (&b"early\npiped"[..], Some(0)), "{out:?}");
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_sessions_keep_output_and_several_clients_see_the_same_bytes() {
    let mut w = World::start("session", Options::default()).await;
    let mut spec = process(&w.cluster, "pod/toolbox", &["sh"]);
    spec.stdin = true;
    let s = create(&mut w.client, spec, pb::SessionKind::Exec, pb::RestartPolicy::Never).await;
    assert_eq!(s.phase(), pb::SessionPhase::Running, "{s:?}");
    let mut a = Attached::open(&mut w.client, &s.id).await;
    assert!(a.replay.is_empty());
    a.type_line("echo hello").await;
    a.read_until("hello\n", SECS_30).await;
    a.type_line("(sleep 1; echo later) &").await;
    a.send(attach_request::Kind::Detach(true)).await;
    a.read_to_end(SECS_30).await;
    // Output produced with nobody attached is kept.
    let s = wait_session(&mut w.client, &s.id, SECS_30, |s| s.output_bytes >= 12).await;
    assert_eq!(
        (s.phase(), s.attached),
        (pb::SessionPhase::Running, 0),
        "detaching never stops the session"
    );
    let mut b = Attached::open(&mut w.client, &s.id).await;
    let mut c = Attached::open(&mut w.client, &s.id).await;
    assert_eq!(b.replay, b"hello\nlater\n");
    assert_eq!(c.replay, b.replay);
    assert_eq!(c.joined.phase(), pb::SessionPhase::Running);
    assert_eq!(get(&mut w.client, &s.id).await.attached, 2);
    b.type_line("echo both").await;
    b.read_until("both\n", SECS_30).await;
    c.read_until("both\n", SECS_30).await;
    assert_eq!((b.live.as_slice(), c.live.as_slice()), (&b"both\n"[..], &b"both\n"[..]));
    // Kill ends the process (both clients see the end); a second kill forgets the session.
    let killed = w
        .client
        .sessions
        .kill_session(pb::KillSessionRequest { id: s.id.clone(), graceful: false })
        .await;
    assert_eq!(
        killed.expect("kill").into_inner().session.expect("session").phase(),
        pb::SessionPhase::Killed
    );
    b.read_to_end(SECS_30).await;
    assert_eq!(b.changes.last().map(pb::Session::phase), Some(pb::SessionPhase::Killed));
    w.client
        .sessions
        .kill_session(pb::KillSessionRequest { id: s.id.clone(), graceful: false })
        .await
        .expect("forget");
    let gone = w.client.sessions.get_session(pb::GetSessionRequest { id: s.id.clone() }).await;
    assert_eq!(gone.expect_err("forgotten").code(), tonic::Code::NotFound);
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_skips_ahead_and_never_stalls_the_session_or_others() {
    let mut w = World::start("session-slow", Options::default()).await;
    let total: u64 = 48 << 20;
    let script = format!("sleep 1; head -c {total} /dev/zero; echo; echo finished");
    let s = create(
        &mut w.client,
        process(&w.cluster, "toolbox", &["sh", "-c", &script]),
        pb::SessionKind::Exec,
        pb::RestartPolicy::Never,
    )
    .await;
    let mut slow = Attached::open(&mut w.client, &s.id).await;
    let mut fast = Attached::open(&mut w.client, &s.id).await;
    // The fast client reads everything while the slow one reads nothing.
    fast.read_to_end(Duration::from_secs(120)).await;
    let ended = get(&mut w.client, &s.id).await;
    assert_eq!(
        ended.phase(),
        pb::SessionPhase::Exited,
        "the session finished while a client was stuck"
    );
    assert_eq!(fast.live.len() as u64 + fast.lagged, ended.output_bytes);
    assert!(String::from_utf8_lossy(&fast.live).ends_with("\nfinished\n"));
    slow.read_to_end(Duration::from_secs(60)).await;
    assert!(slow.lagged > 0, "the slow client was told it lagged");
    assert_eq!(
        slow.live.len() as u64 + slow.lagged,
        ended.output_bytes,
        "what it got plus what it skipped is everything"
    );
    assert!(
        String::from_utf8_lossy(&slow.live).ends_with("\nfinished\n"),
        "it skipped ahead to the end"
    );
    w.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tty_session_gets_its_size_and_resizes() {
    let mut w = World::start("session-tty", Options::default()).await;
    let mut spec = process(&w.cluster, "toolbox", &["sh"]);
    (spec.stdin, spec.tty) = (true, true);
    spec.size = Some(pb::TerminalSize { width: 100, height: 30 });
    let s = create(&mut w.client, spec, pb::SessionKind::Exec, pb::RestartPolicy::Never).await;
    let mut a = Attached::open(&mut w.client, &s.id).await;
    a.type_line("stty size").await;
    a.read_until("30 100", SECS_30).await;
    a.send(attach_request::Kind::Resize(pb::TerminalSize { width: 132, height: 43 })).await;
    a.type_line("stty size").await;
    a.read_until("43 132", SECS_30).await;
    // A graceful kill says `exit` first: the shell ends by itself. Only a shell that runs its
    // EXIT trap prints `bye-42` (the echoed command line shows `$((6*7))`, not 42).
    a.type_line("trap 'echo bye-$((6*7))' EXIT; echo armed-$((1+1))").await;
    a.read_until("armed-2", SECS_30).await;
    let req = pb::KillSessionRequest { id: s.id.clone(), graceful: true };
    w.client.sessions.kill_session(req).await.expect("kill");
    a.read_to_end(SECS_30).await;
    let live = String::from_utf8_lossy(&a.live);
    assert!(live.contains("exit"), "{live:?}");
    assert!(live.contains("bye-42"), "the shell exited by itself: {live:?}");
    w.shutdown().await;
}
