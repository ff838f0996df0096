//! Child processes with deadlines: wait for an exit (killing the child at the deadline), or
//! collect its whole output.

use std::io::Read as _;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use crate::wait::EVERY;

/// Waits for `child` to exit, up to `timeout`; at the deadline kills and reaps it, and returns
/// `None`.
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _killed = child.kill();
            let _reaped = child.wait();
            return None;
        }
        std::thread::sleep(EVERY);
    }
}

/// What a finished command produced.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    /// The exit code; -1 for a death by signal.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Collects the output of `child` (spawned with piped stdout and stderr) until it exits. Fails
/// the test, naming `what`, when that takes longer than `timeout`.
#[track_caller]
pub fn wait_output(mut child: Child, timeout: Duration, what: &str) -> Output {
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _read = out.read_to_end(&mut buf);
        buf
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _read = err.read_to_end(&mut buf);
        buf
    });
    let Some(status) = wait_child(&mut child, timeout) else {
        panic!("{what} did not finish within {timeout:?}");
    };
    let stdout = out_thread.join().expect("stdout reader");
    let stderr = String::from_utf8_lossy(&err_thread.join().expect("stderr reader")).into_owned();
    Output { status, stdout, stderr }
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;

    #[test]
    fn output_is_collected_and_a_hung_child_is_killed() {
        let child = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sh");
        let out = wait_output(child, Duration::from_secs(10), "sh");
        assert_eq!(
            (out.code(), out.stdout_str().as_str(), out.stderr.as_str()),
            (3, "out\n", "err\n")
        );
        let mut child = Command::new("sleep").arg("30").spawn().expect("sleep");
        assert_eq!(wait_child(&mut child, Duration::from_millis(100)), None);
        assert!(child.try_wait().expect("reaped").is_some(), "killed and reaped");
    }
}
