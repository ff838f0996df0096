//! `tether daemon start|stop|status|logs|install|uninstall`.

mod service;

use std::time::Duration;

use tether_proto::autostart::{StartOptions, connect_or_start};
use tether_proto::client::{self, ClientError};
use tether_proto::pb;
use tonic::Code;

use super::{CLIENT_NAME, Ctx, logs};
use crate::args::DaemonCommand;
use crate::error::{Exit, Failure};
use crate::out;
use crate::time::human_age;

/// How long `daemon stop` waits for the socket to go quiet.
const STOP_WAIT: Duration = Duration::from_secs(10);
/// How often it looks.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Runs one `tether daemon` subcommand.
///
/// # Errors
/// A [`Failure`]; [`Exit::NotRunning`] when status or stop finds no daemon.
pub async fn run(ctx: &Ctx, command: DaemonCommand) -> anyhow::Result<()> {
    match command {
        DaemonCommand::Start => start(ctx).await,
        DaemonCommand::Stop => stop(ctx).await,
        DaemonCommand::Status => status(ctx).await,
        DaemonCommand::Logs { follow } => logs::run(ctx, follow).await,
        DaemonCommand::Install { dry_run } => service::install(ctx, dry_run).await,
        DaemonCommand::Uninstall { dry_run } => service::uninstall(dry_run).await,
    }
}

/// Starts the daemon unless it runs (whatever `--no-autostart` says), then prints where it is.
async fn start(ctx: &Ctx) -> anyhow::Result<()> {
    let mut client = match client::connect(&ctx.socket, CLIENT_NAME).await {
        Ok(client) => {
            out::note("tetherd was already running");
            client
        }
        Err(ClientError::Connect { .. }) => {
            let options = StartOptions::new(ctx.socket.clone());
            let client =
                connect_or_start(&options, CLIENT_NAME).await.map_err(|e| Failure::client(&e))?;
            out::note("tetherd started");
            client
        }
        Err(err) => return Err(Failure::client(&err).into()),
    };
    let info = client.daemon.get_info(pb::GetInfoRequest {}).await.map(tonic::Response::into_inner);
    let pid = info.map_or_else(|_| "unknown".to_owned(), |info| info.pid.to_string());
    let version = &client.handshake.daemon_version;
    out::text(&format!("socket: {}\nversion: {version}\npid: {pid}\n", ctx.socket.display()))
}

/// Asks the daemon to exit and waits until its socket no longer answers.
pub(super) async fn stop(ctx: &Ctx) -> anyhow::Result<()> {
    let Some(mut daemon) = ctx.running_daemon().await? else {
        return Err(ctx.not_running("there is nothing to stop").into());
    };
    let pid = daemon.get_info(pb::GetInfoRequest {}).await.ok().map(|info| info.into_inner().pid);
    match daemon.shutdown(pb::ShutdownRequest {}).await {
        Ok(_) => {}
        // It may go away before it has answered.
        Err(status)
            if matches!(status.code(), Code::Unavailable | Code::Cancelled | Code::Unknown) => {}
        Err(status) => return Err(Failure::rpc("stop tetherd", &status, None).into()),
    }
    drop(daemon);
    let deadline = tokio::time::Instant::now() + STOP_WAIT;
    while client::channel(&ctx.socket).await.is_ok() {
        if tokio::time::Instant::now() >= deadline {
            let kill = pid.map_or_else(String::new, |pid| format!(", or end it with `kill {pid}`"));
            let message = format!(
                "tetherd did not stop within {STOP_WAIT:?}; see `tether daemon logs`{kill}"
            );
            return Err(Failure::new(Exit::Error, message).into());
        }
        tokio::time::sleep(STOP_POLL).await;
    }
    out::line("tetherd stopped")
}

/// GetInfo of the running daemon; `None` when none runs.
async fn info(ctx: &Ctx) -> anyhow::Result<Option<pb::GetInfoResponse>> {
    let Some(mut daemon) = ctx.running_daemon().await? else { return Ok(None) };
    let info = daemon
        .get_info(pb::GetInfoRequest {})
        .await
        .map_err(|status| Failure::rpc("get tetherd's status", &status, None))?;
    Ok(Some(info.into_inner()))
}

/// Prints GetInfo as `key: value` lines, then whether a service is installed.
async fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let Some(info) = info(ctx).await? else {
        return Err(ctx.not_running(&service::not_running_advice()).into());
    };
    let installed = service::installed().map_or_else(
        || "none (`tether daemon install` runs tetherd as a user service)".to_owned(),
        |found| service::files(&found),
    );
    out::text(&format!("{}service: {installed}\n", info_lines(&info)))
}

/// How the daemon was started, as GetInfo's `launch` says, in words.
#[must_use]
pub fn launch_words(launch: &str) -> String {
    match tether_proto::Launch::from_name(launch) {
        Some(known) => format!("{launch} ({})", known.words()),
        None if launch.is_empty() => "<unknown>".into(),
        None => launch.into(),
    }
}

/// GetInfo as `key: value` lines, one per field.
#[must_use]
pub fn info_lines(info: &pb::GetInfoResponse) -> String {
    let uptime = i64::try_from(info.uptime_seconds).unwrap_or(i64::MAX);
    let or_none =
        |value: &str| if value.is_empty() { "<none>".to_owned() } else { value.to_owned() };
    let lines = [
        ("version", info.daemon_version.clone()),
        ("api_major", info.api_major.to_string()),
        ("pid", info.pid.to_string()),
        ("launch", launch_words(&info.launch)),
        ("uptime", human_age(uptime)),
        ("socket", or_none(&info.socket_path)),
        ("state_dir", or_none(&info.state_dir)),
        ("log_file", or_none(&info.log_file)),
        ("forwards", info.forwards.to_string()),
        ("forwards_ready", info.forwards_ready.to_string()),
    ];
    lines.iter().map(|(key, value)| format!("{key}: {value}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_key_value_lines() {
        let info = pb::GetInfoResponse {
            daemon_version: "0.1.0".into(),
            api_major: 1,
            pid: 4242,
            uptime_seconds: 3 * 3600 + 120,
            socket_path: "/run/user/1000/tether/tetherd.sock".into(),
            state_dir: "/home/me/.local/state/tether".into(),
            forwards: 3,
            forwards_ready: 2,
            log_file: String::new(),
            launch: "autostart".into(),
        };
        let want = "version: 0.1.0\napi_major: 1\npid: 4242\n\
                    launch: autostart (auto-started by a tether client)\nuptime: 3h2m\n\
                    socket: /run/user/1000/tether/tetherd.sock\nstate_dir: /home/me/.local/state/tether\n\
                    log_file: <none>\nforwards: 3\nforwards_ready: 2\n";
        assert_eq!(info_lines(&info), want);
    }
}
