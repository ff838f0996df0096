//! `tether`: the command line of Tether's daemon, tetherd; also the kubectl plugin `kubectl tether`.
//!
//! Parses the command line, runs it, and turns the outcome into an exit code (see `args.rs` for
//! the codes and `error.rs` for the mapping).

use std::process::ExitCode;

mod args;
mod cmd;
mod error;
mod out;
mod remote;
mod table;
mod time;
mod view;

fn main() -> ExitCode {
    // The demo's pods run their workloads through the embedded testkit command line.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == args::TESTKIT_SUBCOMMAND) {
        let exe = std::env::current_exe().unwrap_or_else(|_| "tether".into());
        let prefix = vec![args::TESTKIT_SUBCOMMAND.to_owned()];
        return tether_testkit::cli::run(argv.into_iter().skip(1), exe, prefix);
    }
    let cli = match args::parse(argv) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let plugin = cli.plugin;
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(end) = error::terminated(&err) {
                if let Some(line) = &end.line {
                    out::note(line);
                }
                return ExitCode::from(end.code);
            }
            let (exit, message) = error::report(&err);
            if let Some(message) = message {
                out::error(&if plugin { error::as_plugin(&message) } else { message });
            }
            exit.into()
        }
    }
}
