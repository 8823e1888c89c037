//! Which events the operator wants: one [`Filter`] with one set of matching rules, used by the dashboard (its
//! text filter and type/user pickers) and by `glwatch export` (`--type`, `--user`, `--since`, `--until`).
//!
//! The rules, combined with AND, every empty part matching everything:
//!
//! - **type**: the event's type equals one of the chosen types, each given in full (`com.hpe.greenlake...`) or in
//!   its short form without `com.hpe.greenlake.` ([`crate::cloudevent::short_type`]);
//! - **user**: the event's user equals one of the chosen users exactly; an event without a user matches no choice;
//! - **source**: the configured source (`--sources`) that received the event is one of the chosen names; an event
//!   received without a sources file matches no choice;
//! - **time**: the record was received at or after `since` (inclusive) and before `until` (exclusive);
//! - **text**: a case-insensitive substring of the event's type, user, summary or id (not its category).
//!
//! Values are compared as [`EventFields`] holds them, that is escaped ([`crate::text`]) as they are shown, so what
//! matches is what the operator sees and can type.

use crate::cloudevent::{short_type, EventFields};
use std::collections::BTreeSet;
use time::OffsetDateTime;

/// A filter as the operator set it. See the module documentation for the rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Case-insensitive substring; empty matches everything.
    pub text: String,
    /// Types, full or short; empty means every type.
    pub types: BTreeSet<String>,
    /// Users; empty means every user.
    pub users: BTreeSet<String>,
    /// Configured source names; empty means every source.
    pub sources: BTreeSet<String>,
    /// Received at or after (inclusive).
    pub since: Option<OffsetDateTime>,
    /// Received before (exclusive).
    pub until: Option<OffsetDateTime>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
            && self.types.is_empty()
            && self.users.is_empty()
            && self.sources.is_empty()
            && self.since.is_none()
            && self.until.is_none()
    }

    /// Whether the time window admits a record received at `t`; cheap, so checked before an event is parsed.
    pub fn admits_time(&self, t: OffsetDateTime) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }

    pub fn admits_type(&self, ty: &str) -> bool {
        self.types.is_empty() || self.types.contains(ty) || self.types.contains(short_type(ty))
    }

    pub fn admits_user(&self, user: Option<&str>) -> bool {
        self.users.is_empty() || user.is_some_and(|u| self.users.contains(u))
    }

    pub fn admits_source(&self, source_name: Option<&str>) -> bool {
        self.sources.is_empty() || source_name.is_some_and(|s| self.sources.contains(s))
    }

    /// Whether an event with `fields` passes the type, user and text parts. The time window is the record's, not
    /// the event's: see [`Filter::admits`].
    pub fn matches(&self, fields: &EventFields) -> bool {
        self.matcher().matches(fields)
    }

    /// Whether an event with `fields`, received at `received_at`, passes every part.
    pub fn admits(&self, received_at: OffsetDateTime, fields: &EventFields) -> bool {
        self.admits_time(received_at) && self.matches(fields)
    }

    /// The filter prepared for matching many events.
    pub fn matcher(&self) -> FilterMatcher<'_> {
        FilterMatcher { filter: self, text: TextMatcher::new(&self.text) }
    }

    /// A short description for the dashboard's header, e.g. `/logged type=audit-log.v1.logs.created user=2 chosen`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.text.is_empty() {
            parts.push(format!("/{}", crate::text::escape(&self.text)));
        }
        let set = |name: &str, set: &BTreeSet<String>, short: fn(&str) -> &str| match set.len() {
            0 => None,
            1 => set.iter().next().map(|v| format!("{name}={}", crate::text::escape(short(v)))),
            n => Some(format!("{name}={n} chosen")),
        };
        parts.extend(set("type", &self.types, short_type));
        parts.extend(set("user", &self.users, |u| u));
        parts.extend(set("source", &self.sources, |s| s));
        parts.join(" ")
    }
}

/// A compiled [`Filter`].
pub struct FilterMatcher<'a> {
    filter: &'a Filter,
    text: TextMatcher,
}

impl FilterMatcher<'_> {
    /// See [`Filter::matches`].
    pub fn matches(&self, f: &EventFields) -> bool {
        let user = f.user.as_deref();
        self.filter.admits_type(&f.ty)
            && self.filter.admits_user(user)
            && self.filter.admits_source(f.source_name.as_deref())
            && (self.text.is_empty()
                || self.text.is_match(&f.ty)
                || user.is_some_and(|u| self.text.is_match(u))
                || self.text.is_match(&f.summary)
                || self.text.is_match(&f.id))
    }

    /// See [`Filter::admits`].
    pub fn admits(&self, received_at: OffsetDateTime, f: &EventFields) -> bool {
        self.filter.admits_time(received_at) && self.matches(f)
    }
}

