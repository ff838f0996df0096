//! What of `tether` other crates reach: the command line's definition (xtask renders the man
//! pages and completions from it) and the service files `tether daemon install` writes (xtask
//! renders the ones release packages ship).

pub mod args;
pub mod service;
pub mod time;
