//! The demo's script and its bookkeeping: when each fault comes, which answer counts as the
//! recovery from it, and the summary. Pure, so that it is tested without a cluster.

use std::fmt::Write as _;
use std::time::Duration;

/// A fault the demo injects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The pod serving the forward is deleted; recovered when another pod answers.
    PodKill {
        /// The pod killed.
        pod: String,
    },
    /// The tunnel stays open but moves no byte; recovered at the first answer after it.
    Blackhole,
}

impl Fault {
    fn name(&self) -> String {
        match self {
            Self::PodKill { pod } => format!("pod kill ({pod})"),
            Self::Blackhole => "blackhole".into(),
        }
    }

    /// Whether an answer from `pod` shows the forward serves again.
    fn recovered_by(&self, pod: &str) -> bool {
        match self {
            Self::PodKill { pod: killed } => pod != killed,
            Self::Blackhole => true,
        }
    }
}

/// One injected fault and what followed.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The fault.
    pub fault: Fault,
    /// When it was injected, since the demo started.
    pub at: Duration,
    /// When an answer showed the recovery, since the demo started.
    pub recovered_at: Option<Duration>,
    /// Requests that failed from the fault until the recovery.
    pub failed: u32,
}

/// Every request and fault so far.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests made.
    pub requests: u32,
    /// Requests that failed.
    pub failed: u32,
    /// The faults, in order.
    pub faults: Vec<Outcome>,
}

impl Tally {
    /// Notes a fault injected at `at`.
    pub fn inject(&mut self, fault: Fault, at: Duration) {
        self.faults.push(Outcome { fault, at, recovered_at: None, failed: 0 });
    }

    /// Notes a request that ended at `at`, answered by `pod` (`None`: it failed). Returns the
    /// faults it shows the recovery from.
    pub fn answer(&mut self, at: Duration, pod: Option<&str>) -> Vec<Outcome> {
        self.requests += 1;
        if pod.is_none() {
            self.failed += 1;
        }
        let mut recovered = Vec::new();
        for open in self.faults.iter_mut().filter(|f| f.recovered_at.is_none()) {
            match pod {
                None => open.failed += 1,
                Some(pod) if open.fault.recovered_by(pod) => {
                    open.recovered_at = Some(at);
                    recovered.push(open.clone());
                }
                Some(_) => {}
            }
        }
        recovered
    }

    /// Whether every fault injected so far is recovered from.
    #[must_use]
    pub fn all_recovered(&self) -> bool {
        self.faults.iter().all(|f| f.recovered_at.is_some())
    }

    /// The summary: one line per fault, then the totals.
    #[must_use]
    pub fn summary(&self) -> String {
        let names: Vec<String> = self.faults.iter().map(|f| f.fault.name()).collect();
        let width = names.iter().map(String::len).max().unwrap_or(0);
        let mut out = String::from("summary:\n");
        for (f, name) in self.faults.iter().zip(&names) {
            let recovery = f.recovered_at.map_or_else(
                || "not recovered".to_owned(),
                |end| format!("recovered in {}", took(end.saturating_sub(f.at))),
            );
            let _ = writeln!(out, "  {name:<width$}  {recovery}, {} request(s) failed", f.failed);
        }
        let _ = writeln!(out, "  {} requests, {} failed", self.requests, self.failed);
        out
    }
}

/// A recovery as one line of the running log.
#[must_use]
pub fn recovery_line(outcome: &Outcome) -> String {
    let end = outcome.recovered_at.unwrap_or_default();
    format!(
        "          recovered from the {} in {} ({} request(s) failed)",
        outcome.fault.name(),
        took(end.saturating_sub(outcome.at)),
        outcome.failed
    )
}

/// A recovery time: milliseconds under a second, else seconds.
fn took(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn a_pod_kill_recovers_when_another_pod_answers() {
        let mut tally = Tally::default();
        tally.answer(s(1), Some("web-a"));
        tally.inject(Fault::PodKill { pod: "web-a".into() }, s(5));
        assert_eq!(tally.answer(s(6), None), []);
        assert_eq!(tally.answer(s(7), Some("web-a")), [], "the killed pod is no recovery");
        let recovered = tally.answer(s(8), Some("web-b"));
        let [outcome] = recovered.as_slice() else { panic!("one recovery: {recovered:?}") };
        assert_eq!((outcome.recovered_at, outcome.failed), (Some(s(8)), 1));
        let line = "          recovered from the pod kill (web-a) in 3.0 s (1 request(s) failed)";
        assert_eq!(took(Duration::from_millis(42)), "42 ms");
        assert_eq!(recovery_line(outcome), line);
        assert!(tally.all_recovered());
    }

    #[test]
    fn the_summary_names_each_fault_and_the_totals() {
        let mut tally = Tally::default();
        tally.inject(Fault::PodKill { pod: "web-a".into() }, s(5));
        tally.answer(s(5), Some("web-b"));
        tally.inject(Fault::Blackhole, s(15));
        tally.answer(s(17), None);
        assert!(!tally.all_recovered());
        let want = "summary:\n  pod kill (web-a)  recovered in 0 ms, 0 request(s) failed\n  \
                    blackhole         not recovered, 1 request(s) failed\n  \
                    2 requests, 1 failed\n";
        assert_eq!(tally.summary(), want);
        tally.answer(s(18), Some("web-b"));
        assert!(
            tally.summary().contains("blackhole         recovered in 3.0 s"),
            "{}",
            tally.summary()
        );
    }
}
