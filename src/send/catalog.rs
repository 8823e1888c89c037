//! The simulated event catalog: realistic GreenLake CloudEvents of every documented type, and the challenge.
//!
//! Events are written straight into a byte buffer from templates rather than built as JSON trees: the simulator
//! doubles as the benchmark's load generator and must produce well over 100k audit-log events a second.
//! Event `i` of a run depends only on the run's seed and `i`, so a seeded run is reproducible whatever the
//! concurrency, and ids differ between runs because the seed does.

use std::fmt::Write as _;
use time::OffsetDateTime;

/// The documented event types the simulator can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    AuditLogCreated,
    ExpiringSubscriptions,
    ServiceProvisioned,
    ServiceUnprovisioned,
    ServiceOfferOnboarded,
    ServiceOfferRegionDeleted,
}

const PREFIX: &str = "com.hpe.greenlake.";

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::AuditLogCreated,
        EventType::ExpiringSubscriptions,
        EventType::ServiceProvisioned,
        EventType::ServiceUnprovisioned,
        EventType::ServiceOfferOnboarded,
        EventType::ServiceOfferRegionDeleted,
    ];

    /// The CloudEvent `type` GreenLake sends.
    pub fn type_name(self) -> &'static str {
        match self {
            EventType::AuditLogCreated => "com.hpe.greenlake.audit-log.v1.logs.created",
            EventType::ExpiringSubscriptions => "com.hpe.greenlake.subscriptions.v1.expiring-subscriptions",
            EventType::ServiceProvisioned => "com.hpe.greenlake.service-provision.v1.serviceprovision.provisioned",
            EventType::ServiceUnprovisioned => "com.hpe.greenlake.service-provision.v1.serviceprovision.unprovision",
            EventType::ServiceOfferOnboarded => "com.hpe.greenlake.service-registry.v1.serviceoffer.onboarded",
            EventType::ServiceOfferRegionDeleted => "com.hpe.greenlake.service-registry.v1.serviceofferregion.delete",
        }
    }

    /// How often each type appears in a default mixed stream: audit logs dominate real workspaces.
    fn weight(self) -> u32 {
        match self {
            EventType::AuditLogCreated => 80,
            EventType::ExpiringSubscriptions => 8,
            _ => 3,
        }
    }

    /// Resolves what a user typed after `--type`: a full type name, or any part of the name after
    /// `com.hpe.greenlake.` (`audit-log`, `expiring-subscriptions`, `onboarded`). A part shared by several types
    /// (`service-provision`) selects them all; `all` selects every type.
    pub fn parse(text: &str) -> Result<Vec<EventType>, UnknownEventType> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("all") {
            return Ok(Self::ALL.to_vec());
        }
        if let Some(t) = Self::ALL.iter().find(|t| t.type_name() == text) {
            return Ok(vec![*t]);
        }
        let wanted = text.strip_prefix(PREFIX).unwrap_or(text);
        let found: Vec<EventType> = Self::ALL
            .iter()
            .copied()
            .filter(|t| !wanted.is_empty() && t.type_name()[PREFIX.len()..].contains(wanted))
            .collect();
        if found.is_empty() {
            return Err(UnknownEventType { text: text.to_owned() });
        }
        Ok(found)
    }
}

/// What `--type` named matches no event type; the message lists the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {text:?}; known types: {}", known_types())]
pub struct UnknownEventType {
    pub text: String,
}

fn known_types() -> String {
    EventType::ALL.iter().map(|t| t.type_name()).collect::<Vec<_>>().join(", ")
}

/// SplitMix64: tiny, fast and good enough for realistic-looking data; not for anything secret.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A generator seeded from the operating system, for runs without `--seed`.
    pub fn from_entropy() -> Rng {
        Rng(random_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0). The modulo bias is irrelevant at these table sizes.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.next_u64() % den < num
    }

    /// A version 4 UUID in canonical lower-case form.
    pub fn uuid(&mut self) -> String {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        format_uuid(b)
    }
}

/// The SplitMix64 finaliser: a bijection on u64 that scatters nearby inputs.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).expect("the operating system's random source is available");
    u64::from_le_bytes(b)
}

