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
/// needle's first byte in both cases, then compared in place, so no haystack is ever lower-cased or copied.
#[derive(Debug, Clone, Default)]
pub struct TextMatcher {
    lower: String,
    ascii: bool,
}

impl TextMatcher {
    pub fn new(text: &str) -> TextMatcher {
        TextMatcher { lower: text.to_lowercase(), ascii: text.is_ascii() }
    }

    pub fn is_empty(&self) -> bool {
        self.lower.is_empty()
    }

    /// The needle, lower-cased.
    pub fn text(&self) -> &str {
        &self.lower
    }

    pub fn is_match(&self, haystack: &str) -> bool {
        if self.lower.is_empty() {
            return true;
        }
        if !self.ascii {
            return haystack.to_lowercase().contains(&self.lower);
        }
        let needle = self.lower.as_bytes();
        let hay = haystack.as_bytes();
        if hay.len() < needle.len() {
            return false;
        }
        // An ASCII byte never occurs inside a multi-byte UTF-8 sequence, so byte-wise comparison is exact here.
        let first = needle[0];
        let last_start = hay.len() - needle.len();
        let upper = first.to_ascii_uppercase();
        let mut from = 0;
        while from <= last_start {
            let window = &hay[from..=last_start];
            let found =
                if upper != first { memchr::memchr2(first, upper, window) } else { memchr::memchr(first, window) };
            let Some(i) = found else {
                return false;
            };
            let at = from + i;
            if hay[at..at + needle.len()].eq_ignore_ascii_case(needle) {
                return true;
            }
            from = at + 1;
        }
        false
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
