//! The one place that decides what callers see: domain errors to gRPC statuses, and whose
//! fault each is (the caller's, the cluster's, or ours).

use tonic::{Code, Status};

use crate::forward::registry::{DialError, RegistryError};
use crate::forward::spec::SpecError;

/// Whose fault an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The request was wrong.
    Caller,
    /// The cluster or the machine refused.
    Environment,
    /// A bug or a broken store.
    Daemon,
}

/// The status for a bad field: INVALID_ARGUMENT whose message starts with the field's name.
#[must_use]
pub fn invalid(field: &str, error: &dyn std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {error}"))
}

/// Joins an error and its causes into one message.
pub fn chain(e: &dyn std::error::Error) -> String {
    crate::error_chain(e)
}

/// Maps a registry error: the table.
#[must_use]
pub fn registry(e: &RegistryError) -> (Status, Fault) {
    let message = chain(e);
    match e {
        RegistryError::Invalid(spec) => {
            (Status::invalid_argument(spec_field(spec, &message)), Fault::Caller)
        }
        // Like INVALID_ARGUMENT, the message starts with the field that differs.
        RegistryError::AlreadyExists { field, .. } => {
            (Status::already_exists(format!("{field}: {message}")), Fault::Caller)
        }
        RegistryError::NotFound(_) => (Status::not_found(message), Fault::Caller),
        RegistryError::Bind { .. } => {
            (Status::new(Code::FailedPrecondition, message), Fault::Environment)
        }
        RegistryError::TooMany { .. } | RegistryError::Descriptors { .. } => {
            (Status::resource_exhausted(message), Fault::Environment)
        }
        RegistryError::Store(_) => (Status::internal(message), Fault::Daemon),
    }
}

/// Maps a dial error.
#[must_use]
pub fn dial(e: &DialError) -> Status {
    match e {
        DialError::NotFound(_) => Status::not_found(e.to_string()),
        DialError::NoSuchPort(_) => invalid("open.port", e),
        DialError::NotReady(_) | DialError::Tunnel(_) => Status::unavailable(e.to_string()),
    }
}

/// Prefixes a spec error with the field it concerns.
fn spec_field(e: &SpecError, message: &str) -> String {
    let field = match e {
        SpecError::Target { .. } => "spec.target",
        SpecError::Port { .. } | SpecError::NoPorts => "spec.ports",
        SpecError::Address(_) => "spec.address",
        SpecError::Name { what: "namespace", .. } => "spec.namespace",
        SpecError::Name { .. } => "spec.name",
    };
    format!("{field}: {message}")
}

/// Logs a status by fault and returns it.
pub fn report((status, fault): (Status, Fault)) -> Status {
    match fault {
        Fault::Daemon => {
            tracing::error!(code = ?status.code(), message = status.message(), "request failed")
        }
        Fault::Environment => {
            tracing::warn!(code = ?status.code(), message = status.message(), "request failed")
        }
        Fault::Caller => {
            tracing::debug!(code = ?status.code(), message = status.message(), "request refused")
        }
    }
    status
}
