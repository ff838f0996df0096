//! An emulated Kubernetes API server that real kubectl, kube-rs and the Python client accept.
//!
//! It serves HTTPS on loopback with its own CA, authenticates bearer tokens and client
//! certificates, and keeps pods, services, endpoints, deployments and statefulsets in an object
//! store with resource versions and watches. Pods are real local processes; `exec` and `attach`
//! run and join them, and port-forward reaches the real TCP listeners their workloads bind. The
//! streaming endpoints speak WebSocket (v5 translator, legacy channel protocols, the SPDY tunnel)
//! and raw SPDY/3.1 through `tether-wire`, and an old-cluster switch removes what Kubernetes 1.30
//! and 1.31 added. Faults (drops, resets, blackholes, latency, bandwidth, refused upgrades, token
//! expiry, pod churn) are scriptable from Rust and from the shell.
//!
//! Start one with [`TestCluster::start`]; the `tether-testkit serve` binary wraps the same call.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
mod controller;
pub mod faults;
pub mod fixture;
pub mod kubeconfig;
mod rest;
mod runtime;
mod server;
pub mod store;
mod stream;
pub mod tls;
pub mod workload;

mod cluster;

pub use cluster::{Cluster, StartError, TestCluster};
pub use config::{AuthMode, Config, PortForwardErrorOrder};
pub use faults::{Fault, FaultError};
