//! The daemon issue's performance targets, checked against the results.

use std::time::Duration;

use super::{dur, kib};
use crate::args::WayKind;
use crate::results::{Memory, Perf, Results};

/// One target: met, not met, or not measured.
#[derive(Debug)]
pub struct Target {
    pub name: &'static str,
    pub met: Option<bool>,
    pub detail: String,
}

fn target(name: &'static str, check: Option<(bool, String)>) -> Target {
    match check {
        Some((met, detail)) => Target { name, met: Some(met), detail },
        None => Target { name, met: None, detail: "–".to_owned() },
    }
}

/// Evaluates every target.
pub fn evaluate(r: &Results) -> Vec<Target> {
    let way = |w: WayKind| r.perf.get(&w);
    let (t, k, x, d) =
        (way(WayKind::Tetherd), way(WayKind::Kubectl), way(WayKind::Relay), way(WayKind::Direct));
    let mem = r.memory.as_ref();
    vec![
        target("throughput ≥ 2× kubectl (down and up)", throughput(t, k, 2.0)),
        target("throughput ≥ 0.5× the TLS relay (down and up)", throughput(t, x, 0.5)),
        target("CPU per GB ≤ 0.5× kubectl", cpu(t, k)),
        target("setup p50 ≤ 0.5× kubectl", setup_vs(t, k)),
        target("setup p50 ≤ one round trip + 1 ms", setup_vs_rtt(t)),
        target("added round trip p50 ≤ 100 µs over direct", added_rtt(t, d)),
        target(
            "1,000 concurrent connections, zero failures",
            r.conns.as_ref().map(|c| {
                let ok = c.failures == 0 && c.count >= 1000;
                (ok, format!("{} of {} failed", c.failures, c.count))
            }),
        ),
        target("idle forward ≤ 256 KiB (each one after the first)", idle_forward(mem)),
        target(
            "idle connection ≤ 32 KiB",
            mem.map(|m| {
                let ok = m.per_conn_kib <= 32.0 && m.conn_failures == 0;
                (ok, format!("{} each", kib(m.per_conn_kib)))
            }),
        ),
        target(
            "daemon at rest ≤ 20 MiB RSS",
            mem.and_then(|m| m.rest_kib).map(|rest| (rest <= 20 * 1024, kib(rest as f64))),
        ),
        target("serving again within 1 s after a drop", drops(r)),
        target(
            "half-open detected within 15 s",
            r.half_open.iter().map(|h| h.detected).max().map(|worst| {
                let all: Vec<String> = r.half_open.iter().map(|h| dur(h.detected)).collect();
                (worst <= Duration::from_secs(15), all.join(", "))
            }),
        ),
        target(
            "serving again ≤ 2 s after a freeze of 20 s (issue 10)",
            r.freeze.iter().map(|f| f.served_after).max().map(|worst| {
                let all: Vec<String> = r.freeze.iter().map(|f| dur(f.served_after)).collect();
                (worst <= Duration::from_secs(2), all.join(", "))
            }),
        ),
        target(
            "a new connection on a half-open tunnel served ≤ 2.5 s, none failed (issue 10)",
            r.blackhole_load.as_ref().map(|l| {
                let met = l.longest <= Duration::from_millis(2500) && l.failed == 0;
                (met, format!("longest {}, {} of {} failed", dur(l.longest), l.failed, l.requests))
            }),
        ),
        target("a slow reader's download completes (not in the issue)", slow(r)),
        target("exec `cat` throughput ≥ kubectl (issue 4)", exec_throughput(r)),
        target("exec `-- true` p50 clearly below kubectl, ≤ 0.5× (issue 4)", exec_start(r)),
        target("zero refused connections across a pod kill", pod_kill(r)),
    ]
}

/// Both stream orders: the kubelet's (data stream closed before the error) and error first.
fn pod_kill(r: &Results) -> Option<(bool, String)> {
    let kubelet = r.pod_kill.get(&WayKind::Tetherd)?;
    let count = |p: &crate::results::PodKill| format!("{} of {} failed", p.failed, p.ok + p.failed);
    let mut text = format!("kubelet order {}", count(kubelet));
    let mut met = kubelet.failed == 0;
    if let Some(p) = &r.pod_kill_error_first {
        text.push_str(&format!(", error first {}", count(p)));
        met &= p.failed == 0;
    }
    Some((met, text))
}

