//! The printed report: a table of every measurement (Markdown, to paste into
//! `docs/BENCHMARKS.md`), the targets met, notes and failed phases.

mod table;
mod targets;

use std::io::Write as _;
use std::time::Duration;

use crate::results::Results;

/// Writes the report to stdout.
pub fn print(results: &Results, plan_line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n{plan_line}\n")?;
    writeln!(out, "{}\n", table::build(results))?;
    writeln!(out, "Targets:\n")?;
    for t in targets::evaluate(results) {
        let mark = match t.met {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "not measured",
        };
        writeln!(out, "- [{mark}] {}: {}", t.name, t.detail)?;
    }
    if !results.notes.is_empty() {
        writeln!(out, "\nNotes:\n")?;
        for n in &results.notes {
            writeln!(out, "- {n}")?;
        }
    }
    if !results.errors.is_empty() {
        writeln!(out, "\nFailed phases:\n")?;
        for e in &results.errors {
            writeln!(out, "- {e}")?;
        }
    }
    out.flush()
}

/// `850 µs`, `12.3 ms`, `1.52 s`.
pub fn dur(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.3} s", us / 1e6)
    }
}

/// `640 KiB`, `12.3 MiB`.
pub fn kib(k: f64) -> String {
    if k < 1024.0 { format!("{k:.1} KiB") } else { format!("{:.1} MiB", k / 1024.0) }
}

/// `2.41×`, or nothing when either side is missing or zero.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(format!("{:.2}×", a / b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_well() {
        assert_eq!(dur(Duration::from_micros(850)), "850 µs");
        assert_eq!(dur(Duration::from_micros(12_300)), "12.30 ms");
        assert_eq!(dur(Duration::from_millis(1520)), "1.520 s");
        assert_eq!(kib(300.0), "300.0 KiB");
        assert_eq!(kib(2048.0), "2.0 MiB");
        assert_eq!(ratio(Some(3.0), Some(2.0)).as_deref(), Some("1.50×"));
        assert_eq!(ratio(Some(3.0), Some(0.0)), None);
    }
}
