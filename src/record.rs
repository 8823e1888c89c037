//! The one record model: what the receiver saw, as written to stdout (NDJSON), the journal and the dashboard.
//!
//! Text a client chose enters a record through the constructors here, which escape it with
//! [`crate::text::escape`], so every output shows the same safe characters. The event itself is kept as received
//! (minified, with raw terminal controls written as JSON `\u` escapes, the same JSON value); its fields are
//! escaped when read out ([`crate::cloudevent::EventFields`]).

mod timestamp;

use crate::text::escape;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

/// Which secret proved a delivery authentic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifiedBy {
    Primary,
    Secondary,
    /// Accepted without a signature because `--allow-unsigned` was given.
    Unsigned,
}

impl VerifiedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifiedBy::Primary => "primary",
            VerifiedBy::Secondary => "secondary",
            VerifiedBy::Unsigned => "unsigned",
        }
    }
}

/// One accepted CloudEvent. `event` holds the event's JSON exactly as received, with insignificant whitespace
/// removed so that one record stays one line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRecord {
    #[serde(with = "timestamp")]
    pub received_at: OffsetDateTime,
    pub peer: String,
    /// The trusted proxy that passed the request on (`ip:port`), when `peer` is the client it reported; absent
    /// for direct connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    pub verified_by: VerifiedBy,
    /// True when (source, id) was already accepted: acknowledged so GreenLake stops retrying, never emitted on
    /// stdout a second time, but kept in the journal and shown to the dashboard so duplicates can be counted.
    pub duplicate: bool,
    /// The configured source that received it (`--sources`); absent when glwatch runs as a single GreenLake
    /// receiver, so such records stay as they always were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Where a scheme whose payload is not a CloudEvent keeps the id, type, source and user (headers, nested
    /// members): read instead of the event's own top-level members. Absent for CloudEvents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Attributes>,
    pub event: Box<RawValue>,
}

/// An event's identity and who caused it, for payloads that are not CloudEvents. Kept as the sender wrote it, like
/// `event`, and escaped when read out ([`crate::cloudevent::EventFields::of`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attributes {
    pub id: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// One verification challenge, answered or refused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChallengeRecord {
    #[serde(with = "timestamp")]
    pub received_at: OffsetDateTime,
    pub peer: String,
    /// The trusted proxy that passed the request on (`ip:port`), when `peer` is the client it reported; absent
    /// for direct connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    pub challenge_request: String,
    pub answered: bool,
    /// Why the challenge was refused; `null` when answered.
    pub reason: Option<String>,
    /// The verification sent back (lower-case hex); absent when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<String>,
    /// Time from the end of the request body to the answer being ready, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_micros: Option<u64>,
    /// The configured source it came to (`--sources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
}

/// A refused request: the status sent and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RejectedRecord {
    #[serde(with = "timestamp")]
    pub received_at: OffsetDateTime,
    pub peer: String,
    /// The trusted proxy that passed the request on (`ip:port`), when `peer` is the client it reported; absent
    /// for direct connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    pub status: u16,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How many similar refusals this record stands for (floods are aggregated); absent means one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The configured source whose path the request named (`--sources`), when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
}

impl ChallengeRecord {
    /// A challenge that was answered with `verification` after `answer_micros`.
    pub fn answered(
        received_at: OffsetDateTime,
        peer: &str,
        challenge_request: &str,
        verification: String,
        answer_micros: u64,
    ) -> ChallengeRecord {
        ChallengeRecord {
            received_at,
            peer: escape(peer).into_owned(),
            via: None,
            challenge_request: escape(challenge_request).into_owned(),
            answered: true,
            reason: None,
            verification: Some(verification),
            answer_micros: Some(answer_micros),
            source_name: None,
        }
    }

    /// A liveness check of another provider (GitHub's `ping`), answered with 2xx: shown like a challenge, with
    /// nothing to verify.
    pub fn ping(received_at: OffsetDateTime, peer: &str, text: &str, answer_micros: u64) -> ChallengeRecord {
        ChallengeRecord {
            received_at,
            peer: escape(peer).into_owned(),
            challenge_request: escape(text).into_owned(),
            answered: true,
            reason: None,
            verification: None,
            answer_micros: Some(answer_micros),
            source_name: None,
            via: None,
        }
    }

    /// A challenge that was refused, and why.
    pub fn refused(received_at: OffsetDateTime, peer: &str, challenge_request: &str, reason: &str) -> ChallengeRecord {
        ChallengeRecord {
            received_at,
            peer: escape(peer).into_owned(),
            via: None,
            challenge_request: escape(challenge_request).into_owned(),
            answered: false,
            reason: Some(escape(reason).into_owned()),
            verification: None,
            answer_micros: None,
            source_name: None,
        }
    }

