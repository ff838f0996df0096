//! The spec sent, the lines printed, and the outcomes of `--wait`.

use std::ffi::OsString;
use std::time::Duration;

use tonic::Status;

use super::*;
use crate::args::{Command, parse};
use crate::view::samples;

fn forward_args(args: &[&str]) -> ForwardArgs {
    let all = ["tether", "forward"].iter().chain(args).copied();
    match parse(all).expect("parses").command {
        Command::Forward(args) => args,
        other => panic!("not forward: {other:?}"),
    }
}

#[test]
fn the_spec_carries_the_flags_as_strings() {
    let args = forward_args(&["svc/db", "5432", "8080:80", "-n", "shop", "--name", "db"]);
    let spec = spec(&args, None).expect("spec");
    assert_eq!(spec.target, "svc/db");
    assert_eq!(spec.ports, ["5432", "8080:80"]);
    assert_eq!((spec.namespace.as_str(), spec.name.as_str()), ("shop", "db"));
    assert_eq!(
        (spec.context.as_str(), spec.kubeconfig.as_str(), spec.address.as_str()),
        ("", "", "")
    );
}

#[test]
fn kubeconfig_paths_become_absolute() {
    let args = forward_args(&["db", "1"]);
    let spec = spec(&args, Some(OsString::from("rel/config:/abs/config"))).expect("spec");
    let parts: Vec<&str> = spec.kubeconfig.split(':').collect();
    assert_eq!(parts.len(), 2);
    assert!(parts[0].starts_with('/') && parts[0].ends_with("rel/config"), "{}", spec.kubeconfig);
    assert_eq!(parts[1], "/abs/config");
}

#[test]
fn created_lines_pair_local_and_remote() {
    let view = ForwardView::from(&samples::ready_db());
    assert_eq!(forward_line(&view, false), "forward db created: 127.0.0.1:5432 -> svc/db:5432");
    let view = ForwardView::from(&samples::reconnecting_web());
    assert_eq!(
        forward_line(&view, false),
        "forward web created: 127.0.0.1:8080 -> deploy/web:80, 127.0.0.1:40123 -> deploy/web:9090"
    );
    let view = ForwardView::from(&samples::failed_api());
    assert_eq!(forward_line(&view, false), "forward api created: 127.0.0.1:7000 -> pod/api-0:7000");
    assert_eq!(forward_line(&view, true), "forward api: 127.0.0.1:7000 -> pod/api-0:7000");
}

#[test]
fn wait_prints_addresses_only_when_ready() {
    let wait = Duration::from_secs(30);
    let ready = ForwardView::from(&samples::ready_db());
    assert_eq!(ready_addresses(&ready, wait), Ok(vec!["127.0.0.1:5432".to_owned()]));
    let failed =
        ready_addresses(&ForwardView::from(&samples::failed_api()), wait).expect_err("failed");
    assert_eq!(failed.exit, Exit::NotReady);
    assert!(
        failed.message.starts_with("forward api failed: Forbidden: pods \"api-0\" is forbidden;"),
        "{}",
        failed.message
    );
    let slow = ready_addresses(&ForwardView::from(&samples::reconnecting_web()), wait)
        .expect_err("not ready");
    assert_eq!(slow.exit, Exit::NotReady);
    assert!(
        slow.message.contains("not ready within 30s (it is Reconnecting: NoReadyPod"),
        "{}",
        slow.message
    );
    let mut lacking = samples::reconnecting_web();
    if let Some(status) = lacking.status.as_mut() {
        status.set_reason_kind(pb::ReasonKind::NoSuchPort);
        status.reason = "Pod 'web-0' does not have a named port 'grpc'".into();
    }
    let port = ready_addresses(&ForwardView::from(&lacking), wait).expect_err("no such port");
    assert_eq!(port.exit, Exit::NotReady);
    assert!(
        port.message.starts_with(
            "forward web cannot serve: Pod 'web-0' does not have a named port 'grpc';"
        ),
        "{}",
        port.message
    );
}

#[test]
fn create_failures_give_advice_by_code() {
    let args = forward_args(&["svc/db", "5432", "-n", "shop", "--wait"]);
    let wait = Duration::from_secs(5);
    let missing = create_failure(&args, &Status::not_found("service \"db\" not found"), wait);
    assert_eq!(missing.exit, Exit::Error);
    assert_eq!(
        missing.message,
        "failed to create forward svc/db: service \"db\" not found; check the target with `kubectl get svc/db -n shop`"
    );
    let invalid = create_failure(&args, &Status::invalid_argument("ports: bad"), wait);
    assert_eq!(invalid.exit, Exit::Usage);
    let late = create_failure(&args, &Status::deadline_exceeded("deadline"), wait);
    assert_eq!(late.exit, Exit::NotReady);
    let bare = forward_args(&["api-0", "80", "--context", "prod"]);
    assert_eq!(kubectl_get(&bare), "kubectl get pod/api-0 --context prod");
}
