//! The results table: one row per measurement, one column per way, and tetherd's ratios to
//! kubectl and to the TLS relay where they mean something.

use std::time::Duration;

use comfy_table::{Table, presets};

use super::{dur, kib, ratio};
use crate::args::WayKind;
use crate::measure::stats::Summary;
use crate::phases::memory::MORE_FORWARDS as MORE;
use crate::results::{ExecPerf, Memory, Perf, Results};

/// One table row: a cell per way in [`WayKind::ALL`] order, then the two ratios.
struct Row {
    metric: String,
    cells: [Option<String>; 4],
    vs_kubectl: Option<String>,
    vs_relay: Option<String>,
}

impl Row {
    fn new(metric: impl Into<String>) -> Self {
        Self { metric: metric.into(), cells: Default::default(), vs_kubectl: None, vs_relay: None }
    }

    fn cell(mut self, way: WayKind, text: Option<String>) -> Self {
        self.cells[index(way)] = text;
        self
    }

    /// Fills every way from `value` and `show`, with tetherd's ratios.
    fn per_way(
        mut self,
        r: &Results,
        value: impl Fn(&Perf) -> Option<f64>,
        show: impl Fn(f64) -> String,
    ) -> Self {
        let v = |w: WayKind| r.perf.get(&w).and_then(&value);
        for way in WayKind::ALL {
            self = self.cell(way, v(way).map(&show));
        }
        self.vs_kubectl = ratio(v(WayKind::Tetherd), v(WayKind::Kubectl));
        self.vs_relay = ratio(v(WayKind::Tetherd), v(WayKind::Relay));
        self
    }
}

/// The column of `way`.
fn index(way: WayKind) -> usize {
    WayKind::ALL.iter().position(|w| *w == way).unwrap_or(0)
}

/// Builds the table.
pub fn build(r: &Results) -> Table {
    let mut table = Table::new();
    table.load_style(presets::ASCII_MARKDOWN);
    let mut header = vec!["Measurement".to_owned()];
    header.extend(WayKind::ALL.iter().map(|w| w.title().to_owned()));
    header.extend(["tetherd ÷ kubectl".to_owned(), "tetherd ÷ relay".to_owned()]);
    table.set_header(header);
    for row in perf_rows(r).into_iter().chain(other_rows(r)) {
        let mut cells = vec![row.metric];
        cells.extend(row.cells.into_iter().map(|c| c.unwrap_or_else(|| "–".to_owned())));
        cells.push(row.vs_kubectl.unwrap_or_default());
        cells.push(row.vs_relay.unwrap_or_default());
        table.add_row(cells);
    }
    table
}

fn secs(s: Option<Summary>, pick: fn(&Summary) -> Duration) -> Option<f64> {
    s.as_ref().map(|s| pick(s).as_secs_f64())
}

fn perf_rows(r: &Results) -> Vec<Row> {
    if r.perf.is_empty() {
        return Vec::new();
    }
    let mbps = |v: f64| format!("{v:.0}");
    let time = signed_dur;
    let direct_rtt = r.perf.get(&WayKind::Direct).and_then(|p| secs(p.rtt, |s| s.p50));
    let added = move |p: &Perf| Some(secs(p.rtt, |s| s.p50)? - direct_rtt?);
    let mut rows = vec![
        Row::new("download, MB/s").per_way(r, |p| p.down_mbps, mbps),
        Row::new("upload, MB/s").per_way(r, |p| p.up_mbps, mbps),
        Row::new("forwarder CPU, s per GB").per_way(r, |p| p.cpu_per_gb, |v| format!("{v:.2}")),
        Row::new("new connection + 1-byte echo, p50").per_way(
            r,
            |p| secs(p.setup, |s| s.p50),
            time,
        ),
        Row::new("new connection + 1-byte echo, p99").per_way(
            r,
            |p| secs(p.setup, |s| s.p99),
            time,
        ),
        Row::new("round trip on one connection, p50").per_way(r, |p| secs(p.rtt, |s| s.p50), time),
        Row::new("round trip on one connection, p99").per_way(r, |p| secs(p.rtt, |s| s.p99), time),
        Row::new("added round trip over direct, p50").per_way(r, added, time),
        Row::new("forwarder CPU per round trip").per_way(r, |p| p.rtt_cpu, time),
        Row::new("forwarder context switches per round trip").per_way(
            r,
            |p| p.rtt_switches,
            |v| format!("{v:.1}"),
        ),
    ];
    rows[7].vs_relay = None;
    annotate_failures(&mut rows[0], r, |p| p.down_failures);
    annotate_failures(&mut rows[1], r, |p| p.up_failures);
    if let Some(cpu) = r.perf.get(&WayKind::Relay).and_then(|p| p.client_thread_cpu_per_gb) {
        let text = Some(format!("{cpu:.2}"));
        rows.insert(3, Row::new("… of which the TLS client thread").cell(WayKind::Relay, text));
    }
    let failed: Vec<(WayKind, usize)> =
        r.perf.iter().map(|(w, p)| (*w, p.setup_failures + p.rtt_failures)).collect();
    if failed.iter().any(|(_, n)| *n > 0) {
        let mut row = Row::new("failed latency connections");
        for (w, n) in failed {
            row = row.cell(w, Some(n.to_string()));
        }
        rows.push(row);
    }
    rows
}

