//! Processes the checks run, each with a deadline: to completion with their output, or in the
//! background until dropped (SIGTERM, then SIGKILL).

use std::io::{BufRead as _, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use tether_testsupport::wait_child;

/// Runs `command` with no input, capturing its output; kills it after `within`.
pub fn output(command: &mut Command, within: Duration) -> anyhow::Result<Output> {
    let shown = format!("{command:?}");
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().with_context(|| format!("failed to run {shown}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_child(&mut child, within)
        .with_context(|| format!("{shown} did not finish: killed after {within:?}"))?;
    let take = |h: std::thread::JoinHandle<Vec<u8>>| h.join().unwrap_or_default();
    Ok(Output { status, stdout: take(stdout), stderr: take(stderr) })
}

/// Runs `command` and fails unless it succeeds; its stdout.
pub fn success(command: &mut Command, within: Duration) -> anyhow::Result<String> {
    let shown = format!("{command:?}");
    let out = output(command, within)?;
    anyhow::ensure!(
        out.status.success(),
        "{shown} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _read = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// A process that runs while the check does; stopped when dropped.
pub struct Background {
    child: Child,
    name: &'static str,
}

impl Background {
    /// Starts `command` with stdout piped and stderr to `log`, and waits up to `within` for its
    /// first line of output; the process and that line.
    pub fn start_until_line(
        name: &'static str,
        command: &mut Command,
        log: std::fs::File,
        within: Duration,
    ) -> anyhow::Result<(Self, String)> {
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log);
        let mut child = command.spawn().with_context(|| format!("failed to start {name}"))?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let (line_tx, line_rx) = std::sync::mpsc::channel();
        // The reader thread sends the first line to the check, then keeps draining.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _sent = line_tx.send(lines.next());
            lines.for_each(drop);
        });
        let this = Self { child, name };
        match line_rx.recv_timeout(within) {
            Ok(Some(Ok(line))) => Ok((this, line)),
            other => anyhow::bail!("{name} printed no line within {within:?}: {other:?}"),
        }
    }

    /// Starts `command` with its output to `log`.
    pub fn start(
        name: &'static str,
        command: &mut Command,
        log: std::fs::File,
    ) -> anyhow::Result<Self> {
        let err = log.try_clone()?;
        command.stdin(Stdio::null()).stdout(log).stderr(err);
        let child = command.spawn().with_context(|| format!("failed to start {name}"))?;
        Ok(Self { child, name })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        use nix::sys::signal::{Signal, kill};
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _sent = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
        }
        if wait_child(&mut self.child, Duration::from_secs(15)).is_none() {
            eprintln!("        {} did not stop on SIGTERM within 15 s: killed", self.name);
        }
    }
}