/// Case-insensitive substring search, fast for the usual ASCII needle: candidates are found with `memchr` on the
/// needle's rarest-looking byte in both cases, then compared in place, so no haystack is ever lower-cased or
/// copied.
#[derive(Debug, Clone, Default)]
pub struct TextMatcher {
    lower: String,
    ascii: bool,
    /// Index in the needle of the byte searched for, and that byte in lower and upper case.
    pivot: usize,
    pivot_lower: u8,
    pivot_upper: u8,
}

/// How common a byte is in event text, higher meaning more common: lower-case letters by English frequency,
/// then digits. A guess, only used to pick which needle byte to scan for.
fn commonness(b: u8) -> u8 {
    const LETTERS: &[u8] = b"zqxjkvbpygfwmucldrhsnioate";
    match b.to_ascii_lowercase() {
        c @ b'a'..=b'z' => 10 + LETTERS.iter().position(|&l| l == c).unwrap_or(0) as u8,
        b'0'..=b'9' => 8,
        b' ' => 40,
        b'.' | b'-' | b'_' | b'@' => 6,
        _ => 0,
    }
}

impl TextMatcher {
    pub fn new(text: &str) -> TextMatcher {
        let lower = text.to_lowercase();
        let ascii = text.is_ascii();
        let (pivot, pivot_lower) = lower.bytes().enumerate().min_by_key(|&(_, b)| commonness(b)).unwrap_or((0, 0));
        TextMatcher { pivot, pivot_lower, pivot_upper: pivot_lower.to_ascii_uppercase(), lower, ascii }
    }

    pub fn is_empty(&self) -> bool {
        self.lower.is_empty()
    }

    /// The needle, lower-cased.
    pub fn text(&self) -> &str {
        &self.lower
    }

    /// Whether [`TextMatcher::find_from`] can be used (the needle is ASCII and not empty).
    pub fn is_bytewise(&self) -> bool {
        self.ascii && !self.lower.is_empty()
    }

    /// Length of the needle in bytes.
    pub fn len(&self) -> usize {
        self.lower.len()
    }

    /// Start of the first match at or after `from`, for an ASCII needle (see [`TextMatcher::is_bytewise`]).
    /// Overlapping matches are found: call again from the returned position plus one.
    pub fn find_from(&self, hay: &[u8], from: usize) -> Option<usize> {
        let needle = self.lower.as_bytes();
        let n = needle.len();
        if n == 0 || hay.len() < n || from > hay.len() - n {
            return None;
        }
        // An ASCII byte never occurs inside a multi-byte UTF-8 sequence, so byte-wise comparison is exact.
        let mut at = from + self.pivot;
        let last = hay.len() - n + self.pivot;
        while at <= last {
            let window = &hay[at..=last];
            let found = if self.pivot_upper != self.pivot_lower {
                memchr::memchr2(self.pivot_lower, self.pivot_upper, window)
            } else {
                memchr::memchr(self.pivot_lower, window)
            }?;
            let start = at + found - self.pivot;
            if hay[start..start + n].eq_ignore_ascii_case(needle) {
                return Some(start);
            }
            at += found + 1;
        }
        None
    }

