//! The one rule for text that came from the network: which characters must never reach a terminal as
//! themselves, and how they are written instead (`\u{..}`, so ESC becomes `\u{1b}`).
//!
//! A terminal acts on what it is sent: an ESC in an event's description could clear the screen, retitle the
//! window or write the clipboard (OSC 52), a C1 control (U+009B is a one-character CSI for some terminals) does the
//! same without an ESC, and a bidi control could make a line read differently from what it is. Text is escaped
//! once, where it enters a record or is read out of an event ([`crate::record`], [`crate::cloudevent`]), so the
//! dashboard, the NDJSON output, the CSV export and the logs all show the same characters.
//!
//! Line breaks and tabs are escaped too by [`escape`]: a record field is shown on one dashboard row and in one log
//! line, where a newline would forge a row and a carriage return would overwrite one. [`escape_multiline`] keeps
//! them for the CSV export only, where a quoted cell holds line breaks as part of its value and a spreadsheet
//! shows them as such.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for the characters that must never reach a terminal as themselves:
///
/// - every control character: C0 (U+0000–U+001F, ESC and BEL among them), DEL (U+007F) and C1 (U+0080–U+009F);
/// - the Unicode line and paragraph separators (U+2028, U+2029), which editors and some terminals break lines on;
/// - the bidirectional controls, which reorder what is shown: the Arabic letter mark (U+061C), the left-to-right
///   and right-to-left marks (U+200E, U+200F), the embeddings and overrides (U+202A–U+202E) and the isolates
///   (U+2066–U+2069);
/// - the byte order mark / zero width no-break space (U+FEFF), invisible yet able to make two values that look
///   the same differ.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// The text with every [`is_unsafe`] character written as `\u{..}`, for one line on a terminal. Borrows when
/// nothing needs escaping, which is nearly always, so display strings cost no extra copy. Escaping twice changes
/// nothing: the escapes themselves are printable ASCII.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_where(s, is_unsafe)
}

/// Like [`escape`] but keeps tab, line feed and carriage return, for a CSV cell (see the module documentation).
pub fn escape_multiline(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| is_unsafe(c) && !matches!(c, '\t' | '\n' | '\r'))
}

fn escape_where(s: &str, escaped: impl Fn(char) -> bool) -> Cow<'_, str> {
    // Printable ASCII is the common case and can be checked a byte at a time.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(&escaped) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if escaped(c) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed_unchanged() {
        for s in ["User john.doe@hpedev.io logged out", "Ünïcødé ✓ 日本 مرحبا", ""] {
            assert!(matches!(escape(s), Cow::Borrowed(b) if b == s));
            assert!(matches!(escape_multiline(s), Cow::Borrowed(b) if b == s));
        }
    }

    #[test]
    fn the_character_set() {
        let unsafe_ranges = [
            ('\u{0}', '\u{1f}'),
            ('\u{7f}', '\u{9f}'),
            ('\u{61c}', '\u{61c}'),
            ('\u{200e}', '\u{200f}'),
            ('\u{2028}', '\u{2029}'),
            ('\u{202a}', '\u{202e}'),
            ('\u{2066}', '\u{2069}'),
            ('\u{feff}', '\u{feff}'),
        ];
        for (lo, hi) in unsafe_ranges {
            for c in lo..=hi {
                assert!(is_unsafe(c), "U+{:04X} must be escaped", c as u32);
            }
        }
        // Neighbours of each range, and ordinary text, pass.
        for c in [' ', '~', '\u{a0}', '\u{61b}', '\u{61d}', '\u{200d}', '\u{2027}', '\u{202f}', '\u{2065}'] {
            assert!(!is_unsafe(c), "U+{:04X} is ordinary text", c as u32);
        }
        for c in ['\u{206a}', '\u{fefe}', '\u{ff00}', 'é', '日', '✓', 'ا'] {
            assert!(!is_unsafe(c), "U+{:04X} is ordinary text", c as u32);
        }
        let every: String = unsafe_ranges.iter().flat_map(|&(lo, hi)| lo..=hi).collect();
        assert!(!escape(&every).chars().any(is_unsafe));
    }

    #[test]
    fn escape_sequences_become_visible_text() {
        let hostile = "a\x1b]52;c;SGVsbG8=\x07b\x1b[2Jc\r\n\t\x7f\u{9b}d";
        let shown = escape(hostile);
        assert_eq!(shown, "a\\u{1b}]52;c;SGVsbG8=\\u{7}b\\u{1b}[2Jc\\u{d}\\u{a}\\u{9}\\u{7f}\\u{9b}d");
        assert!(!shown.chars().any(is_unsafe));
        assert_eq!(escape(&shown), shown, "escaping twice changes nothing");
    }

    #[test]
    fn bidi_controls_and_the_byte_order_mark_are_escaped() {
        assert_eq!(escape("ab\u{202E}cd\u{2066}"), "ab\\u{202e}cd\\u{2066}");
        assert_eq!(escape("\u{61c}x\u{feff}y\u{200f}"), "\\u{61c}x\\u{feff}y\\u{200f}");
        assert_eq!(escape("a\u{2028}b"), "a\\u{2028}b");
    }

    #[test]
    fn multiline_keeps_only_tab_and_line_breaks() {
        assert_eq!(escape_multiline("one\ntwo\r\nthree\tfour"), "one\ntwo\r\nthree\tfour");
        assert_eq!(escape_multiline("a\x1b[2J\u{85}\u{202e}\n"), "a\\u{1b}[2J\\u{85}\\u{202e}\n");
    }
}
