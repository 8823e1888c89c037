//! One delivery attempt: an HTTP POST (hyper over tokio-rustls, ring) or a command run without a shell, and what
//! its outcome means: delivered, worth retrying, or never going to work.

use super::config::{HttpConfig, TargetConfig};
use crate::greenlake::{Secret, Signer, SIGNATURE_HEADER};
use crate::send::client::{Auth, Client, Connection, Target, Trust};
use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// Output of a command kept for the log, per stream; the rest is read and discarded.
const MAX_OUTPUT: usize = 8 * 1024;
/// Variables a command inherits from glwatch's environment; nothing else (secrets stay behind).
const INHERITED: &[&str] = &["PATH", "HOME", "LANG"];

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Try again later (at the earliest after the duration, if the receiver said so).
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// The receiver refused it for good.
    Permanent(String),
}

/// What one event is, for the request.
pub struct Message<'a> {
    pub body: Bytes,
    pub id: &'a str,
    pub source: &'a str,
    pub ty: &'a str,
}

pub enum Transport {
    Http(Box<Http>),
    Command { argv: Vec<String>, timeout: Duration },
}

pub struct Http {
    client: Client,
    conn: Option<Connection>,
    content_type: HeaderValue,
    headers: Vec<(HeaderName, HeaderValue)>,
    signer: Option<Signer>,
}

/// Why a route's target cannot be set up.
#[derive(Debug, thiserror::Error)]
#[error("route {route:?}: {message}")]
pub struct SetupError {
    pub route: String,
    pub message: String,
}

impl Transport {
    pub fn new(route: &str, target: &TargetConfig, timeout: Duration) -> Result<Transport, SetupError> {
        let err = |message: String| SetupError { route: route.to_owned(), message };
        match target {
            TargetConfig::Command(argv) => Ok(Transport::Command { argv: argv.clone(), timeout }),
            TargetConfig::Http(h) => Http::new(h, timeout).map(|h| Transport::Http(Box::new(h))).map_err(err),
        }
    }

    pub async fn deliver(&mut self, m: &Message<'_>) -> Outcome {
        match self {
            Transport::Http(h) => h.deliver(m).await,
            Transport::Command { argv, timeout } => run_command(argv, *timeout, m).await,
        }
    }
}

impl Http {
    fn new(h: &HttpConfig, timeout: Duration) -> Result<Http, String> {
        let target = Target::parse(&h.url).map_err(|e| e.to_string())?;
        let trust = match &h.ca {
            Some(pem) => Trust::from_pem(pem.as_bytes()).map_err(|e| format!("ca: {e}"))?,
            None => Trust::Platform,
        };
        let client = Client::new(target, &trust, Auth::default(), timeout).map_err(|e| e.to_string())?;
        let mut headers = Vec::new();
        for (k, v) in &h.headers {
            let name = HeaderName::try_from(k.as_str()).map_err(|e| format!("header {k:?}: {e}"))?;
            let mut value = HeaderValue::try_from(v.as_str()).map_err(|e| format!("header {k:?}: {e}"))?;
            // Header values are often tokens: keep them out of any debug output.
            value.set_sensitive(true);
            headers.push((name, value));
        }
        let content_type = HeaderValue::try_from(h.content_type.as_str()).map_err(|e| e.to_string())?;
        let signer = h.secret.as_ref().map(|s| Signer::new(&Secret::new_unchecked(s.clone())));
        Ok(Http { client, conn: None, content_type, headers, signer })
    }

    async fn deliver(&mut self, m: &Message<'_>) -> Outcome {
        let mut headers = self.headers.clone();
        let value = |v: &str| HeaderValue::try_from(v).ok();
        if let Some(key) = value(&format!("{}/{}", m.source, m.id)) {
            headers.push((HeaderName::from_static("idempotency-key"), key));
        }
        if let Some(id) = value(m.id) {
            headers.push((HeaderName::from_static("ce-id"), id));
        }
        if let Some(signer) = &self.signer {
            if let Some(sig) = value(&signer.header(&m.body)) {
                headers.push((HeaderName::from_static(SIGNATURE_HEADER), sig));
            }
        }
        // A kept-alive connection the server closed meanwhile is replaced before use; one that fails during the
        // request is dropped, and the retry opens a fresh one.
        let mut conn = match self.conn.take() {
            Some(c) if !c.is_closed() => c,
            _ => match self.client.connect().await {
                Ok(c) => c,
                Err(e) => return Outcome::Retry { reason: e.to_string(), after: None },
            },
        };
        match self.client.send(&mut conn, self.content_type.clone(), &headers, m.body.clone()).await {
            Ok(answer) => {
                self.conn = Some(conn);
                let status = answer.status.as_u16();
                let reason = || {
                    let body = String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)]).into_owned();
                    let body = crate::text::escape(body.trim()).into_owned();
                    if body.is_empty() {
                        format!("HTTP {status}")
                    } else {
                        format!("HTTP {status}: {body}")
                    }
                };
                match status {
                    // 302 and 303 after a POST say it was processed and where its result is (Google Apps Script
                    // web apps answer this way); 307 and 308 ask to repeat it elsewhere, so they do not count.
                    200..=299 | 302 | 303 => Outcome::Delivered,
                    408 | 429 | 500..=599 => Outcome::Retry { reason: reason(), after: answer.retry_after },
                    _ => Outcome::Permanent(reason()),
                }
            }
            Err(e) => Outcome::Retry { reason: e.to_string(), after: None },
        }
    }
}

/// Runs `argv` with the body on stdin: exit 0 is delivered, anything else is retried.
async fn run_command(argv: &[String], timeout: Duration, m: &Message<'_>) -> Outcome {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("GLWATCH_EVENT_ID", m.id)
        .env("GLWATCH_EVENT_TYPE", m.ty)
        .env("GLWATCH_EVENT_SOURCE", m.source)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in INHERITED {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Retry { reason: format!("cannot run {}: {e}", argv[0]), after: None },
    };
    let (Some(mut stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Outcome::Retry { reason: "no pipes to the command".into(), after: None };
    };
    let body = m.body.clone();
    let run = async move {
        let feed = async move {
            // A command that does not read its input is not an error: it may not need it.
            let _ = stdin.write_all(&body).await;
            drop(stdin);
        };
        let ((), out, err, status) = tokio::join!(feed, bounded(stdout), bounded(stderr), child.wait());
        (out, err, status)
    };
    let (out, err, status) = match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        // Dropping the future drops the child, which kills it.
        Err(_) => return Outcome::Retry { reason: format!("{} timed out after {timeout:?}", argv[0]), after: None },
    };
    for (stream, text) in [("stdout", &out), ("stderr", &err)] {
        if !text.is_empty() {
            tracing::info!("command {} {stream}: {}", argv[0], crate::text::escape(text.trim_end()));
        }
    }
    match status {
        Ok(s) if s.success() => Outcome::Delivered,
        Ok(s) => {
            let last = err.lines().last().map(|l| format!(": {}", crate::text::escape(l))).unwrap_or_default();
            Outcome::Retry { reason: format!("{} exited with {s}{last}", argv[0]), after: None }
        }
        Err(e) => Outcome::Retry { reason: format!("{}: {e}", argv[0]), after: None },
    }
}

/// Reads a stream to its end, keeping its first [`MAX_OUTPUT`] bytes.
async fn bounded(mut r: impl AsyncRead + Unpin) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}
