//! Parsing cases: flags, required arguments, conflicts, and the kubectl plugin name.

use std::time::Duration;

use clap::error::ErrorKind;

use super::*;

fn parse_ok(args: &[&str]) -> Cli {
    parse(args.iter().copied()).unwrap_or_else(|e| panic!("{args:?} should parse: {e}"))
}

fn parse_err(args: &[&str]) -> ErrorKind {
    match parse(args.iter().copied()) {
        Ok(cli) => panic!("{args:?} should not parse, got {cli:?}"),
        Err(err) => err.kind(),
    }
}

#[test]
fn forward_takes_kubectl_flags() {
    let cli = parse_ok(&[
        "tether",
        "forward",
        "svc/db",
        "5432",
        ":8080",
        "-n",
        "shop",
        "--context",
        "kind-dev",
        "--kubeconfig",
        "cfg",
        "--name",
        "db",
        "--address",
        "0.0.0.0",
        "--wait",
        "--timeout",
        "1m30s",
    ]);
    let Command::Forward(f) = cli.command else { panic!("not forward: {:?}", cli.command) };
    assert_eq!(f.target, "svc/db");
    assert_eq!(f.ports, ["5432", ":8080"]);
    assert_eq!(f.namespace.as_deref(), Some("shop"));
    assert_eq!(f.context.as_deref(), Some("kind-dev"));
    assert_eq!(f.kubeconfig.as_deref(), Some(std::ffi::OsStr::new("cfg")));
    assert_eq!(f.name.as_deref(), Some("db"));
    assert_eq!(f.address.as_deref(), Some("0.0.0.0"));
    assert!(f.wait);
    assert_eq!(f.timeout, Some(Duration::from_secs(90)));
    assert!(!cli.plugin);
}

#[test]
fn forward_needs_a_port_and_timeout_needs_wait() {
    assert_eq!(parse_err(&["tether", "forward", "svc/db"]), ErrorKind::MissingRequiredArgument);
    assert_eq!(
        parse_err(&["tether", "forward", "svc/db", "80", "--timeout", "5s"]),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        parse_err(&["tether", "forward", "svc/db", "80", "--wait", "--timeout", "soon"]),
        ErrorKind::ValueValidation
    );
}

#[test]
fn global_flags_go_anywhere() {
    let cli = parse_ok(&["tether", "ls", "--socket", "/tmp/t.sock", "--no-autostart"]);
    assert_eq!(cli.socket.as_deref(), Some(Path::new("/tmp/t.sock")));
    assert!(cli.no_autostart);
    let cli = parse_ok(&["tether", "--no-autostart", "daemon", "status"]);
    assert!(cli.no_autostart);
    assert!(matches!(cli.command, Command::Daemon(DaemonCommand::Status)));
}

#[test]
fn ls_formats() {
    for (flag, want) in [("wide", Format::Wide), ("json", Format::Json), ("yaml", Format::Yaml)] {
        let cli = parse_ok(&["tether", "ls", "-o", flag]);
        assert!(
            matches!(cli.command, Command::Ls(LsArgs { output: Some(f) }) if f == want),
            "{flag}"
        );
    }
    assert!(matches!(parse_ok(&["tether", "list"]).command, Command::Ls(LsArgs { output: None })));
    assert_eq!(parse_err(&["tether", "ls", "-o", "xml"]), ErrorKind::InvalidValue);
}

#[test]
fn rm_takes_names_or_all_but_not_both() {
    let Command::Rm(rm) = parse_ok(&["tether", "rm", "a", "b"]).command else { panic!("not rm") };
    assert_eq!(rm.names, ["a", "b"]);
    assert!(!rm.all);
    let Command::Rm(rm) = parse_ok(&["tether", "rm", "--all"]).command else { panic!("not rm") };
    assert!(rm.all && rm.names.is_empty());
    assert_eq!(parse_err(&["tether", "rm"]), ErrorKind::MissingRequiredArgument);
    assert_eq!(parse_err(&["tether", "rm", "a", "--all"]), ErrorKind::ArgumentConflict);
}

