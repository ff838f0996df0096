//! Conformance: real kubectl (v1.32.4 on PATH, and 1.29/1.30/1.32 beside it), and the Python
//! `kubernetes` client, against `tether-testkit`. Every case asserts on output and exit code,
//! and the kubectl cases on the protocol the cluster saw negotiated.
//!
//! A missing kubectl, kubectl version or Python package fails the test that needs it, saying
//! how to get it; `TETHER_ALLOW_SKIP=1` turns that into a loud skip.

mod harness;

mod attach;
mod cp;
mod exec;
mod faults;
mod objects;
mod portforward;
mod protocols;
mod python;
mod serve;
mod stored_headers;
mod versions;
