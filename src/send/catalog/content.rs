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

/// RFC 3339 in UTC, with milliseconds or whole seconds (both forms appear in GreenLake's samples). Written digit
/// by digit: the load generator stamps every event, and the formatting machinery cost more than the rest of it.
pub(super) fn rfc3339(out: &mut String, t: OffsetDateTime, millis: bool) {
    let t = t.to_offset(time::UtcOffset::UTC);
    let year = t.year();
    if (0..=9999).contains(&year) {
        push_digits(out, year as u32, 4);
    } else {
        let _ = write!(out, "{year:04}");
    }
    for (sep, v) in [('-', t.month() as u8), ('-', t.day()), ('T', t.hour()), (':', t.minute()), (':', t.second())] {
        out.push(sep);
        push_digits(out, v.into(), 2);
    }
    if millis {
        out.push('.');
        push_digits(out, t.millisecond().into(), 3);
    }
    out.push('Z');
}

/// Appends `v` as exactly `width` decimal digits (zero-padded; `v` must fit).
fn push_digits(out: &mut String, v: u32, width: u32) {
    let mut div = 10u32.pow(width - 1);
    while div > 0 {
        out.push(char::from(b'0' + (v / div % 10) as u8));
        div /= 10;
    }
}

/// Appends `v` in decimal.
pub(super) fn push_u64(out: &mut String, mut v: u64) {
    let mut digits = Ascii::<20>::new();
    let mut div = 1;
    while v / div >= 10 {
        div *= 10;
    }
    while div > 0 {
        digits.push(b'0' + (v / div) as u8);
        v %= div;
        div /= 10;
    }
    out.push_str(digits.as_str());
}

pub(super) fn epoch_millis(t: OffsetDateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// An Elasticsearch-style document id like the audit log's (`uJoQ5JMB_HAPiq2sSllt`): 20 URL-safe characters,
/// 120 random bits. Kept on the stack: every audit-log event writes one twice.
pub(super) fn es_id(rng: &mut Rng) -> Ascii<20> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = Ascii::new();
    let (mut a, mut b) = (rng.next_u64(), rng.next_u64());
    for i in 0..20 {
        let word = if i < 10 { &mut a } else { &mut b };
        s.push(ALPHABET[(*word & 63) as usize]);
        *word >>= 6;
    }
    s
}

/// A public-looking IPv4 address (outside the private, loopback and multicast ranges).
pub(super) fn public_ip(rng: &mut Rng) -> Ascii<15> {
    const FIRST: &[u8] = &[15, 16, 20, 34, 52, 64, 82, 91, 104, 131, 145, 152, 185, 194, 203];
    let r = rng.next_u64();
    let mut s = Ascii::new();
    for (i, octet) in
        [FIRST[(r % FIRST.len() as u64) as usize], (r >> 8) as u8, (r >> 16) as u8, ((r >> 24) as u8).max(1)]
            .into_iter()
            .enumerate()
    {
        if i > 0 {
            s.push(b'.');
        }
        if octet >= 100 {
            s.push(b'0' + octet / 100);
        }
        if octet >= 10 {
            s.push(b'0' + octet / 10 % 10);
        }
        s.push(b'0' + octet % 10);
    }
    s
}

/// A short ASCII text built on the stack (ids, addresses) instead of in a `String` of its own.
#[derive(Clone, Copy)]
pub(super) struct Ascii<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Ascii<N> {
    fn new() -> Self {
        Ascii { bytes: [0; N], len: 0 }
    }

    fn push(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.bytes[self.len] = b;
        self.len += 1;
    }

    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).expect("only ASCII is pushed")
    }
}

impl<const N: usize> std::fmt::Display for Ascii<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(super) fn serial(rng: &mut Rng) -> Ascii<10> {
    const ALNUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    let mut s = Ascii::new();
    for &b in rng.pick(&["CZ", "SG", "MX", "CN"]).as_bytes() {
        s.push(b);
    }
    for _ in 0..8 {
        s.push(ALNUM[rng.below(ALNUM.len())]);
    }
    s
}

pub(super) fn subscription_key(rng: &mut Rng) -> Ascii<16> {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut s = Ascii::new();
    for &b in b"OFKIA" {
        s.push(b);
    }
    for _ in 0..11 {
        s.push(ALNUM[rng.below(ALNUM.len())]);
    }
    s
}
