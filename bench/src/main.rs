//! `tether-bench`: one command that measures tetherd's forwards against direct TCP,
//! `kubectl port-forward` and a plain TLS relay on one emulated cluster, and prints a table
//! with the daemon issue's targets. A benchmark, not a test: it fails only when it cannot run.

mod args;
mod cluster;
mod conn;
mod daemon;
mod kubectl;
mod measure;
mod phases;
mod proc;
mod relay;
mod report;
mod results;
mod world;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;

use crate::args::{Args, Plan};
use crate::world::World;

fn main() -> ExitCode {
    let plan = Plan::from_args(Args::parse());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: failed to start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let line = plan_line(&plan);
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = run(plan) => r,
            // Dropping `run` drops the world: children are killed, temp folders removed.
            () = interrupted() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    // Blocking measurement threads notice their peers are gone within their I/O timeouts.
    runtime.shutdown_timeout(Duration::from_secs(5));
    match outcome {
        Ok(results) => match report::print(&results, &line) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: failed to print the report: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(plan: Plan) -> anyhow::Result<results::Results> {
    let mut world = World::start(plan).await?;
    let ran = phases::run_all(&mut world).await;
    let results = world.finish().await;
    ran?;
    Ok(results)
}

/// SIGINT or SIGTERM (a `timeout` or `kill` must not leave tetherd and the pods behind).
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn plan_line(p: &Plan) -> String {
    format!(
        "tether-bench: {} MiB per transfer, {} new connections, {} round trips, {} concurrent \
         connections, {} idle connections, {} repeats per drop{}",
        p.bytes >> 20,
        p.setup_count,
        p.rtt_count,
        p.conns,
        p.idle_conns,
        p.drop_repeats,
        if p.quick { " (quick)" } else { "" }
    )
}
