//! One route's task: read its source (the journal after the cursor, or a durable JetStream consumer) in bounded
//! batches, deliver each matching event in order with retries, dead-letter what cannot be delivered, tell the
//! source what is done, and take redelivery requests.

use super::config::RouteConfig;
use super::files::{Redeliver, RouteFiles};
use super::source::Source;
use super::template::Scope;
use super::transport::{Message, Outcome, Transport};
use super::{Health, RouteStatus, RoutesOptions, MAX_BACKOFF};
use crate::cloudevent::EventFields;
use crate::record::{line_seq, Record};
use bytes::Bytes;
use std::io::{BufRead, Seek};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Attempts in a row after which a retrying route is shown as failing.
const FAILING_AFTER: u32 = 5;
/// The longest a delivered event's cursor stays in memory only while a batch is being delivered.
const CURSOR_EVERY: Duration = Duration::from_secs(1);

pub struct Runner {
    cfg: RouteConfig,
    files: RouteFiles,
    status: Arc<RouteStatus>,
    transport: Transport,
    source: Box<dyn Source>,
    cursor: u64,
    backoff_base: Duration,
    last_start: Option<Instant>,
}

/// An event ready to go.
struct Prepared {
    body: Bytes,
    id: String,
    source: String,
    ty: String,
}

enum Handled {
    /// Not for this route (not an event, a duplicate, or filtered out).
    Skipped,
    Delivered,
    Dead,
}

impl Runner {
    pub fn new(
        cfg: RouteConfig,
        files: RouteFiles,
        status: Arc<RouteStatus>,
        transport: Transport,
        options: &RoutesOptions,
        cursor: u64,
        source: Box<dyn Source>,
    ) -> Runner {
        Runner { cfg, files, status, transport, source, cursor, backoff_base: options.backoff_base, last_start: None }
    }

    pub async fn run(mut self) {
        let mut last_durable = Instant::now();
        loop {
            self.take_request().await;
            if self.files.requeued.exists() {
                self.deliver_requeued().await;
            }
            let batch = self.source.next_batch().await;
            let head = self.status.head.load(Ordering::Relaxed);
            self.status.head.store(head.max(self.source.head()), Ordering::Relaxed);
            if batch.is_empty() {
                self.save_state();
                continue;
            }
            let mut unwritten = false;
            for (seq, line) in batch {
                let done = !matches!(self.handle(&line).await, Handled::Skipped);
                // The cursor is made durable at the end of each batch, before a retry's wait, and at least every
                // CURSOR_EVERY within a long batch; not per delivery: two syncs per event would cost a fast
                // destination's route more than the delivery. A crash repeats at most that much (delivery is at
                // least once, with an Idempotency-Key for the destination to drop repeats).
                let durable = done && last_durable.elapsed() >= CURSOR_EVERY;
                self.advance(seq, durable).await;
                if durable {
                    last_durable = Instant::now();
                }
                unwritten = !durable;
            }
            if unwritten {
                self.advance(self.cursor, true).await;
                last_durable = Instant::now();
            }
            self.save_state();
        }
    }

    async fn advance(&mut self, seq: u64, write: bool) {
        self.cursor = seq;
        self.status.cursor.store(seq, Ordering::Relaxed);
        self.status.head.fetch_max(seq, Ordering::Relaxed);
        self.source.done(seq, write).await;
    }

    /// A request left by `glwatch routes redeliver`.
    async fn take_request(&mut self) {
        match self.files.take_request() {
            Ok(None) => {}
            Ok(Some(Redeliver::From(seq))) => {
                let after = seq.saturating_sub(1);
                tracing::info!("route {}: redelivering from seq {seq}", self.cfg.name);
                self.source.rewind(after).await;
                self.cursor = after;
                self.status.cursor.store(after, Ordering::Relaxed);
            }
            Ok(Some(Redeliver::Dead)) => {
                tracing::info!("route {}: redelivering its dead letters", self.cfg.name);
                if let Err(e) = self.requeue_dead() {
                    tracing::error!("route {}: cannot take back its dead letters: {e}", self.cfg.name);
                }
            }
            Err(e) => tracing::error!("route {}: {e}", self.cfg.name),
        }
    }

