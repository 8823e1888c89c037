//! Unit tests for `crate::send::stats`.

use super::*;

#[test]
fn bucket_bounds_cover_every_value() {
    for v in (0..5000u64).chain([u32::MAX as u64, u64::MAX / 3, u64::MAX]) {
        let i = index(v);
        assert!(i < BUCKETS);
        assert!(upper(i) >= v, "{v} in bucket {i} bounded by {}", upper(i));
        if i > 0 {
            assert!(upper(i - 1) < v);
        }
    }
}

#[test]
fn quantiles_are_within_three_percent() {
    let mut h = Histogram::default();
    for us in 1..=100_000u64 {
        h.record(Duration::from_micros(us));
    }
    let close = |got: Duration, want: f64| {
        let got = got.as_micros() as f64;
        assert!((got - want).abs() / want < 0.03, "{got} vs {want}");
    };
    close(h.quantile(0.5), 50_000.0);
    close(h.quantile(0.99), 99_000.0);
    assert_eq!(h.max(), Duration::from_micros(100_000));
    assert_eq!(h.quantile(1.0), Duration::from_micros(100_000));
    assert_eq!(h.len(), 100_000);
    assert_eq!(Histogram::default().quantile(0.5), Duration::ZERO);
}

#[test]
fn merged_histograms_equal_one_fed_everything() {
    let (mut a, mut b, mut all) = (Histogram::default(), Histogram::default(), Histogram::default());
    for us in 0..1000u64 {
        let d = Duration::from_micros(us * 37 % 5000);
        if us % 2 == 0 { &mut a } else { &mut b }.record(d);
        all.record(d);
    }
    a.merge(&b);
    for q in [0.1, 0.5, 0.9, 0.99] {
        assert_eq!(a.quantile(q), all.quantile(q));
    }
    assert_eq!(a.max(), all.max());
}

fn tally() -> EventOutcomes {
    let mut t = EventOutcomes {
        sent: 10,
        deliveries: 10,
        acknowledged: 7,
        failed: 1,
        retries: 4,
        failed_attempts: 4,
        ..EventOutcomes::default()
    };
    t.refused.insert(500, 2);
    for ms in [1u64, 2, 3, 4, 5, 6, 7, 8, 9, 40] {
        t.latency.record(Duration::from_millis(ms));
    }
    t
}

#[test]
fn summary_maths_and_json_keys() {
    let s = Summary::new(&tally(), Duration::from_millis(500), State::Active, None, None);
    assert_eq!(s.state, State::Critical);
    assert_eq!(s.state_reason.as_deref(), Some(DELIVERY_FAILURE));
    assert_eq!(s.detail.as_deref(), Some("3 of 10 events not acknowledged"));
    assert_eq!(s.throughput_per_s, 14.0);
    assert_eq!(s.elapsed_s, 0.5);
    assert_eq!(s.latency_ms.max, 40.0);
    assert!((s.latency_ms.p50 - 5.0).abs() < 0.2, "{}", s.latency_ms.p50);
    assert!(!s.ok());
    let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "sent",
        "acknowledged",
        "refused",
        "failed",
        "retries",
        "latency_ms",
        "throughput_per_s",
        "elapsed_s",
        "state",
        "state_reason",
    ] {
        assert!(keys.contains(&k), "missing {k}");
    }
    assert_eq!(v["refused"]["500"], 2);
    assert_eq!(v["state"], "Critical");
    assert_eq!(v["latency_ms"]["max"], 40.0);
    let text = s.to_string();
    assert!(text.contains("webhook       Critical (Failure in Event Deliveries)"));
    assert!(text.contains("refused       2 with status 500"));
}

#[test]
fn recovered_failures_warn_and_clean_runs_stay_active() {
    let mut t = EventOutcomes { sent: 5, acknowledged: 5, failed_attempts: 2, retries: 2, ..EventOutcomes::default() };
    let s = Summary::new(&t, Duration::from_secs(1), State::Active, None, None);
    assert_eq!(s.state, State::Warning);
    assert!(s.ok());
    t.failed_attempts = 0;
    let s = Summary::new(&t, Duration::from_secs(1), State::Active, None, None);
    assert_eq!(s.state, State::Active);
    assert_eq!(s.state_reason, None);
    assert!(s.ok());
    let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
    assert!(v["state_reason"].is_null());
    assert!(v.get("detail").is_none());
    // A failed verification stays Critical with its own reason, and fails the run even with nothing sent.
    let s = Summary::new(
        &EventOutcomes::default(),
        Duration::ZERO,
        State::Critical,
        Some("HMAC validation failed. Please verify webhook secret.".into()),
        None,
    );
    assert_eq!(s.throughput_per_s, 0.0);
    assert!(!s.ok());
}

#[test]
fn tallies_merge() {
    let mut a = tally();
    a.merge(&tally());
    assert_eq!(a.sent, 20);
    assert_eq!(a.refused[&500], 4);
    assert_eq!(a.latency.len(), 20);
    assert_eq!(a.unacknowledged(), 6);
    assert_eq!(a.refused_total(), 4);
}