#[test]
fn events_pause_resume_daemon_completion() {
    let Command::Events(e) = parse_ok(&["tether", "events", "-f", "db", "web"]).command else {
        panic!("not events")
    };
    assert!(e.follow);
    assert_eq!(e.names, ["db", "web"]);
    assert!(
        matches!(parse_ok(&["tether", "pause", "db"]).command, Command::Pause(NameArg { name }) if name == "db")
    );
    assert!(matches!(parse_ok(&["tether", "resume", "db"]).command, Command::Resume(_)));
    assert_eq!(parse_err(&["tether", "pause"]), ErrorKind::MissingRequiredArgument);
    let logs = parse_ok(&["tether", "daemon", "logs", "-f"]).command;
    assert!(matches!(logs, Command::Daemon(DaemonCommand::Logs { follow: true })));
    assert!(matches!(
        parse_ok(&["tether", "daemon", "stop"]).command,
        Command::Daemon(DaemonCommand::Stop)
    ));
    let completion = parse_ok(&["tether", "completion", "zsh"]).command;
    assert!(matches!(completion, Command::Completion(CompletionArgs { shell: Shell::Zsh })));
    assert_eq!(parse_err(&["tether", "completion", "tcsh"]), ErrorKind::InvalidValue);
    assert_eq!(parse_err(&["tether"]), ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand);
}

#[test]
fn kubectl_plugin_invocation() {
    let cli =
        parse_ok(&["/usr/local/bin/kubectl-tether", "forward", "svc/db", "5432", "-n", "shop"]);
    assert!(cli.plugin);
    assert!(matches!(cli.command, Command::Forward(_)));
    assert!(!parse_ok(&["/usr/bin/tether", "ls"]).plugin);
    assert!(is_plugin(Path::new("kubectl-tether")));
    assert!(!is_plugin(Path::new("kubectl-tether-old")));
    let help = match parse(["kubectl-tether", "--help"]) {
        Err(err) if err.kind() == ErrorKind::DisplayHelp => err.to_string(),
        other => panic!("expected help, got {other:?}"),
    };
    assert!(help.contains("Usage: kubectl tether"), "{help}");
}

#[test]
fn help_documents_exit_codes_and_the_plugin() {
    let help = command(false).render_long_help().to_string();
    for needle in
        ["Exit codes:", "3  the daemon is not running", "4  the forward failed", "kubectl-tether"]
    {
        assert!(help.contains(needle), "help lacks {needle:?}:\n{help}");
    }
    command(false).debug_assert();
}

#[test]
fn exec_takes_kubectls_flags_and_a_command_after_dashes() {
    let cli = parse_ok(&[
        "tether",
        "exec",
        "-it",
        "deploy/web",
        "-c",
        "app",
        "-n",
        "shop",
        "--context",
        "kind",
        "--kubeconfig",
        "cfg",
        "--",
        "sh",
        "-c",
        "echo -i",
    ]);
    let Command::Exec(e) = cli.command else { panic!("not exec: {:?}", cli.command) };
    assert!(e.stdin && e.tty && !e.quiet);
    assert_eq!(e.target, "deploy/web");
    assert_eq!(e.container.as_deref(), Some("app"));
    assert_eq!(e.kube.namespace.as_deref(), Some("shop"));
    assert_eq!(e.kube.context.as_deref(), Some("kind"));
    assert_eq!(e.kube.kubeconfig.as_deref(), Some(std::ffi::OsStr::new("cfg")));
    assert_eq!(e.command, ["sh", "-c", "echo -i"], "flags after -- belong to the command");

    let Command::Exec(e) = parse_ok(&["tether", "exec", "-t", "pod", "--", "tty"]).command else {
        panic!("not exec")
    };
    assert!(e.tty && !e.stdin, "-t without -i parses, as with kubectl");
}

