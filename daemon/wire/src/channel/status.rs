//! The exit `metav1.Status` of the error channel, and what it means: success, exit code, or error.
//!
//! Decoding follows client-go's `errorDecoderV4` (tools/remotecommand/errorstream.go): only the
//! `ExitCode` cause is trusted for the code, never the message text, which differs between the
//! apiserver translator and the kubelet.

use serde::{Deserialize, Serialize};

use super::Version;

/// Value of `reason` for a command that exited non-zero.
pub const REASON_NON_ZERO_EXIT_CODE: &str = "NonZeroExitCode";
/// Value of a cause's `reason` (Go field `Type`) that carries the exit code.
pub const CAUSE_EXIT_CODE: &str = "ExitCode";

/// A `metav1.Status` as written on the error channel (no `kind`/`apiVersion` there, but REST
/// responses carry them, so they are accepted and kept).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// `Status` on REST responses; absent on the error channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `v1` on REST responses; absent on the error channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Always `{}` here.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// `Success` or `Failure`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Human-readable description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Machine-readable reason, such as `NonZeroExitCode` or `InternalError`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Extra detail, holding the exit-code cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    /// HTTP-like status code; absent for an exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
}

/// `metav1.StatusDetails`, reduced to what the streaming protocols use.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatusDetails {
    /// Object name, when the status is about one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Object kind, when the status is about one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The causes; the exit code is the one whose `reason` is `ExitCode`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
}

/// `metav1.StatusCause`. Its Go field `Type` is serialised as the JSON key `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatusCause {
    /// The cause type, `ExitCode` for exit codes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The value; for `ExitCode` the decimal code.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The field the cause is about, if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
}

/// How a remote command ended, as told by the error channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitOutcome {
    /// The command exited with 0.
    Success,
    /// The command exited with this code (the real range, 0 to 255).
    ExitCode(u8),
    /// The server reported an error instead of an exit (container not found, internal error...).
    Error {
        /// The status reason, such as `InternalError`, when the protocol has one.
        reason: Option<String>,
        /// What the server said.
        message: String,
        /// The HTTP-like code, when given.
        code: Option<i32>,
    },
}

impl ExitOutcome {
    /// The process exit code a kubectl-compatible client exits with: 0, N, or 1 for an error.
    #[must_use]
    pub fn process_exit_code(&self) -> u8 {
        match self {
            Self::Success => 0,
            Self::ExitCode(code) => *code,
            Self::Error { .. } => 1,
        }
    }
}

/// Errors from decoding the error channel.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatusError {
    /// The payload was not a JSON `Status`.
    #[error("failed to decode exit status: not a JSON Status: {0}")]
    Json(String),
    /// `NonZeroExitCode` without details.
    #[error("failed to decode exit status: NonZeroExitCode status has no details")]
    MissingDetails,
    /// `NonZeroExitCode` without an `ExitCode` cause.
    #[error("failed to decode exit status: no ExitCode cause given")]
    MissingExitCode,
    /// The `ExitCode` cause is not a number from 0 to 255.
    #[error("failed to decode exit status: invalid exit code value {0:?}")]
    InvalidExitCode(String),
    /// A status that is neither `Success` nor `Failure`.
    #[error("failed to decode exit status: unknown status {0:?}")]
    UnknownStatus(String),
}

impl Status {
    /// `{"metadata":{},"status":"Success"}`.
    #[must_use]
    pub fn success() -> Self {
        Self { status: "Success".into(), ..Self::default() }
    }

    /// The translator's `NonZeroExitCode` status for exit `code`.
    #[must_use]
    pub fn exit_code(code: u8) -> Self {
        Self {
            status: "Failure".into(),
            message: format!(
                "command terminated with non-zero exit code: command terminated with exit code {code}"
            ),
            reason: REASON_NON_ZERO_EXIT_CODE.into(),
            details: Some(StatusDetails {
                causes: vec![StatusCause {
                    reason: CAUSE_EXIT_CODE.into(),
                    message: code.to_string(),
                    ..StatusCause::default()
                }],
                ..StatusDetails::default()
            }),
            ..Self::default()
        }
    }

    /// A failure with `reason`, `message` and HTTP-like `code`, as REST and the error channel use.
    #[must_use]
    pub fn failure(reason: &str, message: impl Into<String>, code: i32) -> Self {
        Self {
            status: "Failure".into(),
            message: message.into(),
            reason: reason.into(),
            code: Some(code),
            ..Self::default()
        }
    }

    /// Adds `kind: Status` and `apiVersion: v1`, as REST responses carry them.
    #[must_use]
    pub fn with_type_meta(mut self) -> Self {
        self.kind = Some("Status".into());
        self.api_version = Some("v1".into());
        self
    }

    /// Serialises to the compact JSON the Kubernetes servers write.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain strings, maps and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Interprets the status like client-go's v4 error decoder.
    ///
    /// # Errors
    /// Fails when a `NonZeroExitCode` status lacks a valid `ExitCode` cause, or the status is
    /// neither `Success` nor `Failure`.
    pub fn outcome(&self) -> Result<ExitOutcome, StatusError> {
        match self.status.as_str() {
            "Success" => Ok(ExitOutcome::Success),
            "Failure" if self.reason == REASON_NON_ZERO_EXIT_CODE => {
                let details = self.details.as_ref().ok_or(StatusError::MissingDetails)?;
                let cause = details
                    .causes
                    .iter()
                    .find(|c| c.reason == CAUSE_EXIT_CODE)
                    .ok_or(StatusError::MissingExitCode)?;
                parse_exit_code(&cause.message).map(ExitOutcome::ExitCode)
            }
            "Failure" => Ok(ExitOutcome::Error {
                reason: Some(self.reason.clone()).filter(|r| !r.is_empty()),
                message: self.message.clone(),
                code: self.code,
            }),
            other => Err(StatusError::UnknownStatus(other.to_owned())),
        }
    }
}

/// Go's `strconv.ParseUint(s, 10, 8)`: ASCII digits only, value at most 255.
fn parse_exit_code(text: &str) -> Result<u8, StatusError> {
    let invalid = || StatusError::InvalidExitCode(text.to_owned());
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse::<u8>().map_err(|_| invalid())
}

/// Decodes the complete contents of the error channel for `version`.
///
/// v1 to v3 carry plain text: nothing means success, any text is the error message. v4 and v5
/// carry a JSON `Status`; an empty channel also means success (kubectl exits 0 without a status).
///
/// # Errors
/// Fails when a v4/v5 payload is not a valid `Status` or carries an invalid exit code.
pub fn decode_error_channel(version: Version, payload: &[u8]) -> Result<ExitOutcome, StatusError> {
    if payload.is_empty() {
        return Ok(ExitOutcome::Success);
    }
    if !version.has_json_status() {
        return Ok(ExitOutcome::Error {
            reason: None,
            message: String::from_utf8_lossy(payload).into_owned(),
            code: None,
        });
    }
    let status: Status =
        serde_json::from_slice(payload).map_err(|e| StatusError::Json(e.to_string()))?;
    status.outcome()
}
