//! What the test suites share, so that each has one copy: prerequisites that fail a test unless
//! a skip is allowed (`prereq`), a process on a pty (`pty`), temporary folders (`temp`),
//! deterministic payloads (`payload`), and waits with deadlines (`wait`, `child`).
//!
//! A dev-dependency only: nothing here is part of a product.

pub mod child;
pub mod payload;
pub mod prereq;
pub mod pty;
pub mod temp;
pub mod wait;

pub use child::{Output, wait_child, wait_output};
pub use payload::payload;
pub use prereq::{ALLOW_SKIP, beside, missing, require, which};
pub use pty::PtyProcess;
pub use temp::TempDir;
pub use wait::{until, until_async};
