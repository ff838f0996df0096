//! What of `tether` other crates reach: the command line's definition (xtask renders the man
//! pages and completions from it), the service files `tether daemon install` writes (xtask
//! renders the ones release packages ship), and when an HTTP answer is complete (`tether demo`
//! and xtask's checks both read one off a raw connection).

pub mod args;
pub mod http;
pub mod service;
pub mod time;
