//! `tether forward`: creates a forward, and with `--wait` prints its local addresses once Ready.

use std::ffi::OsString;
use std::time::Duration;

use anyhow::Context as _;
use tether_proto::pb;
use tonic::Code;

use super::{Ctx, kubeconfig_list};
use crate::args::{ENV_KUBECONFIG, ForwardArgs};
use crate::error::{Exit, Failure, is_transport};
use crate::out;
use crate::view::ForwardView;

/// How long `--wait` waits when `--timeout` is not given (the daemon's default too).
const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// Extra time the call gets beyond the wait, for the daemon to answer.
const CALL_MARGIN: Duration = Duration::from_secs(10);

/// Runs `tether forward`.
///
/// # Errors
/// A [`Failure`] when the daemon refuses the forward, or it is not ready in time.
pub async fn run(ctx: &Ctx, args: ForwardArgs) -> anyhow::Result<()> {
    let kubeconfig = args.kubeconfig.clone().or_else(|| std::env::var_os(ENV_KUBECONFIG));
    let spec = spec(&args, kubeconfig)?;
    let wait = args.timeout.unwrap_or(DEFAULT_WAIT);
    let wait_timeout_ms =
        if args.wait { u32::try_from(wait.as_millis()).unwrap_or(u32::MAX) } else { 0 };
    let mut request = tonic::Request::new(pb::CreateForwardRequest {
        spec: Some(spec),
        wait_ready: args.wait,
        wait_timeout_ms,
    });
    if args.wait {
        request.set_timeout(wait + CALL_MARGIN);
    }
    let mut client = ctx.client().await?;
    let (forward, existed) = match client.forwards.create_forward(request).await {
        Ok(response) => {
            let response = response.into_inner();
            let forward = response.forward.context("tetherd answered without the forward")?;
            (forward, response.existed)
        }
        Err(status) => return Err(create_failure(&args, &status, wait).into()),
    };
    let view = ForwardView::from(&forward);
    if view.exposed() && !existed {
        out::note(&format!(
            "warning: forward {} listens on {}: anyone who can reach this machine can use it, and \
             it listens again after every restart; remove it with `tether rm {}` when done",
            view.name, view.address, view.name
        ));
    }
    if existed {
        out::note(&format!(
            "note: forward {} already existed with this spec; nothing changed",
            view.name
        ));
    }
    if !args.wait {
        return out::line(&forward_line(&view, existed));
    }
    let addresses = ready_addresses(&view, wait)?;
    out::text(&addresses.iter().map(|a| format!("{a}\n")).collect::<String>())
}

/// The spec as the user gave it; the daemon validates it. Paths become absolute, since the
/// daemon does not share our current folder.
fn spec(args: &ForwardArgs, kubeconfig: Option<OsString>) -> anyhow::Result<pb::ForwardSpec> {
    let kubeconfig = kubeconfig_list(kubeconfig)?;
    Ok(pb::ForwardSpec {
        name: args.name.clone().unwrap_or_default(),
        target: args.target.clone(),
        namespace: args.namespace.clone().unwrap_or_default(),
        context: args.context.clone().unwrap_or_default(),
        kubeconfig,
        ports: args.ports.clone(),
        address: args.address.clone().unwrap_or_default(),
    })
}

/// The failure of CreateForward, with advice that fits the code.
fn create_failure(args: &ForwardArgs, status: &tonic::Status, wait: Duration) -> Failure {
    let name = args.name.as_deref().unwrap_or(&args.target);
    let hint = match status.code() {
        Code::InvalidArgument => Some("see `tether forward --help`".to_owned()),
        Code::NotFound => Some(format!("check the target with `{}`", kubectl_get(args))),
        // The daemon's message names the forward, the field that differs, and what to run.
        Code::AlreadyExists => None,
        Code::PermissionDenied | Code::Unauthenticated => Some(format!(
            "check your access with `{}`",
            kubectl(args, "auth can-i create pods/portforward")
        )),
        // The daemon stopped answering half-way (it crashed, or was stopped): the forward is
        // stored before the answer, so it may well exist.
        Code::Unavailable | Code::Unknown | Code::Cancelled if is_transport(status) => Some(
            "tetherd stopped answering while creating it, so the forward may have been created: \
             check with `tether ls`, and run the same `tether forward` again to make sure (it is \
             idempotent)"
                .to_owned(),
        ),
        _ => None,
    };
    let mut failure = Failure::rpc(&format!("create forward {name}"), status, hint);
    if args.wait && status.code() == Code::DeadlineExceeded {
        failure.exit = Exit::NotReady;
        failure.message =
            format!("forward {name} was not ready within {wait:?}: {}", failure.message);
    }
    failure
}

/// `kubectl get TYPE/NAME` for the target, with the namespace and context given.
fn kubectl_get(args: &ForwardArgs) -> String {
    let target = if args.target.contains('/') {
        args.target.clone()
    } else {
        format!("pod/{}", args.target)
    };
    kubectl(args, &format!("get {target}"))
}

fn kubectl(args: &ForwardArgs, verb: &str) -> String {
    let mut command = format!("kubectl {verb}");
    if let Some(ns) = &args.namespace {
        command.push_str(&format!(" -n {ns}"));
    }
    if let Some(context) = &args.context {
        command.push_str(&format!(" --context {context}"));
    }
    command
}

/// `forward NAME created: 127.0.0.1:5432 -> svc/db:5432[, ...]`, or `forward NAME: ...` for
/// one that existed.
#[must_use]
pub fn forward_line(view: &ForwardView, existed: bool) -> String {
    let mappings = view
        .mappings()
        .into_iter()
        .map(|(local, remote)| format!("{local} -> {}:{remote}", view.target));
    let verb = if existed { "" } else { " created" };
    format!("forward {}{verb}: {}", view.name, mappings.collect::<Vec<_>>().join(", "))
}

/// The local addresses of a Ready forward, or why it is not ready (exit code 4).
///
/// # Errors
/// [`Exit::NotReady`] when the forward failed or is in any other phase than Ready.
pub fn ready_addresses(view: &ForwardView, waited: Duration) -> Result<Vec<String>, Failure> {
    let name = &view.name;
    let why = view.status.why();
    let why = if why.is_empty() { String::new() } else { format!(": {why}") };
    let message = match view.status.phase {
        "Ready" => return Ok(view.status.local_addresses.clone()),
        // Said at once: only the user can fix it (kubectl fails the same way).
        _ if view.status.kind == Some(pb::ReasonKind::NoSuchPort) => format!(
            "forward {name} cannot serve: {}; it waits for a pod that has that port: fix the port \
             and run `tether forward` again, or remove it with `tether rm {name}`",
            view.status.reason
        ),
        "Failed" => format!(
            "forward {name} failed{why}; see `tether events {name}`, then fix the cause and \
             remove it with `tether rm {name}`"
        ),
        phase => format!(
            "forward {name} was not ready within {waited:?} (it is {phase}{why}); it keeps trying: \
             follow it with `tether events -f {name}`, or remove it with `tether rm {name}`"
        ),
    };
    Err(Failure::new(Exit::NotReady, message))
}

#[cfg(test)]
mod tests;