/// A duration in seconds that may be negative (an added latency below the baseline's).
fn signed_dur(v: f64) -> String {
    match Duration::try_from_secs_f64(v.abs()) {
        Ok(d) if v < 0.0 => format!("-{}", dur(d)),
        Ok(d) => dur(d),
        Err(_) => "?".to_owned(),
    }
}

/// Appends "(N failed)" to the cells of ways whose attempts failed.
fn annotate_failures(row: &mut Row, r: &Results, count: fn(&Perf) -> usize) {
    for (way, p) in &r.perf {
        let n = count(p);
        if n > 0 {
            let cell = &mut row.cells[index(*way)];
            let shown = cell.take().unwrap_or_else(|| "none".to_owned());
            *cell = Some(format!("{shown} ({n} failed)"));
        }
    }
}

fn other_rows(r: &Results) -> Vec<Row> {
    let mut rows = Vec::new();
    let t = WayKind::Tetherd;
    if let Some(c) = &r.conns {
        let text = format!("{} failed ({})", c.failures, dur(c.elapsed));
        rows.push(Row::new(format!("{} concurrent connections", c.count)).cell(t, Some(text)));
    }
    if let Some(m) = &r.memory {
        let rest = m.rest_kib.map(|k| kib(k as f64));
        rows.push(Row::new("RSS at rest (no forward)").cell(t, rest));
        rows.extend(memory_rows(m, r.kubectl_memory.as_ref()));
    }
    if let Some(limit) = r.slow_reader.values().next().map(|s| s.limit) {
        let title = format!(
            "download read at {} MB/s ({} MiB)",
            crate::phases::slow::RATE / 1_000_000,
            limit >> 20
        );
        let mut row = Row::new(title);
        for (way, s) in &r.slow_reader {
            let text = match s.elapsed {
                Some(t) => format!("completes ({})", dur(t)),
                None => format!("fails after {}", kib(s.read as f64 / 1024.0)),
            };
            row = row.cell(*way, Some(text));
        }
        rows.push(row);
    }
    for d in &r.drops {
        let mut row = Row::new(format!("serving again after {}", d.fault));
        if let Some(max) = d.tetherd.iter().max() {
            let median = Summary::of(&d.tetherd).map_or(*max, |s| s.p50);
            let text = if d.tetherd.len() > 1 {
                format!("{} (max {}, n={})", dur(median), dur(*max), d.tetherd.len())
            } else {
                dur(*max)
            };
            row = row.cell(t, Some(text));
        }
        rows.push(row.cell(WayKind::Kubectl, d.kubectl.clone()));
    }
    if !r.pod_kill.is_empty() {
        let mut row = Row::new("failed connections across a pod kill");
        for (way, k) in &r.pod_kill {
            row = row.cell(*way, Some(format!("{} of {}", k.failed, k.ok + k.failed)));
        }
        rows.push(row);
    }
    if let Some(k) = &r.pod_kill_error_first {
        let text = format!("{} of {}", k.failed, k.ok + k.failed);
        rows.push(Row::new("… the same, error text before the resets").cell(t, Some(text)));
    }
    if let Some(d) = r.pod_ready {
        rows.push(Row::new("new pod Ready to first use").cell(t, Some(dur(d))));
    }
    if let Some(text) = freeze(r) {
        rows.push(
            Row::new("serving again after a 20 s freeze (SIGSTOP, blackhole)").cell(t, Some(text)),
        );
    }
    if let Some(l) = &r.blackhole_load {
        let text = format!("{} ({} of {} failed)", dur(l.longest), l.failed, l.requests);
        rows.push(
            Row::new("longest wait of a new connection on a blackholed tunnel").cell(t, Some(text)),
        );
    }
    if let Some(text) = half_open(r) {
        rows.push(Row::new("half-open (blackhole) detected").cell(t, Some(text)));
    }
    rows.extend(exec_rows(r));
    rows
}

