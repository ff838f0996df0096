//! How kubectl reports the end of a remote command, so that `tether exec` matches it byte for
//! byte: nothing and 0 for success, `command terminated with exit code N` and N for a non-zero
//! exit, and kubectl's error line with 1 for an error (kubectl's `cmdutil.CheckErr`).

use tether_proto::pb;
use tether_proto::pb::exit_status::Kind;

use crate::error::Terminated;

/// kubectl's status reason for a request without valid credentials.
const UNAUTHORIZED: &str = "Unauthorized";

/// What to print and exit with for `exit`; `None` for success.
#[must_use]
pub fn report(exit: &pb::ExitStatus) -> Option<Terminated> {
    match &exit.kind {
        Some(Kind::Code(0)) => None,
        Some(Kind::Code(code)) => {
            let code = u8::try_from(*code).unwrap_or(u8::MAX);
            Some(Terminated {
                code,
                line: Some(format!("command terminated with exit code {code}")),
            })
        }
        Some(Kind::Error(message)) => Some(Terminated {
            code: 1,
            line: Some(error_line(message, &exit.reason, exit.from_server)),
        }),
        None => Some(Terminated {
            code: 1,
            line: Some(
                "error: tetherd sent an exit status without a code or an error; see `tether \
                 daemon logs`"
                    .into(),
            ),
        }),
    }
}

/// kubectl's line for an error: `Error from server (REASON): MESSAGE` when the API server
/// refused the request, else `error: MESSAGE`.
#[must_use]
pub fn error_line(message: &str, reason: &str, from_server: bool) -> String {
    match (from_server, reason) {
        (true, UNAUTHORIZED) => format!("error: You must be logged in to the server ({message})"),
        (true, "") => format!("Error from server: {message}"),
        (true, reason) => format!("Error from server ({reason}): {message}"),
        (false, _) if message.starts_with("error: ") => message.to_owned(),
        (false, _) => format!("error: {message}"),
    }
}

/// A short description of how a command ended, for messages: `exit code 2` or the error.
#[must_use]
pub fn describe(exit: &pb::ExitStatus) -> String {
    match &exit.kind {
        Some(Kind::Code(code)) => format!("exit code {code}"),
        Some(Kind::Error(message)) => message.clone(),
        None => "no exit status".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(kind: Kind, reason: &str, from_server: bool) -> pb::ExitStatus {
        pb::ExitStatus { kind: Some(kind), reason: reason.into(), from_server }
    }

    fn line(exit: &pb::ExitStatus) -> (u8, String) {
        let end = report(exit).expect("a failure");
        (end.code, end.line.expect("a line"))
    }

    #[test]
    fn exit_codes_are_kubectls() {
        assert_eq!(report(&status(Kind::Code(0), "", false)), None);
        assert_eq!(
            line(&status(Kind::Code(3), "NonZeroExitCode", false)),
            (3, "command terminated with exit code 3".into())
        );
        assert_eq!(line(&status(Kind::Code(255), "", false)).0, 255);
        assert_eq!(line(&status(Kind::Code(300), "", false)).0, 255);
    }

    #[test]
    fn errors_are_kubectls() {
        let not_found = "exec: \"nope\": executable file not found in $PATH";
        assert_eq!(
            line(&status(Kind::Error(not_found.into()), "InternalError", false)),
            (1, format!("error: {not_found}"))
        );
        assert_eq!(
            line(&status(
                Kind::Error("container nope is not valid for pod toolbox".into()),
                "BadRequest",
                true
            )),
            (
                1,
                "Error from server (BadRequest): container nope is not valid for pod toolbox"
                    .into()
            )
        );
        assert_eq!(error_line("x", "", true), "Error from server: x");
        assert_eq!(error_line("error: x", "", false), "error: x");
        assert_eq!(
            error_line("token expired", "Unauthorized", true),
            "error: You must be logged in to the server (token expired)"
        );
    }
}
