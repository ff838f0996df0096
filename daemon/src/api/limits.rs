//! What the API accepts. Every field is bounded by a limit no real use reaches, checked before
//! anything is looked up, so that no reply (and no error) grows past the 4 MiB gRPC message
//! limit or echoes a megabyte back. Bad input is shown back truncated. `docs/SECURITY.md` lists
//! the limits.

use tonic::Status;

/// A forward's name: a DNS-1123 label.
pub const NAME: usize = 63;
/// A target, `KIND/NAME`, with a Kubernetes object name of at most 253 characters.
pub const TARGET: usize = 270;
/// A namespace: a DNS-1123 label.
pub const NAMESPACE: usize = 63;
/// A kubeconfig context name.
pub const CONTEXT: usize = 1024;
/// A kubeconfig path, or a `:`-separated list of paths.
pub const KUBECONFIG: usize = 4096;
/// Port mappings in one forward.
pub const PORTS: usize = 64;
/// One port mapping, `LOCAL:REMOTE`.
pub const PORT: usize = 32;
/// A bind address.
pub const ADDRESS: usize = 64;
/// A session id (32 hex digits today).
pub const SESSION_ID: usize = 64;
/// A container name: a DNS-1123 label.
pub const CONTAINER: usize = 63;
/// Words in a command.
pub const COMMAND_WORDS: usize = 1024;
/// Bytes in a command, all words together.
pub const COMMAND_BYTES: usize = 32 * 1024;
/// Forwards listed in one reply when the caller does not say.
pub const PAGE: usize = 100;
/// The most forwards listed in one reply.
pub const PAGE_MAX: usize = 500;
/// How much of a bad value an error shows.
pub const SHOWN: usize = 64;
/// The longest reason text a status carries.
pub const REASON: usize = 1024;

/// `value` for an error message: quoted, and cut after [`SHOWN`] characters.
#[must_use]
pub fn shown(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(SHOWN).collect();
    if chars.next().is_some() {
        format!("{head:?}... ({} bytes)", value.len())
    } else {
        format!("{head:?}")
    }
}

/// `text` cut to `max` bytes at a character boundary, marked when cut.
#[must_use]
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// INVALID_ARGUMENT when `value` is longer than `max` bytes.
///
/// # Errors
/// Naming the field, the length and the limit, never the whole value.
pub fn check(field: &str, value: &str, max: usize) -> Result<(), Status> {
    if value.len() > max {
        return Err(Status::invalid_argument(format!(
            "{field}: {} bytes, more than the {max} this field takes",
            value.len()
        )));
    }
    Ok(())
}

/// INVALID_ARGUMENT when `value` is empty or longer than `max` bytes: an identifier a request
/// must carry, checked before any lookup.
///
/// # Errors
/// Naming the field.
pub fn required(field: &str, value: &str, max: usize) -> Result<(), Status> {
    if value.is_empty() {
        return Err(Status::invalid_argument(format!("{field}: required")));
    }
    check(field, value, max)
}

/// INVALID_ARGUMENT when there are more than `max` items.
///
/// # Errors
/// Naming the field, the count and the limit.
pub fn check_count(field: &str, count: usize, max: usize) -> Result<(), Status> {
    if count > max {
        return Err(Status::invalid_argument(format!(
            "{field}: {count} items, more than the {max} this field takes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_are_shown_short_and_checks_name_the_limit() {
        let long = "x".repeat(100_000);
        let shown = shown(&long);
        assert!(shown.len() < 100 && shown.ends_with("(100000 bytes)"), "{shown}");
        assert_eq!(super::shown("db"), "\"db\"");
        let err = check("name", &long, NAME).expect_err("too long");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(err.message(), "name: 100000 bytes, more than the 63 this field takes");
        assert_eq!(cut("héllo", 2), "h...");
        assert!(check_count("spec.ports", 2000, PORTS).is_err());
    }
}
