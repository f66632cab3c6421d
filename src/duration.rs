//! Durations as users write them: plain milliseconds (the first spec's `--ttl <TIMEFRAME>`) or a
//! number with a unit (`500ms`, `30s`, `20m`, `2h`, `1d`).

use crate::error::{Error, Result};
use std::time::Duration;

/// Longer than any deploy lock or job window anyone means; keeps arithmetic on epoch
/// milliseconds far from overflow.
const MAX: Duration = Duration::from_secs(366 * 24 * 3600);

/// `flag` is the option as the caller's door spells it (`--ttl` on the command line, `ttl` in
/// JS), so the error names what the caller wrote.
pub fn parse(flag: &str, text: &str) -> Result<Duration> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    let invalid = || invalid(flag, text);
    let amount: u64 = digits.parse().map_err(|_| invalid())?;
    let unit_ms: u64 = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(invalid()),
    };
    amount
        .checked_mul(unit_ms)
        .map(Duration::from_millis)
        .filter(|d| *d <= MAX)
        .ok_or_else(|| too_long(flag, text))
}

/// A duration given as a number of milliseconds (a JS caller's `1500`): whole and not negative.
pub fn from_millis(flag: &str, millis: f64) -> Result<Duration> {
    if !millis.is_finite() || millis < 0.0 || millis.fract() != 0.0 {
        return Err(invalid(flag, &millis.to_string()));
    }
    Some(Duration::from_millis(millis as u64))
        .filter(|d| millis <= MAX.as_millis() as f64 && *d <= MAX)
        .ok_or_else(|| too_long(flag, &millis.to_string()))
}

/// Refuses zero where it makes no sense (a lease, a poll interval).
pub fn positive(flag: &str, duration: Duration) -> Result<Duration> {
    if duration.is_zero() {
        return Err(Error::usage(format!("{flag} must be greater than zero")));
    }
    Ok(duration)
}

/// [`parse`], then [`positive`].
pub fn parse_positive(flag: &str, text: &str) -> Result<Duration> {
    positive(flag, parse(flag, text)?)
}

fn invalid(flag: &str, text: &str) -> Error {
    Error::usage_with_hint(
        format!("invalid duration for {flag}: '{text}'"),
        "use milliseconds (1500) or a number with ms, s, m, h or d (30s, 20m, 2h)",
    )
}

fn too_long(flag: &str, text: &str) -> Error {
    Error::usage(format!("{flag} is too long: '{text}' (at most 366d)"))
}

/// Short human form: `20m`, `1h30m`, `45s`, `250ms`.
pub fn humanize(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    // Rounded, so a fresh 1m lease reads "1m", not "59s".
    let secs = ((ms + 500) / 1_000) as u64;
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    parts.into_iter().take(2).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_milliseconds_and_units() {
        assert_eq!(parse("--ttl", "1500").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("--ttl", "250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("--ttl", "30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("--ttl", "20m").unwrap(), Duration::from_secs(1200));
        assert_eq!(parse("--ttl", "2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse("--ttl", " 1d ").unwrap(), Duration::from_secs(86_400));
    }

    #[test]
    fn rejects_garbage_negative_and_huge() {
        for bad in [
            "",
            "abc",
            "-5",
            "5x",
            "1.5s",
            "m",
            "5 m",
            "99999999999999999999",
        ] {
            let err = parse("--ttl", bad).unwrap_err();
            assert_eq!(err.code(), "INVALID_ARGUMENT", "{bad}");
        }
        assert!(parse("--ttl", "400d").is_err());
    }

    #[test]
    fn zero_is_refused_where_it_makes_no_sense() {
        assert!(parse("--timeout", "0").is_ok());
        assert!(parse_positive("--ttl", "0s").is_err());
    }

    #[test]
    fn milliseconds_from_js_are_whole_and_not_negative() {
        assert_eq!(
            from_millis("ttl", 1500.0).unwrap(),
            Duration::from_millis(1500)
        );
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 1e21] {
            let err = from_millis("ttl", bad).unwrap_err();
            assert_eq!(err.code(), "INVALID_ARGUMENT", "{bad}");
            assert!(err.to_string().contains("ttl"), "{err}");
        }
        assert_eq!(
            from_millis("ttl", -1.0).unwrap_err().to_string(),
            "invalid duration for ttl: '-1'"
        );
        assert!(positive("ttl", Duration::ZERO).is_err());
    }

    #[test]
    fn humanizes_to_two_units() {
        assert_eq!(humanize(Duration::from_millis(250)), "250ms");
        assert_eq!(humanize(Duration::from_secs(45)), "45s");
        assert_eq!(humanize(Duration::from_secs(20 * 60)), "20m");
        assert_eq!(humanize(Duration::from_secs(5400 + 7)), "1h30m");
        assert_eq!(humanize(Duration::from_millis(59_700)), "1m");
    }
}
