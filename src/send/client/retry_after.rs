//! `Retry-After` (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date in any of the three forms a recipient must
//! accept (IMF-fixdate, the obsolete RFC 850 form and asctime). A date in the past means "now"; anything else
//! unreadable is ignored, as the RFC asks.

use std::time::Duration;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// How long to wait, read from a `Retry-After` value at `now`.
pub fn parse(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = http_date(value, now.year())?;
    let wait = at - now;
    Some(if wait.is_positive() { wait.unsigned_abs() } else { Duration::ZERO })
}

/// The three HTTP-date forms; the weekday is not checked (it carries nothing the date does not).
fn http_date(value: &str, this_year: i32) -> Option<OffsetDateTime> {
    let (day, month, year, hms) = match value.split_once(',') {
        Some((_, rest)) => {
            let t: Vec<&str> = rest.split_whitespace().collect();
            match t.as_slice() {
                // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
                [d, m, y, hms, "GMT"] => (*d, *m, y.parse::<i32>().ok()?, *hms),
                // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
                [dmy, hms, "GMT"] => {
                    let mut parts = dmy.split('-');
                    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
                    if y.len() != 2 || parts.next().is_some() {
                        return None;
                    }
                    (d, m, two_digit_year(y.parse().ok()?, this_year), *hms)
                }
                _ => return None,
            }
        }
        None => match value.split_whitespace().collect::<Vec<_>>().as_slice() {
            // asctime: Sun Nov  6 08:49:37 1994
            [_, m, d, hms, y] => (*d, *m, y.parse::<i32>().ok()?, *hms),
            _ => return None,
        },
    };
    let month = month_of(month)?;
    let date = Date::from_calendar_date(year, month, day.parse().ok()?).ok()?;
    let mut t = hms.split(':').map(|n| n.parse::<u8>().ok());
    let time = Time::from_hms(t.next()??, t.next()??, t.next()??).ok()?;
    if t.next().is_some() {
        return None;
    }
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// A year more than 50 years in the future is taken as the most recent past year with the same last two digits.
fn two_digit_year(yy: i32, this_year: i32) -> i32 {
    let year = this_year - this_year.rem_euclid(100) + yy;
    if year > this_year + 50 {
        year - 100
    } else {
        year
    }
}

fn month_of(name: &str) -> Option<Month> {
    const NAMES: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let i = NAMES.iter().position(|n| *n == name)?;
    Month::try_from(i as u8 + 1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn seconds_and_the_three_date_forms() {
        let now = datetime!(1994-11-06 08:49:00 UTC);
        assert_eq!(parse("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 0 ", now), Some(Duration::ZERO));
        for form in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(parse(form, now), Some(Duration::from_secs(37)), "{form}");
        }
        // In the past: retry now.
        assert_eq!(parse("Sat, 05 Nov 1994 08:49:37 GMT", now), Some(Duration::ZERO));
    }

    #[test]
    fn anything_else_is_ignored() {
        let now = datetime!(2026-11-30 12:00:00 UTC);
        for bad in ["", "-5", "1.5", "soon", "Sun, 06 Nov 1994 08:49:37 CET", "Sun, 31 Feb 2026 08:49:37 GMT"] {
            assert_eq!(parse(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn two_digit_years_are_never_far_in_the_future() {
        assert_eq!(two_digit_year(94, 2026), 1994);
        assert_eq!(two_digit_year(26, 2026), 2026);
        assert_eq!(two_digit_year(70, 2026), 2070);
        assert_eq!(two_digit_year(77, 2026), 1977);
    }
}
