//! The receiver's metrics in OpenMetrics text: counted from committed records by a pipeline sink, timed around
//! the journal's writes and the webhook requests, and read from live counters when scraped.

use crate::pipeline::{Sink, Store};
use crate::record::Record;
use crate::server::certs::CertStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerifiedByLabel {
    verified_by: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// Every metric glwatch exposes. Counters are registered without `_total`: the OpenMetrics encoder adds it.
pub struct Metrics {
    /// Locked to register the NATS metrics once the link is set up, after the metrics were shared.
    registry: std::sync::Mutex<Registry>,
    events: Family<VerifiedByLabel, Counter>,
    duplicates: Counter,
    rejected: Family<StatusLabel, Counter>,
    challenges: Family<OutcomeLabel, Counter>,
    request_duration: Histogram,
    journal_sync_duration: Histogram,
    journal_bytes: Gauge,
    last_event: Gauge<f64, AtomicU64>,
    certificate_expiry: Gauge,
    subscribers: Gauge,
    dashboard_dropped: Counter,
    /// The served certificate, reloaded as it changes; its expiry is read when scraped.
    cert: std::sync::Mutex<Option<Arc<CertStatus>>>,
    /// The journal, sized from its segments when scraped (retention deletes segments behind the writer's back).
    journal_base: std::sync::Mutex<Option<std::path::PathBuf>>,
    /// Where the dashboard counts records it could not show; copied into the counter when scraped.
    dashboard_dropped_source: std::sync::Mutex<Option<Arc<AtomicU64>>>,
    /// Unix time of the last accepted event, for the health answer; 0 before the first.
    last_event_unix: AtomicI64,
    /// False after the journal's last write or sync failed; true again after one succeeds.
    journal_ok: AtomicBool,
    /// The NATS link with `--nats`: its counters are copied in when scraped.
    nats: std::sync::Mutex<Option<NatsMetrics>>,
    started: Instant,
    /// The routes of this process, read when scraped and by `/v1/routes`.
    routes: Arc<super::route_state::RouteCollector>,
}

/// The NATS metrics, registered only when glwatch publishes, and the state they are read from.
struct NatsMetrics {
    status: Arc<crate::broker::NatsStatus>,
    connected: Gauge,
    published: Counter,
    duplicates: Counter,
    failures: Counter,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::default();
        let events = Family::<VerifiedByLabel, Counter>::default();
        let duplicates = Counter::default();
        let rejected = Family::<StatusLabel, Counter>::default();
        let challenges = Family::<OutcomeLabel, Counter>::default();
        let request_duration = Histogram::new(exponential_buckets(0.0001, 2.0, 18));
        let journal_sync_duration = Histogram::new(exponential_buckets(0.00005, 2.0, 18));
        let journal_bytes = Gauge::default();
        let last_event = Gauge::<f64, AtomicU64>::default();
        let certificate_expiry = Gauge::default();
        let subscribers = Gauge::default();
        let dashboard_dropped = Counter::default();
        registry.register("glwatch_events", "Accepted events, re-deliveries not counted", events.clone());
        registry.register("glwatch_duplicates", "Re-deliveries of events already accepted", duplicates.clone());
        registry.register("glwatch_rejected", "Refused requests by HTTP status", rejected.clone());
        registry.register("glwatch_challenges", "Verification challenges by outcome", challenges.clone());
        registry.register(
            "glwatch_request_duration_seconds",
            "Time to answer a webhook request",
            request_duration.clone(),
        );
        registry.register(
            "glwatch_journal_sync_duration_seconds",
            "Time to make a group of records durable",
            journal_sync_duration.clone(),
        );
        registry.register("glwatch_journal_bytes", "Bytes in the journal's segments", journal_bytes.clone());
        registry.register(
            "glwatch_last_event_timestamp_seconds",
            "When the last event was accepted (Unix time)",
            last_event.clone(),
        );
        registry.register(
            "glwatch_certificate_expiry_timestamp_seconds",
            "When the served certificate expires (Unix time)",
            certificate_expiry.clone(),
        );
        registry.register("glwatch_watch_subscribers", "Clients following the watch stream", subscribers.clone());
        registry.register(
            "glwatch_dashboard_dropped",
            "Records the dashboard could not keep up with (still journaled)",
            dashboard_dropped.clone(),
        );
        let routes = Arc::new(super::route_state::RouteCollector::default());
        registry.register_collector(Box::new(routes.clone()));
        Arc::new(Metrics {
            registry: std::sync::Mutex::new(registry),
            events,
            duplicates,
            rejected,
            challenges,
            request_duration,
            journal_sync_duration,
            journal_bytes,
            last_event,
            certificate_expiry,
            subscribers,
            dashboard_dropped,
            dashboard_dropped_source: std::sync::Mutex::new(None),
            journal_base: std::sync::Mutex::new(None),
            cert: std::sync::Mutex::new(None),
            last_event_unix: AtomicI64::new(0),
            journal_ok: AtomicBool::new(true),
            nats: std::sync::Mutex::new(None),
            started: Instant::now(),
            routes,
        })
    }

    /// The text of a scrape, in OpenMetrics format.
    pub fn encode(&self) -> String {
        if let Some(source) = self.dashboard_dropped_source.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            let now = source.load(Ordering::Relaxed);
            let shown = self.dashboard_dropped.get();
            if now > shown {
                self.dashboard_dropped.inc_by(now - shown);
            }
        }
        if let Some(t) = self.certificate_expiry() {
            self.certificate_expiry.set(t);
        }
        if let Some(base) = self.journal_base.lock().unwrap_or_else(|p| p.into_inner()).as_deref() {
            self.journal_bytes.set(journal_size(base) as i64);
        }
        if let Some(n) = self.nats.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            n.connected.set(i64::from(n.status.ready()));
            let catch_up = |counter: &Counter, now: u64| counter.inc_by(now.saturating_sub(counter.get()));
            catch_up(&n.published, n.status.published());
            catch_up(&n.duplicates, n.status.duplicates());
            catch_up(&n.failures, n.status.failures());
        }
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(
            &mut out,
            &self.registry.lock().unwrap_or_else(|p| p.into_inner()),
        );
        out
    }

    /// Serves the NATS link's state: `glwatch_nats_connected` and its publish counters.
    pub fn watch_nats(&self, status: Arc<crate::broker::NatsStatus>) {
        let n = NatsMetrics {
            status,
            connected: Gauge::default(),
            published: Counter::default(),
            duplicates: Counter::default(),
            failures: Counter::default(),
        };
        let mut registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        registry.register(
            "glwatch_nats_connected",
            "1 while NATS is connected and the stream is there, so deliveries can be acknowledged",
            n.connected.clone(),
        );
        registry.register("glwatch_nats_published", "Events the JetStream stream took", n.published.clone());
        registry.register(
            "glwatch_nats_duplicates",
            "Events the JetStream stream already held (taken by another receiver, or before a 503)",
            n.duplicates.clone(),
        );
        registry.register(
            "glwatch_nats_publish_failures",
            "Groups of deliveries answered 503 because JetStream did not acknowledge them",
            n.failures.clone(),
        );
        *self.nats.lock().unwrap_or_else(|p| p.into_inner()) = Some(n);
    }

    /// The NATS link for /healthz, when glwatch publishes: whether deliveries can be acknowledged, and why not.
    pub fn nats_health(&self) -> Option<serde_json::Value> {
        let nats = self.nats.lock().unwrap_or_else(|p| p.into_inner());
        let s = &nats.as_ref()?.status;
        Some(serde_json::json!({
            "state": s.state(),
            "servers": s.servers,
            "stream": s.stream,
            "published": s.published(),
            "publish_failures": s.failures(),
            "last_error": s.last_error(),
        }))
    }

    /// False while NATS is configured but cannot acknowledge deliveries (they are answered 503).
    pub fn nats_ok(&self) -> bool {
        self.nats.lock().unwrap_or_else(|p| p.into_inner()).as_ref().is_none_or(|n| n.status.ready())
    }

    /// Reports the expiry of this certificate, as it is reloaded.
    pub fn watch_certificate(&self, status: Arc<CertStatus>) {
        *self.cert.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
    }

    /// When the served certificate expires (Unix time), if known.
    pub fn certificate_expiry(&self) -> Option<i64> {
        let cert = self.cert.lock().unwrap_or_else(|p| p.into_inner());
        cert.as_ref()?.not_after().map(time::OffsetDateTime::unix_timestamp)
    }

    /// Sizes the journal at `base` when scraped.
    pub fn size_journal(&self, base: &std::path::Path) {
        *self.journal_base.lock().unwrap_or_else(|p| p.into_inner()) = Some(base.to_owned());
    }

    /// Reads the dashboard's count of records not shown when scraped.
    pub fn count_dashboard_drops(&self, source: Arc<AtomicU64>) {
        *self.dashboard_dropped_source.lock().unwrap_or_else(|p| p.into_inner()) = Some(source);
    }

    /// Reports these routes in the metrics and on `/v1/routes`.
    pub fn watch_routes(&self, statuses: Vec<Arc<crate::routes::RouteStatus>>) {
        self.routes.watch(statuses);
    }

    pub fn routes(&self) -> &super::route_state::RouteCollector {
        &self.routes
    }

    pub fn subscribers(&self) -> &Gauge {
        &self.subscribers
    }

    pub fn uptime(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// Unix time of the last accepted event.
    pub fn last_event_unix(&self) -> Option<i64> {
        Some(self.last_event_unix.load(Ordering::Relaxed)).filter(|t| *t != 0)
    }

    pub fn journal_ok(&self) -> bool {
        self.journal_ok.load(Ordering::Relaxed)
    }

    fn count(&self, record: &Record) {
        match record {
            Record::Event(e) if e.duplicate => {
                self.duplicates.inc();
            }
            Record::Event(e) => {
                self.events.get_or_create(&VerifiedByLabel { verified_by: e.verified_by.as_str() }).inc();
                let t = e.received_at.unix_timestamp();
                self.last_event_unix.store(t, Ordering::Relaxed);
                self.last_event.set(e.received_at.unix_timestamp_nanos() as f64 / 1e9);
            }
            Record::Challenge(c) => {
                let outcome = if c.answered { "answered" } else { "refused" };
                self.challenges.get_or_create(&OutcomeLabel { outcome }).inc();
            }
            Record::Rejected(r) => {
                self.rejected.get_or_create(&StatusLabel { status: r.status }).inc_by(r.count.unwrap_or(1));
            }
        }
    }
}

