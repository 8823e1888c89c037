//! The `--sources` file: which webhook sources one receiver serves, each on its own path with its own scheme and
//! secrets, checked into [`SourceConfig`]s. A mistake is one line naming the file, the line and the key.

use super::{Scheme, SourceSecret};
use crate::greenlake::Secret;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// One configured source, checked.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Shown in the dashboard's Source column and recorded as `source_name`.
    pub name: String,
    /// The exact request path it answers on.
    pub path: String,
    pub scheme: Scheme,
    pub secrets: SourceSecrets,
}

/// The keys a source verifies with: GreenLake's text secrets (also used to answer its challenge), or the raw HMAC
/// keys of the other schemes. Either way a second one allows a rotation.
#[derive(Debug, Clone)]
pub enum SourceSecrets {
    GreenLake { primary: Secret, secondary: Option<Secret> },
    Hmac(Vec<SourceSecret>),
}

/// Why the sources file was refused: `FILE: line N: KEY: problem`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}{key}: {problem}", file.display(), line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct SourcesError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: String,
    pub problem: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    #[serde(default)]
    source: Vec<Spanned<Entry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Spanned<String>,
    path: Spanned<String>,
    scheme: Spanned<String>,
    secret: Option<Spanned<String>>,
    secret_file: Option<Spanned<PathBuf>>,
    secondary_secret: Option<Spanned<String>>,
}

/// Reads and checks the sources file at `path`. A relative `secret_file` is taken from the file's directory.
pub fn load(path: &Path) -> Result<Vec<SourceConfig>, SourcesError> {
    let text = std::fs::read_to_string(path).map_err(|e| SourcesError {
        file: path.to_owned(),
        line: None,
        key: "file".into(),
        problem: format!("cannot read: {e}"),
    })?;
    parse(&text, path)
}

/// Checks the text of a sources file named `file` (for the messages and relative secret files).
pub fn parse(text: &str, file: &Path) -> Result<Vec<SourceConfig>, SourcesError> {
    let fail = |at: usize, key: &str, problem: String| SourcesError {
        file: file.to_owned(),
        line: Some(line_of(text, at)),
        key: key.to_owned(),
        problem,
    };
    let parsed: FileText = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| s.start).unwrap_or(0);
        let message = e.message().trim().to_owned();
        fail(at, &key_at(text, at), message)
    })?;
    if parsed.source.is_empty() {
        return Err(fail(0, "source", "no [[source]] tables: configure at least one source".into()));
    }
    let mut names = HashMap::new();
    let mut paths = HashMap::new();
    let mut sources = Vec::with_capacity(parsed.source.len());
    for entry in &parsed.source {
        let at = entry.span().start;
        let entry = entry.get_ref();
        let name = entry.name.get_ref().trim();
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(fail(
                entry.name.span().start,
                "name",
                "must be non-empty text without control characters".into(),
            ));
        }
        if let Some(first) = names.insert(name.to_owned(), entry.name.span().start) {
            let problem = format!("duplicate name {name:?} (first on line {})", line_of(text, first));
            return Err(fail(entry.name.span().start, "name", problem));
        }
        let path = entry.path.get_ref();
        if !path.starts_with('/') || path.contains(['?', '#']) || path.chars().any(|c| c.is_whitespace()) {
            let problem = format!("{path:?} is not a request path (it starts with / and has no query)");
            return Err(fail(entry.path.span().start, "path", problem));
        }
        if let Some(first) = paths.insert(path.clone(), entry.path.span().start) {
            let problem = format!("duplicate path {path:?} (first on line {})", line_of(text, first));
            return Err(fail(entry.path.span().start, "path", problem));
        }
        let scheme: Scheme = entry
            .scheme
            .get_ref()
            .parse()
            .map_err(|e: super::UnknownScheme| fail(entry.scheme.span().start, "scheme", e.to_string()))?;
        let primary = match (&entry.secret, &entry.secret_file) {
            (Some(_), Some(f)) => {
                return Err(fail(f.span().start, "secret_file", "give secret or secret_file, not both".into()))
            }
            (Some(s), None) => (s.get_ref().clone(), "secret", s.span().start),
            (None, Some(f)) => {
                let full = file.parent().unwrap_or(Path::new("")).join(f.get_ref());
                let read = std::fs::read_to_string(&full)
                    .map_err(|e| fail(f.span().start, "secret_file", format!("cannot read {}: {e}", full.display())))?;
                (read.trim().to_owned(), "secret_file", f.span().start)
            }
            (None, None) => return Err(fail(at, "secret", format!("source {name:?} has no secret or secret_file"))),
        };
        let secrets =
            secrets(scheme, primary, entry.secondary_secret.as_ref()).map_err(|(key, at, p)| fail(at, key, p))?;
        sources.push(SourceConfig { name: name.to_owned(), path: path.clone(), scheme, secrets });
    }
    Ok(sources)
}