fn format_uuid(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A fresh random version 4 UUID from the operating system's random source: what a challengeRequest must be,
/// since a predictable challenge could be answered without the secret.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).expect("the operating system's random source is available");
    format_uuid(b)
}

/// Produces the events of one run.
#[derive(Debug, Clone)]
pub struct Generator {
    seed: u64,
    /// Cumulative weights over `types`, for picking a type with one random draw.
    types: Vec<(u32, EventType)>,
    total_weight: u32,
}

impl Generator {
    /// `types` empty means the default mix of every type. Without a seed the run's ids are fresh.
    pub fn new(types: &[EventType], seed: Option<u64>) -> Generator {
        let types: Vec<EventType> = if types.is_empty() {
            EventType::ALL.to_vec()
        } else {
            let mut v = Vec::new();
            for t in types {
                if !v.contains(t) {
                    v.push(*t);
                }
            }
            v
        };
        let mut acc = 0;
        let types = types
            .into_iter()
            .map(|t| {
                acc += t.weight();
                (acc, t)
            })
            .collect();
        Generator { seed: seed.unwrap_or_else(random_u64), types, total_weight: acc }
    }

    fn rng_for(&self, index: u64) -> Rng {
        Rng::new(self.seed ^ mix(index.wrapping_add(0x632b_e59b_d9b4_e019)))
    }

    /// The type of event `index`.
    pub fn type_of(&self, index: u64) -> EventType {
        let mut rng = self.rng_for(index);
        self.pick_type(&mut rng)
    }

    fn pick_type(&self, rng: &mut Rng) -> EventType {
        if self.types.len() == 1 {
            return self.types[0].1;
        }
        let r = (rng.next_u64() % self.total_weight as u64) as u32;
        self.types.iter().find(|(acc, _)| r < *acc).map(|(_, t)| *t).unwrap_or(self.types[0].1)
    }

    /// Appends event `index` of the run, compact JSON, stamped with `now`.
    pub fn write_event(&self, index: u64, now: OffsetDateTime, out: &mut String) {
        let mut rng = self.rng_for(index);
        let ty = self.pick_type(&mut rng);
        write_event(ty, &mut rng, now, out);
    }

    /// Event `index` as bytes.
    pub fn event(&self, index: u64, now: OffsetDateTime) -> Vec<u8> {
        let mut s = String::with_capacity(1024);
        self.write_event(index, now, &mut s);
        s.into_bytes()
    }

    /// Events `first..first + n` as one GreenLake batch: a JSON array.
    pub fn batch(&self, first: u64, n: u64, now: OffsetDateTime) -> Vec<u8> {
        let mut s = String::with_capacity(1024 * n as usize + 2);
        s.push('[');
        for i in 0..n {
            if i > 0 {
                s.push(',');
            }
            self.write_event(first + i, now, &mut s);
        }
        s.push(']');
        s.into_bytes()
    }
}

/// Writes one event of type `ty`, drawing its content from `rng`.
pub fn write_event(ty: EventType, rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    match ty {
        EventType::AuditLogCreated => audit_log(rng, now, out),
        EventType::ExpiringSubscriptions => expiring_subscription(rng, now, out),
        EventType::ServiceProvisioned | EventType::ServiceUnprovisioned => service_provision(ty, rng, now, out),
        EventType::ServiceOfferOnboarded => service_offer_onboarded(rng, now, out),
        EventType::ServiceOfferRegionDeleted => service_offer_region_delete(rng, now, out),
    }
}

/// The verification challenge GreenLake posts, shaped like its published sample (same keys, same order).
pub fn challenge(challenge_request: &str, workspace_id: &str, now: OffsetDateTime) -> Vec<u8> {
    let mut s = String::with_capacity(400);
    s.push_str("{\"data\":{\"challengeRequest\":");
    json_str(&mut s, challenge_request);
    s.push_str("},\"datacontenttype\":\"application/json\",\"id\":");
    json_str(&mut s, &uuid_v4());
    s.push_str(",\"source\":\"https://global.api.greenlake.hpe.com/events\",\"specversion\":\"1.0\",\"subject\":");
    json_str(&mut s, workspace_id);
    s.push_str(",\"time\":\"");
    rfc3339(&mut s, now, false);
    s.push_str("\",\"type\":\"com.hpe.greenlake.events.v1beta1.webhooks.verification\"}");
    s.into_bytes()
}

