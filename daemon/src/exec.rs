//! Remote commands (exec and attach) as the daemon runs them: a request, and a process handle
//! with bounded input and output queues, whatever the protocol underneath.
//!
//! [`ws`] speaks the WebSocket channel protocols (`v5.channel.k8s.io`, with CLOSE for stdin EOF,
//! or `v4.channel.k8s.io` on old clusters, where EOF can only be the end of the stream);
//! [`spdy`] speaks remote command over raw SPDY/3.1 (v1 to v4).

pub(crate) mod spdy;
pub(crate) mod ws;

use bytes::Bytes;
use tether_wire::channel::{ExitOutcome, TerminalSize};
use tokio::sync::mpsc;

/// What to run, in which pod and container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The pod.
    pub pod: String,
    /// The container (resolved: never empty).
    pub container: String,
    /// The command; empty for an attach to the container's main process.
    pub command: Vec<String>,
    /// Whether stdin is sent.
    pub stdin: bool,
    /// Whether a terminal is allocated (stderr then merges into stdout).
    pub tty: bool,
    /// The initial terminal size.
    pub size: Option<TerminalSize>,
}

impl Request {
    /// The query string of the exec or attach request, in kubectl's order.
    #[must_use]
    pub fn query(&self) -> String {
        let mut q = url_encoded(self.command.iter().map(|c| ("command", c.as_str())));
        let mut push = |k: &str, v: &str| {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(&url_encoded([(k, v)]));
        };
        push("container", &self.container);
        if !self.tty {
            push("stderr", "true");
        }
        if self.stdin {
            push("stdin", "true");
        }
        push("stdout", "true");
        if self.tty {
            push("tty", "true");
        }
        q
    }

    /// `exec` or `attach`.
    #[must_use]
    pub fn subresource(&self) -> &'static str {
        if self.command.is_empty() { "attach" } else { "exec" }
    }
}

fn url_encoded<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// What a client sends to the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Bytes for stdin.
    Stdin(Bytes),
    /// No more stdin.
    CloseStdin,
    /// The terminal changed size.
    Resize(TerminalSize),
}

/// How a remote process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The server said how: an exit code or an error status.
    Exited(ExitOutcome),
    /// The connection dropped before the server said; the process cannot be resumed.
    Lost(String),
}

/// What the process produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output (everything, with a TTY).
    Stdout(Bytes),
    /// Standard error.
    Stderr(Bytes),
    /// Something the user should know.
    Warning(String),
    /// The end; nothing follows.
    End(Ending),
}

/// A running remote process.
#[derive(Debug)]
pub struct Process {
    /// Input to the process. Dropping it closes the connection (kills the process).
    pub input: mpsc::Sender<Input>,
    /// Output, ending with [`Output::End`].
    pub output: mpsc::Receiver<Output>,
    /// The protocol in use: `websocket-v5`, `websocket-v4`, `spdy`.
    pub protocol: &'static str,
}

/// Capacity of the input and output queues of a process.
pub(crate) const QUEUE: usize = 64;

/// The exit outcome the error channel's `status` carries; one that does not decode is a
/// `ProtocolError`.
fn exited(version: tether_wire::channel::Version, status: &[u8]) -> Ending {
    let outcome = tether_wire::channel::decode_error_channel(version, status).unwrap_or_else(|e| {
        ExitOutcome::Error {
            reason: Some("ProtocolError".into()),
            message: e.to_string(),
            code: None,
        }
    });
    Ending::Exited(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_look_like_kubectls() {
        let r = Request {
            pod: "p".into(),
            container: "main".into(),
            command: vec!["sh".into(), "-c".into(), "echo hi".into()],
            stdin: true,
            tty: false,
            size: None,
        };
        assert_eq!(
            r.query(),
            "command=sh&command=-c&command=echo+hi&container=main&stderr=true&stdin=true&stdout=true"
        );
        let tty = Request { command: vec![], tty: true, ..r };
        assert_eq!(tty.query(), "container=main&stdin=true&stdout=true&tty=true");
        assert_eq!(tty.subresource(), "attach");
    }
}
