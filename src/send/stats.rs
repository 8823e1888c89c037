//! What a run measured: the latency histogram, the delivery tallies and the summary printed at the end.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Sub-buckets per power of two: 32 keeps every percentile within about 3% of the true value.
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

/// A fixed-size log-linear latency histogram in microseconds: constant memory whatever the run's length.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: Box::new([0; BUCKETS]), total: 0, max: 0 }
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram").field("total", &self.total).field("max", &self.max).finish()
    }
}

fn index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros();
    let shift = exp - SUB_BITS;
    let sub = ((v >> shift) as usize) & (SUB - 1);
    (shift as usize + 1) * SUB + sub
}

/// The largest value that falls in bucket `i`.
fn upper(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let shift = (i / SUB - 1) as u32;
    let sub = (i % SUB) as u64;
    let low = (SUB as u64 + sub) << shift;
    low + ((1u64 << shift) - 1)
}

impl Histogram {
    pub fn record(&mut self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        self.counts[index(us)] += 1;
        self.total += 1;
        self.max = self.max.max(us);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.max)
    }

    /// The value at quantile `q` (0..=1), rounded up to its bucket's bound and never above the maximum seen.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_micros(upper(i).min(self.max));
            }
        }
        self.max()
    }
}

/// What became of every event of a run. Each event ends in exactly one of acknowledged, refused or failed.
#[derive(Debug, Clone, Default)]
pub struct EventOutcomes {
    /// Events whose delivery was attempted.
    pub sent: u64,
    /// HTTP requests that carried events (a batch is one), retries excluded.
    pub deliveries: u64,
    pub acknowledged: u64,
    /// Events whose last answer was this non-2xx status.
    pub refused: BTreeMap<u16, u64>,
    /// Events whose last attempt ended without an HTTP answer (connection, TLS or timeout).
    pub failed: u64,
    /// Attempts made again after a failure.
    pub retries: u64,
    /// Attempts that failed, including those a retry later recovered.
    pub failed_attempts: u64,
    pub latency: Histogram,
    /// The last transport error seen, for the summary.
    pub last_error: Option<String>,
}

impl EventOutcomes {
    pub fn merge(&mut self, other: &EventOutcomes) {
        self.sent += other.sent;
        self.deliveries += other.deliveries;
        self.acknowledged += other.acknowledged;
        for (s, n) in &other.refused {
            *self.refused.entry(*s).or_default() += n;
        }
        self.failed += other.failed;
        self.retries += other.retries;
        self.failed_attempts += other.failed_attempts;
        self.latency.merge(&other.latency);
        if other.last_error.is_some() {
            self.last_error.clone_from(&other.last_error);
        }
    }

    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }

    pub fn unacknowledged(&self) -> u64 {
        self.sent - self.acknowledged
    }
}

/// The webhook states GreenLake shows, spelled as it shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum State {
    Pending,
    Active,
    Warning,
    Critical,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "Pending",
            State::Active => "Active",
            State::Warning => "Warning",
            State::Critical => "Critical",
        }
    }
}

/// GreenLake's reason when deliveries keep failing.
pub const DELIVERY_FAILURE: &str = "Failure in Event Deliveries";

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyMs {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// The end-of-run summary; its JSON form (`--json`) has stable keys.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub sent: u64,
    pub acknowledged: u64,
    /// Events refused, by HTTP status.
    pub refused: BTreeMap<String, u64>,
    pub failed: u64,
    pub retries: u64,
    pub deliveries: u64,
    pub latency_ms: LatencyMs,
    pub throughput_per_s: f64,
    pub elapsed_s: f64,
    pub state: State,
    pub state_reason: Option<String>,
    /// What the simulator saw that led to the state, when GreenLake's reason alone would not tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How long the handler took to answer the verification challenge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_ms: Option<f64>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl Summary {
    /// Builds the summary. `state` is the verification's outcome; deliveries may then degrade an Active webhook
    /// the way GreenLake does: a failed attempt gives Warning, an event dropped after its last retry Critical.
    pub fn new(
        tally: &EventOutcomes,
        elapsed: Duration,
        state: State,
        state_reason: Option<String>,
        detail: Option<String>,
    ) -> Summary {
        let (mut state, mut state_reason, mut detail) = (state, state_reason, detail);
        if state == State::Active {
            if tally.unacknowledged() > 0 {
                state = State::Critical;
                state_reason = Some(DELIVERY_FAILURE.to_owned());
                detail = Some(match &tally.last_error {
                    Some(e) if tally.failed > 0 => {
                        format!("{} of {} events not acknowledged; last error: {e}", tally.unacknowledged(), tally.sent)
                    }
                    _ => format!("{} of {} events not acknowledged", tally.unacknowledged(), tally.sent),
                });
            } else if tally.failed_attempts > 0 {
                state = State::Warning;
                detail =
                    Some(format!("{} delivery attempts failed and were retried successfully", tally.failed_attempts));
            }
        }
        let secs = elapsed.as_secs_f64();
        Summary {
            sent: tally.sent,
            acknowledged: tally.acknowledged,
            refused: tally.refused.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
            failed: tally.failed,
            retries: tally.retries,
            deliveries: tally.deliveries,
            latency_ms: LatencyMs {
                p50: ms(tally.latency.quantile(0.50)),
                p99: ms(tally.latency.quantile(0.99)),
                max: ms(tally.latency.max()),
            },
            throughput_per_s: if secs > 0.0 { (tally.acknowledged as f64 / secs * 10.0).round() / 10.0 } else { 0.0 },
            elapsed_s: (secs * 1000.0).round() / 1000.0,
            state,
            state_reason,
            detail,
            challenge_ms: None,
        }
    }

    /// Success as the exit status reports it: verified, and every event acknowledged.
    pub fn ok(&self) -> bool {
        matches!(self.state, State::Active | State::Warning) && self.sent == self.acknowledged
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("summary serialises")
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state_reason {
            Some(r) => writeln!(f, "webhook       {} ({r})", self.state.as_str())?,
            None => writeln!(f, "webhook       {}", self.state.as_str())?,
        }
        if let Some(d) = &self.detail {
            writeln!(f, "detail        {d}")?;
        }
        if let Some(ms) = self.challenge_ms {
            writeln!(f, "challenge     answered in {ms} ms")?;
        }
        if self.sent == 0 {
            return write!(f, "sent          no events");
        }
        writeln!(f, "sent          {} events in {} deliveries", self.sent, self.deliveries)?;
        writeln!(f, "acknowledged  {}", self.acknowledged)?;
        if self.refused.is_empty() {
            writeln!(f, "refused       0")?;
        } else {
            let parts: Vec<String> = self.refused.iter().map(|(s, n)| format!("{n} with status {s}")).collect();
            writeln!(f, "refused       {}", parts.join(", "))?;
        }
        writeln!(f, "failed        {}", self.failed)?;
        writeln!(f, "retries       {}", self.retries)?;
        writeln!(
            f,
            "latency       p50 {} ms, p99 {} ms, max {} ms",
            self.latency_ms.p50, self.latency_ms.p99, self.latency_ms.max
        )?;
        write!(f, "throughput    {} events/s over {} s", self.throughput_per_s, self.elapsed_s)
    }
}

#[cfg(test)]
mod tests;
