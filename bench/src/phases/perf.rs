//! Throughput, client CPU per GB, setup latency and round trips, for each way in turn.

use std::time::{Duration, Instant};

use crate::args::{Phase, Plan, WayKind};
use crate::conn::Dialer;
use crate::measure::bulk::{download, megabytes_per_sec, upload};
use crate::measure::latency::{WARMUP, round_trips, setup};
use crate::measure::stats::Summary;
use crate::proc::{self_cpu_seconds, thread_cpu_seconds, tree_context_switches, tree_cpu_seconds};
use crate::relay::TlsRelay;
use crate::results::Perf;
use crate::world::World;

/// Whose CPU time counts as the forwarding client's.
#[derive(Debug, Clone, Copy)]
enum CpuProbe {
    /// Nothing forwards (direct).
    None,
    /// A process and its children (tetherd, kubectl).
    Process(i32),
    /// This process (the in-process relay, its TLS client included).
    SelfProcess,
}

impl CpuProbe {
    fn seconds(self) -> anyhow::Result<f64> {
        match self {
            Self::None => Ok(0.0),
            Self::Process(pid) => tree_cpu_seconds(pid),
            Self::SelfProcess => Ok(self_cpu_seconds()),
        }
    }

    /// Context switches of a forwarding process, every thread.
    fn switches(self) -> Option<u64> {
        match self {
            Self::Process(pid) => tree_context_switches(pid).ok(),
            Self::None | Self::SelfProcess => None,
        }
    }
}

/// The dialers of one way.
#[derive(Debug, Clone)]
struct Way {
    echo: Dialer,
    source: Dialer,
    sink: Dialer,
    /// The forwarder of the bulk transfers.
    cpu: CpuProbe,
    /// The forwarder of the echo connections (a second kubectl process).
    echo_cpu: CpuProbe,
}

/// Measures every way the plan names.
pub async fn run(w: &mut World) -> anyhow::Result<()> {
    for way in w.plan.ways.clone() {
        eprintln!("bench: {} ...", way.title());
        let result = measure_way(w, way).await;
        match result {
            Ok(perf) => {
                if let Some(e) = &perf.bulk_error {
                    let text = format!("{}: first failed bulk transfer: {e}", way.title());
                    w.results.notes.push(text);
                }
                w.results.perf.insert(way, perf);
            }
            Err(e) => w.record(&format!("performance via {}", way.title()), Err(e)),
        }
    }
    Ok(())
}

async fn measure_way(w: &mut World, kind: WayKind) -> anyhow::Result<Perf> {
    let d = &w.direct;
    let plan = w.plan.clone();
    match kind {
        WayKind::Direct => {
            let way = Way {
                echo: Dialer::local(d.echo),
                source: Dialer::local(d.source),
                sink: Dialer::local(d.sink),
                cpu: CpuProbe::None,
                echo_cpu: CpuProbe::None,
            };
            blocking(plan, way).await
        }
        WayKind::Tetherd => {
            let p = w.forwards().await?;
            let way = Way {
                echo: Dialer::local(p.echo),
                source: Dialer::local(p.source),
                sink: Dialer::local(p.sink),
                cpu: CpuProbe::Process(w.tetherd.pid()),
                echo_cpu: CpuProbe::Process(w.tetherd.pid()),
            };
            blocking(plan, way).await
        }
        WayKind::Kubectl => {
            let echo = w.kubectl.start("svc/echo", &["70"]).await?;
            let bulk = w.kubectl.start("svc/bulk", &["7100", "7200"]).await?;
            let way = Way {
                echo: Dialer::local(echo.ports[0]),
                source: Dialer::local(bulk.ports[0]),
                sink: Dialer::local(bulk.ports[1]),
                cpu: CpuProbe::Process(bulk.pid()),
                echo_cpu: CpuProbe::Process(echo.pid()),
            };
            let perf = blocking(plan, way).await;
            tokio::task::spawn_blocking(move || drop((echo, bulk))).await?;
            perf
        }
        WayKind::Relay => {
            let relay = TlsRelay::start(&[d.echo, d.source, d.sink]).await?;
            let tls = |i: usize| Dialer::Tls(relay.addrs[i], relay.client_config.clone());
            let cpu = CpuProbe::SelfProcess;
            let way = Way { echo: tls(0), source: tls(1), sink: tls(2), cpu, echo_cpu: cpu };
            w.relay = Some(relay);
            blocking(plan, way).await
        }
    }
}

