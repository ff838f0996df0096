//! The flags of the commands that run things in containers: `exec`, `cp` and `session`.

use std::ffi::OsString;

use clap::{Args, Subcommand, ValueEnum};

use super::LsArgs;

/// Where the target is: kubectl's namespace, context and kubeconfig flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct KubeFlags {
    /// The namespace; the context's namespace when not given.
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// The kubeconfig context; the current context when not given.
    #[arg(long)]
    pub context: Option<String>,
    /// The kubeconfig file(s); KUBECONFIG or ~/.kube/config when not given.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<OsString>,
}

pub(super) const EXEC_EXAMPLES: &str = "\
Examples:
  tether exec toolbox -- date
  tether exec -it deploy/web -c app -- sh     # a shell, with the terminal in raw mode
  tar cf - dir | tether exec -i toolbox -- tar xf - -C /tmp

Output is the command's, byte for byte. The exit code is the command's (0-255); a command that
exits non-zero also prints `command terminated with exit code N`, and an error from the cluster
(no such pod, container or command) prints kubectl's message and exits 1.";

/// `tether exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Pass stdin to the container.
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Stdin is a TTY: allocate a terminal and put the local one in raw mode (needs -i, and a
    /// terminal on stdin; without them the command runs without a TTY, as with kubectl).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Only print output from the remote session.
    #[arg(short, long)]
    pub quiet: bool,
    /// pod/NAME, deploy/NAME, svc/NAME, sts/NAME, or a bare pod NAME.
    pub target: String,
    /// The container; the pod's default container when not given.
    #[arg(short, long)]
    pub container: Option<String>,
    /// Where the target is.
    #[command(flatten)]
    pub kube: KubeFlags,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

pub(super) const CP_EXAMPLES: &str = "\
Examples:
  tether cp ./site toolbox:/srv/site        # a folder into a pod (needs tar in the container)
  tether cp shop/db-0:/var/log/db.log .     # from a pod in namespace shop
  tether cp app.jar web-7d9f:/app/app.jar -c app

One side is local, the other [NAMESPACE/]POD:PATH, as with kubectl cp. Copying from a pod
refuses entries that would land outside the destination: `..` paths are skipped with a warning,
absolute paths fail the copy (`tar contents corrupted`), and symbolic links are skipped with a
warning. Exit code 0 when everything was copied, 1 otherwise.";

/// `tether cp`.
#[derive(Debug, Args)]
pub struct CpArgs {
    /// What to copy: a local path, or [NAMESPACE/]POD:PATH.
    #[arg(value_name = "SRC")]
    pub src: String,
    /// Where to copy it: a local path, or [NAMESPACE/]POD:PATH.
    #[arg(value_name = "DEST")]
    pub dest: String,
    /// The container; the pod's default container when not given.
    #[arg(short, long)]
    pub container: Option<String>,
    /// Do not keep the ownership and permissions of the copied files in the container.
    #[arg(long)]
    pub no_preserve: bool,
    /// Where the pod is (a namespace in the file spec wins over -n).
    #[command(flatten)]
    pub kube: KubeFlags,
}

/// `tether session ...`.
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Start a session that tetherd keeps running whether or not a terminal is attached, and
    /// print its id.
    #[command(visible_alias = "create", after_help = SESSION_NEW_EXAMPLES)]
    New(SessionNewArgs),
    /// Join a session: its kept output, then live output; your input goes to it. Detach with
    /// Enter ~ . (the session keeps running).
    #[command(after_help = ATTACH_HELP)]
    Attach(SessionAttachArgs),
    /// List sessions.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// End a session's process, or forget a session that has already ended.
    #[command(visible_alias = "rm")]
    Kill(SessionKillArgs),
}

const SESSION_NEW_EXAMPLES: &str = "\
Examples:
  tether session new -t toolbox -- sh           # a shell that survives its terminal
  tether session new --restart on-drop deploy/web -- tail -f /var/log/app.log
  tether session new -t --attach toolbox -- sh  # start it and attach at once
  tether session new -t toolbox                 # attach to the container's main process";

const ATTACH_HELP: &str = "\
Detach sequence (ssh's): at the start of a line, type ~ then . to leave the session running.
A ~ at the start of a line is held until the next key: ~~ sends one ~, and ~ followed by any
other key sends both. Ctrl-C goes to the session when it has a TTY; otherwise it detaches.

Exit code: the session's exit code when it ends while attached (1 when it ended without one:
lost, killed or failed to start); 0 after a detach.";

/// `tether session new`.
#[derive(Debug, Args)]
pub struct SessionNewArgs {
    /// Allocate a terminal for the session (stderr then merges into stdout).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Pass stdin to the session (the default).
    #[arg(short = 'i', long, overrides_with = "no_stdin")]
    pub stdin: bool,
    /// Do not pass stdin to the session.
    #[arg(long, overrides_with = "stdin")]
    pub no_stdin: bool,
    /// Attach at once, as `tether session attach ID` does, instead of printing the id.
    #[arg(short = 'a', long, alias = "attach-mode")]
    pub attach: bool,
    /// pod/NAME, deploy/NAME, svc/NAME, sts/NAME, or a bare pod NAME.
    pub target: String,
    /// The container; the pod's default container when not given.
    #[arg(short, long)]
    pub container: Option<String>,
    /// Whether to run the command again after a connection drop; the daemon's default when not
    /// given.
    #[arg(long, value_enum)]
    pub restart: Option<Restart>,
    /// Where the target is.
    #[command(flatten)]
    pub kube: KubeFlags,
    /// The command and its arguments, after `--`; without one, the session attaches to the
    /// container's main process.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl SessionNewArgs {
    /// Whether the session takes stdin: yes unless `--no-stdin`.
    #[must_use]
    pub fn takes_stdin(&self) -> bool {
        !self.no_stdin
    }
}

/// `--restart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Restart {
    /// Run the command again after a connection drop (for commands such as tail -f).
    OnDrop,
    /// Never run it again: a drop ends the session as Lost.
    Never,
}

/// `tether session attach`.
#[derive(Debug, Args)]
pub struct SessionAttachArgs {
    /// The session.
    pub id: String,
    /// Skip the kept output and start with live output.
    #[arg(long)]
    pub no_replay: bool,
}

/// `tether session kill`.
#[derive(Debug, Args)]
pub struct SessionKillArgs {
    /// The session.
    pub id: String,
    /// With a TTY, send `exit` and Ctrl-D first and give the process a moment to end.
    #[arg(long)]
    pub graceful: bool,
}
