//! The one grammar for durations, byte sizes and rates on the command line, shared by every flag.
//!
//! Durations are [`humantime`]'s: a number with a unit, decimals allowed, several spans added up (`500ms`, `1.5s`,
//! `30m`, `2h`, `1d`, `1w`, `1h 30m`; units `ns`, `us`, `ms`, `s`, `m`/`min`, `h`, `d`, `w`, `M` (month), `y` and
//! their long names). Flags that took a plain number of seconds before still do ([`parse_duration`]: `10`,
//! `1.5`); a duration "before now" needs a unit ([`parse_span`]) because a bare number there reads like a year.
//!
//! Rates are events per second, positive, finite and within [`MIN_RATE`]..=[`MAX_RATE`], so the interval between
//! events, and the due time of any event a run can reach, always fit in a [`Duration`].

use std::time::Duration;

/// The slowest rate accepted: one event a day. Slower rates would make the schedule's due times overflow.
pub const MIN_RATE: f64 = 1.0 / 86_400.0;
/// The fastest rate accepted, far beyond what one machine can sign and send.
pub const MAX_RATE: f64 = 1_000_000.0;

/// Why a flag's value was refused; the text names the value and shows what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("{0:?} is not a duration: use a number with a unit, e.g. 500ms, 1.5s, 30m, 2h, 1d or 1h 30m")]
    Duration(String),
    #[error("{0:?} is not a duration: add a unit, e.g. 90s, 30m, 2h or 7d")]
    NoUnit(String),
    #[error("{0:?} is too long a duration")]
    OutOfRange(String),
    #[error("{0:?} must be longer than zero")]
    Zero(String),
    #[error("{0:?}: expected a number of bytes, e.g. 1048576, 512K or 64M")]
    Size(String),
    #[error("{0:?}: too large")]
    SizeTooLarge(String),
    #[error("must be at least 1 byte")]
    SizeZero,
    #[error("{0:?}: expected a positive number of events per second, e.g. 3 or 0.5")]
    Rate(String),
    #[error("{0:?}: a rate must be between one event a day ({MIN_RATE:.3e}) and {MAX_RATE} events per second")]
    RateOutOfRange(String),
}

/// A duration: a plain number of seconds (`10`, `1.5`) or anything [`parse_span`] takes. Zero is allowed.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let t = s.trim();
    if t.starts_with(|c: char| c.is_ascii_digit() || c == '.') && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        let secs: f64 = t.parse().map_err(|_| UnitError::Duration(s.to_owned()))?;
        return Duration::try_from_secs_f64(secs).map_err(|_| UnitError::OutOfRange(s.to_owned()));
    }
    parse_span(s)
}

/// A duration with a unit (`90s`, `1.5h`, `7d`, `1h 30m`); a bare number is refused.
pub fn parse_span(s: &str) -> Result<Duration, UnitError> {
    let t = s.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(UnitError::NoUnit(s.to_owned()));
    }
    humantime::parse_duration(t).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => UnitError::OutOfRange(s.to_owned()),
        _ => UnitError::Duration(s.to_owned()),
    })
}

/// A positive duration as [`parse_duration`] reads it, in seconds, for flags held as `f64` seconds.
pub fn parse_seconds(s: &str) -> Result<f64, UnitError> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(UnitError::Zero(s.to_owned())),
        d => Ok(d.as_secs_f64()),
    }
}

/// A byte size: a whole number, optionally followed by K, M or G (powers of 1024, with or without `iB`/`B`).
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        _ => return Err(UnitError::Size(s.to_owned())),
    };
    let n: u64 = digits.parse().map_err(|_| UnitError::Size(s.to_owned()))?;
    match n.checked_mul(factor) {
        Some(0) => Err(UnitError::SizeZero),
        Some(v) => Ok(v),
        None => Err(UnitError::SizeTooLarge(s.to_owned())),
    }
}

