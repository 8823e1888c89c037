//! Deliveries under load: a shared schedule hands out work at the requested rate, one worker per keep-alive
//! connection signs and posts it, retrying failures with increasing back-off.

use super::catalog::Generator;
use super::client::{Client, Connection};
use super::payload::Payload;
use super::signing::Signing;
use super::stats::EventOutcomes;
use bytes::Bytes;
use hyper::StatusCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How failed deliveries are tried again. GreenLake retries 20 times over 12 hours; a simulator run wants
/// a few quick attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub retries: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { retries: 3, base: Duration::from_millis(200), max: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1 for the first retry): `base`, then doubling, up to `max`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// Answers worth another attempt: the handler is overloaded or failing for now. Any other refusal (a 401
    /// for a bad signature, a 400 for a malformed event) would only be refused again.
    pub fn retryable(status: StatusCode) -> bool {
        status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS
    }
}

/// What is sent.
#[derive(Debug, Clone)]
pub enum Source {
    /// Catalog events, `batch` to a request (1: single objects; more: JSON arrays).
    Generated { generator: Generator, batch: u64 },
    /// The user's payloads, in order, cycling when `--count` or `--duration` ask for more.
    Payloads(Arc<Vec<Payload>>),
}

/// The load's shape.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: Source,
    /// Events to send; `None` with a duration means until it ends, and with a file once through it.
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    /// Events per second; `None` as fast as the handler answers.
    pub rate: Option<f64>,
    pub concurrency: usize,
    pub retry: RetryPolicy,
}

/// Counters the progress display reads while the run goes on.
#[derive(Debug, Default)]
pub struct Live {
    pub sent: AtomicU64,
    pub acknowledged: AtomicU64,
    pub refused: AtomicU64,
    pub failed: AtomicU64,
    pub retries: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Generated { first: u64, n: u64 },
    Payload(usize),
}

/// Hands out work in order. Rate limiting is by due time (event k is due at start + k / rate), so workers
/// never drift and a slow answer on one connection does not slow the others.
#[derive(Debug)]
struct Schedule {
    start: Instant,
    deadline: Option<Instant>,
    limit: Option<u64>,
    rate: Option<f64>,
    next_event: u64,
    next_payload: usize,
}

impl Schedule {
    fn claim(&mut self, source: &Source, now: Instant) -> Option<(Unit, Option<Instant>)> {
        if self.deadline.is_some_and(|d| now >= d) || self.limit.is_some_and(|l| self.next_event >= l) {
            return None;
        }
        let due = self.rate.map(|r| self.start + Duration::from_secs_f64(self.next_event as f64 / r));
        if let (Some(due), Some(deadline)) = (due, self.deadline) {
            if due >= deadline {
                return None;
            }
        }
        let unit = match source {
            Source::Generated { batch, .. } => {
                let n = match self.limit {
                    Some(l) => (*batch).min(l - self.next_event),
                    None => *batch,
                };
                let unit = Unit::Generated { first: self.next_event, n };
                self.next_event += n;
                unit
            }
            Source::Payloads(payloads) => {
                // Without a count or duration a file is sent once through.
                if self.limit.is_none() && self.deadline.is_none() && self.next_payload >= payloads.len() {
                    return None;
                }
                let i = self.next_payload % payloads.len();
                self.next_payload += 1;
                self.next_event += payloads[i].events;
                Unit::Payload(i)
            }
        };
        Some((unit, due))
    }
}

struct Shared {
    client: Client,
    signing: Signing,
    plan: Plan,
    schedule: Mutex<Schedule>,
    live: Arc<Live>,
    stop: watch::Receiver<bool>,
}

