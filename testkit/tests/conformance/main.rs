//! Conformance: real kubectl (v1.32.4 on PATH, and 1.29/1.30 beside it), and the Python
//! `kubernetes` client, against `tether-testkit`. Every case asserts on output and exit code.
//!
//! Without kubectl the kubectl cases skip with a loud message, except under `CI=true`, where
//! that is a failure. The same holds for python3 with the `kubernetes` package.

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
