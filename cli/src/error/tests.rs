//! The exit-code table and the messages users see.

use std::path::PathBuf;

use anyhow::Context as _;

use super::*;

#[test]
fn grpc_codes_map_to_exit_codes() {
    assert_eq!(exit_for(Code::InvalidArgument), Exit::Usage);
    assert_eq!(exit_for(Code::NotFound), Exit::Error);
    assert_eq!(exit_for(Code::AlreadyExists), Exit::Error);
    assert_eq!(exit_for(Code::Unavailable), Exit::Error);
    assert_eq!(exit_for(Code::Internal), Exit::Error);
    assert_eq!(std::process::ExitCode::from(Exit::NotReady), std::process::ExitCode::from(4));
}

#[test]
fn invalid_argument_prints_the_daemons_message() {
    let status = Status::invalid_argument("ports: \"abc:\" is not LOCAL:REMOTE");
    let failure =
        Failure::rpc("create forward db", &status, Some("see `tether forward --help`".into()));
    assert_eq!(failure.exit, Exit::Usage);
    assert_eq!(
        failure.message,
        "failed to create forward db: ports: \"abc:\" is not LOCAL:REMOTE; see `tether forward --help`"
    );
}

#[test]
fn not_found_and_unavailable_get_general_advice() {
    let failure = Failure::rpc("pause forward x", &Status::not_found("forward x not found"), None);
    assert_eq!(failure.exit, Exit::Error);
    assert!(failure.message.ends_with("list the forwards with `tether ls`"), "{}", failure.message);
    let failure = Failure::rpc("list forwards", &Status::unavailable("connection refused"), None);
    assert_eq!(failure.exit, Exit::Error);
    assert!(failure.message.contains("is the daemon running?"), "{}", failure.message);
    let exists =
        Failure::rpc("create forward db", &Status::already_exists("forward db exists"), None);
    assert_eq!(
        (exists.exit, exists.message.as_str()),
        (Exit::Error, "failed to create forward db: forward db exists")
    );
}

#[test]
fn empty_messages_fall_back_to_the_code() {
    assert_eq!(describe(&Status::new(Code::Internal, "")), Code::Internal.description());
}

#[test]
fn report_picks_the_code_and_keeps_context() {
    let err = anyhow::Error::from(Failure::new(Exit::NotReady, "forward db failed"))
        .context("while waiting");
    assert_eq!(report(&err), (Exit::NotReady, Some("while waiting: forward db failed".into())));
    let err = anyhow::Error::from(Status::invalid_argument("target: empty"));
    assert_eq!(report(&err).0, Exit::Usage);
    let err = anyhow::Error::from(std::io::Error::other("disk")).context("failed to read x");
    assert_eq!(report(&err), (Exit::Error, Some("failed to read x: disk".into())));
}

#[test]
fn a_closed_stdout_is_success_without_a_message() {
    let err: anyhow::Result<()> = Err(Closed.into());
    let err = err.context("failed to print the table").expect_err("error");
    assert_eq!(report(&err), (Exit::Ok, None));
}

#[test]
fn client_errors_keep_their_advice() {
    let err =
        ClientError::Start { bin: "tetherd".into(), reason: "not found; install tetherd".into() };
    let failure = Failure::client(&err);
    assert_eq!(failure.exit, Exit::Error);
    assert_eq!(failure.message, "failed to start tetherd (tetherd): not found; install tetherd");
    let err = ClientError::Rpc {
        path: PathBuf::from("/s"),
        source: Box::new(Status::invalid_argument("bad")),
    };
    assert_eq!(
        Failure::client(&err),
        Failure::new(Exit::Usage, "failed to talk to tetherd at /s: bad")
    );
}

#[test]
fn plugin_advice_names_kubectl() {
    assert_eq!(
        as_plugin("failed: list the forwards with `tether ls`; or `tether daemon status`"),
        "failed: list the forwards with `kubectl tether ls`; or `kubectl tether daemon status`"
    );
}
