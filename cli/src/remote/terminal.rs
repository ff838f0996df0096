//! The local terminal: raw mode that is always restored (on drop, and by a panic hook), its
//! size, and its size changes (SIGWINCH).

use std::sync::Once;

use anyhow::Context as _;
use crossterm::terminal;
use tether_proto::pb;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Raw mode while this lives: keys go to the remote terminal as they are typed, without local
/// echo or line editing. Dropping it restores the terminal; so does a panic.
#[derive(Debug)]
pub struct RawMode {
    _private: (),
}

impl RawMode {
    /// Puts the terminal on stdin in raw mode.
    ///
    /// # Errors
    /// The terminal refused (for instance, stdin is not one).
    pub fn enable() -> anyhow::Result<Self> {
        restore_on_panic();
        terminal::enable_raw_mode().context("failed to put the terminal in raw mode")?;
        Ok(Self { _private: () })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // Nothing is left to do if this fails: the user can still run `reset`.
        let _ignored = terminal::disable_raw_mode();
    }
}

/// Installs, once, a panic hook that leaves raw mode before the panic message is printed.
fn restore_on_panic() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Does nothing unless raw mode is on.
            let _ignored = terminal::disable_raw_mode();
            previous(info);
        }));
    });
}

/// The terminal's size, or `None` when there is no terminal.
#[must_use]
pub fn size() -> Option<pb::TerminalSize> {
    let (width, height) = terminal::size().ok()?;
    (width > 0 && height > 0)
        .then(|| pb::TerminalSize { width: width.into(), height: height.into() })
}

/// SIGWINCH: the terminal changed size.
///
/// # Errors
/// The signal handler could not be installed.
pub fn resizes() -> anyhow::Result<Signal> {
    signal(SignalKind::window_change()).context("failed to watch the terminal size (SIGWINCH)")
}

/// Waits for SIGTERM or SIGHUP, and answers the exit code of a process killed by it: in raw
/// mode, Ctrl-C is a key, and these signals must end the program through its normal path, so
/// that the terminal is restored. Never resolves when the handlers cannot be installed.
pub async fn hangup_or_terminate() -> u8 {
    let (Ok(mut term), Ok(mut hup)) =
        (signal(SignalKind::terminate()), signal(SignalKind::hangup()))
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => 128 + 15,
        _ = hup.recv() => 128 + 1,
    }
}
