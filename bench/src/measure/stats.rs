//! Percentiles of latency samples (nearest rank), without a histogram dependency.

use std::time::Duration;

/// The median and 99th percentile of some samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub p50: Duration,
    pub p99: Duration,
    pub samples: usize,
}

impl Summary {
    /// `None` when there are no samples.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        Some(Self { p50: rank(&sorted, 50.0), p99: rank(&sorted, 99.0), samples: sorted.len() })
    }
}

/// The nearest-rank percentile of sorted, non-empty samples.
fn rank(sorted: &[Duration], pct: f64) -> Duration {
    let n = sorted.len();
    let index = ((pct / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1;
    sorted[index]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let s = Summary::of(&samples).expect("samples");
        assert_eq!(s.p50, Duration::from_micros(50));
        assert_eq!(s.p99, Duration::from_micros(99));
        assert_eq!(s.samples, 100);
        let one = Summary::of(&[Duration::from_millis(3)]).expect("one");
        assert_eq!((one.p50, one.p99), (Duration::from_millis(3), Duration::from_millis(3)));
        assert!(Summary::of(&[]).is_none());
    }
}
