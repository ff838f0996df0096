//! `tether exec -it` on a real terminal: raw mode, the size at start, SIGWINCH as a resize, and
//! the terminal restored at the end.

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{BIN, Env};

struct Pty {
    child: std::process::Child,
    pty: Arc<pty_process::blocking::Pty>,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    fn spawn(env: &Env, args: &[&str], rows: u16, cols: u16) -> Self {
        let (pty, pts) = pty_process::blocking::open().expect("pty");
        pty.resize(pty_process::Size::new(rows, cols)).expect("size");
        let cmd = pty_process::blocking::Command::new(BIN)
            .args(args)
            .env("KUBECONFIG", env.cluster.kubeconfig())
            .env("TETHER_SOCKET", env.dir.join("run/tetherd.sock"))
            .env("TETHER_STATE_DIR", env.dir.join("state"))
            .env("TETHER_DAEMON_BIN", &env.daemon);
        let child = cmd.spawn(pts).expect("spawn on the pty");
        let pty = Arc::new(pty);
        let output = Arc::new(Mutex::new(Vec::new()));
        let (p, o) = (pty.clone(), output.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = (&*p).read(&mut buf) {
                if n == 0 {
                    break;
                }
                o.lock().expect("output").extend_from_slice(&buf[..n]);
            }
        });
        Self { child, pty, output }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().expect("output")).into_owned()
    }

    fn expect(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.text().contains(needle) {
            assert!(Instant::now() < deadline, "never saw {needle:?} in {:?}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn write(&self, bytes: &[u8]) {
        (&*self.pty).write_all(bytes).expect("write to the pty");
    }

    fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _killed = self.child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_it_has_the_terminal_size_follows_resizes_and_passes_the_exit_code() {
    let Some(env) = Env::start("pty").await else { return };
    let env = Arc::new(env);
    let e = env.clone();
    tokio::task::spawn_blocking(move || {
        let mut term = Pty::spawn(&e, &["exec", "-it", "toolbox", "--", "sh"], 30, 100);
        term.write(b"stty size\r");
        term.expect("30 100");
        // The kernel sends SIGWINCH to the foreground process, which tether passes on.
        term.pty.resize(pty_process::Size::new(43, 132)).expect("resize");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !term.text().contains("43 132") {
            assert!(Instant::now() < deadline, "the resize never arrived: {:?}", term.text());
            term.write(b"stty size\r");
            std::thread::sleep(Duration::from_millis(500));
        }
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
        let mut term = Pty::spawn(&e, &["session", "attach", &i], 25, 90);
        term.write(b"stty size\r");
        term.expect("25 90");
        term.write(b"echo marker-$((40+2))\r");
        term.expect("marker-42");
        // Enter, then ~ and . at the start of the line: detach.
        term.write(b"\r~.");
        let status = term.wait(Duration::from_secs(30)).expect("tether detaches");
        assert_eq!(status.code(), Some(0), "{}", term.text());
        // A second attach replays what the first one saw.
        let mut again = Pty::spawn(&e, &["session", "attach", &i], 25, 90);
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
