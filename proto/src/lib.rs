//! Tether's API contract, `tether.v1`, and the client side of it.
//!
//! - [`pb`]: the generated messages and services (tonic), and the descriptor set for reflection.
//! - [`paths`]: where the daemon's socket, state and logs live, and the variables that move them.
//! - [`client`]: connecting over the local socket and the version handshake.
//! - [`autostart`]: starting `tetherd` when none runs, with a lock so two CLIs do not race.
//! - [`launch`]: how the daemon was started, as `GetInfo` names it.

pub mod autostart;
pub mod client;
pub mod codec;
pub mod launch;
pub mod paths;

/// The generated `tether.v1` types and services.
#[expect(unused_qualifications, clippy::allow_attributes, reason = "generated code")]
pub mod pb {
    tonic::include_proto!("tether.v1");

    /// The encoded file descriptor set, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("tether_descriptor");
}

/// The API major version this crate speaks.
pub const API_MAJOR: u32 = 1;

/// This crate's version, used as the client and daemon version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub use launch::Launch;
