//! Which events the operator wants to see: a text filter over type, user, summary and id, a set of chosen types
//! and a set of chosen users, combined with AND. Shared by the dashboard and the export.

use crate::cloudevent::EventFields;
use crate::tui::sanitize::sanitize;
use std::collections::BTreeSet;

/// A filter as the operator set it. Values are compared as displayed (sanitised), so what matches is what is seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Case-insensitive substring; empty matches everything.
    pub text: String,
    /// Full event types (`com.hpe.greenlake...`); empty means every type.
    pub types: BTreeSet<String>,
    /// Users; empty means every user. An event without a user never matches a user choice.
    pub users: BTreeSet<String>,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.text.is_empty() && self.types.is_empty() && self.users.is_empty()
    }

    /// Whether `fields` (as extracted from an event's JSON) pass this filter.
    pub fn matches(&self, fields: &EventFields) -> bool {
        self.matcher().matches(fields)
    }

    /// The filter prepared for matching many events.
    pub fn matcher(&self) -> FilterMatcher<'_> {
        FilterMatcher { filter: self, text: TextMatcher::new(&self.text) }
    }

    /// A short description for the header, e.g. `/logged type=audit-log.v1.logs.created user=2 chosen`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.text.is_empty() {
            parts.push(format!("/{}", sanitize(&self.text)));
        }
        let set = |name: &str, set: &BTreeSet<String>, short: fn(&str) -> &str| match set.len() {
            0 => None,
            1 => set.iter().next().map(|v| format!("{name}={}", short(v))),
            n => Some(format!("{name}={n} chosen")),
        };
        parts.extend(set("type", &self.types, crate::cloudevent::short_type));
        parts.extend(set("user", &self.users, |u| u));
        parts.join(" ")
    }
}

/// A compiled [`Filter`].
pub struct FilterMatcher<'a> {
    filter: &'a Filter,
    text: TextMatcher,
}

impl FilterMatcher<'_> {
    pub fn matches(&self, f: &EventFields) -> bool {
        let ty = sanitize(&f.ty);
        let user = f.user.as_deref().map(sanitize);
        if !self.filter.types.is_empty() && !self.filter.types.contains(ty.as_ref()) {
            return false;
        }
        if !self.filter.users.is_empty() && !user.as_deref().is_some_and(|u| self.filter.users.contains(u)) {
            return false;
        }
        self.text.is_empty()
            || self.text.is_match(&ty)
            || user.as_deref().is_some_and(|u| self.text.is_match(u))
            || self.text.is_match(&sanitize(&f.summary))
            || self.text.is_match(&sanitize(&f.id))
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
    fn matching_sees_the_sanitised_text() {
        let e = fields(AUDIT, Some("x"), "bad\x1b[2Jthing", "1");
        let f = Filter { text: "\\u{1b}[2J".into(), ..Filter::default() };
        assert!(f.matches(&e));
        assert_eq!(f.describe(), "/\\u{1b}[2J");
    }
}