    /// The same record, naming the configured source it came to.
    pub fn from_source(mut self, source_name: Option<&str>) -> ChallengeRecord {
        self.source_name = source_name.map(|n| escape(n).into_owned());
        self
    }
}

impl ChallengeRecord {
    /// The same record, naming the trusted proxy it came through.
    pub fn via(self, via: Option<String>) -> ChallengeRecord {
        ChallengeRecord { via, ..self }
    }
}

impl RejectedRecord {
    /// The same record, naming the trusted proxy it came through.
    pub fn via(self, via: Option<String>) -> RejectedRecord {
        RejectedRecord { via, ..self }
    }

    /// One refused request. The method and path are the client's (hyper admits bytes in a path that a terminal
    /// acts on, such as C1 controls in UTF-8), so they are escaped like every other text.
    pub fn refused(
        received_at: OffsetDateTime,
        peer: &str,
        status: u16,
        reason: &str,
        method: Option<&str>,
        path: Option<&str>,
    ) -> RejectedRecord {
        let text = |t: &str| escape(t).into_owned();
        RejectedRecord {
            received_at,
            peer: text(peer),
            via: None,
            status,
            reason: text(reason),
            method: method.map(text),
            path: path.map(text),
            count: None,
            source_name: None,
        }
    }

    /// The same record, naming the configured source whose path the request named.
    pub fn from_source(mut self, source_name: Option<&str>) -> RejectedRecord {
        self.source_name = source_name.map(|n| escape(n).into_owned());
        self
    }
}

/// Serialises with a `"kind"` tag. Parsing goes through [`Record::from_line`]: serde's tagged-enum buffering cannot
/// carry the raw event JSON, so the tag is read first and the line parsed again as that kind.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Record {
    Event(EventRecord),
    Challenge(ChallengeRecord),
    Rejected(RejectedRecord),
}

#[derive(Deserialize)]
struct Kind<'a> {
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
}

impl Record {
    /// Parses one NDJSON line written by [`Record::to_line`].
    pub fn from_line(line: &str) -> Result<Record, serde_json::Error> {
        let kind: Kind = serde_json::from_str(line)?;
        Ok(match kind.kind.as_ref() {
            "event" => Record::Event(serde_json::from_str(line)?),
            "challenge" => Record::Challenge(serde_json::from_str(line)?),
            "rejected" => Record::Rejected(serde_json::from_str(line)?),
            other => return Err(serde::de::Error::unknown_variant(other, &["event", "challenge", "rejected"])),
        })
    }

    /// One NDJSON line without a sequence number (a record that was never journaled), without the trailing newline.
    pub fn to_line(&self) -> String {
        // Serialising these types cannot fail: every field is a string, number, bool or valid raw JSON.
        serde_json::to_string(self).expect("record serialises")
    }

    /// The journal line of this record as number `seq`: `{"seq":N,"kind":...}`, without the trailing newline.
    pub fn to_line_seq(&self, seq: u64) -> String {
        let mut buf = Vec::with_capacity(512);
        self.write_line(seq, &mut buf);
        buf.pop();
        // The serialiser writes UTF-8 only.
        String::from_utf8(buf).expect("record lines are UTF-8")
    }

    /// Appends the line of this record as number `seq` and a newline to `buf`. `seq` 0 writes no number (a record
    /// that never reached the journal). The number goes first so that readers find it without parsing the line.
    pub fn write_line(&self, seq: u64, buf: &mut Vec<u8>) {
        let start = buf.len();
        if seq > 0 {
            buf.extend_from_slice(SEQ_PREFIX.as_bytes());
            buf.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
            buf.push(b',');
        }
        let body = buf.len();
        // Serialising a record cannot fail (see to_line); fall back to the slow path rather than panic.
        if serde_json::to_writer(&mut *buf, self).is_err() {
            buf.truncate(body);
            buf.extend_from_slice(self.to_line().as_bytes());
        }
        if seq > 0 {
            // Drop the record's own opening brace: the prefix opened the object.
            buf.remove(body);
        }
        debug_assert!(buf[start] == b'{');
        buf.push(b'\n');
    }

    pub fn received_at(&self) -> OffsetDateTime {
        match self {
            Record::Event(r) => r.received_at,
            Record::Challenge(r) => r.received_at,
            Record::Rejected(r) => r.received_at,
        }
    }
}

/// How every numbered line starts.
const SEQ_PREFIX: &str = "{\"seq\":";