#[test]
fn exec_needs_a_command_after_dashes() {
    assert_eq!(parse_err(&["tether", "exec", "pod"]), ErrorKind::MissingRequiredArgument);
    assert_eq!(parse_err(&["tether", "exec", "pod", "ls"]), ErrorKind::UnknownArgument);
    assert_eq!(parse_err(&["tether", "exec", "--", "ls"]), ErrorKind::MissingRequiredArgument);
}

#[test]
fn cp_takes_two_specs_and_kubectl_flags() {
    let cli = parse_ok(&[
        "tether",
        "cp",
        "./site",
        "shop/web-0:/srv",
        "-c",
        "app",
        "--no-preserve",
        "-n",
        "x",
    ]);
    let Command::Cp(cp) = cli.command else { panic!("not cp") };
    assert_eq!((cp.src.as_str(), cp.dest.as_str()), ("./site", "shop/web-0:/srv"));
    assert_eq!(cp.container.as_deref(), Some("app"));
    assert!(cp.no_preserve);
    assert_eq!(cp.kube.namespace.as_deref(), Some("x"));
    assert_eq!(parse_err(&["tether", "cp", "a"]), ErrorKind::MissingRequiredArgument);
}

#[test]
fn session_new_defaults_to_stdin_and_an_attach_without_a_command() {
    let Command::Session(SessionCommand::New(new)) =
        parse_ok(&["tether", "session", "new", "-t", "toolbox"]).command
    else {
        panic!("not session new")
    };
    assert!(new.tty && new.takes_stdin() && !new.attach);
    assert!(new.command.is_empty());
    assert_eq!(new.restart, None);

    let Command::Session(SessionCommand::New(new)) = parse_ok(&[
        "tether",
        "session",
        "create",
        "--no-stdin",
        "--attach-mode",
        "--restart",
        "on-drop",
        "deploy/web",
        "-c",
        "app",
        "--",
        "tail",
        "-f",
        "log",
    ])
    .command
    else {
        panic!("not session new")
    };
    assert!(!new.takes_stdin() && new.attach);
    assert_eq!(new.restart, Some(Restart::OnDrop));
    assert_eq!(new.command, ["tail", "-f", "log"]);
    assert_eq!(
        parse_err(&["tether", "session", "new", "--restart", "always", "p"]),
        ErrorKind::InvalidValue
    );
    let Command::Session(SessionCommand::New(new)) =
        parse_ok(&["tether", "session", "new", "--no-stdin", "-i", "p"]).command
    else {
        panic!("not session new")
    };
    assert!(new.takes_stdin(), "the last of -i and --no-stdin wins");
}

#[test]
fn session_attach_ls_and_kill() {
    let Command::Session(SessionCommand::Attach(a)) =
        parse_ok(&["tether", "session", "attach", "s1", "--no-replay"]).command
    else {
        panic!("not attach")
    };
    assert_eq!((a.id.as_str(), a.no_replay), ("s1", true));
    assert!(matches!(
        parse_ok(&["tether", "session", "list", "-o", "wide"]).command,
        Command::Session(SessionCommand::Ls(LsArgs { output: Some(Format::Wide) }))
    ));
    let Command::Session(SessionCommand::Kill(k)) =
        parse_ok(&["tether", "session", "kill", "s1", "--graceful"]).command
    else {
        panic!("not kill")
    };
    assert_eq!((k.id.as_str(), k.graceful), ("s1", true));
    assert_eq!(parse_err(&["tether", "session", "attach"]), ErrorKind::MissingRequiredArgument);
}

#[test]
fn help_documents_the_detach_sequence() {
    let help = command(false).render_long_help().to_string();
    assert!(help.contains("Enter ~ ."), "{help}");
    let attach = match parse(["tether", "session", "attach", "--help"]) {
        Err(err) if err.kind() == ErrorKind::DisplayHelp => err.to_string(),
        other => panic!("expected help, got {other:?}"),
    };
    assert!(attach.contains("~~ sends one ~"), "{attach}");
}
