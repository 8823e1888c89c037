//! What simulated events are made of: the content tables and the helpers that write JSON values into a buffer.

use super::Rng;
use std::fmt::Write as _;
use time::OffsetDateTime;

// The content tables. Names use the documentation domains (hpedev.io, example.com) so nothing looks like a
// real person or customer.
pub(super) const USERS: &[&str] = &[
    "john.doe@hpedev.io",
    "jane.smith@hpedev.io",
    "ops.admin@example.com",
    "li.wei@example.com",
    "maria.garcia@example.com",
    "sam.taylor@hpedev.io",
    "noah.kim@example.com",
    "automation-client@example.com",
];
pub(super) const WORKSPACES: &[(&str, &str)] = &[
    ("3009de2825f211ec8a84fedebcb4a754", "HPEDEV -GLCP- Hackshack"),
    ("7c1f0e2a9b3d11eebf2a0242ac120003", "Example Corp Production"),
    ("a4d2c6e81f7a4c0f9e3b5d7c2a1e8f60", "Example Corp Lab"),
];
pub(super) const SERVICES: &[(&str, &str, &str)] = &[
    ("Compute Ops Management", "compute-ops-management", "COMPUTE"),
    ("Aruba Central", "aruba-central", "NETWORKING"),
    ("Data Services", "data-services", "STORAGE"),
    ("Backup and Recovery", "backup-and-recovery", "STORAGE"),
    ("Private Cloud Business Edition", "private-cloud-business", "COMPUTE"),
];
pub(super) const REGIONS: &[&str] = &["us-west", "us-east", "eu-central", "ap-northeast"];
pub(super) const ROLES: &[&str] = &["Workspace Administrator", "Workspace Observer", "Compute Ops Management Operator"];
pub(super) const SUBSCRIPTIONS: &[(&str, &str, &str, &str)] = &[
    ("S0B80AAE", "ENHANCED PROLIANT", "Compute Subscription", "DEVICE"),
    ("R7A06AAE", "STANDARD PROLIANT", "Compute Subscription", "DEVICE"),
    ("Q9Y59AAE", "FOUNDATION AP", "Networking Subscription", "DEVICE"),
    ("S1T37AAE", "BACKUP AND RECOVERY", "Storage Subscription", "SERVICE"),
];
pub(super) const COMPANIES: &[&str] = &["John Doe Inc.", "Example Corp", "Hackshack Labs"];

/// Appends `s` as a JSON string literal.
pub(super) fn json_str(out: &mut String, s: &str) {
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
pub(super) fn rfc3339(out: &mut String, t: OffsetDateTime, millis: bool) {
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

pub(super) fn epoch_millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// An Elasticsearch-style document id like the audit log's (`uJoQ5JMB_HAPiq2sSllt`): 20 URL-safe characters,
/// 120 random bits.
pub(super) fn es_id(rng: &mut Rng) -> String {
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
pub(super) fn public_ip(rng: &mut Rng) -> String {
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

pub(super) fn serial(rng: &mut Rng) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    let mut s = String::from(*rng.pick(&["CZ", "SG", "MX", "CN"]));
    for _ in 0..8 {
        s.push(ALNUM[rng.below(ALNUM.len())] as char);
    }
    s
}

pub(super) fn subscription_key(rng: &mut Rng) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut s = String::from("OFKIA");
    for _ in 0..11 {
        s.push(ALNUM[rng.below(ALNUM.len())] as char);
    }
    s
}
