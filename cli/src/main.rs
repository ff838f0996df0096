//! `tether`: the command line of Tether's daemon, tetherd; also the kubectl plugin `kubectl tether`.
//!
//! Parses the command line, runs it, and turns the outcome into an exit code (see `args.rs` for
//! the codes and `error.rs` for the mapping).

use std::process::ExitCode;

use tether_cli::{args, service, time};

mod cmd;
mod error;
mod out;
mod remote;
mod table;
mod view;

fn main() -> ExitCode {
    let cli = match args::parse(std::env::args_os()) {
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
