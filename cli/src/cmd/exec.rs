//! `tether exec`: a command in a container with the local stdin, stdout and stderr, like
//! `kubectl exec`, and the same output, messages and exit code.

use std::io::{self, IsTerminal as _};

use anyhow::Context as _;
use tokio::task::JoinHandle;

use super::Ctx;
use crate::args::ExecArgs;
use crate::error::Terminated;
use crate::out;
use crate::remote::terminal::{self, RawMode};
use crate::remote::{self, Event, Input, Process, outcome, stdin};

/// kubectl's warning when `-it` is given but stdin is not a terminal.
pub const NO_TTY: &str = "Unable to use a TTY - input is not a terminal or the right kind of file";

/// Runs `tether exec`.
///
/// # Errors
/// [`Terminated`] with the command's exit code when it exits non-zero or the cluster reports an
/// error; a [`crate::error::Failure`] when the daemon cannot run it.
pub async fn run(ctx: &Ctx, args: ExecArgs) -> anyhow::Result<()> {
    // As kubectl: -t without -i is ignored, and -it without a terminal on stdin warns.
    let tty = args.stdin && args.tty && io::stdin().is_terminal();
    if args.stdin && args.tty && !tty && !args.quiet {
        out::note(NO_TTY);
    }
    let mut spec = remote::spec(&args.target, args.container.as_deref(), &args.kube, args.command)?;
    spec.stdin = args.stdin;
    spec.tty = tty;
    spec.size = if tty { terminal::size() } else { None };
    let mut client = ctx.client().await?;
    let raw = if tty { Some(RawMode::enable()?) } else { None };
    let mut process = remote::start(&mut client, spec).await?;
    let mut pumps: Vec<JoinHandle<()>> = Vec::new();
    if args.stdin {
        let chunks = stdin::spawn().context("failed to read stdin")?;
        pumps.push(tokio::spawn(remote::pump_stdin(process.input.clone(), chunks)));
    }
    if tty {
        let resizes = terminal::resizes()?;
        pumps.push(tokio::spawn(pump_resizes(process.input.clone(), resizes)));
    }
    let end = tokio::select! {
        end = relay(&mut process, tty) => end,
        code = terminal::hangup_or_terminate(), if tty => {
            Err(Terminated { code, line: None }.into())
        }
    };
    for pump in pumps {
        pump.abort();
    }
    drop(raw);
    end
}

/// The terminal's size at every SIGWINCH.
async fn pump_resizes(input: Input, mut resizes: tokio::signal::unix::Signal) {
    while resizes.recv().await.is_some() {
        if let Some(size) = terminal::size()
            && !input.resize(size).await
        {
            return;
        }
    }
}

/// Output to the local streams until the process ends.
async fn relay(process: &mut Process, raw: bool) -> anyhow::Result<()> {
    loop {
        match process.next().await? {
            Event::Stdout(data) => out::bytes(&data)?,
            Event::Stderr(data) => out::stderr(&data),
            Event::Warning(text) => {
                let newline = if raw { "\r\n" } else { "\n" };
                out::stderr(format!("warning: {text}{newline}").as_bytes());
            }
            Event::Exit(exit) => {
                return outcome::report(&exit).map_or(Ok(()), |end| Err(end.into()));
            }
        }
    }
}