fn exec_throughput(r: &Results) -> Option<(bool, String)> {
    let t = r.exec.get(&WayKind::Tetherd)?.mbps?;
    let k = r.exec.get(&WayKind::Kubectl)?.mbps?;
    Some((t >= k, format!("{t:.0} vs {k:.0} MB/s ({:.2}×)", t / k)))
}

fn exec_start(r: &Results) -> Option<(bool, String)> {
    let t = r.exec.get(&WayKind::Tetherd)?.start?.p50;
    let k = r.exec.get(&WayKind::Kubectl)?.start?.p50;
    let q = t.as_secs_f64() / k.as_secs_f64();
    Some((q <= 0.5, format!("{} vs {} ({q:.2}×)", dur(t), dur(k))))
}

/// Judged on the marginal forward; the first one's one-time cost is shown beside it.
fn idle_forward(m: Option<&Memory>) -> Option<(bool, String)> {
    let (m, next) = (m?, m?.next_forward_kib?);
    let first = m.forward_increase_kib.map(|f| kib(f as f64)).unwrap_or_default();
    Some((next <= 256.0, format!("+{} each; the first forward +{first}", kib(next))))
}

fn slow(r: &Results) -> Option<(bool, String)> {
    let s = r.slow_reader.get(&WayKind::Tetherd)?;
    let text = match (&s.elapsed, &s.error) {
        (Some(t), _) => format!("{} MiB in {}", s.limit >> 20, dur(*t)),
        (None, e) => {
            format!("{} of {} bytes, then: {}", s.read, s.limit, e.as_deref().unwrap_or("?"))
        }
    };
    Some((s.elapsed.is_some(), text))
}

fn throughput(a: Option<&Perf>, b: Option<&Perf>, factor: f64) -> Option<(bool, String)> {
    let (a, b) = (a?, b?);
    let down = a.down_mbps? / b.down_mbps?;
    let up = a.up_mbps? / b.up_mbps?;
    Some((down >= factor && up >= factor, format!("down {down:.2}×, up {up:.2}×")))
}

fn cpu(t: Option<&Perf>, k: Option<&Perf>) -> Option<(bool, String)> {
    let (a, b) = (t?.cpu_per_gb?, k?.cpu_per_gb?);
    Some((a <= 0.5 * b, format!("{a:.2} vs {b:.2} s/GB ({:.2}×)", a / b)))
}

fn setup_vs(t: Option<&Perf>, k: Option<&Perf>) -> Option<(bool, String)> {
    let (a, b) = (t?.setup?.p50, k?.setup?.p50);
    let q = a.as_secs_f64() / b.as_secs_f64();
    Some((q <= 0.5, format!("{} vs {} ({q:.2}×)", dur(a), dur(b))))
}

/// tetherd's setup against its own round trip on an open connection, plus 1 ms.
fn setup_vs_rtt(t: Option<&Perf>) -> Option<(bool, String)> {
    let (a, rtt) = (t?.setup?.p50, t?.rtt?.p50);
    let limit = rtt + Duration::from_millis(1);
    Some((a <= limit, format!("{} vs {} (round trip {})", dur(a), dur(limit), dur(rtt))))
}

fn added_rtt(t: Option<&Perf>, d: Option<&Perf>) -> Option<(bool, String)> {
    let (a, b) = (t?.rtt?.p50, d?.rtt?.p50);
    let added = a.saturating_sub(b);
    let text = format!("+{} ({} vs {})", dur(added), dur(a), dur(b));
    Some((added <= Duration::from_micros(100), text))
}

fn drops(r: &Results) -> Option<(bool, String)> {
    let all: Vec<String> = r
        .drops
        .iter()
        .filter_map(|d| Some(format!("{} max {}", d.fault, dur(*d.tetherd.iter().max()?))))
        .collect();
    let worst = r.drops.iter().flat_map(|d| d.tetherd.iter()).max()?;
    Some((*worst <= Duration::from_secs(1), all.join(", ")))
}
