//! What each phase measured, for the table and the targets.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::args::WayKind;
use crate::measure::stats::Summary;

/// Throughput, CPU and latency of one way.
#[derive(Debug, Default, Clone)]
pub struct Perf {
    pub down_mbps: Option<f64>,
    pub up_mbps: Option<f64>,
    /// Failed bulk attempts (each is retried, up to 3 attempts) and the first error.
    pub down_failures: usize,
    pub up_failures: usize,
    pub bulk_error: Option<String>,
    /// Forwarding-client CPU seconds per GB moved (down and up together); `None`: n.a.
    pub cpu_per_gb: Option<f64>,
    /// For the relay: the CPU of the client thread alone (TLS client side).
    pub client_thread_cpu_per_gb: Option<f64>,
    pub setup: Option<Summary>,
    pub setup_failures: usize,
    pub rtt: Option<Summary>,
    pub rtt_failures: usize,
    /// Forwarder CPU seconds and context switches per round trip (processes only).
    pub rtt_cpu: Option<f64>,
    pub rtt_switches: Option<f64>,
}

/// RSS of a forwarding process: at rest, with one idle forward, and per idle connection.
#[derive(Debug, Default, Clone)]
pub struct Memory {
    /// Before any forward (tetherd only).
    pub rest_kib: Option<u64>,
    /// With one idle forward.
    pub forward_kib: u64,
    /// The increase from rest to one idle forward (tetherd only).
    pub forward_increase_kib: Option<u64>,
    /// The increase per further idle forward (tetherd only).
    pub next_forward_kib: Option<f64>,
    /// Increase per idle proxied connection.
    pub per_conn_kib: f64,
    pub conns: usize,
    pub conn_failures: usize,
}

/// Many concurrent connections on one forward.
#[derive(Debug, Clone)]
pub struct Conns {
    pub count: usize,
    pub failures: usize,
    pub elapsed: Duration,
}

/// Recovery from one fault that drops every stream.
#[derive(Debug, Default, Clone)]
pub struct Recovery {
    pub fault: &'static str,
    /// tetherd: time from the injection to a successful new connection, per repeat.
    pub tetherd: Vec<Duration>,
    /// tetherd: failed attempts (10 ms apart) before each success, summed.
    pub tetherd_failed_attempts: usize,
    /// kubectl: what happened.
    pub kubectl: Option<String>,
}

/// Connections across a pod kill.
#[derive(Debug, Default, Clone)]
pub struct PodKill {
    pub ok: u64,
    pub failed: u64,
    pub first_error: Option<String>,
    /// What happened to the forwarder.
    pub note: String,
}

/// A slow consumer's download.
#[derive(Debug, Clone)]
pub struct SlowReader {
    /// Bytes it meant to read.
    pub limit: u64,
    /// Bytes it read.
    pub read: u64,
    /// How long the whole read took, when it completed.
    pub elapsed: Option<Duration>,
    /// Why it stopped early.
    pub error: Option<String>,
}

/// A daemon frozen while its tunnel was blackholed.
#[derive(Debug, Clone)]
pub struct Freeze {
    /// From SIGCONT until a new connection was served.
    pub served_after: Duration,
    /// Connections that failed before that.
    pub failed: u32,
}

/// New connections on a blackholed tunnel, one every 100 ms.
#[derive(Debug, Clone)]
pub struct BlackholeLoad {
    pub requests: usize,
    pub failed: usize,
    /// The longest a request took, served or failed.
    pub longest: Duration,
}

/// A blackholed tunnel.
#[derive(Debug, Clone)]
pub struct HalfOpen {
    /// From the blackhole until the forward left Ready.
    pub detected: Duration,
    /// From the blackhole until it was Ready again.
    pub ready_again: Option<Duration>,
}

/// Exec through one way: `cat` of a large file, and `-- true` from start to exit.
#[derive(Debug, Default, Clone)]
pub struct ExecPerf {
    /// The best of the `cat` runs, MB/s of stdout.
    pub mbps: Option<f64>,
    /// Client CPU (and the daemon's, for tether) per GB of that best run.
    pub cpu_per_gb: Option<f64>,
    /// `exec POD -- true`, from starting the command to its exit.
    pub start: Option<Summary>,
    pub failures: usize,
    pub first_error: Option<String>,
}

impl ExecPerf {
    /// Counts a failed run, keeping the first error.
    pub fn fail(&mut self, error: String) {
        self.failures += 1;
        self.first_error.get_or_insert(error);
    }
}

/// Everything measured.
#[derive(Debug, Default)]
pub struct Results {
    pub perf: BTreeMap<WayKind, Perf>,
    pub memory: Option<Memory>,
    pub kubectl_memory: Option<Memory>,
    pub conns: Option<Conns>,
    pub drops: Vec<Recovery>,
    /// Under the kubelet-with-containerd order: a refused connection's data stream closes
    /// before the error text comes.
    pub pod_kill: BTreeMap<WayKind, PodKill>,
    /// tetherd again, with the error text before the resets (the other order servers use).
    pub pod_kill_error_first: Option<PodKill>,
    pub slow_reader: BTreeMap<WayKind, SlowReader>,
    /// From a new pod turning Ready to a held connection being served through it.
    pub pod_ready: Option<Duration>,
    pub half_open: Vec<HalfOpen>,
    pub freeze: Vec<Freeze>,
    pub blackhole_load: Option<BlackholeLoad>,
    pub exec: BTreeMap<WayKind, ExecPerf>,
    /// Context worth printing under the table.
    pub notes: Vec<String>,
    /// Phases that failed.
    pub errors: Vec<String>,
}
