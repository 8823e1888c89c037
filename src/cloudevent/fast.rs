//! The common delivery's check without serde: a compact ASCII object read byte by byte, its four attributes taken
//! on the way. Anything it is not sure of (an escape it would have to decode, a repeated attribute, any doubt) is
//! left to the serde pass, which decides and words every refusal; this only ever says "valid, and here they are".

use super::attributes::{Attr, Attributes};
use std::borrow::Cow;

/// The attributes of `body` when it is one JSON object that `serde_json::Value` would read, `None` when this cannot
/// tell. The caller has already found `body` compact (no whitespace outside strings), ASCII below DEL and nested at
/// most [`super::MAX_DEPTH`] deep.
pub(super) fn attributes(body: &[u8]) -> Option<Attributes<'_>> {
    // Raw control characters are never valid in JSON strings, and a compact body has none outside them either.
    if super::compact::any_byte(body, |b| b < 0x20) {
        return None;
    }
    let mut p = Reader { bytes: body, at: 0 };
    let mut attributes = Attributes::default();
    p.eat(b'{')?;
    if p.eat(b'}').is_none() {
        loop {
            let key = p.string_plain()?;
            p.eat(b':')?;
            let slot = match key {
                b"specversion" => &mut attributes.specversion,
                b"id" => &mut attributes.id,
                b"source" => &mut attributes.source,
                b"type" => &mut attributes.ty,
                _ => {
                    p.value(1)?;
                    if p.eat(b',').is_none() {
                        break;
                    }
                    continue;
                }
            };
            if slot.is_some() {
                return None;
            }
            *slot = Some(p.attribute()?);
            if p.eat(b',').is_none() {
                break;
            }
        }
        p.eat(b'}')?;
    }
    (p.at == body.len()).then_some(attributes)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A string without escapes, its text without the quotes.
    fn string_plain(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.at;
        let n = memchr::memchr2(b'"', b'\\', &self.bytes[start..])?;
        if self.bytes[start + n] != b'"' {
            return None;
        }
        self.at = start + n + 1;
        Some(&self.bytes[start..start + n])
    }

    /// Any string; escapes other than `\u` are checked, `\u` (whose surrogates would need checking) is left to serde.
    fn string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let n = memchr::memchr2(b'"', b'\\', &self.bytes[self.at..])?;
            self.at += n;
            if self.bytes[self.at] == b'"' {
                self.at += 1;
                return Some(());
            }
            match self.bytes.get(self.at + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
                _ => return None,
            }
        }
    }

    /// A top-level attribute's value as the serde pass reads it: text, `null` (`None`) or anything else.
    fn attribute(&mut self) -> Option<Option<Attr<'a>>> {
        match self.peek()? {
            b'"' => {
                let text = self.string_plain()?;
                // ASCII below DEL, checked by the caller.
                Some(Some(Attr::Text(Cow::Borrowed(std::str::from_utf8(text).ok()?))))
            }
            b'n' => self.literal(b"null").map(|()| None),
            _ => self.value(1).map(|()| Some(Attr::Other)),
        }
    }

    /// Any value, nested `depth` deep.
    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > super::MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string(),
            b'{' => {
                self.at += 1;
                if self.eat(b'}').is_some() {
                    return Some(());
                }
                loop {
                    self.string()?;
                    self.eat(b':')?;
                    self.value(depth + 1)?;
                    if self.eat(b',').is_none() {
                        return self.eat(b'}');
                    }
                }
            }
            b'[' => {
                self.at += 1;
                if self.eat(b']').is_some() {
                    return Some(());
                }
                loop {
                    self.value(depth + 1)?;
                    if self.eat(b',').is_none() {
                        return self.eat(b']');
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.bytes[self.at..].starts_with(word).then(|| self.at += word.len())
    }

    fn digits(&mut self) -> usize {
        let n = self.bytes[self.at..].iter().take_while(|b| b.is_ascii_digit()).count();
        self.at += n;
        n
    }

    /// A number in JSON's grammar that `Value` can hold: any integer up to 19 digits, and anything else whose
    /// `f64` is well inside the finite range (serde_json refuses what overflows, and its rounding near the limit
    /// need not be Rust's, so that edge is left to it).
    fn number(&mut self) -> Option<()> {
        let start = self.at;
        self.eat(b'-');
        let int_start = self.at;
        let int_digits = self.digits();
        if int_digits == 0 || (int_digits > 1 && self.bytes[int_start] == b'0') {
            return None;
        }
        let mut plain = int_digits <= 19;
        if self.eat(b'.').is_some() {
            plain = false;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            plain = false;
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        if plain {
            return Some(());
        }
        let text = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
        text.parse::<f64>().ok().filter(|f| f.abs() < 1e300).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(body: &str) -> Option<[Option<Option<String>>; 4]> {
        let a = attributes(body.as_bytes())?;
        let text = |v: Option<Option<Attr>>| {
            v.map(|o| {
                o.map(|a| match a {
                    Attr::Text(t) => t.into_owned(),
                    Attr::Other => "<other>".into(),
                })
            })
        };
        Some([text(a.specversion), text(a.id), text(a.source), text(a.ty)])
    }

    #[test]
    fn reads_the_attributes_of_a_compact_event() {
        let got = seen(
            r#"{"id":"1","x":[1,-2.5e3,{"k":"a\"b\\c\/d"},true,false,null,[]],"specversion":"1.0","source":"s","type":null,"o":{}}"#,
        );
        let s = |t: &str| Some(Some(t.to_owned()));
        assert_eq!(got, Some([s("1.0"), s("1"), s("s"), Some(None)]));
        assert_eq!(seen(r#"{"id":{"a":1}}"#), Some([None, Some(Some("<other>".into())), None, None]));
        assert_eq!(seen("{}"), Some([None, None, None, None]));
    }

    #[test]
    fn greenlake_samples_take_this_path() {
        for name in ["audit-log-created.json", "expiring-subscriptions.json"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
            let text = std::fs::read_to_string(path).unwrap();
            let compact = crate::cloudevent::minify(&text);
            assert!(attributes(compact.as_bytes()).is_some_and(|a| a.id.is_some()), "{name}");
        }
    }

    #[test]
    fn leaves_anything_doubtful_to_serde() {
        for body in [
            r#"{"id":"1","id":"2"}"#,
            r#"{"id":"\u0041"}"#,
            r#"{"x":"\ud800"}"#,
            r#"{"i\u0064":"1"}"#,
            r#"{"x":1e999}"#,
            r#"{"x":-1e400}"#,
            r#"{"x":1.7976931348623157e308}"#,
            r#"{"x":01}"#,
            r#"{"x":1.}"#,
            r#"{"x":.5}"#,
            r#"{"x":-}"#,
            r#"{"x":1e}"#,
            r#"{"x":tru}"#,
            r#"{"x":[1,]}"#,
            r#"{"x":1,}"#,
            r#"{"x" :1}"#,
            r#"{"x":"a\qb"}"#,
            "{\"x\":\"a\tb\"}",
            r#"{"x":1}x"#,
            r#"{"x":1"#,
            r#"{"x":"unterminated}"#,
            r#"["x"]"#,
        ] {
            assert!(attributes(body.as_bytes()).is_none(), "{body}");
        }
    }

    #[test]
    fn numbers_serde_holds_are_accepted() {
        for n in ["0", "-0", "12345678901234567890123", "1e299", "-1.5E-400", "0e99999999999999999999", "2.5e+3"] {
            let body = format!("{{\"x\":{n}}}");
            assert!(attributes(body.as_bytes()).is_some(), "{n}");
            assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok(), "{n}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4000, ..Default::default() })]

        /// Whatever this accepts, serde_json reads as a `Value` and the serde pass reads with the same attributes.
        #[test]
        fn accepts_only_what_serde_reads_alike(
            edits in proptest::collection::vec((0usize..300, proptest::sample::select(vec![
                "", "\"", "\\", "{", "}", "[", "]", ",", ":", "0", "01", "-", ".", "e", "E+", "1e999", "-0.5",
                "12345678901234567890123", "null", "nul", "true", "false", "\"id\":\"x\",", "\"type\":7,",
                "\\n", "\\/", "\\u0041", "\\ud800", "\\x", "\u{1}", "{}", "[]", "\"\"",
            ])), 0..5),
        ) {
            let mut body = String::from(r#"{"specversion":"1.0","id":"abc","source":"//s/x","type":"t.v1","data":{"n":[1,2.5,-3e2,{"k":"v \" \\ w"}],"u":null,"b":false,"t":true}}"#);
            for (at, text) in edits {
                let at = at.min(body.len());
                body.insert_str(at, text);
            }
            if let Some(a) = attributes(body.as_bytes()) {
                proptest::prop_assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok(), "{}", body);
                let reference = serde_json::from_str::<Attributes>(&body);
                proptest::prop_assert!(reference.is_ok(), "{}", body);
                let reference = reference.unwrap();
                let text = |v: &Option<Option<Attr>>| v.as_ref().map(|o| o.as_ref().map(|a| match a {
                    Attr::Text(t) => t.to_string(),
                    Attr::Other => "<other>".to_owned(),
                }));
                proptest::prop_assert!(!reference.repeated, "{}", body);
                proptest::prop_assert_eq!(text(&a.specversion), text(&reference.specversion));
                proptest::prop_assert_eq!(text(&a.id), text(&reference.id));
                proptest::prop_assert_eq!(text(&a.source), text(&reference.source));
                proptest::prop_assert_eq!(text(&a.ty), text(&reference.ty));
            }
        }
    }
}