/// The sequence number of a record line, read from its first field; 0 when it has none (lines written before
/// records were numbered, or records that never reached the journal). Never parses the rest of the line.
pub fn line_seq(line: &[u8]) -> u64 {
    let Some(rest) = line.strip_prefix(SEQ_PREFIX.as_bytes()) else { return 0 };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if rest.get(digits) != Some(&b',') {
        return 0;
    }
    std::str::from_utf8(&rest[..digits]).ok().and_then(|d| d.parse().ok()).unwrap_or(0)
}

/// Now, in UTC, for `received_at`.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_record_line_has_the_contract_shape() {
        let rec = Record::Event(EventRecord {
            source_name: None,
            attributes: None,
            received_at: time::macros::datetime!(2026-01-02 03:04:05.5 UTC),
            peer: "127.0.0.1:5000".into(),
            via: None,
            verified_by: VerifiedBy::Secondary,
            duplicate: false,
            event: RawValue::from_string(r#"{"id":"a","n":1.50}"#.into()).unwrap(),
        });
        assert_eq!(
            rec.to_line(),
            r#"{"kind":"event","received_at":"2026-01-02T03:04:05.5Z","peer":"127.0.0.1:5000","verified_by":"secondary","duplicate":false,"event":{"id":"a","n":1.50}}"#
        );
        let back = Record::from_line(&rec.to_line()).unwrap();
        assert_eq!(back.to_line(), rec.to_line());
        let numbered = rec.to_line_seq(42);
        assert_eq!(numbered, format!("{{\"seq\":42,{}", &rec.to_line()[1..]));
        assert_eq!(line_seq(numbered.as_bytes()), 42);
        // Lines written before records were numbered still read, as number 0.
        assert_eq!(line_seq(rec.to_line().as_bytes()), 0);
        assert_eq!(Record::from_line(&numbered).unwrap().to_line(), rec.to_line());
    }

    #[test]
    fn line_seq_reads_only_a_well_formed_prefix() {
        assert_eq!(line_seq(br#"{"seq":18446744073709551615,"kind":"x"}"#), u64::MAX);
        for bad in [&br#"{"seq":,"kind"}"#[..], br#"{"seq":12"#, br#"{"seq":99999999999999999999,"k":1}"#, b"", b"{"] {
            assert_eq!(line_seq(bad), 0, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn challenge_and_rejected_lines() {
        let c = Record::Challenge(ChallengeRecord {
            source_name: None,
            received_at: time::macros::datetime!(2026-01-02 03:04:05 UTC),
            peer: "[::1]:9".into(),
            via: None,
            challenge_request: "x".into(),
            answered: false,
            reason: Some("not a UUID".into()),
            verification: None,
            answer_micros: None,
        });
        assert_eq!(
            c.to_line(),
            r#"{"kind":"challenge","received_at":"2026-01-02T03:04:05Z","peer":"[::1]:9","challenge_request":"x","answered":false,"reason":"not a UUID"}"#
        );
        let r = Record::Rejected(RejectedRecord {
            source_name: None,
            received_at: time::macros::datetime!(2026-01-02 03:04:05 UTC),
            peer: "1.2.3.4:5".into(),
            via: None,
            status: 401,
            reason: "bad signature".into(),
            method: None,
            path: None,
            count: None,
        });
        assert_eq!(
            r.to_line(),
            r#"{"kind":"rejected","received_at":"2026-01-02T03:04:05Z","peer":"1.2.3.4:5","status":401,"reason":"bad signature"}"#
        );
        assert_eq!(Record::from_line(&c.to_line()).unwrap().to_line(), c.to_line());
        assert!(Record::from_line(r#"{"kind":"other"}"#).is_err());
    }

    #[test]
    fn constructors_escape_what_the_client_chose() {
        let at = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        let r = RejectedRecord::refused(
            at,
            "1.2.3.4:5",
            405,
            "method \u{1b} not allowed",
            Some("G\x1bT"),
            Some("/a\u{9b}2J\u{202e}\u{feff}"),
        );
        assert_eq!(r.method.as_deref(), Some("G\\u{1b}T"));
        assert_eq!(r.path.as_deref(), Some("/a\\u{9b}2J\\u{202e}\\u{feff}"));
        assert_eq!(r.reason, "method \\u{1b} not allowed");
        assert_eq!(r.count, None);
        let c = ChallengeRecord::refused(at, "[::1]:9", "\u{9b}2J\u{61c}x", "not a UUID");
        assert_eq!(c.challenge_request, "\\u{9b}2J\\u{61c}x");
        assert!(!c.answered && c.verification.is_none());
        let a = ChallengeRecord::answered(at, "[::1]:9", "ok\n", "ab".into(), 7);
        assert_eq!((a.challenge_request.as_str(), a.answered, a.answer_micros), ("ok\\u{a}", true, Some(7)));
    }
}
