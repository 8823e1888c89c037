//! Makes text from the network safe to put on a terminal: control characters and text-direction overrides are
//! shown as visible escapes, never written raw.
//!
//! A terminal acts on what it is sent: an ESC in an event's description could clear the screen, retitle the
//! window or write the clipboard (OSC 52), and a bidi override could make a line read differently from what it is.
//! Every string that came from a request passes through [`sanitize`] before it is stored for display.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for characters that must never reach the terminal as themselves.
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

/// The text with every unsafe character written as `\u{..}` (ESC becomes `\u{1b}`). Borrows when nothing needs
/// escaping, which is nearly always, so display strings cost no extra copy.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    // Printable ASCII is the common case and can be checked a byte at a time.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) {
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
        for s in ["User john.doe@hpedev.io logged out", "Ünïcødé ✓ 日本", ""] {
            assert!(matches!(sanitize(s), Cow::Borrowed(b) if b == s));
        }
    }

    #[test]
    fn escape_sequences_become_visible_text() {
        let hostile = "a\x1b]52;c;SGVsbG8=\x07b\x1b[2Jc\r\n\t\x7f\u{9b}d";
        let shown = sanitize(hostile);
        assert_eq!(shown, "a\\u{1b}]52;c;SGVsbG8=\\u{7}b\\u{1b}[2Jc\\u{d}\\u{a}\\u{9}\\u{7f}\\u{9b}d");
        assert!(!shown.chars().any(|c| c.is_control()));
    }

    #[test]
    fn direction_overrides_are_escaped() {
        assert_eq!(sanitize("ab\u{202E}cd\u{2066}"), "ab\\u{202e}cd\\u{2066}");
    }
}