/// A rate in events per second: positive, finite and within [`MIN_RATE`]..=[`MAX_RATE`].
pub fn parse_rate(s: &str) -> Result<f64, UnitError> {
    let r: f64 = s.trim().parse().map_err(|_| UnitError::Rate(s.to_owned()))?;
    if !r.is_finite() || r <= 0.0 {
        return Err(UnitError::Rate(s.to_owned()));
    }
    if !(MIN_RATE..=MAX_RATE).contains(&r) {
        return Err(UnitError::RateOutOfRange(s.to_owned()));
    }
    Ok(r)
}

/// [`parse_rate`], or `0` for flags where zero means "as fast as possible".
pub fn parse_rate_or_unlimited(s: &str) -> Result<f64, UnitError> {
    if s.trim().parse::<f64>() == Ok(0.0) {
        return Ok(0.0);
    }
    parse_rate(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_bare_seconds_decimals_and_units() {
        let ok = |s: &str| parse_duration(s).unwrap();
        assert_eq!(ok("10"), Duration::from_secs(10));
        assert_eq!(ok(" 1.5 "), Duration::from_millis(1500));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("1.5m"), Duration::from_secs(90));
        assert_eq!(ok("30m"), Duration::from_secs(1800));
        assert_eq!(ok("2h"), Duration::from_secs(7200));
        assert_eq!(ok("1d"), Duration::from_secs(86_400));
        assert_eq!(ok("1h 30m"), Duration::from_secs(5400));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        for bad in ["", " ", "s", "1.2.3", "-1", "-1s", "ten", "3 parsecs", "1e3", "inf", "NaN"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_duration("99999999999999999999d"), Err(UnitError::OutOfRange("99999999999999999999d".into())));
        assert!(parse_duration("1e400").is_err());
    }

    #[test]
    fn spans_need_a_unit() {
        assert_eq!(parse_span("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_span("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_span("90"), Err(UnitError::NoUnit("90".into())));
        assert_eq!(parse_span("1.5"), Err(UnitError::NoUnit("1.5".into())));
        assert!(parse_span("").is_err());
    }

    #[test]
    fn seconds_are_positive() {
        assert_eq!(parse_seconds("10"), Ok(10.0));
        assert_eq!(parse_seconds("2.5"), Ok(2.5));
        assert_eq!(parse_seconds("1m"), Ok(60.0));
        assert_eq!(parse_seconds("250ms"), Ok(0.25));
        assert_eq!(parse_seconds("0"), Err(UnitError::Zero("0".into())));
        assert_eq!(parse_seconds("0s"), Err(UnitError::Zero("0s".into())));
        assert!(parse_seconds("-3").is_err());
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("1000"), Ok(1000));
        assert_eq!(parse_size("512K"), Ok(512 * 1024));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("0"), Err(UnitError::SizeZero));
        assert!(parse_size("12X").is_err() && parse_size("M").is_err() && parse_size("1.5M").is_err());
        assert_eq!(parse_size("99999999999G"), Err(UnitError::SizeTooLarge("99999999999G".into())));
    }

    #[test]
    fn rates_are_positive_finite_and_bounded() {
        assert_eq!(parse_rate("3"), Ok(3.0));
        assert_eq!(parse_rate(" 0.5 "), Ok(0.5));
        assert_eq!(parse_rate("1e6"), Ok(1e6));
        for bad in ["0", "-1", "inf", "NaN", "", "fast"] {
            assert_eq!(parse_rate(bad), Err(UnitError::Rate(bad.into())), "{bad:?}");
        }
        for far in ["1e-20", "1e-5", "1e7", "1e300"] {
            assert_eq!(parse_rate(far), Err(UnitError::RateOutOfRange(far.into())), "{far:?}");
        }
        // Every accepted rate gives an interval, and a far-off due time, that fit in a Duration.
        for r in [MIN_RATE, MAX_RATE] {
            assert!(Duration::try_from_secs_f64(1e9 / r).is_ok());
        }
        assert_eq!(parse_rate_or_unlimited("0"), Ok(0.0));
        assert_eq!(parse_rate_or_unlimited("2.5"), Ok(2.5));
        assert!(parse_rate_or_unlimited("-0.5").is_err() && parse_rate_or_unlimited("1e-20").is_err());
    }
}
