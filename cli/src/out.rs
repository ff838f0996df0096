//! Output: machine-readable text to stdout, diagnostics to stderr. Everything for stdout goes
//! through here, so that a reader closing the pipe (`tether ls | head`) ends the program
//! quietly with success instead of a panic, and colors follow `NO_COLOR`.

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, IsTerminal as _, Write};

/// Turns colors off when set to anything but the empty string (<https://no-color.org>).
pub const ENV_NO_COLOR: &str = "NO_COLOR";

/// The reader of stdout went away (a broken pipe): stop quietly, with success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed by its reader")
    }
}

impl std::error::Error for Closed {}

/// Writes `text` and a newline to stdout.
///
/// # Errors
/// [`Closed`] on a broken pipe, else the write error.
pub fn line(text: &str) -> anyhow::Result<()> {
    bytes(format!("{text}\n").as_bytes())
}

/// Writes `text` to stdout as it is.
///
/// # Errors
/// [`Closed`] on a broken pipe, else the write error.
pub fn text(text: &str) -> anyhow::Result<()> {
    bytes(text.as_bytes())
}

/// Writes raw bytes to stdout.
///
/// # Errors
/// [`Closed`] on a broken pipe, else the write error.
pub fn bytes(bytes: &[u8]) -> anyhow::Result<()> {
    write_to(&mut io::stdout().lock(), bytes)
}

/// Writes `bytes` to `w` and flushes it, turning a broken pipe into [`Closed`].
///
/// # Errors
/// [`Closed`] on a broken pipe, else the write error.
pub fn write_to(w: &mut impl Write, bytes: &[u8]) -> anyhow::Result<()> {
    match w.write_all(bytes).and_then(|()| w.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Closed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("failed to write to stdout")),
    }
}

/// Whether to color a stream: only a terminal, and only without `NO_COLOR`.
#[must_use]
pub fn color_enabled(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// Whether stdout gets colors.
#[must_use]
pub fn stdout_color() -> bool {
    color_enabled(io::stdout().is_terminal(), std::env::var_os(ENV_NO_COLOR).as_deref())
}

/// Prints `error: message` to stderr; a failure to do so is ignored, as there is nowhere left
/// to report it.
pub fn error(message: &str) {
    let color =
        color_enabled(io::stderr().is_terminal(), std::env::var_os(ENV_NO_COLOR).as_deref());
    let prefix = if color { "\x1b[1;31merror:\x1b[0m" } else { "error:" };
    let _ignored = writeln!(io::stderr().lock(), "{prefix} {message}");
}

/// Writes bytes to stderr as they are (a remote command's stderr), ignoring failures as
/// [`error`] does.
pub fn stderr(data: &[u8]) {
    let mut err = io::stderr().lock();
    let _ignored = err.write_all(data).and_then(|()| err.flush());
}

/// Prints a note for humans to stderr, ignoring failures as [`error`] does.
pub fn note(message: &str) {
    let _ignored = writeln!(io::stderr().lock(), "{message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose reader has gone, or that fails otherwise.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(self.0.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_broken_pipe_is_a_quiet_close() {
        let err = write_to(&mut Failing(io::ErrorKind::BrokenPipe), b"x\n").expect_err("fails");
        assert_eq!(err.downcast_ref::<Closed>(), Some(&Closed));
    }

    #[test]
    fn other_write_errors_are_errors() {
        let err = write_to(&mut Failing(io::ErrorKind::StorageFull), b"x\n").expect_err("fails");
        assert!(err.downcast_ref::<Closed>().is_none());
        assert!(err.to_string().contains("failed to write to stdout"), "{err}");
    }

    #[test]
    fn writes_reach_the_writer() {
        let mut buf = Vec::new();
        write_to(&mut buf, b"a\nb\n").expect("write");
        assert_eq!(buf, b"a\nb\n");
    }

    #[test]
    fn no_color_turns_colors_off() {
        assert!(color_enabled(true, None));
        assert!(color_enabled(true, Some(OsStr::new(""))));
        assert!(!color_enabled(true, Some(OsStr::new("1"))));
        assert!(!color_enabled(false, None));
    }
}
