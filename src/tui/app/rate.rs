//! Events per minute for the header's sparkline: a short window of (minute, count) kept as records arrive and
//! trimmed as the clock moves.

use std::collections::VecDeque;
use time::OffsetDateTime;

/// Minutes of event rate kept for the sparkline.
const RATE_MINUTES: usize = 120;

/// (unix minute, events received in it), oldest first.
#[derive(Debug, Default)]
pub(super) struct Rate(VecDeque<(i64, u64)>);

fn minute_of(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(60)
}

impl Rate {
    pub(super) fn count(&mut self, at: OffsetDateTime) {
        let minute = minute_of(at);
        let rate = &mut self.0;
        match rate.iter_mut().rev().find(|(m, _)| *m <= minute) {
            Some((m, n)) if *m == minute => *n += 1,
            _ => {
                // Records arrive in time order, so a new minute almost always goes at the back.
                let at = rate.partition_point(|(m, _)| *m < minute);
                rate.insert(at, (minute, 1));
                while rate.len() > RATE_MINUTES {
                    rate.pop_front();
                }
            }
        }
    }

    pub(super) fn trim(&mut self, now: OffsetDateTime) {
        let oldest = minute_of(now) - RATE_MINUTES as i64;
        while self.0.front().is_some_and(|(m, _)| *m < oldest) {
            self.0.pop_front();
        }
    }

    /// Events per minute for the last `minutes` minutes, oldest first, ending with the minute of `now`.
    pub(super) fn last(&self, now: OffsetDateTime, minutes: usize) -> Vec<u64> {
        let now = minute_of(now);
        let first = now - minutes as i64 + 1;
        let mut out = vec![0; minutes];
        for &(m, n) in &self.0 {
            if (first..=now).contains(&m) {
                out[(m - first) as usize] = n;
            }
        }
        out
    }
}