/// Counts committed records into the metrics.
pub struct MetricsSink(pub Arc<Metrics>);

impl Sink for MetricsSink {
    fn emit(&mut self, record: &Record, _line: &str) {
        self.0.count(record);
    }
}

/// Bytes in the segments of the journal at `base` (0 when they cannot be listed).
fn journal_size(base: &std::path::Path) -> u64 {
    crate::journal::segments(base)
        .map(|list| list.iter().filter_map(|(_, p)| std::fs::metadata(p).ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// The journal with its writes timed and its health tracked.
pub struct MeteredStore {
    inner: Box<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    pub fn new(inner: Box<dyn Store>, metrics: Arc<Metrics>) -> MeteredStore {
        MeteredStore { inner, metrics }
    }

    fn outcome<T>(&self, result: io::Result<T>) -> io::Result<T> {
        self.metrics.journal_ok.store(result.is_ok(), Ordering::Relaxed);
        result
    }
}

impl Store for MeteredStore {
    fn append(&mut self, lines: &[u8], keys: &[crate::pipeline::DedupKey]) -> io::Result<()> {
        let result = self.inner.append(lines, keys);
        self.outcome(result)
    }

    fn sync(&mut self) -> io::Result<()> {
        let started = Instant::now();
        let result = self.inner.sync();
        self.metrics.journal_sync_duration.observe(started.elapsed().as_secs_f64());
        self.outcome(result)
    }

    fn last_seq(&self) -> u64 {
        self.inner.last_seq()
    }
}

impl crate::pipeline::RequestObserver for Metrics {
    fn observe_request(&self, started: Instant) {
        self.request_duration.observe(started.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{EventRecord, RejectedRecord, VerifiedBy};

    #[test]
    fn names_are_exactly_the_documented_ones() {
        let m = Metrics::new();
        let mut sink = MetricsSink(m.clone());
        let event = |duplicate| {
            Record::Event(EventRecord {
                source_name: None,
                attributes: None,
                received_at: crate::record::now(),
                peer: "p".into(),
                via: None,
                verified_by: VerifiedBy::Primary,
                duplicate,
                event: serde_json::value::RawValue::from_string("{}".into()).unwrap(),
            })
        };
        sink.emit(&event(false), "");
        sink.emit(&event(true), "");
        let rejected = Record::Rejected(RejectedRecord {
            source_name: None,
            received_at: crate::record::now(),
            peer: "p".into(),
            via: None,
            status: 401,
            reason: "r".into(),
            method: None,
            path: None,
            count: Some(5),
        });
        sink.emit(&rejected, "");
        let text = m.encode();
        for line in [
            "glwatch_events_total{verified_by=\"primary\"} 1",
            "glwatch_duplicates_total 1",
            "glwatch_rejected_total{status=\"401\"} 5",
            "# TYPE glwatch_request_duration_seconds histogram",
            "# TYPE glwatch_journal_sync_duration_seconds histogram",
            "glwatch_journal_bytes 0",
            "glwatch_watch_subscribers 0",
            "glwatch_dashboard_dropped_total 0",
            "# TYPE glwatch_certificate_expiry_timestamp_seconds gauge",
            "# TYPE glwatch_last_event_timestamp_seconds gauge",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} missing in:\n{text}");
        }
    }
}
