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
