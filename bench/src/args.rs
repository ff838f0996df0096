//! Command-line flags: which phases and ways to run, and how big.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Measures tetherd against direct TCP, `kubectl port-forward` and a plain TLS relay, all on one
/// emulated cluster, and prints a table with the targets met.
#[derive(Debug, Parser)]
#[command(name = "tether-bench", version, about)]
pub struct Args {
    /// Bytes per bulk transfer (download and upload, each way): a number with an optional
    /// K, M or G suffix (powers of 1024). Default 512M, or 32M with --quick.
    #[arg(long, value_parser = parse_size)]
    pub bytes: Option<u64>,
    /// A smoke run of about a minute: small sizes, fewer samples, one repeat.
    #[arg(long)]
    pub quick: bool,
    /// Phases to run, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub phases: Vec<Phase>,
    /// Ways to compare in the throughput and latency phases, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub ways: Vec<WayKind>,
    /// New connections for the setup latency (default 200, 50 with --quick).
    #[arg(long)]
    pub setup_count: Option<usize>,
    /// Round trips on one connection (default 2000, 500 with --quick).
    #[arg(long)]
    pub rtt_count: Option<usize>,
    /// Concurrent connections on one forward.
    #[arg(long, default_value_t = 1000)]
    pub conns: usize,
    /// Idle connections for the memory phase.
    #[arg(long, default_value_t = 200)]
    pub idle_conns: usize,
    /// Repeats of each drop (close, reset) for tetherd (default 3, 1 with --quick).
    #[arg(long)]
    pub drop_repeats: Option<usize>,
    /// The tetherd binary (default: `tetherd` beside this binary).
    #[arg(long)]
    pub tetherd: Option<PathBuf>,
    /// The kubectl binary.
    #[arg(long, default_value = "kubectl")]
    pub kubectl: PathBuf,
}

/// A part of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Phase {
    /// tetherd RSS at rest, with an idle forward, and per idle connection.
    Memory,
    /// Bulk download and upload, and client CPU per GB.
    Throughput,
    /// New-connection setup latency.
    Setup,
    /// Round trips on one persistent connection.
    Rtt,
    /// Many concurrent connections on one forward (tetherd).
    Conns,
    /// A download read slower than the pod sends it.
    SlowReader,
    /// `tether exec` against `kubectl exec`: `cat` throughput and `-- true` start to exit.
    Exec,
    /// Time to serve again after the cluster closes or resets every stream.
    Drop,
    /// Failed connections across a pod kill.
    PodKill,
    /// Time from a new pod turning Ready to its first use (tetherd).
    PodReady,
    /// Serving again after a 20 s freeze over a blackholed tunnel, and the longest wait of new
    /// connections on a blackholed tunnel (tetherd).
    Freeze,
    /// Time until a blackholed tunnel is detected (tetherd; runs last).
    HalfOpen,
}

/// A way to reach the workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum WayKind {
    /// TCP straight to local copies of the workloads.
    Direct,
    /// Through tetherd's forwards.
    Tetherd,
    /// Through `kubectl port-forward`.
    Kubectl,
    /// Through a TLS relay in this process (one encryption hop).
    Relay,
}

impl WayKind {
    /// Every way, in table order.
    pub const ALL: [Self; 4] = [Self::Direct, Self::Tetherd, Self::Kubectl, Self::Relay];

    /// The column title.
    pub fn title(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Tetherd => "tetherd",
            Self::Kubectl => "kubectl",
            Self::Relay => "TLS relay",
        }
    }
}

/// The settings after defaults and `--quick` are applied.
#[derive(Debug, Clone)]
pub struct Plan {
    pub bytes: u64,
    pub quick: bool,
    pub phases: Vec<Phase>,
    pub ways: Vec<WayKind>,
    pub setup_count: usize,
    pub rtt_count: usize,
    pub conns: usize,
    pub idle_conns: usize,
    pub drop_repeats: usize,
    pub tetherd: Option<PathBuf>,
    pub kubectl: PathBuf,
}

impl Plan {
    /// Applies defaults: the full run, or the smoke run with `--quick`.
    pub fn from_args(args: Args) -> Self {
        let q = args.quick;
        let mut phases = if args.phases.is_empty() { all_phases() } else { args.phases };
        phases.sort();
        phases.dedup();
        let mut ways = if args.ways.is_empty() { WayKind::ALL.to_vec() } else { args.ways };
        ways.sort();
        ways.dedup();
        Self {
            bytes: args.bytes.unwrap_or(if q { 32 << 20 } else { 512 << 20 }),
            quick: q,
            phases,
            ways,
            setup_count: args.setup_count.unwrap_or(if q { 50 } else { 200 }),
            rtt_count: args.rtt_count.unwrap_or(if q { 500 } else { 2000 }),
            conns: args.conns,
            idle_conns: args.idle_conns,
            drop_repeats: args.drop_repeats.unwrap_or(if q { 1 } else { 3 }).max(1),
            tetherd: args.tetherd,
            kubectl: args.kubectl,
        }
    }

    /// Whether `phase` was asked for.
    pub fn has(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }

    /// Whether `way` was asked for.
    pub fn uses(&self, way: WayKind) -> bool {
        self.ways.contains(&way)
    }
}

fn all_phases() -> Vec<Phase> {
    Phase::value_variants().to_vec()
}

/// `512M`, `1G`, `4096K` or plain bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: u64 = digits.trim().parse().map_err(|e| format!("bad size {text:?}: {e}"))?;
    let bytes = n.checked_shl(shift).filter(|b| b >> shift == n);
    match bytes {
        Some(b) if b > 0 => Ok(b),
        _ => Err(format!("bad size {text:?}: must be between 1 byte and 2^64")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("x").is_err());
    }
}
