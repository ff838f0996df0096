//! End to end: tetherd (in-process, or as a process) against the emulated cluster, driven
//! through the gRPC API. Every test asserts on data that crossed the forward.

mod harness;

mod backpressure;
mod bad_input;
mod basics;
mod crash_loop;
mod faults;
mod kubeconfigs;
mod resilience;
mod restart;
mod session_faults;
mod session_harness;
mod sessions;
