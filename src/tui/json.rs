//! Pretty-printing an event's raw JSON for the detail pane, and splitting its lines into tokens for colouring.
//!
//! The JSON is re-indented token by token rather than parsed into a tree and printed again, so key order,
//! numbers and string escapes appear exactly as GreenLake sent them.

use crate::cloudevent::JsonStrings;
use crate::tui::sanitize::sanitize;

const INDENT: &str = "  ";

/// The JSON laid out one member per line, each line sanitised. `raw` must be valid JSON (rows only hold JSON
/// that parsed); anything else still comes out line-broken rather than failing.
pub fn pretty_lines(raw: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut depth: usize = 0;
    let mut strings = JsonStrings::default();
    let mut chars = raw.chars().peekable();
    let newline = |line: &mut String, lines: &mut Vec<String>, depth: usize| {
        lines.push(sanitize(line).into_owned());
        line.clear();
        for _ in 0..depth {
            line.push_str(INDENT);
        }
    };
    while let Some(c) = chars.next() {
        if strings.step(c) {
            line.push(c);
            continue;
        }
        match c {
            '"' => line.push(c),
            '{' | '[' => {
                line.push(c);
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    chars.next();
                    line.push(close);
                } else {
                    depth += 1;
                    newline(&mut line, &mut lines, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut line, &mut lines, depth);
                line.push(c);
            }
            ',' => {
                line.push(c);
                newline(&mut line, &mut lines, depth);
            }
            ':' => line.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => line.push(c),
        }
    }
    if !line.is_empty() {
        lines.push(sanitize(&line).into_owned());
    }
    lines
}

/// What a piece of a pretty-printed line is, for colouring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Indent,
    Key,
    String,
    Number,
    Literal,
    Punct,
}

/// Splits one line from [`pretty_lines`] into coloured pieces. Every byte of the line is in exactly one piece.
pub fn tokens(line: &str) -> Vec<(Token, &str)> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let kind = match bytes[i] {
            b' ' => {
                while i < bytes.len() && bytes[i] == b' ' {
                    i += 1;
                }
                Token::Indent
            }
            b'"' => {
                i += 1;
                let mut escaped = false;
                while i < bytes.len() {
                    let b = bytes[i];
                    i += 1;
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        break;
                    }
                }
                if line[i..].starts_with(':') {
                    Token::Key
                } else {
                    Token::String
                }
            }
            b'-' | b'0'..=b'9' => {
                while i < bytes.len() && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    i += 1;
                }
                Token::Number
            }
            b'a'..=b'z' => {
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                Token::Literal
            }
            _ => {
                // Advance by a whole character so slices stay on UTF-8 boundaries.
                i += line[i..].chars().next().map_or(1, char::len_utf8);
                Token::Punct
            }
        };
        out.push((kind, &line[start..i]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_keeps_order_and_tokens_exactly() {
        let raw = r#"{"z":1.50e3,"a":{"s":"x, y: {z}","e":[],"o":{}},"l":[true,null,"\u001b"]}"#;
        assert_eq!(
            pretty_lines(raw),
            [
                "{",
                r#"  "z": 1.50e3,"#,
                r#"  "a": {"#,
                r#"    "s": "x, y: {z}","#,
                r#"    "e": [],"#,
                r#"    "o": {}"#,
                "  },",
                r#"  "l": ["#,
                "    true,",
                "    null,",
                r#"    "\u001b""#,
                "  ]",
                "}",
            ]
        );
    }

    #[test]
    fn raw_control_characters_inside_strings_are_escaped() {
        // JSON forbids raw C0 controls in strings, but DEL and C1 controls (U+009B is a one-byte CSI) are legal.
        let lines = pretty_lines("{\"d\":\"a\u{9b}2J\u{7f}\"}");
        assert_eq!(lines[1], r#"  "d": "a\u{9b}2J\u{7f}""#);
    }

    #[test]
    fn tokens_cover_the_line_and_classify() {
        let line = r#"    "key": "va\"l:ue","#;
        let t = tokens(line);
        assert_eq!(t.iter().map(|(_, s)| *s).collect::<String>(), line);
        assert_eq!(
            t,
            [
                (Token::Indent, "    "),
                (Token::Key, r#""key""#),
                (Token::Punct, ":"),
                (Token::Indent, " "),
                (Token::String, r#""va\"l:ue""#),
                (Token::Punct, ","),
            ]
        );
        assert_eq!(
            tokens("  -1.5e3, true, null é"),
            [
                (Token::Indent, "  "),
                (Token::Number, "-1.5e3"),
                (Token::Punct, ","),
                (Token::Indent, " "),
                (Token::Literal, "true"),
                (Token::Punct, ","),
                (Token::Indent, " "),
                (Token::Literal, "null"),
                (Token::Indent, " "),
                (Token::Punct, "é"),
            ]
        );
    }
}
