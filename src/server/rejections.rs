//! Keeps floods of refused requests from drowning the operator's view: per peer address, status and reason, the
//! first few refusals of each second are recorded one by one and the rest are summed into one record with `count`.
//!
//! Counting is cheap and never blocks a request: the table is reset every window, and it is bounded, so an attacker
//! with many addresses or ever-changing reasons gets one summary per status instead of one record per request.

use crate::record::RejectedRecord;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How long refusals are counted before their summaries are written.
pub const WINDOW: Duration = Duration::from_secs(1);
/// Refusals recorded one by one per (peer address, status, reason) in each window.
pub const SHOWN_PER_KEY: u64 = 3;
/// Distinct (peer address, status, reason) counted per window; refusals beyond that share one summary per status.
pub const MAX_KEYS: usize = 1024;
/// The reason of the summary that stands for refusals beyond [`MAX_KEYS`].
pub const OVERFLOW_REASON: &str = "refusals from more peers and reasons than are listed one by one";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    /// `None` for the overflow summary.
    ip: Option<IpAddr>,
    status: u16,
    reason: String,
}

#[derive(Debug)]
struct RefusalCount {
    seen: u64,
    folded: u64,
    last_at: Option<OffsetDateTime>,
}

/// Whether a refusal gets its own record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Record it as it is.
    Show,
    /// Counted into the summary written when the window closes.
    Fold,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    tallies: HashMap<Key, RefusalCount>,
}

/// The per-window tally shared by every connection.
#[derive(Debug)]
pub struct RejectionLimiter {
    window: Mutex<Window>,
}

impl RejectionLimiter {
    pub fn new(now: Instant) -> RejectionLimiter {
        RejectionLimiter { window: Mutex::new(Window { started: now, tallies: HashMap::new() }) }
    }

    /// Counts one refusal. Also returns the summaries of the previous window when this call closes it, for the
    /// caller to record first.
    pub fn admit(
        &self,
        ip: IpAddr,
        status: u16,
        reason: &str,
        at: OffsetDateTime,
        now: Instant,
    ) -> (Disposition, Vec<RejectedRecord>) {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let closed = window.close_if_over(now);
        let mut key = Key { ip: Some(ip), status, reason: reason.to_owned() };
        if !window.tallies.contains_key(&key) && window.tallies.len() >= MAX_KEYS {
            key = Key { ip: None, status, reason: OVERFLOW_REASON.to_owned() };
        }
        let overflow = key.ip.is_none();
        let tally = window.tallies.entry(key).or_insert(RefusalCount { seen: 0, folded: 0, last_at: None });
        tally.seen += 1;
        let verdict = if !overflow && tally.seen <= SHOWN_PER_KEY {
            Disposition::Show
        } else {
            tally.folded += 1;
            tally.last_at = Some(at);
            Disposition::Fold
        };
        (verdict, closed)
    }

    /// The summaries of a window that has ended by `now` (all of them when `force`, at shutdown).
    pub fn flush(&self, now: Instant, force: bool) -> Vec<RejectedRecord> {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if force {
            let summaries = summarise(std::mem::take(&mut window.tallies));
            window.started = now;
            summaries
        } else {
            window.close_if_over(now)
        }
    }
}

impl Window {
    fn close_if_over(&mut self, now: Instant) -> Vec<RejectedRecord> {
        if now.saturating_duration_since(self.started) < WINDOW {
            return Vec::new();
        }
        self.started = now;
        summarise(std::mem::take(&mut self.tallies))
    }
}

fn summarise(tallies: HashMap<Key, RefusalCount>) -> Vec<RejectedRecord> {
    let mut out: Vec<RejectedRecord> = tallies
        .into_iter()
        .filter(|(_, t)| t.folded > 0)
        .map(|(key, t)| RejectedRecord {
            received_at: t.last_at.unwrap_or_else(crate::record::now),
            // The address alone: the record stands for many connections, hence many ports.
            peer: key.ip.map(|ip| ip.to_string()).unwrap_or_else(|| "*".to_owned()),
            via: None,
            status: key.status,
            reason: key.reason,
            method: None,
            path: None,
            count: Some(t.folded),
        })
        .collect();
    out.sort_by(|a, b| (a.received_at, &a.peer, a.status).cmp(&(b.received_at, &b.peer, b.status)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_flood_becomes_a_few_records_and_one_summary_per_key() {
        let t0 = Instant::now();
        let at = crate::record::now();
        let limiter = RejectionLimiter::new(t0);
        let mut shown = 0;
        for i in 0..1000 {
            let (verdict, closed) = limiter.admit(ip("192.0.2.7"), 401, "bad signature", at, t0);
            assert!(closed.is_empty());
            if verdict == Disposition::Show {
                shown += 1;
                assert!(i < SHOWN_PER_KEY as usize, "only the first ones are shown");
            }
        }
        // Another peer and another reason are counted apart, so one noisy peer cannot hide another.
        assert_eq!(limiter.admit(ip("192.0.2.8"), 401, "bad signature", at, t0).0, Disposition::Show);
        assert_eq!(limiter.admit(ip("192.0.2.7"), 415, "missing content-type", at, t0).0, Disposition::Show);
        assert_eq!(shown, SHOWN_PER_KEY);
        assert!(limiter.flush(t0 + WINDOW / 2, false).is_empty(), "the window is still open");
        let summaries = limiter.flush(t0 + WINDOW, false);
        assert_eq!(summaries.len(), 1, "{summaries:?}");
        let s = &summaries[0];
        assert_eq!((s.peer.as_str(), s.status, s.reason.as_str()), ("192.0.2.7", 401, "bad signature"));
        assert_eq!(s.count, Some(1000 - SHOWN_PER_KEY));
        // A new window shows the first ones again.
        let (verdict, closed) = limiter.admit(ip("192.0.2.7"), 401, "bad signature", at, t0 + WINDOW * 2);
        assert_eq!((verdict, closed.len()), (Disposition::Show, 0));
    }

    #[test]
    fn the_request_that_closes_a_window_carries_its_summaries() {
        let t0 = Instant::now();
        let at = crate::record::now();
        let limiter = RejectionLimiter::new(t0);
        for _ in 0..10 {
            limiter.admit(ip("::1"), 413, "too large", at, t0);
        }
        let (verdict, closed) = limiter.admit(ip("::1"), 413, "too large", at, t0 + WINDOW);
        assert_eq!(verdict, Disposition::Show);
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].peer.as_str(), closed[0].count), ("::1", Some(10 - SHOWN_PER_KEY)));
    }

    #[test]
    fn the_table_is_bounded_and_overflow_is_summed_per_status() {
        let t0 = Instant::now();
        let at = crate::record::now();
        let limiter = RejectionLimiter::new(t0);
        for i in 0..MAX_KEYS + 500 {
            let reason = format!("malformed: column {i}");
            let (verdict, _) = limiter.admit(ip("198.51.100.1"), 400, &reason, at, t0);
            assert_eq!(verdict == Disposition::Show, i < MAX_KEYS, "{i}");
        }
        let summaries = limiter.flush(t0, true);
        assert_eq!(summaries.len(), 1);
        assert_eq!((summaries[0].peer.as_str(), summaries[0].reason.as_str()), ("*", OVERFLOW_REASON));
        assert_eq!(summaries[0].count, Some(500));
        assert!(limiter.flush(t0 + WINDOW * 3, false).is_empty(), "forced flush emptied the table");
    }
}
