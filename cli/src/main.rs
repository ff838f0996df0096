//! `tether`: the command line of Tether's daemon, tetherd; also the kubectl plugin `kubectl tether`.
//!
//! Parses the command line, runs it, and turns the outcome into an exit code (see `args.rs` for
//! the codes and `error.rs` for the mapping).

use std::process::ExitCode;

mod args;
mod cmd;
mod error;
mod out;
mod table;
mod time;
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
            let (exit, message) = error::report(&err);
            if let Some(message) = message {
                out::error(&if plugin { error::as_plugin(&message) } else { message });
            }
            exit.into()
        }
    }
}
