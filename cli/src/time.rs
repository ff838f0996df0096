//! Durations and timestamps as users write and read them: `1m30s` in, kubectl ages and
//! RFC 3339 times out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The current time in Unix seconds.
#[must_use]
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Parses a duration such as `30s`, `500ms`, `2m`, `1h`, `1m30s`, or a bare number of seconds.
///
/// # Errors
/// A message for clap when the text is not such a duration or is zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad =
        || format!("invalid duration {text:?}: use a number with a unit, such as 30s, 2m or 1m30s");
    if let Ok(secs) = text.parse::<u64>() {
        return positive(Duration::from_secs(secs));
    }
    let (mut rest, mut total_ms) = (text, 0_u64);
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit_ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total_ms =
            number.checked_mul(unit_ms).and_then(|ms| total_ms.checked_add(ms)).ok_or_else(bad)?;
    }
    positive(Duration::from_millis(total_ms))
}

fn positive(d: Duration) -> Result<Duration, String> {
    if d.is_zero() { Err("the duration must be more than 0".into()) } else { Ok(d) }
}

/// An age the way kubectl prints it: `45s`, `3m20s`, `2h`, `5d3h`, `2y30d`.
#[must_use]
pub fn human_age(seconds: i64) -> String {
    let Ok(s) = u64::try_from(seconds) else { return "0s".into() };
    let (minutes, hours) = (s / 60, s / 3600);
    let with = |big: u64, big_unit: &str, small: u64, small_unit: &str| {
        if small == 0 {
            format!("{big}{big_unit}")
        } else {
            format!("{big}{big_unit}{small}{small_unit}")
        }
    };
    match () {
        () if s < 120 => format!("{s}s"),
        () if minutes < 10 => with(minutes, "m", s % 60, "s"),
        () if minutes < 180 => format!("{minutes}m"),
        () if hours < 8 => with(hours, "h", minutes % 60, "m"),
        () if hours < 48 => format!("{hours}h"),
        () if hours < 24 * 8 => with(hours / 24, "d", hours % 24, "h"),
        () if hours < 24 * 365 * 2 => format!("{}d", hours / 24),
        () if hours < 24 * 365 * 8 => with(hours / 24 / 365, "y", (hours / 24) % 365, "d"),
        () => format!("{}y", hours / 24 / 365),
    }
}

/// Unix seconds as RFC 3339 in UTC, such as `2024-05-01T12:00:00Z`.
#[must_use]
pub fn rfc3339(unix_secs: i64) -> String {
    let (date, time) = civil(unix_secs);
    format!("{date}T{time}Z")
}

/// Unix milliseconds as RFC 3339 in UTC with milliseconds, such as `2024-05-01T12:00:00.250Z`.
#[must_use]
pub fn rfc3339_millis(unix_ms: i64) -> String {
    let (date, time) = civil(unix_ms.div_euclid(1000));
    format!("{date}T{time}.{:03}Z", unix_ms.rem_euclid(1000))
}

/// The UTC date and time of day of a Unix time (Howard Hinnant's `civil_from_days`).
fn civil(unix_secs: i64) -> (String, String) {
    let (days, secs) = (unix_secs.div_euclid(86_400), unix_secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60);
    (format!("{year:04}-{month:02}-{day:02}"), time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_kubectl() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        for bad in ["", "0", "0s", "s", "10x", "1.5s", "-3s", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn ages_read_like_kubectl() {
        let cases = [
            (-5, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (200, "3m20s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (9 * 3600, "9h"),
            (3 * 86_400 + 2 * 3600, "3d2h"),
            (30 * 86_400, "30d"),
            (3 * 365 * 86_400 + 5 * 86_400, "3y5d"),
            (10 * 365 * 86_400, "10y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_age(secs), want, "{secs} s");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800), "2024-05-01T12:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_millis(1_714_564_800_250), "2024-05-01T12:00:00.250Z");
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
    }
}