/// Runs the plan to its end (count reached, duration over, file sent, or `stop` set) and returns the tally and
/// the time it took.
pub async fn run(
    client: Client,
    signing: Signing,
    plan: Plan,
    live: Arc<Live>,
    stop: watch::Receiver<bool>,
) -> (EventOutcomes, Duration) {
    let start = Instant::now();
    let schedule = Schedule {
        start,
        deadline: plan.duration.map(|d| start + d),
        limit: plan.count,
        rate: plan.rate.filter(|r| *r > 0.0),
        next_event: 0,
        next_payload: 0,
    };
    let workers = plan.concurrency.max(1);
    let shared = Arc::new(Shared { client, signing, plan, schedule: Mutex::new(schedule), live, stop });
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        set.spawn(worker(shared.clone()));
    }
    let mut tally = EventOutcomes::default();
    while let Some(t) = set.join_next().await {
        match t {
            Ok(t) => tally.merge(&t),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    (tally, start.elapsed())
}

async fn worker(shared: Arc<Shared>) -> EventOutcomes {
    let mut tally = EventOutcomes::default();
    let mut conn: Option<Connection> = None;
    let mut stop = shared.stop.clone();
    loop {
        if *stop.borrow() {
            break;
        }
        let claimed = shared.schedule.lock().expect("schedule lock").claim(&shared.plan.source, Instant::now());
        let Some((unit, due)) = claimed else { break };
        if let Some(due) = due {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        let (body, events): (Bytes, u64) = match (&shared.plan.source, unit) {
            (Source::Generated { generator, .. }, Unit::Generated { first, n }) => {
                let now = time::OffsetDateTime::now_utc();
                let body = if n == 1 && matches!(shared.plan.source, Source::Generated { batch: 1, .. }) {
                    generator.event(first, now)
                } else {
                    generator.batch(first, n, now)
                };
                (body.into(), n)
            }
            (Source::Payloads(p), Unit::Payload(i)) => (p[i].body.clone(), p[i].events),
            _ => unreachable!("a unit always comes from its own source"),
        };
        let signature = shared.signing.headers(&body);
        tally.sent += events;
        tally.deliveries += 1;
        shared.live.sent.fetch_add(events, Ordering::Relaxed);
        deliver(&shared, &mut conn, &mut tally, body, signature, events).await;
    }
    tally
}

/// Sends one body until it is acknowledged, refused for good, or out of retries; records the outcome.
async fn deliver(
    shared: &Shared,
    conn: &mut Option<Connection>,
    tally: &mut EventOutcomes,
    body: Bytes,
    signature: http::HeaderMap,
    events: u64,
) {
    let retry = shared.plan.retry;
    let live = &shared.live;
    let mut signature = Some(signature);
    let mut attempt = 0;
    loop {
        if attempt > 0 {
            tally.retries += 1;
            live.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(retry.backoff(attempt)).await;
        }
        let last = attempt >= retry.retries;
        attempt += 1;
        if conn.as_ref().is_none_or(Connection::is_closed) {
            match shared.client.connect().await {
                Ok(c) => *conn = Some(c),
                Err(e) => {
                    if failed_attempt(tally, live, e.to_string(), events, last) {
                        return;
                    }
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected above");
        let started = std::time::Instant::now();
        // The signed map itself goes with the request when no later attempt can need it; otherwise a copy does.
        // A GreenLake signature depends on the body alone, so its map is given away and made again for a retry.
        let headers = match signature.take() {
            Some(h) if last || shared.signing.body_only() => h,
            Some(h) => {
                let copy = h.clone();
                signature = Some(h);
                copy
            }
            None => shared.signing.headers(&body),
        };
        match shared.client.post_owned(c, body.clone(), headers).await {
            Ok(answer) => {
                tally.latency.record(started.elapsed());
                if answer.status.is_success() {
                    tally.acknowledged += events;
                    live.acknowledged.fetch_add(events, Ordering::Relaxed);
                    return;
                }
                tally.failed_attempts += 1;
                if last || !RetryPolicy::retryable(answer.status) {
                    *tally.refused.entry(answer.status.as_u16()).or_default() += events;
                    live.refused.fetch_add(events, Ordering::Relaxed);
                    return;
                }
            }
            Err(e) => {
                // The connection's state is unknown after an error; the next attempt starts afresh.
                *conn = None;
                if failed_attempt(tally, live, e.to_string(), events, last) {
                    return;
                }
            }
        }
    }
}

/// Counts an attempt that failed with `error`, and the body's events as failed when it was the `last`; returns
/// `last`, i.e. whether to give up.
fn failed_attempt(tally: &mut EventOutcomes, live: &Live, error: String, events: u64, last: bool) -> bool {
    tally.failed_attempts += 1;
    tally.last_error = Some(error);
    if last {
        tally.failed += events;
        live.failed.fetch_add(events, Ordering::Relaxed);
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let p = RetryPolicy { retries: 5, base: Duration::from_millis(100), max: Duration::from_millis(700) };
        let waits: Vec<u128> = (1..=6).map(|a| p.backoff(a).as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 700, 700, 700]);
        assert_eq!(p.backoff(200), Duration::from_millis(700));
    }

    #[test]
    fn only_temporary_refusals_are_retried() {
        for s in [500, 502, 503, 504, 408, 429] {
            assert!(RetryPolicy::retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [400, 401, 403, 404, 413] {
            assert!(!RetryPolicy::retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    fn schedule(limit: Option<u64>, rate: Option<f64>, duration: Option<Duration>) -> (Schedule, Instant) {
        let start = Instant::now();
        (Schedule { start, deadline: duration.map(|d| start + d), limit, rate, next_event: 0, next_payload: 0 }, start)
    }

    fn generated(batch: u64) -> Source {
        Source::Generated { generator: Generator::new(&[], Some(1)), batch }
    }

    #[test]
    fn count_is_split_into_batches_exactly() {
        let (mut s, now) = schedule(Some(25), None, None);
        let src = generated(10);
        let mut units = Vec::new();
        while let Some((u, due)) = s.claim(&src, now) {
            assert_eq!(due, None);
            units.push(u);
        }
        assert_eq!(
            units,
            vec![
                Unit::Generated { first: 0, n: 10 },
                Unit::Generated { first: 10, n: 10 },
                Unit::Generated { first: 20, n: 5 },
            ]
        );
    }

    #[test]
    fn rate_spaces_due_times_and_duration_ends_the_run() {
        let (mut s, start) = schedule(None, Some(4.0), Some(Duration::from_secs(1)));
        let src = generated(1);
        let mut dues = Vec::new();
        while let Some((_, due)) = s.claim(&src, start) {
            dues.push(due.unwrap() - start);
        }
        assert_eq!(
            dues,
            vec![Duration::ZERO, Duration::from_millis(250), Duration::from_millis(500), Duration::from_millis(750)]
        );
        let (mut s, start) = schedule(None, None, Some(Duration::from_secs(1)));
        assert!(s.claim(&src, start).is_some());
        assert!(s.claim(&src, start + Duration::from_secs(1)).is_none());
    }

    #[test]
    fn a_file_goes_once_through_unless_asked_for_more() {
        let payloads = Arc::new(vec![
            Payload { body: Bytes::from_static(b"{}"), events: 1 },
            Payload { body: Bytes::from_static(b"[{},{}]"), events: 2 },
        ]);
        let src = Source::Payloads(payloads);
        let (mut s, now) = schedule(None, None, None);
        let units: Vec<Unit> = std::iter::from_fn(|| s.claim(&src, now).map(|c| c.0)).collect();
        assert_eq!(units, vec![Unit::Payload(0), Unit::Payload(1)]);
        let (mut s, now) = schedule(Some(5), None, None);
        let units: Vec<Unit> = std::iter::from_fn(|| s.claim(&src, now).map(|c| c.0)).collect();
        assert_eq!(units, vec![Unit::Payload(0), Unit::Payload(1), Unit::Payload(0), Unit::Payload(1)]);
    }
}