// The content tables. Names use the documentation domains (hpedev.io, example.com) so nothing looks like a
// real person or customer.
const USERS: &[&str] = &[
    "john.doe@hpedev.io",
    "jane.smith@hpedev.io",
    "ops.admin@example.com",
    "li.wei@example.com",
    "maria.garcia@example.com",
    "sam.taylor@hpedev.io",
    "noah.kim@example.com",
    "automation-client@example.com",
];
const WORKSPACES: &[(&str, &str)] = &[
    ("3009de2825f211ec8a84fedebcb4a754", "HPEDEV -GLCP- Hackshack"),
    ("7c1f0e2a9b3d11eebf2a0242ac120003", "Example Corp Production"),
    ("a4d2c6e81f7a4c0f9e3b5d7c2a1e8f60", "Example Corp Lab"),
];
const SERVICES: &[(&str, &str, &str)] = &[
    ("Compute Ops Management", "compute-ops-management", "COMPUTE"),
    ("Aruba Central", "aruba-central", "NETWORKING"),
    ("Data Services", "data-services", "STORAGE"),
    ("Backup and Recovery", "backup-and-recovery", "STORAGE"),
    ("Private Cloud Business Edition", "private-cloud-business", "COMPUTE"),
];
const REGIONS: &[&str] = &["us-west", "us-east", "eu-central", "ap-northeast"];
const ROLES: &[&str] = &["Workspace Administrator", "Workspace Observer", "Compute Ops Management Operator"];
const SUBSCRIPTIONS: &[(&str, &str, &str, &str)] = &[
    ("S0B80AAE", "ENHANCED PROLIANT", "Compute Subscription", "DEVICE"),
    ("R7A06AAE", "STANDARD PROLIANT", "Compute Subscription", "DEVICE"),
    ("Q9Y59AAE", "FOUNDATION AP", "Networking Subscription", "DEVICE"),
    ("S1T37AAE", "BACKUP AND RECOVERY", "Storage Subscription", "SERVICE"),
];
const COMPANIES: &[&str] = &["John Doe Inc.", "Example Corp", "Hackshack Labs"];

/// Appends `s` as a JSON string literal.
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    // Catalog texts rarely need an escape: copy them whole when none does.
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// RFC 3339 in UTC, with milliseconds or whole seconds (both forms appear in GreenLake's samples).
fn rfc3339(out: &mut String, t: OffsetDateTime, millis: bool) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    if millis {
        let _ = write!(out, ".{:03}", t.millisecond());
    }
    out.push('Z');
}

fn epoch_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// An Elasticsearch-style document id like the audit log's (`uJoQ5JMB_HAPiq2sSllt`): 20 URL-safe characters,
/// 120 random bits.
fn es_id(rng: &mut Rng) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::with_capacity(20);
    let (mut a, mut b) = (rng.next_u64(), rng.next_u64());
    for i in 0..20 {
        let word = if i < 10 { &mut a } else { &mut b };
        s.push(ALPHABET[(*word & 63) as usize] as char);
        *word >>= 6;
    }
    s
}

/// A public-looking IPv4 address (outside the private, loopback and multicast ranges).
fn public_ip(rng: &mut Rng) -> String {
    const FIRST: &[u8] = &[15, 16, 20, 34, 52, 64, 82, 91, 104, 131, 145, 152, 185, 194, 203];
    let r = rng.next_u64();
    format!(
        "{}.{}.{}.{}",
        FIRST[(r % FIRST.len() as u64) as usize],
        (r >> 8) as u8,
        (r >> 16) as u8,
        ((r >> 24) as u8).max(1)
    )
}

fn serial(rng: &mut Rng) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    let mut s = String::from(*rng.pick(&["CZ", "SG", "MX", "CN"]));
    for _ in 0..8 {
        s.push(ALNUM[rng.below(ALNUM.len())] as char);
    }
    s
}

fn subscription_key(rng: &mut Rng) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut s = String::from("OFKIA");
    for _ in 0..11 {
        s.push(ALNUM[rng.below(ALNUM.len())] as char);
    }
    s
}

