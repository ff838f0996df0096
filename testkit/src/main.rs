//! `tether-testkit`: serve an emulated Kubernetes cluster, inject faults, run pod workloads.

use std::process::ExitCode;

fn main() -> ExitCode {
    let exe = std::env::current_exe().unwrap_or_else(|_| "tether-testkit".into());
    tether_testkit::cli::run(std::env::args_os(), exe)
}
