//! Scanning and compacting JSON text: nesting depth, whitespace outside strings, and [`minify`] (which also
//! escapes unsafe characters inside strings).

use std::borrow::Cow;

/// The deepest nesting of `[` and `{` outside strings. Linear, no allocation; meaningful for valid JSON only, which
/// is all that gets past the parser afterwards.
pub fn nesting_depth(json: &[u8]) -> usize {
    Shape::of(json).depth
}

/// What one scan of JSON text tells, outside strings: the deepest nesting and whether there is whitespace.
pub(super) struct Shape {
    pub(super) depth: usize,
    pub(super) whitespace: bool,
}

impl Shape {
    /// Strings are skipped with `memchr2` to the next quote or backslash (a backslash escapes the byte after it,
    /// whatever it is), so the bytewise work is only for the few bytes between strings.
    pub(super) fn of(json: &[u8]) -> Shape {
        let (mut depth, mut max, mut whitespace) = (0usize, 0usize, false);
        let mut i = 0;
        while let Some(&b) = json.get(i) {
            i += 1;
            match b {
                b'"' => loop {
                    let Some(n) = memchr::memchr2(b'"', b'\\', &json[i..]) else {
                        return Shape { depth: max, whitespace };
                    };
                    let quote = json[i + n] == b'"';
                    // Past the quote, or past the backslash and the byte it escapes.
                    i += n + if quote { 1 } else { 2 };
                    if quote || i >= json.len() {
                        break;
                    }
                },
                b'[' | b'{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                b' ' | b'\t' | b'\n' | b'\r' => whitespace = true,
                _ => {}
            }
        }
        Shape { depth: max, whitespace }
    }
}

/// Whether any byte is DEL or above (non-ASCII, or DEL itself). Branch-free over blocks, so it vectorises.
pub(super) fn has_byte_from_del_up(bytes: &[u8]) -> bool {
    any_byte(bytes, |b| b >= 0x7f)
}

/// Whether any byte satisfies `hit`: branch-free over blocks of 64, so a simple test vectorises.
pub(super) fn any_byte(bytes: &[u8], hit: impl Fn(u8) -> bool) -> bool {
    let mut blocks = bytes.chunks_exact(64);
    let found = blocks.by_ref().any(|block| block.iter().fold(false, |seen, &b| seen | hit(b)));
    found || blocks.remainder().iter().any(|&b| hit(b))
}

/// Removes insignificant whitespace from valid JSON without touching any token, so numbers, key order and string
/// escapes stay exactly as the sender wrote them. One exception keeps every stored line safe to print: characters
/// for which [`crate::text::is_unsafe`] holds are written as `\uXXXX` escapes, which is the same JSON value. (Valid
/// JSON never carries a C0 control raw in a string, so this rewrites DEL, C1, separators, bidi controls and BOM.)
pub fn minify(json: &str) -> Cow<'_, str> {
    if !needs_rewrite(json) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len());
    let mut strings = JsonStrings::default();
    for c in json.chars() {
        if strings.step(c) {
            if crate::text::is_unsafe(c) {
                // Never directly after a backslash in valid JSON, so this cannot break an escape.
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push(c);
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Follows JSON text character by character to tell which characters belong to a string.
#[derive(Default)]
pub(crate) struct JsonStrings {
    in_string: bool,
    escaped: bool,
}

impl JsonStrings {
    /// Takes the next character; true when it is part of a string's contents or its closing quote (an opening
    /// quote is not: the caller treats it like the punctuation around it).
    pub(crate) fn step(&mut self, c: char) -> bool {
        if !self.in_string {
            self.in_string = c == '"';
            return false;
        }
        if self.escaped {
            self.escaped = false;
        } else if c == '\\' {
            self.escaped = true;
        } else if c == '"' {
            self.in_string = false;
        }
        true
    }
}

/// Whether [`minify`] would change anything: compact ASCII senders (the common case) need no copy. Any byte from
/// DEL up counts, which over-approximates [`crate::text::is_unsafe`] cheaply: the rewrite then copies unchanged.
fn needs_rewrite(json: &str) -> bool {
    has_byte_from_del_up(json.as_bytes()) || Shape::of(json.as_bytes()).whitespace
}