/// One audit-log description and its category. Each audit-log category GreenLake shows has a few typical lines.
fn audit_description(rng: &mut Rng, user: &str) -> (&'static str, String) {
    let other = *rng.pick(USERS);
    let (service, _, _) = *rng.pick(SERVICES);
    match rng.below(14) {
        0..=3 => ("user_management", format!("User {user} logged in")),
        4 | 5 => ("user_management", format!("User {user} logged out")),
        6 => ("user_management", format!("User {other} invited to the workspace")),
        7 => ("user_management", format!("Role {} assigned to user {other}", rng.pick(ROLES))),
        8 => ("device_management", format!("Device {} added to the workspace", serial(rng))),
        9 => ("device_management", format!("Device {} assigned to {service}", serial(rng))),
        10 => ("subscription_management", format!("Subscription {} added", subscription_key(rng))),
        11 => (
            "subscription_management",
            format!("Subscription {} assigned to device {}", subscription_key(rng), serial(rng)),
        ),
        12 => ("service_catalog", format!("Service {service} provisioned in region {}", rng.pick(REGIONS))),
        _ => ("authentication", format!("API client credential created by {user}")),
    }
}

/// `com.hpe.greenlake.audit-log.v1.logs.created`, with the keys of GreenLake's sample in the same order.
fn audit_log(rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    let id = es_id(rng);
    let user = *rng.pick(USERS);
    let (workspace_id, account_name) = *rng.pick(WORKSPACES);
    let (category, description) = audit_description(rng, user);
    let ip = public_ip(rng);
    let ms = epoch_millis(now);
    out.push_str("{\"specversion\":\"1.0\",\"id\":\"");
    out.push_str(&id);
    out.push_str("\",\"source\":\"//global.api.greenlake.hpe.com/audit-log\",\"type\":\"com.hpe.greenlake.audit-log.v1.logs.created\",\"datacontenttype\":\"application/json\",\"dataschema\":\"https://developer.greenlake.hpe.com/docs/greenlake/services/audit-logs/public/catalog/audit-log-event-latest/paths/Audit%20Log%20Created/post/\",\"time\":\"");
    rfc3339(out, now, true);
    out.push_str("\",\"data\":{\"id\":\"");
    out.push_str(&id);
    out.push_str("\",\"user\":{\"username\":");
    json_str(out, user);
    out.push_str("},\"workspace\":{\"id\":\"");
    out.push_str(workspace_id);
    out.push_str("\",\"workspace_name\":null,\"workspace_type\":null},\"application\":{\"id\":\"");
    if category == "service_catalog" || category == "device_management" {
        out.push_str(&rng.uuid());
    } else {
        out.push_str("00000000-0000-0000-0000-000000000000");
    }
    out.push_str("\"},\"category\":\"");
    out.push_str(category);
    out.push_str("\",\"description\":");
    json_str(out, &description);
    let _ = write!(
        out,
        ",\"created_at\":{ms},\"updated_at\":{ms},\"additional_info\":{{\"ip_address\":\"{ip}\",\"account_name\":"
    );
    json_str(out, account_name);
    let _ = write!(out, ",\"ip_address_str\":\"{ip}\"}},\"has_details\":{}}}}}", rng.chance(1, 4));
}

