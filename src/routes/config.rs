//! The routes file (`--routes FILE`, TOML) and the `--forward URL` shortcut: parsed, checked and compiled once at
//! start, so that every mistake is one line naming the file, the line and the key before anything is served.

use super::template::Template;
use crate::filter::Filter;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Default time for one delivery attempt (connect, TLS, request and answer; or a command's whole run).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time an event is retried before it is dead-lettered.
pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(12 * 3600);
/// The name of the `--forward` route.
pub const FORWARD_NAME: &str = "forward";

/// One route, checked and ready to run.
#[derive(Debug)]
pub struct RouteConfig {
    pub name: String,
    pub target: TargetConfig,
    pub filter: Filter,
    pub template: Option<Template>,
    pub timeout: Duration,
    pub retry_for: Duration,
    /// Requests per second at most; `None` for no limit.
    pub max_rate: Option<f64>,
}

/// Where a route delivers.
#[derive(Debug)]
pub enum TargetConfig {
    Http(HttpConfig),
    /// argv: the program and its arguments, run without a shell.
    Command(Vec<String>),
}

#[derive(Debug)]
pub struct HttpConfig {
    pub url: String,
    /// A PEM document of certificates to trust instead of the platform's roots.
    pub ca: Option<String>,
    /// Signs each body: `Hpe-Webhook-Signature: sha256=<hex>`.
    pub secret: Option<String>,
    pub headers: Vec<(String, String)>,
    pub content_type: String,
}

/// Why the routes could not be set up: one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot be read: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Invalid { path: PathBuf, line: Option<usize>, message: String },
    #[error("--forward {url}: {message}")]
    Forward { url: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    route: Vec<Spanned<RawRoute>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    users: Vec<String>,
    /// Configured source names (`--sources`).
    #[serde(default)]
    sources: Vec<String>,
    text: Option<String>,
    secret: Option<String>,
    ca: Option<Spanned<String>>,
    headers: Option<Spanned<BTreeMap<String, String>>>,
    template: Option<Spanned<String>>,
    content_type: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    retry_for: Option<Spanned<String>>,
    max_rate: Option<Spanned<f64>>,
}

/// Reads and checks the routes file.
pub fn load(path: &Path) -> Result<Vec<RouteConfig>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    parse(path, &text)
}

/// The one route of `--forward URL`: every event, the CloudEvent as received, default timeouts.
pub fn forward(url: &str) -> Result<RouteConfig, ConfigError> {
    let err = |message: String| ConfigError::Forward { url: url.to_owned(), message };
    check_url(url).map_err(err)?;
    Ok(RouteConfig {
        name: FORWARD_NAME.to_owned(),
        target: TargetConfig::Http(HttpConfig {
            url: url.to_owned(),
            ca: None,
            secret: None,
            headers: Vec::new(),
            content_type: "application/json".to_owned(),
        }),
        filter: Filter::default(),
        template: None,
        timeout: DEFAULT_TIMEOUT,
        retry_for: DEFAULT_RETRY_FOR,
        max_rate: None,
    })
}