/// Attempts per bulk transfer: a forwarder may reset a transfer whose reader falls behind.
const BULK_ATTEMPTS: usize = 3;

async fn blocking(plan: Plan, way: Way) -> anyhow::Result<Perf> {
    tokio::task::spawn_blocking(move || measure(&plan, &way)).await?
}

fn measure(plan: &Plan, way: &Way) -> anyhow::Result<Perf> {
    let mut perf = Perf::default();
    if plan.has(Phase::Throughput) {
        throughput(plan, way, &mut perf)?;
    }
    if plan.has(Phase::Setup) {
        let s = setup(&way.echo, plan.setup_count, Instant::now() + Duration::from_secs(120));
        perf.setup = Summary::of(&s.times);
        perf.setup_failures = s.failures;
        report_failures("setup", s.failures, s.first_error.as_deref());
    }
    if plan.has(Phase::Rtt) {
        let probe = way.echo_cpu;
        let (cpu0, switches0) = (probe.seconds()?, probe.switches());
        let s = round_trips(&way.echo, plan.rtt_count, Instant::now() + Duration::from_secs(120));
        let (cpu1, switches1) = (probe.seconds()?, probe.switches());
        let trips = (s.times.len() + WARMUP) as f64;
        if let (CpuProbe::Process(_), Some(a), Some(b)) = (probe, switches0, switches1) {
            perf.rtt_cpu = Some((cpu1 - cpu0) / trips);
            perf.rtt_switches = Some(b.saturating_sub(a) as f64 / trips);
        }
        perf.rtt = Summary::of(&s.times);
        perf.rtt_failures = s.failures;
        report_failures("round trips", s.failures, s.first_error.as_deref());
    }
    Ok(perf)
}

/// One download and one upload (each retried on failure), and the forwarder's CPU per GB
/// over the successful ones.
fn throughput(plan: &Plan, way: &Way, perf: &mut Perf) -> anyhow::Result<()> {
    let down = bulk(plan, way, Direction::Down)?;
    let up = bulk(plan, way, Direction::Up)?;
    (perf.down_mbps, perf.down_failures) = (down.mbps, down.failures);
    (perf.up_mbps, perf.up_failures) = (up.mbps, up.failures);
    perf.bulk_error = down.error.or(up.error);
    let gigabytes = (down.moved + up.moved) as f64 / 1e9;
    if gigabytes > 0.0 {
        perf.cpu_per_gb = match way.cpu {
            CpuProbe::None => None,
            _ => Some((down.cpu + up.cpu) / gigabytes),
        };
        if matches!(way.cpu, CpuProbe::SelfProcess) {
            perf.client_thread_cpu_per_gb = Some((down.thread_cpu + up.thread_cpu) / gigabytes);
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Down,
    Up,
}

/// The outcome of one direction's bulk transfer.
#[derive(Debug, Default)]
struct Bulk {
    mbps: Option<f64>,
    moved: u64,
    /// Forwarder and client-thread CPU seconds during the successful attempt.
    cpu: f64,
    thread_cpu: f64,
    failures: usize,
    error: Option<String>,
}

fn bulk(plan: &Plan, way: &Way, dir: Direction) -> anyhow::Result<Bulk> {
    // Generous: 60 s plus 2 MB/s.
    let budget = Duration::from_secs(60) + Duration::from_micros(plan.bytes / 2);
    let mut out = Bulk::default();
    for _ in 0..BULK_ATTEMPTS {
        let (cpu0, thread0) = (way.cpu.seconds()?, thread_cpu_seconds());
        let deadline = Instant::now() + budget;
        let result = match dir {
            Direction::Down => download(&way.source, plan.bytes, deadline),
            Direction::Up => upload(&way.sink, plan.bytes, deadline),
        };
        let (cpu1, thread1) = (way.cpu.seconds()?, thread_cpu_seconds());
        match result {
            Ok(elapsed) => {
                out.mbps = Some(megabytes_per_sec(plan.bytes, elapsed));
                (out.moved, out.cpu, out.thread_cpu) = (plan.bytes, cpu1 - cpu0, thread1 - thread0);
                break;
            }
            Err(e) => {
                eprintln!("bench: {dir:?} failed: {e:#}");
                out.failures += 1;
                out.error.get_or_insert_with(|| format!("{dir:?}: {e:#}"));
            }
        }
    }
    Ok(out)
}

fn report_failures(what: &str, failures: usize, first: Option<&str>) {
    if failures > 0 {
        eprintln!("bench: {what}: {failures} failed; first: {}", first.unwrap_or("?"));
    }
}
