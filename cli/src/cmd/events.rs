//! `tether events`: WatchEvents as `TIME FORWARD EVENT DETAILS` lines.

use std::time::Duration;

use tether_proto::pb;
use tether_proto::pb::event::Kind;

use super::Ctx;
use crate::args::EventsArgs;
use crate::error::{Exit, Failure};
use crate::out;
use crate::time::rfc3339_millis;
use crate::view::{StatusView, phase_name};

/// Without `--follow`, the stream ends after this long without a new event.
const QUIET: Duration = Duration::from_millis(300);

/// Runs `tether events`.
///
/// # Errors
/// A [`Failure`] when the call fails, or the daemon ends the stream while following.
pub async fn run(ctx: &Ctx, args: EventsArgs) -> anyhow::Result<()> {
    let mut client = ctx.client().await?;
    let request = pb::WatchEventsRequest { names: args.names.clone() };
    let mut stream = client
        .forwards
        .watch_events(request)
        .await
        .map_err(|status| Failure::rpc("watch events", &status, None))?
        .into_inner();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let next = if args.follow {
            tokio::select! {
                next = stream.message() => next,
                _ = &mut ctrl_c => return Ok(()),
            }
        } else {
            match tokio::time::timeout(QUIET, stream.message()).await {
                Ok(next) => next,
                Err(_quiet) => return Ok(()),
            }
        };
        match next {
            Ok(Some(event)) => out::line(&event_line(&event))?,
            Ok(None) if args.follow => {
                let message = "tetherd ended the event stream; is it still running? Check with `tether daemon status`";
                return Err(Failure::new(Exit::Error, message).into());
            }
            Ok(None) => return Ok(()),
            Err(status) => return Err(Failure::rpc("watch events", &status, None).into()),
        }
    }
}

/// One event as `TIME FORWARD EVENT DETAILS`, details as `key=value` pairs.
#[must_use]
pub fn event_line(event: &pb::Event) -> String {
    let (kind, details) = match &event.kind {
        Some(Kind::Status(status)) => (phase_name(status.phase), status_details(status)),
        Some(Kind::Opened(o)) => {
            ("ConnectionOpened", vec![kv("id", o.id), kv("peer", &o.peer), kv("pod", &o.pod)])
        }
        Some(Kind::Closed(c)) => (
            "ConnectionClosed",
            vec![
                kv("id", c.id),
                kv("bytes-out", c.bytes_out),
                kv("bytes-in", c.bytes_in),
                kv("error", &c.error),
            ],
        ),
        Some(Kind::Deleted(_)) => ("Deleted", Vec::new()),
        Some(Kind::TunnelUp(up)) => (
            "TunnelUp",
            vec![
                kv("pod", &up.pod),
                kv("protocol", &up.protocol),
                kv("setup", format!("{}ms", up.setup_ms)),
            ],
        ),
        Some(Kind::TunnelDown(down)) => {
            ("TunnelDown", vec![kv("pod", &down.pod), kv("reason", &down.reason)])
        }
        Some(Kind::Session(s)) => (
            "Session",
            vec![
                kv("id", &s.id),
                kv("phase", &s.phase),
                kv("pod", &s.pod),
                kv("reason", &s.reason),
            ],
        ),
        None => ("Unknown", Vec::new()),
    };
    let details: Vec<String> = details.into_iter().flatten().collect();
    let subject = match &event.kind {
        Some(Kind::Session(s)) if event.forward.is_empty() => format!("session/{}", s.id),
        _ => event.forward.clone(),
    };
    let line =
        format!("{} {subject} {kind} {}", rfc3339_millis(event.time_unix_ms), details.join(" "));
    line.trim_end().to_owned()
}

fn status_details(status: &pb::ForwardStatus) -> Vec<Option<String>> {
    let view = StatusView::from(status);
    let attempt = (status.attempt > 0).then_some(status.attempt);
    vec![
        attempt.and_then(|a| kv("attempt", a)),
        kv("pod", &view.pod),
        kv("addresses", view.local_addresses.join(",")),
        kv("protocol", &view.protocol),
        kv("reason", view.why()),
    ]
}

/// `key=value`, with the value quoted when it has spaces or quotes; `None` when it is empty.
fn kv(key: &str, value: impl ToString) -> Option<String> {
    let value = value.to_string();
    if value.is_empty() {
        return None;
    }
    if value.contains(|c: char| c.is_whitespace() || c == '"' || c == '=') {
        Some(format!("{key}={value:?}"))
    } else {
        Some(format!("{key}={value}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::samples;

    fn event(kind: Kind) -> pb::Event {
        pb::Event { time_unix_ms: samples::NOW * 1000 + 5, forward: "db".into(), kind: Some(kind) }
    }

    #[test]
    fn status_events_name_the_phase() {
        let status = samples::reconnecting_web().status.expect("status");
        let line = event_line(&event(Kind::Status(status)));
        assert_eq!(
            line,
            "2024-05-01T12:00:00.005Z db Reconnecting attempt=4 addresses=127.0.0.1:8080,127.0.0.1:40123 \
             reason=\"NoReadyPod: no ready pod for deploy/web\""
        );
    }

    #[test]
    fn connection_and_tunnel_events_have_details() {
        let opened =
            pb::ConnectionOpened { id: 7, peer: "127.0.0.1:50000".into(), pod: "db-0".into() };
        assert!(
            event_line(&event(Kind::Opened(opened)))
                .ends_with("db ConnectionOpened id=7 peer=127.0.0.1:50000 pod=db-0")
        );
        let closed =
            pb::ConnectionClosed { id: 7, bytes_out: 10, bytes_in: 20, error: String::new() };
        assert!(
            event_line(&event(Kind::Closed(closed)))
                .ends_with("ConnectionClosed id=7 bytes-out=10 bytes-in=20")
        );
        let up = pb::TunnelUp { pod: "db-0".into(), protocol: "spdy".into(), setup_ms: 35 };
        assert!(
            event_line(&event(Kind::TunnelUp(up)))
                .ends_with("TunnelUp pod=db-0 protocol=spdy setup=35ms")
        );
        assert!(event_line(&event(Kind::Deleted(pb::Deleted {}))).ends_with(" db Deleted"));
    }

    #[test]
    fn session_events_name_the_session() {
        let changed = pb::SessionChanged {
            id: "s1".into(),
            phase: "Running".into(),
            pod: "toolbox".into(),
            reason: String::new(),
        };
        let mut e = event(Kind::Session(changed));
        e.forward.clear();
        assert_eq!(
            event_line(&e),
            "2024-05-01T12:00:00.005Z session/s1 Session id=s1 phase=Running pod=toolbox"
        );
    }
}
