//! Unit tests for `crate::send::catalog`.

use super::*;
use crate::cloudevent::parse_body;
use serde_json::Value;
use std::collections::HashSet;

fn fixture(name: &str) -> Value {
    let bytes = std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The JSON "shape": object keys in order and the kind of every value, recursively. Arrays keep only their
/// element kinds, `null` and strings are interchangeable (the sample has nulls where names may appear).
fn shape(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{}", shape(v))).collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(_) => "array".into(),
        Value::String(_) | Value::Null => "string".into(),
        Value::Number(n) if n.is_f64() => "float".into(),
        Value::Number(_) => "int".into(),
        Value::Bool(_) => "bool".into(),
    }
}

fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-03-04 05:06:07.089 UTC)
}

fn one_of(ty: EventType, seed: u64) -> Vec<u8> {
    Generator::new(&[ty], Some(seed)).event(0, now())
}

#[test]
fn every_generated_event_is_a_valid_cloudevent_with_its_type() {
    for ty in EventType::ALL {
        for seed in 0..200 {
            let bytes = one_of(ty, seed);
            let parsed =
                parse_body(&bytes).unwrap_or_else(|e| panic!("{ty:?}: {e}: {}", String::from_utf8_lossy(&bytes)));
            assert_eq!(parsed.len(), 1);
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(v["type"], ty.type_name());
            assert_eq!(v["time"], "2026-03-04T05:06:07.089Z");
            assert_eq!(v["specversion"], "1.0");
            assert!(v["data"].is_object());
        }
    }
}

#[test]
fn audit_log_has_the_sample_shape() {
    let sample = shape(&fixture("audit-log-created.json"));
    let mut categories = HashSet::new();
    let mut users = HashSet::new();
    let mut ips = HashSet::new();
    let mut descriptions = HashSet::new();
    let g = Generator::new(&[EventType::AuditLogCreated], Some(7));
    for i in 0..500 {
        let v: Value = serde_json::from_slice(&g.event(i, now())).unwrap();
        assert_eq!(shape(&v), sample);
        assert_eq!(v["id"], v["data"]["id"]);
        assert_eq!(v["id"].as_str().unwrap().len(), 20);
        assert_eq!(v["data"]["created_at"], 1_772_600_767_089i64);
        assert_eq!(v["data"]["updated_at"], 1_772_600_767_089i64);
        let ip = v["data"]["additional_info"]["ip_address"].as_str().unwrap();
        let addr: std::net::Ipv4Addr = ip.parse().unwrap();
        assert!(!addr.is_private() && !addr.is_loopback());
        categories.insert(v["data"]["category"].as_str().unwrap().to_owned());
        users.insert(v["data"]["user"]["username"].as_str().unwrap().to_owned());
        ips.insert(ip.to_owned());
        descriptions.insert(v["data"]["description"].as_str().unwrap().to_owned());
    }
    assert!(categories.len() >= 5, "{categories:?}");
    assert!(users.len() >= 6);
    assert!(ips.len() > 400);
    assert!(descriptions.len() > 100);
}

#[test]
fn expiring_subscription_has_the_sample_shape_and_documented_lead_times() {
    let sample = shape(&fixture("expiring-subscriptions.json"));
    let g = Generator::new(&[EventType::ExpiringSubscriptions], Some(3));
    let mut lead_days = HashSet::new();
    for i in 0..200 {
        let v: Value = serde_json::from_slice(&g.event(i, now())).unwrap();
        assert_eq!(shape(&v), sample);
        let end = v["data"]["subscriptionendinsecs"].as_i64().unwrap();
        let days = (end - now().unix_timestamp()) / 86_400;
        lead_days.insert(days);
        let expiry = OffsetDateTime::from_unix_timestamp(end).unwrap();
        assert_eq!(
            v["data"]["expirydate"],
            format!("{:02}/{:02}/{}", expiry.month() as u8, expiry.day(), expiry.year())
        );
    }
    assert_eq!(lead_days, HashSet::from([90, 60, 30, 1]));
}

