//! A process on a pseudo-terminal, as a user at a terminal runs it: its output collected by a
//! thread, input typed into the pty, resizes, and waits with deadlines.

use std::io::{Read as _, Write as _};
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::wait::until;

/// How long [`PtyProcess::expect`] waits for output.
pub const OUTPUT_TIMEOUT: Duration = Duration::from_secs(30);

/// A process on a pty; killed and reaped when dropped.
pub struct PtyProcess {
    child: Child,
    pty: Arc<pty_process::blocking::Pty>,
    /// Everything the process wrote, appended by the reader thread.
    output: Arc<Mutex<Vec<u8>>>,
}

impl std::fmt::Debug for PtyProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PtyProcess").field("child", &self.child).finish_non_exhaustive()
    }
}

impl PtyProcess {
    /// Runs `command` (its program, arguments, environment and folder; not its stdio) on a new
    /// pty of `rows` by `cols`.
    pub fn spawn(command: &Command, rows: u16, cols: u16) -> Self {
        let (pty, pts) = pty_process::blocking::open().expect("open a pty");
        pty.resize(pty_process::Size::new(rows, cols)).expect("size the pty");
        let mut cmd =
            pty_process::blocking::Command::new(command.get_program()).args(command.get_args());
        for (key, value) in command.get_envs() {
            cmd = match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        if let Some(dir) = command.get_current_dir() {
            cmd = cmd.current_dir(dir);
        }
        let child = cmd.spawn(pts).expect("spawn on the pty");
        let pty = Arc::new(pty);
        let output = Arc::new(Mutex::new(Vec::new()));
        let (reader, sink) = (pty.clone(), output.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = (&*reader).read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(&buf[..n]);
            }
        });
        Self { child, pty, output }
    }

    /// Types `bytes` (a line ends with `\r`, as the Enter key sends).
    pub fn write(&self, bytes: &[u8]) {
        (&*self.pty).write_all(bytes).expect("write to the pty");
    }

    /// Changes the terminal's size; the kernel sends SIGWINCH to the foreground process.
    pub fn resize(&self, rows: u16, cols: u16) {
        self.pty.resize(pty_process::Size::new(rows, cols)).expect("resize the pty");
    }

    /// Everything the process wrote so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap_or_else(PoisonError::into_inner))
            .into_owned()
    }

    /// Waits until the output contains `needle`; fails the test after [`OUTPUT_TIMEOUT`].
    #[track_caller]
    pub fn expect(&self, needle: &str) {
        until(OUTPUT_TIMEOUT, &format!("the terminal shows {needle:?}"), || {
            let text = self.text();
            if text.contains(needle) { Ok(()) } else { Err(text) }
        });
    }

    /// Types `input` again and again, every `every`, until the output contains `needle`: for
    /// news that arrives by another path than the input, such as a resize before `stty size`.
    /// Fails the test after [`OUTPUT_TIMEOUT`].
    #[track_caller]
    pub fn retype_until(&self, input: &[u8], needle: &str, every: Duration) {
        let mut typed: Option<Instant> = None;
        until(OUTPUT_TIMEOUT, &format!("the terminal shows {needle:?}"), || {
            let text = self.text();
            if text.contains(needle) {
                return Ok(());
            }
            if typed.is_none_or(|at| at.elapsed() >= every) {
                self.write(input);
                typed = Some(Instant::now());
            }
            Err(text)
        });
    }

    /// Waits for the process to exit, up to `timeout`; kills it and returns `None` after that.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        crate::wait_child(&mut self.child, timeout)
    }
}

impl Drop for PtyProcess {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_on_the_pty_sees_its_size_and_resizes() {
        let mut command = Command::new("sh");
        command.env("PS1", "$ ");
        let mut shell = PtyProcess::spawn(&command, 24, 80);
        shell.write(b"stty size\r");
        shell.expect("24 80");
        shell.resize(40, 132);
        shell.retype_until(b"stty size\r", "40 132", Duration::from_millis(200));
        shell.write(b"exit 7\r");
        let status = shell.wait(Duration::from_secs(10)).expect("the shell exits");
        assert_eq!(status.code(), Some(7), "{}", shell.text());
    }
}
