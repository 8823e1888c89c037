//! The simulated event catalog: realistic GreenLake CloudEvents of every documented type, and the challenge.
//!
//! Events are written straight into a byte buffer from templates rather than built as JSON trees: the simulator
//! doubles as the benchmark's load generator and must produce well over 100k audit-log events a second.
//! Event `i` of a run depends only on the run's seed and `i`, so a seeded run is reproducible whatever the
//! concurrency, and ids differ between runs because the seed does.

use time::OffsetDateTime;

mod audit;
mod content;
mod service;
mod subscription;

use audit::audit_log;
use content::*;
use service::{service_offer_onboarded, service_offer_region_delete, service_provision};
use subscription::expiring_subscription;

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
        let mut s = String::with_capacity(36);
        self.write_uuid(&mut s);
        s
    }

    /// Appends a version 4 UUID in canonical lower-case form.
    pub fn write_uuid(&mut self, out: &mut String) {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        push_uuid(out, b);
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

/// Appends 16 random bytes as a version 4 UUID (version and variant bits set), hex digits written in place.
fn push_uuid(out: &mut String, mut b: [u8; 16]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    for (i, byte) in b.into_iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 15)]));
    }
}

/// A fresh random version 4 UUID from the operating system's random source: what a challengeRequest must be,
/// since a predictable challenge could be answered without the secret.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).expect("the operating system's random source is available");
    let mut s = String::with_capacity(36);
    push_uuid(&mut s, b);
    s
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

#[cfg(test)]
mod tests;
