//! Spawning a container or exec process: pipes or a pty, its own process group, and pump tasks
//! that turn its stdio into bounded channels of [`Input`] and [`Output`].

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use tether_wire::channel::TerminalSize;

/// What a client sends to a process.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    /// Bytes for stdin.
    Data(Bytes),
    /// End of stdin (v5 CLOSE, or SPDY FIN on the stdin stream).
    Eof,
    /// A new terminal size (TTY only).
    Resize(TerminalSize),
}

/// What a process writes.
#[derive(Debug, Clone)]
pub(crate) enum Output {
    /// Standard output (everything, with a TTY).
    Stdout(Bytes),
    /// Standard error.
    Stderr(Bytes),
}

/// How to start a process.
#[derive(Debug, Clone)]
pub(crate) struct ProcessSpec<'a> {
    pub argv: &'a [String],
    pub env: &'a HashMap<String, String>,
    pub cwd: &'a Path,
    pub tty: bool,
    pub stdin: bool,
    pub initial_size: Option<TerminalSize>,
}

/// A started process and its stdio channels.
#[derive(Debug)]
pub(crate) struct Spawned {
    pub child: Child,
    pub pgid: i32,
    pub input_tx: mpsc::Sender<Input>,
    pub output_rx: mpsc::Receiver<Output>,
}

/// Errors from starting a process.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
    /// No command.
    #[error("failed to start process: empty command")]
    Empty,
    /// The program does not exist.
    #[error("exec: \"{0}\": executable file not found in $PATH")]
    NotFound(String),
    /// Anything else.
    #[error("failed to start process {program}")]
    Io {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

const CHUNK: usize = 32 * 1024;

/// Starts `spec` in a new process group (a new session with a pty), with pumps on `tracker`.
pub(crate) fn spawn(spec: &ProcessSpec<'_>, tracker: &TaskTracker) -> Result<Spawned, SpawnError> {
    let (program, args) = spec.argv.split_first().ok_or(SpawnError::Empty)?;
    let io_err = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => SpawnError::NotFound(program.clone()),
        _ => SpawnError::Io { program: program.clone(), source },
    };
    let (input_tx, input_rx) = mpsc::channel(64);
    let (output_tx, output_rx) = mpsc::channel(64);
    let child = if spec.tty {
        let (pty, pts) = pty_process::open().map_err(|e| io_err(std::io::Error::other(e)))?;
        if let Some(size) = spec.initial_size {
            let _ignored = pty.resize(pty_process::Size::new(size.height, size.width));
        }
        let child = pty_process::Command::new(program)
            .args(args)
            .env_clear()
            .envs(spec.env)
            .current_dir(spec.cwd)
            .kill_on_drop(true)
            .spawn(pts)
            .map_err(|e| match e {
                pty_process::Error::Io(io) => io_err(io),
                other => io_err(std::io::Error::other(other)),
            })?;
        let (read, write) = pty.into_split();
        tracker.spawn(pump_out(read, output_tx, Output::Stdout));
        tracker.spawn(pump_pty_in(write, input_rx));
        child
    } else {
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(spec.env)
            .current_dir(spec.cwd)
            .process_group(0)
            .kill_on_drop(true)
            .stdin(if spec.stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(io_err)?;
        if let Some(out) = child.stdout.take() {
            tracker.spawn(pump_out(out, output_tx.clone(), Output::Stdout));
        }
        if let Some(err) = child.stderr.take() {
            tracker.spawn(pump_out(err, output_tx, Output::Stderr));
        }
        tracker.spawn(pump_in(child.stdin.take(), input_rx));
        child
    };
    let pgid = child.id().and_then(|id| i32::try_from(id).ok()).unwrap_or(0);
    Ok(Spawned { child, pgid, input_tx, output_rx })
}

async fn pump_out(
    mut from: impl AsyncRead + Unpin,
    to: mpsc::Sender<Output>,
    wrap: fn(Bytes) -> Output,
) {
    let mut buf = vec![0u8; CHUNK];
    // A pty read fails with EIO once the child has exited and everything was read.
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 || to.send(wrap(Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
            break;
        }
    }
}

async fn pump_in(mut to: Option<tokio::process::ChildStdin>, mut from: mpsc::Receiver<Input>) {
    while let Some(input) = from.recv().await {
        match input {
            Input::Data(data) => {
                let Some(stdin) = to.as_mut() else { continue };
                if stdin.write_all(&data).await.is_err() {
                    to = None;
                }
            }
            // Dropping the pipe is the EOF the process sees.
            Input::Eof => to = None,
            Input::Resize(_) => {}
        }
    }
}

async fn pump_pty_in(mut to: pty_process::OwnedWritePty, mut from: mpsc::Receiver<Input>) {
    while let Some(input) = from.recv().await {
        match input {
            Input::Data(data) => {
                if to.write_all(&data).await.is_err() {
                    break;
                }
            }
            // A terminal has no EOF of its own; kubectl never sends one with a TTY.
            Input::Eof => {}
            Input::Resize(size) => {
                let _ignored = to.resize(pty_process::Size::new(size.height, size.width));
            }
        }
    }
}

/// The exit code a container runtime reports: the code, or 128 + the signal.
pub(crate) fn exit_code(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(u8::MAX),
        (None, Some(sig)) => u8::try_from((128 + sig) & 0xff).unwrap_or(u8::MAX),
        (None, None) => 1,
    }
}

/// Sends `signal` to a process group, ignoring groups that are already gone.
pub(crate) fn signal_group(pgid: i32, signal: nix::sys::signal::Signal) {
    if pgid > 0 {
        let _gone = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), signal);
    }
}