/// `com.hpe.greenlake.subscriptions.v1.expiring-subscriptions`, fired 90, 60, 30 and 1 days before expiry, with
/// the lower-case keys of GreenLake's captured sample.
fn expiring_subscription(rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    let days = *rng.pick(&[90i64, 60, 30, 1]);
    let expiry = now + time::Duration::days(days);
    let (sku, tier, kind, product) = *rng.pick(SUBSCRIPTIONS);
    let quantity = *rng.pick(&[1u32, 10, 25, 50, 100, 500]);
    let (workspace_id, _) = *rng.pick(WORKSPACES);
    out.push_str("{\"specversion\":\"1.0\",\"id\":\"");
    out.push_str(&rng.uuid());
    out.push_str("\",\"source\":\"https://global.api.greenlake.hpe.com/subscriptions\",\"type\":\"com.hpe.greenlake.subscriptions.v1.expiring-subscriptions\",\"datacontenttype\":\"application/json\",\"time\":\"");
    rfc3339(out, now, true);
    out.push_str("\",\"data\":{\"key\":\"");
    out.push_str(&subscription_key(rng));
    let _ = write!(
        out,
        "\",\"expirydate\":\"{:02}/{:02}/{:04}\",\"sku\":\"{sku}\",\"licensetier\":\"{tier}\",\"quantity\":{quantity},\"username\":",
        expiry.month() as u8,
        expiry.day(),
        expiry.year()
    );
    let company = COMPANIES[rng.below(COMPANIES.len())];
    json_str(out, company);
    let _ = write!(
        out,
        ",\"subscriptionendinsecs\":{},\"subscriptiontype\":\"{kind}\",\"producttype\":\"{product}\",\"platformcustomerid\":\"{workspace_id}\",\"devices\":[]}}}}",
        expiry.unix_timestamp()
    );
}

/// Opens a service-catalog event. The catalog publishes no sample payload for these types, so `data` carries the
/// fields of the service catalog API's own resources (service provisions, service offers, offer regions).
fn catalog_head(out: &mut String, ty: EventType, source: &str, rng: &mut Rng, now: OffsetDateTime) {
    out.push_str("{\"specversion\":\"1.0\",\"id\":\"");
    out.push_str(&rng.uuid());
    out.push_str("\",\"source\":\"");
    out.push_str(source);
    out.push_str("\",\"type\":\"");
    out.push_str(ty.type_name());
    out.push_str("\",\"datacontenttype\":\"application/json\",\"time\":\"");
    rfc3339(out, now, true);
    out.push_str("\",\"data\":");
}

fn service_provision(ty: EventType, rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    catalog_head(out, ty, "https://global.api.greenlake.hpe.com/service-catalog", rng, now);
    let (name, slug, _) = *rng.pick(SERVICES);
    let (workspace_id, _) = *rng.pick(WORKSPACES);
    let status = if ty == EventType::ServiceProvisioned { "PROVISIONED" } else { "UNPROVISIONED" };
    let _ = write!(
        out,
        "{{\"id\":\"{}\",\"serviceOfferId\":\"{}\",\"serviceOfferName\":\"{name}\",\"slug\":\"{slug}\",\"workspaceId\":\"{workspace_id}\",\"region\":\"{}\",\"status\":\"{status}\",\"serviceManagerId\":\"{}\",\"updatedAt\":\"",
        rng.uuid(),
        rng.uuid(),
        rng.pick(REGIONS),
        rng.uuid()
    );
    rfc3339(out, now, true);
    out.push_str("\"}}");
}

fn service_offer_onboarded(rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    catalog_head(
        out,
        EventType::ServiceOfferOnboarded,
        "https://global.api.greenlake.hpe.com/service-catalog",
        rng,
        now,
    );
    let (name, slug, category) = *rng.pick(SERVICES);
    let _ = write!(
        out,
        "{{\"id\":\"{}\",\"name\":\"{name}\",\"slug\":\"{slug}\",\"category\":\"{category}\",\"serviceManagerId\":\"{}\",\"status\":\"ONBOARDED\",\"createdAt\":\"",
        rng.uuid(),
        rng.uuid()
    );
    rfc3339(out, now, true);
    out.push_str("\"}}");
}

fn service_offer_region_delete(rng: &mut Rng, now: OffsetDateTime, out: &mut String) {
    catalog_head(
        out,
        EventType::ServiceOfferRegionDeleted,
        "https://global.api.greenlake.hpe.com/service-catalog",
        rng,
        now,
    );
    let (name, _, _) = *rng.pick(SERVICES);
    let (workspace_id, _) = *rng.pick(WORKSPACES);
    let _ = write!(
        out,
        "{{\"id\":\"{}\",\"serviceOfferId\":\"{}\",\"serviceOfferName\":\"{name}\",\"region\":\"{}\",\"status\":\"DELETED\",\"workspaceId\":\"{workspace_id}\"}}}}",
        rng.uuid(),
        rng.uuid(),
        rng.pick(REGIONS),
    );
}

#[cfg(test)]
mod tests {
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
}
