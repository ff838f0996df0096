//! `tether cp`: files and folders to and from containers, as kubectl cp copies them (a tar
//! through `tar -xmf -` or `tar cf -` in the container), refusing tar entries that would land
//! outside the destination. A progress bar shows on stderr when it is a terminal.

use std::io::{self, IsTerminal as _, Read};

use anyhow::Context as _;
use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use tether_proto::client::Client;
use tether_proto::pb;
use tether_proto::pb::exit_status::Kind;
use tokio::sync::mpsc;

use super::Ctx;
use crate::args::CpArgs;
use crate::error::{Exit, Failure};
use crate::out;
use crate::remote::{self, Event, Process, outcome};

mod pack;
mod spec;
#[cfg(test)]
mod tests;
mod unpack;

use spec::Copy;

/// Chunks of tar in flight between the network and the tar thread.
const AHEAD: usize = 8;

/// Runs `tether cp`.
///
/// # Errors
/// A [`Failure`] (exit code 1) when the copy fails, or kubectl's line for an error from the
/// cluster.
pub async fn run(ctx: &Ctx, args: CpArgs) -> anyhow::Result<()> {
    let copy = spec::plan(&args.src, &args.dest)
        .map_err(|m| Failure::new(Exit::Error, format!("{m}; see `tether cp --help`")))?;
    match copy {
        Copy::ToPod { src, namespace, pod, dest } => {
            let target = Target { args: &args, namespace, pod };
            to_pod(ctx, &target, src, &dest).await
        }
        Copy::FromPod { namespace, pod, src, dest } => {
            let target = Target { args: &args, namespace, pod };
            from_pod(ctx, &target, &src, dest).await
        }
    }
}

/// The pod side of a copy.
#[derive(Debug)]
struct Target<'a> {
    args: &'a CpArgs,
    /// From the file spec; -n otherwise.
    namespace: Option<String>,
    pod: String,
}

impl Target<'_> {
    fn spec(&self, command: &[&str]) -> anyhow::Result<pb::ProcessSpec> {
        let mut kube = self.args.kube.clone();
        kube.namespace = self.namespace.clone().or(kube.namespace);
        let command = command.iter().map(|&c| c.to_owned()).collect();
        remote::spec(&self.pod, self.args.container.as_deref(), &kube, command)
    }

    /// `tether exec [-n NS] POD -- ...`, for advice.
    fn exec(&self, command: &str) -> String {
        let kube = &self.args.kube;
        let ns = self.namespace.as_ref().or(kube.namespace.as_ref());
        let ns = ns.map(|ns| format!(" -n {ns}")).unwrap_or_default();
        format!("tether exec{ns} {} -- {command}", self.pod)
    }
}

async fn to_pod(ctx: &Ctx, target: &Target<'_>, src: String, dest: &str) -> anyhow::Result<()> {
    if std::fs::metadata(&src).is_err() {
        let message = format!("{src} doesn't exist in local filesystem");
        return Err(Failure::new(Exit::Error, message).into());
    }
    let mut client = ctx.client().await?;
    // As kubectl: into an existing folder the source keeps its name, else it takes dest's.
    let probe = run_quietly(&mut client, target.spec(&["test", "-d", dest])?).await?;
    let is_dir = match &probe.kind {
        Some(Kind::Code(code)) => *code == 0,
        _ => return Err(cluster_error(&probe).into()),
    };
    let (name, dir) = spec::upload_target(&src, dest, is_dir);
    let mut command = vec!["tar"];
    if target.args.no_preserve {
        command.extend(["--no-same-permissions", "--no-same-owner"]);
    }
    command.extend(["-xmf", "-", "-C", &dir]);
    let mut process_spec = target.spec(&command)?;
    process_spec.stdin = true;
    let bar = progress_bar(Some(pack::total_size(src.as_ref())));
    let mut process = remote::start(&mut client, process_spec).await?;
    let (chunk_tx, chunk_rx) = mpsc::channel(AHEAD);
    let packer = {
        let (bar, src) = (bar.clone(), src.clone());
        tokio::task::spawn_blocking(move || {
            let wrap = |file| Box::new(bar.wrap_read(file)) as Box<dyn Read>;
            let mut warn =
                |line: String| bar.suspend(|| out::stderr(format!("{line}\n").as_bytes()));
            let out = pack::ChunkWriter::new(chunk_tx);
            let mut out = pack::pack(src.as_ref(), &name, out, &wrap, &mut warn)?;
            io::Write::flush(&mut out)
        })
    };
    let pump = tokio::spawn(remote::pump_stdin(process.input.clone(), chunk_rx));
    let exit = relay(&mut process, &bar, None).await;
    pump.abort();
    drop(process);
    let packed = packer.await?;
    bar.finish_and_clear();
    let exit = exit?.ok_or_else(|| anyhow::anyhow!("the copy ended without an exit status"))?;
    if !matches!(exit.kind, Some(Kind::Code(_))) {
        return Err(cluster_error(&exit).into());
    }
    if let Err(err) = packed
        && err.kind() != io::ErrorKind::BrokenPipe
    {
        let message = format!("failed to pack {src} for the copy: {err}");
        return Err(Failure::new(Exit::Error, message).into());
    }
    check_code(&exit, || {
        let ls = target.exec(&format!("ls -ld {dir}"));
        format!("check that the folder {dir} exists in the container and can be written: `{ls}`")
    })
}