type SecretProblem = (&'static str, usize, String);

/// The scheme's keys from the configured texts; a problem names the key it came from, never the secret.
fn secrets(
    scheme: Scheme,
    (primary, primary_key, primary_at): (String, &'static str, usize),
    secondary: Option<&Spanned<String>>,
) -> Result<SourceSecrets, SecretProblem> {
    let secondary = secondary.map(|s| (s.get_ref().as_str(), s.span().start));
    if scheme == Scheme::GreenLake {
        let primary = Secret::new(primary).map_err(|e| (primary_key, primary_at, e.to_string()))?;
        let secondary =
            secondary.map(|(s, at)| Secret::new(s).map_err(|e| ("secondary_secret", at, e.to_string()))).transpose()?;
        return Ok(SourceSecrets::GreenLake { primary, secondary });
    }
    let decode = |text: &str| match scheme {
        Scheme::StandardWebhooks => SourceSecret::from_whsec(text),
        _ => SourceSecret::from_text(text),
    };
    let mut keys = vec![decode(&primary).map_err(|e| (primary_key, primary_at, e.to_string()))?];
    if let Some((text, at)) = secondary {
        keys.push(decode(text).map_err(|e| ("secondary_secret", at, e.to_string()))?);
    }
    Ok(SourceSecrets::Hmac(keys))
}

/// The 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

/// The key written at the start of the line holding `at`, for parse errors that do not name one.
fn key_at(text: &str, at: usize) -> String {
    let start = text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    match line.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() => key.trim().to_owned(),
        _ => line.trim().chars().take(40).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<SourceConfig>, String> {
        parse(text, Path::new("/etc/glwatch/sources.toml")).map_err(|e| e.to_string())
    }

    const GOOD: &str = r#"
[[source]]
name = "greenlake"
path = "/greenlake"
scheme = "greenlake"
secret = "greenlake-secret"
secondary_secret = "older-secret"

[[source]]
name = "github"
path = "/github"
scheme = "github"
secret = "gh-secret"

[[source]]
name = "svix"
path = "/hooks"
scheme = "standard-webhooks"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
"#;

    #[test]
    fn a_good_file_gives_each_source_its_scheme_and_keys() {
        let sources = parse_text(GOOD).unwrap();
        let summary: Vec<_> = sources.iter().map(|s| (s.name.as_str(), s.path.as_str(), s.scheme)).collect();
        assert_eq!(
            summary,
            [
                ("greenlake", "/greenlake", Scheme::GreenLake),
                ("github", "/github", Scheme::GitHub),
                ("svix", "/hooks", Scheme::StandardWebhooks)
            ]
        );
        assert!(matches!(&sources[0].secrets, SourceSecrets::GreenLake { secondary: Some(_), .. }));
        let SourceSecrets::Hmac(keys) = &sources[2].secrets else { panic!("hmac") };
        assert_eq!(keys[0].expose().len(), 24, "whsec_ secrets are decoded");
    }

    #[test]
    fn mistakes_name_the_file_the_line_and_the_key() {
        let cases = [
            (GOOD.replace("secret = \"gh-secret\"", "secrett = \"x\""), "line 13: secrett: unknown field `secrett`"),
            (
                GOOD.replace("name = \"svix\"", "name = \"github\""),
                "line 16: name: duplicate name \"github\" (first on line 10)",
            ),
            (GOOD.replace("path = \"/hooks\"", "path = \"/github\""), "line 17: path: duplicate path"),
            (GOOD.replace("scheme = \"github\"", "scheme = \"gitlab\""), "line 12: scheme: unknown scheme \"gitlab\""),
            (GOOD.replace("secret = \"gh-secret\"", ""), "line 9: secret: source \"github\" has no secret"),
            (GOOD.replace("secret = \"greenlake-secret\"", "secret = \"abc\""), "line 6: secret:"),
            (GOOD.replace("whsec_MfKQ", "whsec_!!"), "line 19: secret: a Standard Webhooks secret"),
            (
                GOOD.replace("path = \"/github\"", "path = \"github\""),
                "line 11: path: \"github\" is not a request path",
            ),
            ("[[source]]\nname = \"x\"\npath = 3\n".to_owned(), "line 3: path: invalid type"),
            (String::new(), "line 1: source: no [[source]] tables"),
        ];
        for (text, expected) in cases {
            let e = parse_text(&text).unwrap_err();
            assert!(e.starts_with("/etc/glwatch/sources.toml: line "), "{e}");
            assert!(e.contains(expected), "{e} lacks {expected}");
            assert!(!e.contains("gh-secret") && !e.contains("greenlake-secret"), "{e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn secret_files_are_read_beside_the_sources_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("gh"), "gh-secret\n").unwrap();
        let file = dir.path().join("sources.toml");
        let text = "[[source]]\nname = \"github\"\npath = \"/github\"\nscheme = \"github\"\nsecret_file = \"gh\"\n";
        std::fs::write(&file, text).unwrap();
        let sources = load(&file).unwrap();
        let SourceSecrets::Hmac(keys) = &sources[0].secrets else { panic!("hmac") };
        assert_eq!(keys[0].expose(), b"gh-secret");
        std::fs::write(&file, text.replace("\"gh\"", "\"missing\"")).unwrap();
        let e = load(&file).unwrap_err().to_string();
        assert!(e.contains("line 5: secret_file: cannot read") && e.contains("missing"), "{e}");
    }
}
