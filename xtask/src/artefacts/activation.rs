//! The socket-activation check: `systemd-socket-activate -l SOCKET tetherd` holds the socket as
//! systemd would; the first client waits in its queue while tetherd starts, `tether daemon
//! status` says it was socket-activated, and a forward to an emulated cluster serves.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::proc::{self, Background};
use super::{Artefacts, Verdict, require};

/// The deadline of each step.
const STEP: Duration = Duration::from_secs(60);

/// A socket-activated tetherd from the archive says so and serves a forward.
pub fn serves(a: &Artefacts) -> anyhow::Result<Verdict> {
    if !cfg!(target_os = "linux") {
        return Ok(Verdict::Skip("socket activation is systemd's, on Linux".into()));
    }
    let activate = require!("systemd-socket-activate", "systemd");
    let dir = a.scratch.join("activation");
    let run = dir.join("run");
    tether_proto::paths::private_dir(&run)?;
    let socket = run.join("tetherd.sock");
    let bin = a.tree.join("bin");
    let log = |name: &str| std::fs::File::create(dir.join(name));
    let _tetherd = Background::start(
        "systemd-socket-activate tetherd",
        Command::new(activate)
            .arg("-l")
            .arg(&socket)
            .arg(bin.join("tetherd"))
            .arg("--socket")
            .arg(&socket)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .env("TETHER_LOG", "info"),
        log("tetherd.log")?,
    )?;
    wait_for(&socket, STEP)?;
    let tether = |args: &[&str]| {
        let mut command = Command::new(bin.join("tether"));
        command.arg("--socket").arg(&socket).arg("--no-autostart").args(args);
        proc::success(&mut command, STEP)
    };
    let status =
        tether(&["daemon", "status"]).context("the first client, queued while tetherd starts")?;
    anyhow::ensure!(
        status.contains("launch: systemd-socket (socket-activated by systemd)"),
        "daemon status said:\n{status}"
    );
    let kubeconfig = dir.join("kubeconfig");
    let (_cluster, ready) = Background::start_until_line(
        "tether-testkit",
        Command::new(bin.join("tether-testkit"))
            .arg("serve")
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .arg("--state-dir")
            .arg(dir.join("pods")),
        log("testkit.log")?,
        STEP,
    )?;
    anyhow::ensure!(ready.starts_with("ready "), "tether-testkit said {ready:?}");
    let kubeconfig = kubeconfig.display().to_string();
    let args =
        ["forward", "svc/web", ":80", "--wait", "--timeout", "60s", "--kubeconfig", &kubeconfig];
    let address = tether(&args)?.trim().to_owned();
    let body = get(&address)?;
    anyhow::ensure!(body.starts_with("web-"), "GET through the forward answered {body:?}");
    tether(&["daemon", "stop"])?;
    Ok(Verdict::Pass)
}

/// Waits until `path` exists.
fn wait_for(path: &Path, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while !path.exists() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} did not appear within {within:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// `GET /` at `address`; the body.
fn get(address: &str) -> anyhow::Result<String> {
    let mut tcp =
        TcpStream::connect(address).with_context(|| format!("failed to connect to {address}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: check\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    let mut buf = [0; 4096];
    // Read until the head and the Content-Length bytes are in (the close may come later).
    loop {
        let n = tcp.read(&mut buf).context("failed to read the answer")?;
        anyhow::ensure!(n > 0, "the answer ended early: {:?}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
        if let Some(body) = tether_cli::http::complete(&answer)? {
            return Ok(body);
        }
    }
}
