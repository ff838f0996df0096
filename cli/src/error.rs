//! One place decides what the user sees when a command fails: the message, the advice, and the
//! exit code. The codes are documented in `tether --help` and the crate's README.

use std::fmt;

use tether_proto::client::ClientError;
use tonic::{Code, Status};

use crate::out::Closed;

/// The exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success, also when stdout's reader went away.
    Ok = 0,
    /// Any error not listed below.
    Error = 1,
    /// Bad usage: clap's errors, and values the daemon rejected (`INVALID_ARGUMENT`).
    Usage = 2,
    /// `daemon status` or `daemon stop` found no daemon.
    NotRunning = 3,
    /// `forward --wait`: the forward failed or was not ready in time.
    NotReady = 4,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit as u8)
    }
}

/// A failure with the message to print and the code to exit with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What happened and what to do, in one line.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl Failure {
    /// A failure with its own message.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self { exit, message: message.into() }
    }

    /// A failed call, as `failed to <action>: <status message>; <advice>`. `hint` is the
    /// caller's advice for this status; without it, the general advice for the code is used.
    #[must_use]
    pub fn rpc(action: &str, status: &Status, hint: Option<String>) -> Self {
        let mut message = format!("failed to {action}: {}", describe(status));
        if let Some(advice) = hint.or_else(|| advice(status)) {
            message = format!("{message}; {advice}");
        }
        Self { exit: exit_for(status.code()), message }
    }

    /// A failure to reach or start the daemon.
    #[must_use]
    pub fn client(err: &ClientError) -> Self {
        match err {
            ClientError::Rpc { path, source } => {
                Self::rpc(&format!("talk to tetherd at {}", path.display()), source, None)
            }
            other => Self::new(Exit::Error, chain(other)),
        }
    }
}

/// The end of a remote command, reported as kubectl reports it: a line for stderr, printed as it
/// is (`command terminated with exit code 3`, `Error from server (NotFound): ...`), and the
/// command's exit code, 0 to 255.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terminated {
    /// The exit code.
    pub code: u8,
    /// The line to print, without its newline; `None` to print nothing.
    pub line: Option<String>,
}

impl fmt::Display for Terminated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.line {
            Some(line) => f.write_str(line),
            None => write!(f, "exit code {}", self.code),
        }
    }
}

impl std::error::Error for Terminated {}

/// The remote command's end, when that is what ended the program.
#[must_use]
pub fn terminated(err: &anyhow::Error) -> Option<&Terminated> {
    err.chain().find_map(|e| e.downcast_ref::<Terminated>())
}

/// The exit code for a gRPC status code.
#[must_use]
pub fn exit_for(code: Code) -> Exit {
    match code {
        Code::Ok => Exit::Ok,
        Code::InvalidArgument | Code::OutOfRange => Exit::Usage,
        _ => Exit::Error,
    }
}

/// General advice for a status, when the caller has none.
fn advice(status: &Status) -> Option<String> {
    let advice = match status.code() {
        Code::Unavailable if is_transport(status) => {
            "is the daemon running? Check with `tether daemon status` and `tether daemon logs`"
        }
        Code::Unavailable => {
            "is the daemon running? Check with `tether daemon status`; if it is, check that the \
             cluster answers with `kubectl cluster-info`"
        }
        Code::NotFound => "list the forwards with `tether ls`",
        Code::Unimplemented => {
            "tetherd is older than this client: restart it with `tether daemon stop`"
        }
        Code::Internal | Code::Unknown | Code::DataLoss => "see `tether daemon logs`",
        _ => return None,
    };
    Some(advice.into())
}

/// Whether a status came from the connection to the daemon rather than from the daemon.
pub(crate) fn is_transport(status: &Status) -> bool {
    std::error::Error::source(status).is_some()
}

/// A status in words: its message (and, for connection errors, their causes), else its code.
#[must_use]
pub fn describe(status: &Status) -> String {
    let mut text = status.message().to_owned();
    if text.is_empty() {
        text = status.code().description().to_owned();
    }
    if let Some(source) = std::error::Error::source(status) {
        text = format!("{text}: {}", chain(source));
    }
    text
}

/// An error and its causes, joined by `: `.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let part = cause.to_string();
        if !text.ends_with(&part) {
            text = format!("{text}: {part}");
        }
        next = cause.source();
    }
    text
}

/// What to print for an error that ended the program, and the code to exit with. `None` means
/// print nothing (stdout was closed by its reader).
#[must_use]
pub fn report(err: &anyhow::Error) -> (Exit, Option<String>) {
    if err.chain().any(|e| e.is::<Closed>()) {
        return (Exit::Ok, None);
    }
    if let Some(failure) = err.chain().find_map(|e| e.downcast_ref::<Failure>()) {
        let contexts: Vec<String> =
            err.chain().take_while(|e| !e.is::<Failure>()).map(ToString::to_string).collect();
        let message = contexts.into_iter().chain([failure.message.clone()]).collect::<Vec<_>>();
        return (failure.exit, Some(message.join(": ")));
    }
    if let Some(status) = err.chain().find_map(|e| e.downcast_ref::<Status>()) {
        let failure = Failure::rpc("call tetherd", status, None);
        return (failure.exit, Some(failure.message));
    }
    if let Some(client) = err.chain().find_map(|e| e.downcast_ref::<ClientError>()) {
        let failure = Failure::client(client);
        return (failure.exit, Some(failure.message));
    }
    (Exit::Error, Some(format!("{err:#}")))
}

/// Advice as a kubectl plugin gives it: `` `tether ls` `` becomes `` `kubectl tether ls` ``.
#[must_use]
pub fn as_plugin(message: &str) -> String {
    message.replace("`tether ", "`kubectl tether ")
}

#[cfg(test)]
mod tests;
