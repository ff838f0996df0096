//! End to end: tetherd (in-process, or as a process) against the emulated cluster, driven
//! through the gRPC API. Every test asserts on data that crossed the forward.

mod harness;

mod backpressure;
mod basics;
mod faults;
mod resilience;
mod restart;
mod session_faults;
mod session_harness;
mod sessions;
