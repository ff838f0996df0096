//! Sans-IO codecs for the Kubernetes streaming protocols, for both the client and the server role.
//!
//! Nothing here touches a socket, a runtime or a clock: callers feed bytes (or WebSocket message
//! payloads) in and take decoded frames and bytes to send out. That keeps every codec testable
//! against the captured kubectl vectors, property-testable and fuzzable on its own.
//!
//! - [`channel`]: the remote-command channel protocols `channel.k8s.io` to `v5.channel.k8s.io`
//!   (channel byte, base64 variants, v5 CLOSE, resize JSON, the exit `Status`).
//! - [`portforward`]: the legacy WebSocket port-forward channel protocol (`ports=` query).
//! - [`spdy`]: SPDY/3.1 frames, zlib header compression, stream reassembly and a session state
//!   machine, as implemented by moby/spdystream and used by kubectl and the kubelet.
//! - [`negotiate`]: subprotocol names, the client's offer and check, the server's selection.
//!
//! The reference is `docs/streaming-protocols.md` in the project (a copy of the shared spec).

pub mod channel;
pub mod negotiate;
pub mod portforward;
pub mod spdy;