/// Parses the text of a routes file; `path` only names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Vec<RouteConfig>, ConfigError> {
    let at = |offset: usize, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        line: Some(line_of(text, offset)),
        message,
    };
    let file: File = toml::from_str(text).map_err(|e| ConfigError::Invalid {
        path: path.to_owned(),
        line: e.span().map(|s| line_of(text, s.start)),
        // toml's message is already one line; its multi-line rendering with the source is not.
        message: e.message().trim().replace('\n', " "),
    })?;
    if file.route.is_empty() {
        return Err(ConfigError::Invalid { path: path.to_owned(), line: None, message: "no [[route]] defined".into() });
    }
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for spanned in file.route {
        let start = spanned.span().start;
        let raw = spanned.into_inner();
        let Some(name) = raw.name else {
            return Err(at(start, "route without `name`".into()));
        };
        let here = |s: &Spanned<String>| s.span().start;
        if !valid_name(name.get_ref()) {
            return Err(at(here(&name), format!("name {:?}: use only a-z, 0-9, `_` and `-`", name.get_ref())));
        }
        if !names.insert(name.get_ref().clone()) {
            return Err(at(here(&name), format!("name {:?} is used by another route", name.get_ref())));
        }
        let route = name.get_ref().clone();
        let in_route = |offset: usize, message: String| at(offset, format!("route {route:?}: {message}"));
        let duration = |d: &Option<Spanned<String>>, key: &str, default: Duration| match d {
            None => Ok(default),
            Some(s) => {
                crate::units::parse_duration(s.get_ref()).map_err(|e| in_route(s.span().start, format!("`{key}`: {e}")))
            }
        };
        let timeout = duration(&raw.timeout, "timeout", DEFAULT_TIMEOUT)?;
        if timeout.is_zero() {
            let at = raw.timeout.as_ref().map_or(start, |t| t.span().start);
            return Err(in_route(at, "`timeout` must be longer than zero".into()));
        }
        let retry_for = duration(&raw.retry_for, "retry_for", DEFAULT_RETRY_FOR)?;
        let max_rate = match &raw.max_rate {
            Some(r) if !(r.get_ref().is_finite() && *r.get_ref() > 0.0) => {
                return Err(in_route(r.span().start, "`max_rate` must be a number above zero".into()))
            }
            r => r.as_ref().map(|r| *r.get_ref()),
        };
        let http_only = |key: &str, span: Option<std::ops::Range<usize>>| match span {
            Some(s) if raw.command.is_some() => Err(in_route(s.start, format!("`{key}` applies to `url` routes only"))),
            _ => Ok(()),
        };
        http_only("ca", raw.ca.as_ref().map(Spanned::span))?;
        http_only("content_type", raw.content_type.as_ref().map(Spanned::span))?;
        http_only("headers", raw.headers.as_ref().map(Spanned::span))?;
        if raw.secret.is_some() && raw.command.is_some() {
            return Err(in_route(start, "`secret` applies to `url` routes only".into()));
        }
        let target = match (raw.url, raw.command) {
            (Some(_), Some(c)) => {
                return Err(in_route(c.span().start, "give either `url` or `command`, not both".into()))
            }
            (None, None) => return Err(in_route(start, "needs `url` or `command`".into())),
            (None, Some(c)) => {
                if c.get_ref().is_empty() || c.get_ref()[0].is_empty() {
                    return Err(in_route(c.span().start, "`command` needs at least the program".into()));
                }
                TargetConfig::Command(c.into_inner())
            }
            (Some(u), None) => {
                check_url(u.get_ref()).map_err(|m| in_route(u.span().start, format!("`url`: {m}")))?;
                if let Some(ca) = &raw.ca {
                    crate::send::client::Trust::from_pem(ca.get_ref().as_bytes())
                        .map_err(|e| in_route(ca.span().start, format!("`ca`: {e}")))?;
                }
                let headers_at = raw.headers.as_ref().map_or(start, |h| h.span().start);
                let headers: Vec<(String, String)> =
                    raw.headers.map(|h| h.into_inner().into_iter().collect()).unwrap_or_default();
                for (k, v) in &headers {
                    if hyper::header::HeaderName::try_from(k.as_str()).is_err()
                        || hyper::header::HeaderValue::try_from(v.as_str()).is_err()
                    {
                        return Err(in_route(headers_at, format!("`headers`: {k:?} is not a valid header")));
                    }
                }
                let content_type = match raw.content_type {
                    Some(c) => {
                        if hyper::header::HeaderValue::try_from(c.get_ref().as_str()).is_err() {
                            return Err(in_route(c.span().start, "`content_type` is not a valid header value".into()));
                        }
                        c.into_inner()
                    }
                    None => "application/json".to_owned(),
                };
                TargetConfig::Http(HttpConfig {
                    url: u.into_inner(),
                    ca: raw.ca.map(Spanned::into_inner),
                    secret: raw.secret,
                    headers,
                    content_type,
                })
            }
        };
        let json = match &target {
            TargetConfig::Http(h) => h.content_type.contains("json"),
            TargetConfig::Command(_) => false,
        };
        let template = match raw.template {
            None => None,
            Some(t) => Some(Template::compile(&route, t.get_ref(), json).map_err(|e| {
                // The template's own line, counted from the line its string starts on; a multi-line string drops
                // the newline right after its opening quotes.
                let opening = &text[t.span().start..];
                let skipped = ["\"\"\"\n", "'''\n", "\"\"\"\r\n", "'''\r\n"].iter().any(|q| opening.starts_with(q));
                let line = line_of(text, t.span().start) + usize::from(skipped) + e.line.saturating_sub(1);
                ConfigError::Invalid {
                    path: path.to_owned(),
                    line: Some(line),
                    message: format!("route {route:?}: `template` does not parse: {}", e.message),
                }
            })?),
        };
        let filter = Filter {
            text: raw.text.unwrap_or_default(),
            types: raw.types.into_iter().collect(),
            users: raw.users.into_iter().collect(),
            sources: raw.sources.into_iter().collect(),
            since: None,
            until: None,
        };
        out.push(RouteConfig { name: route, target, filter, template, timeout, retry_for, max_rate });
    }
    Ok(out)
}