    /// Moves the dead letters to the requeued file (appending, if a redelivery is already under way).
    fn requeue_dead(&self) -> std::io::Result<()> {
        if !self.files.dead.exists() {
            return Ok(());
        }
        if !self.files.requeued.exists() {
            return std::fs::rename(&self.files.dead, &self.files.requeued);
        }
        let mut from = std::fs::File::open(&self.files.dead)?;
        let mut to = std::fs::OpenOptions::new().append(true).open(&self.files.requeued)?;
        std::io::copy(&mut from, &mut to)?;
        to.sync_data()?;
        std::fs::remove_file(&self.files.dead)
    }

    /// Delivers the requeued dead letters in order, one line at a time; removes the file when done. After a crash
    /// the file is delivered again from its start (at least once).
    async fn deliver_requeued(&mut self) {
        let mut pos = 0u64;
        loop {
            let next = read_line_at(&self.files.requeued, pos);
            let (line, len) = match next {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!("route {}: {}: {e}", self.cfg.name, self.files.requeued.display());
                    return;
                }
            };
            pos += len;
            // The dead letter is the record's line plus why it died; the record is taken back without those.
            let original = match Record::from_line(&line) {
                Ok(r) => r.to_line_seq(line_seq(line.as_bytes())),
                Err(_) => continue,
            };
            self.handle_inner(&original, false).await;
        }
        let _ = std::fs::remove_file(&self.files.requeued);
        self.status.dead_letters.store(self.files.dead_count(), Ordering::Relaxed);
        self.save_state();
    }

    async fn handle(&mut self, line: &str) -> Handled {
        self.handle_inner(line, true).await
    }

    async fn handle_inner(&mut self, line: &str, filtered: bool) -> Handled {
        let prepared = match self.prepare(line, filtered) {
            None => return Handled::Skipped,
            Some(Ok(p)) => p,
            Some(Err(reason)) => {
                self.dead_letter(line, &reason, 0);
                return Handled::Dead;
            }
        };
        match self.deliver(&prepared).await {
            Ok(()) => Handled::Delivered,
            Err((reason, attempts)) => {
                self.dead_letter(line, &reason, attempts);
                Handled::Dead
            }
        }
    }

    /// `None` when the line is not for this route; `Some(Err)` when its template fails.
    fn prepare(&self, line: &str, filtered: bool) -> Option<Result<Prepared, String>> {
        let Ok(Record::Event(e)) = Record::from_line(line) else { return None };
        if e.duplicate && filtered {
            return None;
        }
        let raw = e.event.get();
        let event: serde_json::Value = serde_json::from_str(raw).ok()?;
        // `of`: a GitHub or Stripe record keeps its id, type and source in its attributes, not in the payload.
        let fields = EventFields::of(&e);
        if filtered && !self.cfg.filter.matches(&fields) {
            return None;
        }
        let text = |k: &str| event.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let body = match &self.cfg.template {
            None => Bytes::copy_from_slice(raw.as_bytes()),
            Some(t) => {
                let record: serde_json::Value = serde_json::from_str(line).ok()?;
                let scope = Scope {
                    event: &event,
                    record: &record,
                    ty: &fields.ty,
                    user: fields.user.as_deref(),
                    summary: &fields.summary,
                };
                match t.render(&scope) {
                    Ok(b) => Bytes::from(b),
                    Err(e) => return Some(Err(format!("template: {e}"))),
                }
            }
        };
        let (id, source, ty) = match &e.attributes {
            Some(a) => (a.id.clone(), a.source.clone(), a.ty.clone()),
            None => (text("id"), text("source"), text("type")),
        };
        Some(Ok(Prepared { body, id, source, ty }))
    }

    /// Attempts until delivered, refused for good, or `retry_for` has passed since the first failure.
    async fn deliver(&mut self, p: &Prepared) -> Result<(), (String, u32)> {
        let message = Message { body: p.body.clone(), id: &p.id, source: &p.source, ty: &p.ty };
        let mut attempts = 0u32;
        let mut first_failure: Option<Instant> = None;
        loop {
            self.pace().await;
            attempts += 1;
            match self.transport.deliver(&message).await {
                Outcome::Delivered => {
                    self.status.delivered.fetch_add(1, Ordering::Relaxed);
                    self.status.set(Health::Ok, None);
                    if attempts > 1 {
                        tracing::info!("route {}: delivered {} after {attempts} attempts", self.cfg.name, p.id);
                    }
                    return Ok(());
                }
                Outcome::Permanent(reason) => {
                    self.status.failures.fetch_add(1, Ordering::Relaxed);
                    return Err((reason, attempts));
                }
                Outcome::Retry { reason, after } => {
                    self.status.failures.fetch_add(1, Ordering::Relaxed);
                    let health = if attempts >= FAILING_AFTER { Health::Failing } else { Health::Retrying };
                    self.status.set(health, Some(reason.clone()));
                    let since = *first_failure.get_or_insert_with(Instant::now);
                    let elapsed = since.elapsed();
                    if elapsed >= self.cfg.retry_for {
                        return Err((format!("still failing after {:?}: {reason}", self.cfg.retry_for), attempts));
                    }
                    if attempts == 1 || attempts.is_multiple_of(10) {
                        tracing::warn!("route {}: attempt {attempts} for {} failed: {reason}", self.cfg.name, p.id);
                    }
                    self.save_state();
                    // What this batch delivered so far must not be repeated after a crash during a long outage.
                    self.source.done(self.cursor, true).await;
                    let wait = backoff(self.backoff_base, attempts)
                        .max(after.unwrap_or_default())
                        .min(self.cfg.retry_for - elapsed);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Spaces request starts by `1 / max_rate`.
    async fn pace(&mut self) {
        if let Some(rate) = self.cfg.max_rate {
            if let Some(last) = self.last_start {
                tokio::time::sleep_until((last + Duration::from_secs_f64(1.0 / rate)).into()).await;
            }
            self.last_start = Some(Instant::now());
        }
    }

    fn dead_letter(&mut self, line: &str, reason: &str, attempts: u32) {
        tracing::warn!("route {}: dead-lettered seq {}: {reason}", self.cfg.name, line_seq(line.as_bytes()));
        let mut out = line.trim_end().strip_suffix('}').unwrap_or(line).to_owned();
        let extra = serde_json::json!({ "reason": reason, "attempts": attempts, "route": self.cfg.name });
        let extra = extra.to_string();
        out.push(',');
        out.push_str(&extra[1..]);
        if let Err(e) = self.files.append_dead(&out) {
            tracing::error!("route {}: cannot write the dead letter {}: {e}", self.cfg.name, self.files.dead.display());
        }
        self.status.dead_letters.fetch_add(1, Ordering::Relaxed);
        self.status.set(Health::Ok, Some(reason.to_owned()));
    }

    fn save_state(&self) {
        if let Err(e) = self.files.write_state(&self.status.saved()) {
            tracing::debug!("route {}: cannot write its state: {e}", self.cfg.name);
        }
    }
}

/// `base · 2^(attempt-1)`, at most [`MAX_BACKOFF`], then scaled by a random factor in [0.5, 1] so that routes
/// failing together do not retry together.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(MAX_BACKOFF);
    let mut r = [0u8; 2];
    let _ = getrandom::getrandom(&mut r);
    let jitter = 0.5 + f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX) / 2.0;
    exp.mul_f64(jitter)
}

/// The line starting at byte `pos` (without its newline) and how many bytes it took; `None` at the end.
fn read_line_at(path: &std::path::Path, pos: u64) -> std::io::Result<Option<(String, u64)>> {
    let mut f = std::fs::File::open(path)?;
    f.seek(std::io::SeekFrom::Start(pos))?;
    let mut r = std::io::BufReader::new(f);
    let mut buf = String::new();
    let n = r.read_line(&mut buf)?;
    if n == 0 || !buf.ends_with('\n') {
        return Ok(None);
    }
    Ok(Some((buf.trim_end().to_owned(), n as u64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let base = Duration::from_secs(1);
        for (attempt, full) in [(1, 1), (2, 2), (3, 4), (9, 256), (10, 300), (40, 300)] {
            let b = backoff(base, attempt);
            let full = Duration::from_secs(full);
            assert!(b >= full / 2 && b <= full, "attempt {attempt}: {b:?}");
        }
    }
}
