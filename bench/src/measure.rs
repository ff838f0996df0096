//! Blocking measurements on one way's connections: bulk transfers, connection setup and round
//! trips, and percentiles of their samples.

pub mod bulk;
pub mod latency;
pub mod stats;