/// Route names become file names and metric labels.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn check_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err("must start with https:// or http://".into());
    }
    crate::send::client::Target::parse(url).map(|_| ()).map_err(|e| e.to_string())
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(Path::new("routes.toml"), text).unwrap_err().to_string()
    }

    #[test]
    fn a_full_file_parses() {
        let routes = parse(
            Path::new("r.toml"),
            r#"
[[route]]
name = "sheet"
url = "https://example.com/exec"
types = ["audit-log"]
users = ["alice@example.com"]
text = "logged in"
secret = "s3cret"
headers = { "X-Token" = "t" }
template = '{"text": "{{ event.data.description }} ({{ user }})"}'
timeout = "5s"
retry_for = "1h"
max_rate = 10

[[route]]
name = "script"
command = ["/bin/cat", "-u"]
"#,
        )
        .unwrap();
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].timeout, Duration::from_secs(5));
        assert_eq!(routes[0].retry_for, Duration::from_secs(3600));
        assert_eq!(routes[0].max_rate, Some(10.0));
        assert!(routes[0].filter.types.contains("audit-log"));
        assert!(matches!(&routes[1].target, TargetConfig::Command(c) if c == &["/bin/cat", "-u"]));
        assert_eq!(routes[1].retry_for, DEFAULT_RETRY_FOR);
    }

    #[test]
    fn mistakes_name_the_file_line_and_key() {
        let e = err("[[route]]\nname = \"a\"\nurl = \"http://x/\"\nsecrte = \"s\"\n");
        assert!(e.starts_with("routes.toml line 4: unknown field `secrte`"), "{e}");
        let e = err("[[route]]\nname = \"a\"\nurl = \"http://x/\"\n[[route]]\nname = \"a\"\ncommand = [\"x\"]\n");
        assert_eq!(e, "routes.toml line 5: name \"a\" is used by another route");
        let e = err("[[route]]\nname = \"a\"\n");
        assert!(e.starts_with("routes.toml line 1: route \"a\": needs `url` or `command`"), "{e}");
        let e = err("[[route]]\nname = \"a\"\nurl = \"http://x/\"\ncommand = [\"x\"]\n");
        assert_eq!(e, "routes.toml line 4: route \"a\": give either `url` or `command`, not both");
        let e = err("[[route]]\nname = \"a\"\nurl = \"http://x/\"\n\nretry_for = \"soon\"\n");
        assert!(e.starts_with("routes.toml line 5: route \"a\": `retry_for`:"), "{e}");
        let e = err("[[route]]\nname = \"A b\"\nurl = \"http://x/\"\n");
        assert!(e.starts_with("routes.toml line 2: name \"A b\""), "{e}");
        let e = err("[[route]]\nname = \"a\"\nurl = \"ftp://x/\"\n");
        assert!(e.starts_with("routes.toml line 3: route \"a\": `url`:"), "{e}");
        let e = err("[[route]]\nname = \"a\"\nurl = \"http://x/\"\ntemplate = \"\"\"\nok\n{{ oops\n\"\"\"\n");
        assert!(e.starts_with("routes.toml line 6: route \"a\": `template` does not parse"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        assert_eq!(err(""), "routes.toml: no [[route]] defined");
    }

    #[test]
    fn forward_is_one_route_for_everything() {
        let r = forward("http://127.0.0.1:9/x").unwrap();
        assert_eq!(r.name, "forward");
        assert!(r.filter.is_empty() && r.template.is_none());
        assert!(forward("mailto:x").is_err());
    }
}