    pub fn is_match(&self, haystack: &str) -> bool {
        if self.lower.is_empty() {
            return true;
        }
        if !self.ascii {
            return haystack.to_lowercase().contains(&self.lower);
        }
        self.find_from(haystack.as_bytes(), 0).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(ty: &str, user: Option<&str>, summary: &str, id: &str) -> EventFields {
        EventFields {
            id: id.into(),
            source: "s".into(),
            ty: ty.into(),
            time: None,
            user: user.map(Into::into),
            category: None,
            summary: summary.into(),
            source_name: None,
        }
    }

    const AUDIT: &str = "com.hpe.greenlake.audit-log.v1.logs.created";
    const SUBS: &str = "com.hpe.greenlake.subscriptions.v1.expiring-subscriptions";

    #[test]
    fn text_matching_is_case_insensitive_substring() {
        let m = TextMatcher::new("LogGed");
        assert!(m.is_match("User john logged out"));
        assert!(m.is_match("LOGGED"));
        assert!(!m.is_match("log ged"));
        assert!(!m.is_match("logge"));
        assert!(m.is_match("xxloggedxx"));
        assert!(TextMatcher::new("").is_match(""));
        assert!(TextMatcher::new("-LOG.v1").is_match(AUDIT));
        assert!(TextMatcher::new("é").is_match("CAFÉ"));
        assert!(TextMatcher::new("café").is_match("Un CAFÉ"));
        assert!(!TextMatcher::new("café").is_match("cafe"));
        assert!(TextMatcher::new("ed").is_match("résumé shred"));
        assert!(TextMatcher::new("user4").is_match("x USER4"));
        assert!(!TextMatcher::new("user4").is_match("user user 4"));
    }

    #[test]
    fn find_from_reports_every_match_even_overlapping() {
        let m = TextMatcher::new("aXa");
        let hay = b"aXaXa_AxA";
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(at) = m.find_from(hay, from) {
            found.push(at);
            from = at + 1;
        }
        assert_eq!(found, [0, 2, 6]);
        assert_eq!(TextMatcher::new("zz").find_from(b"zz", 1), None);
        assert_eq!(TextMatcher::new("zz").find_from(b"z", 0), None);
    }

    #[test]
    fn text_filter_covers_type_user_summary_and_id_but_not_category() {
        let f = |t: &str| Filter { text: t.into(), ..Filter::default() };
        let mut e = fields(AUDIT, Some("john.doe@hpedev.io"), "User logged out", "uJoQ5");
        e.category = Some("user_management".into());
        assert!(f("audit-log").matches(&e));
        assert!(f("JOHN.DOE").matches(&e));
        assert!(f("logged out").matches(&e));
        assert!(f("ujoq5").matches(&e));
        assert!(!f("user_management").matches(&e));
        assert!(!f("nothing like it").matches(&e));
    }

    #[test]
    fn type_user_and_text_combine_with_and() {
        let a = fields(AUDIT, Some("john"), "User john logged in", "1");
        let b = fields(SUBS, Some("acme"), "Compute Subscription", "2");
        let c = fields(AUDIT, None, "system task", "3");
        let all = [&a, &b, &c];
        let shown = |f: &Filter| -> Vec<&str> { all.iter().filter(|e| f.matches(e)).map(|e| e.id.as_str()).collect() };
        let mut f = Filter::default();
        assert!(f.is_empty());
        assert_eq!(shown(&f), ["1", "2", "3"]);
        f.types.insert(AUDIT.into());
        assert_eq!(shown(&f), ["1", "3"]);
        f.users.insert("john".into());
        assert_eq!(shown(&f), ["1"]);
        f.text = "logged".into();
        assert_eq!(shown(&f), ["1"]);
        f.text = "task".into();
        assert_eq!(shown(&f), Vec::<&str>::new());
        f.users.clear();
        assert_eq!(shown(&f), ["3"]);
        f.types.insert(SUBS.into());
        f.text.clear();
        assert_eq!(shown(&f), ["1", "2", "3"]);
        f.users.insert("acme".into());
        assert_eq!(shown(&f), ["2"]);
        assert_eq!(f.describe(), "type=2 chosen user=acme");
    }

    #[test]
    fn matching_sees_the_escaped_text() {
        let event: serde_json::Value =
            serde_json::from_str(r#"{"type":"t","data":{"description":"bad\u001b[2Jthing"}}"#).unwrap();
        let e = EventFields::extract(&event);
        let f = Filter { text: "\\u{1b}[2J".into(), ..Filter::default() };
        assert!(f.matches(&e));
        assert_eq!(f.describe(), "/\\u{1b}[2J");
        let raw = Filter { text: "\x1b[2J".into(), ..Filter::default() };
        assert!(!raw.matches(&e));
        assert_eq!(raw.describe(), "/\\u{1b}[2J", "the header never shows what was typed raw");
    }

    #[test]
    fn types_match_in_full_or_short_form_and_time_is_half_open() {
        use time::macros::datetime;
        let e = fields(AUDIT, Some("john"), "s", "1");
        let mut f = Filter::default();
        f.types.insert("audit-log.v1.logs.created".into());
        assert!(f.matches(&e));
        f.types = [AUDIT.to_owned()].into();
        assert!(f.matches(&e));
        f.types = ["logs.created".to_owned()].into();
        assert!(!f.matches(&e), "a type is never matched by a fragment");
        let f = Filter {
            since: Some(datetime!(2026-01-10 10:00 UTC)),
            until: Some(datetime!(2026-01-10 11:00 UTC)),
            ..Filter::default()
        };
        assert!(!f.is_empty());
        assert!(!f.admits(datetime!(2026-01-10 9:59:59 UTC), &e));
        assert!(f.admits(datetime!(2026-01-10 10:00 UTC), &e));
        assert!(f.matcher().admits(datetime!(2026-01-10 10:59:59 UTC), &e));
        assert!(!f.admits(datetime!(2026-01-10 11:00 UTC), &e));
        assert!(f.matches(&e), "matches leaves the time to admits");
    }
}