/// `tether exec` (CLI + daemon) in the tetherd column, `kubectl exec` in kubectl's.
fn exec_rows(r: &Results) -> Vec<Row> {
    if r.exec.is_empty() {
        return Vec::new();
    }
    let row = |title: &str, value: &dyn Fn(&ExecPerf) -> Option<f64>, show: fn(f64) -> String| {
        let mut row = Row::new(title);
        for (way, e) in &r.exec {
            row = row.cell(*way, value(e).map(show));
        }
        let v = |w| r.exec.get(&w).and_then(value);
        row.vs_kubectl = ratio(v(WayKind::Tetherd), v(WayKind::Kubectl));
        row
    };
    let time = |s: f64| dur(Duration::from_secs_f64(s));
    let p50 = |e: &ExecPerf| e.start.map(|s| s.p50.as_secs_f64());
    let p99 = |e: &ExecPerf| e.start.map(|s| s.p99.as_secs_f64());
    let mut rows = vec![
        row("exec `cat` of a large file, stdout MB/s", &|e| e.mbps, |v| format!("{v:.0}")),
        row("exec `cat`, client CPU s per GB", &|e| e.cpu_per_gb, |v| format!("{v:.2}")),
        row("exec `-- true`, start to exit, p50", &p50, time),
        row("exec `-- true`, start to exit, p99", &p99, time),
    ];
    if r.exec.values().any(|e| e.failures > 0) {
        let mut failed = Row::new("failed execs");
        for (way, e) in &r.exec {
            failed = failed.cell(*way, Some(e.failures.to_string()));
        }
        rows.push(failed);
    }
    rows
}

/// `1.204 s, 980.12 ms (n=2, 0 failed before)`: after each thaw, how long until a new connection
/// was served, and the requests that failed before that, over all runs.
fn freeze(r: &Results) -> Option<String> {
    if r.freeze.is_empty() {
        return None;
    }
    let failed: u32 = r.freeze.iter().map(|f| f.failed).sum();
    let all: Vec<String> = r.freeze.iter().map(|f| dur(f.served_after)).collect();
    Some(format!("{} (n={}, {failed} failed before)", all.join(", "), all.len()))
}

/// `15.004 s (max 19.998 s, n=3; Ready again 4 ms later)`.
fn half_open(r: &Results) -> Option<String> {
    let detected: Vec<Duration> = r.half_open.iter().map(|h| h.detected).collect();
    let s = Summary::of(&detected)?;
    let max = detected.iter().max().copied().unwrap_or_default();
    let gaps: Vec<Duration> = r
        .half_open
        .iter()
        .filter_map(|h| Some(h.ready_again?.saturating_sub(h.detected)))
        .collect();
    let again = Summary::of(&gaps)
        .map_or_else(|| "not Ready again".to_owned(), |g| format!("Ready {} later", dur(g.p50)));
    Some(format!("{} (max {}, n={}; {again})", dur(s.p50), dur(max), detected.len()))
}

fn memory_rows(m: &Memory, kubectl: Option<&Memory>) -> Vec<Row> {
    let (t, k) = (WayKind::Tetherd, WayKind::Kubectl);
    let forward = |m: &Memory| match m.forward_increase_kib {
        Some(inc) => format!("{} (+{})", kib(m.forward_kib as f64), kib(inc as f64)),
        None => kib(m.forward_kib as f64),
    };
    let per_conn = |m: &Memory| {
        let failed = if m.conn_failures > 0 {
            format!(", {} failed", m.conn_failures)
        } else {
            String::new()
        };
        format!("{}{failed}", kib(m.per_conn_kib))
    };
    let mut rows = vec![
        Row::new("RSS with one idle forward")
            .cell(t, Some(forward(m)))
            .cell(k, kubectl.map(forward)),
        Row::new(format!("RSS per further idle forward (mean of {MORE})"))
            .cell(t, m.next_forward_kib.map(kib)),
        Row::new(format!("RSS per idle connection ({} open)", m.conns))
            .cell(t, Some(per_conn(m)))
            .cell(k, kubectl.map(per_conn)),
    ];
    if let Some(km) = kubectl {
        rows[0].vs_kubectl = ratio(Some(m.forward_kib as f64), Some(km.forward_kib as f64));
        rows[2].vs_kubectl = ratio(Some(m.per_conn_kib), Some(km.per_conn_kib));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::signed_dur;

    #[test]
    fn negative_and_odd_durations_print() {
        assert_eq!(signed_dur(-0.000_012), "-12 µs");
        assert_eq!(signed_dur(0.002), "2.00 ms");
        assert_eq!(signed_dur(f64::NAN), "?");
    }
}