async fn from_pod(ctx: &Ctx, target: &Target<'_>, src: &str, dest: String) -> anyhow::Result<()> {
    let base = std::env::current_dir().context("failed to find the current folder")?;
    let rules = unpack::Rules {
        prefix: spec::download_prefix(src),
        dest,
        base,
        symlink_hint: format!("{} | tar xf -", target.exec(&format!("tar cf - {src}"))),
    };
    let mut client = ctx.client().await?;
    let mut process = remote::start(&mut client, target.spec(&["tar", "cf", "-", src])?).await?;
    let bar = progress_bar(None);
    let (chunk_tx, chunk_rx) = mpsc::channel(AHEAD);
    let unpacker = {
        let bar = bar.clone();
        tokio::task::spawn_blocking(move || {
            let mut warn =
                |line: String| bar.suspend(|| out::stderr(format!("{line}\n").as_bytes()));
            let mut tar = ChunkReader::new(chunk_rx);
            let unpacked = unpack::unpack(&mut tar, &rules, &mut warn)?;
            // GNU tar pads its output past the end-of-archive blocks: read it all, so that the
            // process's last output and its exit status still come through.
            io::copy(&mut tar, &mut io::sink()).map_err(unpack::UnpackError::Read)?;
            Ok(unpacked)
        })
    };
    let exit = relay(&mut process, &bar, Some(chunk_tx)).await;
    drop(process);
    let unpacked = unpacker.await?;
    bar.finish_and_clear();
    let exit = exit?;
    if let Some(exit) = &exit
        && !matches!(exit.kind, Some(Kind::Code(_)))
    {
        return Err(cluster_error(exit).into());
    }
    if let Err(err) = unpacked {
        return Err(Failure::new(Exit::Error, unpack_message(&err)).into());
    }
    let exit =
        exit.ok_or_else(|| anyhow::anyhow!("the tar reader stopped before the copy ended"))?;
    check_code(&exit, || {
        let ls = target.exec(&format!("ls -ld {src}"));
        format!("check that {src} exists in the container and can be read: `{ls}`")
    })
}

/// An unpacking error with its causes, and advice.
fn unpack_message(err: &unpack::UnpackError) -> String {
    let mut message = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        message = format!("{message}: {c}");
        cause = c.source();
    }
    match err {
        unpack::UnpackError::Write { source, .. }
            if source.kind() == io::ErrorKind::IsADirectory =>
        {
            format!("{message}; to copy a file into a folder, name the file: DEST/NAME")
        }
        _ => message,
    }
}

/// Runs a command with no input and returns how it ended, dropping its output.
async fn run_quietly(client: &mut Client, spec: pb::ProcessSpec) -> anyhow::Result<pb::ExitStatus> {
    let mut process = remote::start(client, spec).await?;
    loop {
        if let Event::Exit(exit) = process.next().await? {
            return Ok(exit);
        }
    }
}

/// The process's output until it ends: stdout to `tar_tx` when given (the tar to unpack) or to
/// stdout, stderr to stderr around the progress bar. `None` when `tar_tx`'s reader stopped.
async fn relay(
    process: &mut Process,
    bar: &ProgressBar,
    tar_tx: Option<mpsc::Sender<Bytes>>,
) -> anyhow::Result<Option<pb::ExitStatus>> {
    loop {
        match process.next().await? {
            Event::Stdout(data) => match &tar_tx {
                Some(tar_tx) => {
                    bar.inc(data.len() as u64);
                    if tar_tx.send(data).await.is_err() {
                        return Ok(None);
                    }
                }
                None => bar.suspend(|| out::bytes(&data))?,
            },
            Event::Stderr(data) => bar.suspend(|| out::stderr(&data)),
            Event::Warning(text) => bar.suspend(|| out::note(&format!("warning: {text}"))),
            Event::Exit(exit) => return Ok(Some(exit)),
        }
    }
}

/// kubectl's line for an error from the cluster, with a hint when tar is missing.
fn cluster_error(exit: &pb::ExitStatus) -> crate::error::Terminated {
    let mut end = outcome::report(exit).unwrap_or(crate::error::Terminated { code: 1, line: None });
    if let Some(line) = &mut end.line
        && line.contains("executable file not found")
    {
        line.push_str("\nhint: tether cp needs `tar` in the container image");
    }
    end.code = 1;
    end
}

/// Success for exit code 0; otherwise a failure that says the code and what to check.
fn check_code(exit: &pb::ExitStatus, advice: impl FnOnce() -> String) -> anyhow::Result<()> {
    match exit.kind {
        Some(Kind::Code(0)) => Ok(()),
        _ => {
            let what = outcome::describe(exit);
            let message = format!("tar in the container failed ({what}); {}", advice());
            Err(Failure::new(Exit::Error, message).into())
        }
    }
}

/// A progress bar on stderr when it is a terminal: bytes of `total`, or a spinner.
fn progress_bar(total: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::new(total),
            "{bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec}, {eta} left",
        ),
        None => (ProgressBar::new_spinner(), "{spinner} {bytes} received, {bytes_per_sec}"),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// A reader of chunks from a channel, for the tar thread; EOF when the channel closes.
#[derive(Debug)]
struct ChunkReader {
    /// From the task that receives the process's stdout.
    chunk_rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChunkReader {
    fn new(chunk_rx: mpsc::Receiver<Bytes>) -> Self {
        Self { chunk_rx, current: Bytes::new() }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.chunk_rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