#[test]
fn challenge_has_the_sample_shape() {
    let request = uuid_v4();
    let body = challenge(&request, "3009de2825f211ec8a84fedebcb4a754", now());
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(shape(&v), shape(&fixture("challenge.json")));
    assert_eq!(v["data"]["challengeRequest"], request.as_str());
    assert_eq!(v["time"], "2026-03-04T05:06:07Z");
    assert_eq!(crate::greenlake::challenge_request(&body).as_deref(), Some(request.as_str()));
    assert!(crate::greenlake::ChallengeGuard.check(&request).is_ok());
    assert_ne!(uuid_v4(), request);
    parse_body(&body).unwrap();
}

#[test]
fn ids_are_unique_and_runs_reproducible() {
    let g = Generator::new(&[], Some(42));
    let mut ids = HashSet::new();
    for i in 0..20_000 {
        let v: Value = serde_json::from_slice(&g.event(i, now())).unwrap();
        assert!(ids.insert(v["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(g.event(17, now()), Generator::new(&[], Some(42)).event(17, now()));
    assert_ne!(g.event(17, now()), Generator::new(&[], Some(43)).event(17, now()));
    assert_ne!(Generator::new(&[], None).event(0, now()), Generator::new(&[], None).event(0, now()));
}

#[test]
fn default_mix_covers_every_type_led_by_audit_logs() {
    let g = Generator::new(&[], Some(1));
    let mut counts = std::collections::HashMap::new();
    for i in 0..10_000 {
        *counts.entry(g.type_of(i)).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), EventType::ALL.len());
    assert!(counts[&EventType::AuditLogCreated] > 7_000);
}

#[test]
fn batch_is_an_array_of_the_same_events() {
    let g = Generator::new(&[], Some(5));
    let batch = g.batch(10, 3, now());
    let parsed = parse_body(&batch).unwrap();
    assert_eq!(parsed.len(), 3);
    for (k, p) in parsed.iter().enumerate() {
        assert_eq!(p.raw.get().as_bytes(), g.event(10 + k as u64, now()));
    }
}

#[test]
fn type_names_resolve_from_full_names_and_short_parts() {
    assert_eq!(EventType::parse("audit-log").unwrap(), vec![EventType::AuditLogCreated]);
    assert_eq!(
        EventType::parse("com.hpe.greenlake.subscriptions.v1.expiring-subscriptions").unwrap(),
        vec![EventType::ExpiringSubscriptions]
    );
    assert_eq!(EventType::parse("serviceprovision.provisioned").unwrap(), vec![EventType::ServiceProvisioned]);
    assert_eq!(EventType::parse("unprovision").unwrap(), vec![EventType::ServiceUnprovisioned]);
    assert_eq!(EventType::parse("service-provision").unwrap().len(), 2);
    assert_eq!(EventType::parse("service-registry").unwrap().len(), 2);
    assert_eq!(EventType::parse("all").unwrap().len(), 6);
    let err = EventType::parse("nope").unwrap_err().to_string();
    assert!(err.contains("unknown event type \"nope\""));
    assert!(err.contains("com.hpe.greenlake.audit-log.v1.logs.created"));
    assert!(EventType::parse("").is_err());
}

#[test]
fn audit_log_events_are_about_a_kilobyte() {
    let g = Generator::new(&[EventType::AuditLogCreated], Some(9));
    for i in 0..100 {
        let len = g.event(i, now()).len();
        assert!((600..1200).contains(&len), "{len}");
    }
}

#[test]
fn numbers_and_times_are_written_like_the_formatter_would() {
    for v in [0, 7, 10, 99, 100, 1_772_600_767_089, u64::MAX] {
        let mut s = String::new();
        content::push_u64(&mut s, v);
        assert_eq!(s, v.to_string());
    }
    let mut s = String::new();
    content::rfc3339(&mut s, time::macros::datetime!(0042-01-02 03:04:05.006 UTC), true);
    assert_eq!(s, "0042-01-02T03:04:05.006Z");
}
