//! The watch endpoint's client, for `glwatch tail` and any other reader of a running glwatch: where to connect
//! (local socket or HTTPS with a token), stored records page by page, and the live stream parsed from SSE, followed
//! across reconnects by resuming after the last seq seen.

use crate::send::client::{tls_config, Trust};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, HOST};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Longest SSE line accepted: a record line plus its `data: ` prefix. Beyond it the stream is treated as broken.
const MAX_SSE_LINE: usize = 256 << 20;
/// Longest page of `/v1/records` read.
const MAX_PAGE: usize = 64 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}: expected unix:PATH, a socket path or https://HOST:PORT")]
    Target(String),
    #[error("cannot connect to {target}: {source}")]
    Connect { target: String, source: std::io::Error },
    #[error("{target}: TLS: {source}")]
    Tls { target: String, source: std::io::Error },
    #[error("{0}: timed out connecting")]
    Timeout(String),
    #[error("{target}: {source}")]
    Http { target: String, source: hyper::Error },
    #[error("{target}: {status}: {body}")]
    Status { target: String, status: StatusCode, body: String },
    #[error("{target}: the stream is broken: {why}")]
    Broken { target: String, why: String },
    #[error("TLS setup: {0}")]
    Setup(String),
}

impl ClientError {
    /// Errors that will not go away by trying again: a refused token, a route that does not exist.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ClientError::Status { status, .. } if status.is_client_error())
            || matches!(self, ClientError::Target(_) | ClientError::Setup(_))
    }
}

/// Where the endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    Https { host: String, port: u16 },
}

impl Target {
    /// `unix:PATH`, `https://host:port` (port 8443 by default) or a plain path to a socket.
    pub fn parse(text: &str) -> Result<Target, ClientError> {
        let bad = || ClientError::Target(text.to_owned());
        if let Some(path) = text.strip_prefix("unix:") {
            return if path.is_empty() { Err(bad()) } else { Ok(Target::Unix(path.into())) };
        }
        if let Some(rest) = text.strip_prefix("https://") {
            let authority = rest.split('/').next().unwrap_or_default();
            let uri: hyper::http::uri::Authority = authority.parse().map_err(|_| bad())?;
            let host = uri.host().trim_start_matches('[').trim_end_matches(']').to_owned();
            if host.is_empty() {
                return Err(bad());
            }
            return Ok(Target::Https { host, port: uri.port_u16().unwrap_or(8443) });
        }
        if text.contains("://") || text.is_empty() {
            return Err(bad());
        }
        Ok(Target::Unix(text.into()))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Unix(p) => write!(f, "unix:{}", p.display()),
            Target::Https { host, port } if host.contains(':') => write!(f, "https://[{host}]:{port}"),
            Target::Https { host, port } => write!(f, "https://{host}:{port}"),
        }
    }
}

/// A page of stored records.
#[derive(Debug)]
pub struct Page {
    /// Each line as journaled (with its seq), and that seq.
    pub records: Vec<(u64, String)>,
    /// Where stored history begins.
    pub first_seq: u64,
    /// The last record numbered when the page was read.
    pub last_seq: u64,
}

/// One SSE event as sent by the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A record: its seq (0 for one that never reached the journal) and its line.
    Record { seq: u64, line: String },
    /// Records that were missed and cannot be read back (the receiver runs without a journal).
    Gap(u64),
}

/// Talks to one endpoint. Cheap to clone.
#[derive(Clone)]
pub struct WatchClient {
    target: Target,
    tls: Option<Arc<rustls::ClientConfig>>,
    token: Option<HeaderValue>,
}

impl WatchClient {
    /// `trust` and `token` are used over HTTPS only.
    pub fn new(target: Target, trust: &Trust, token: Option<&str>) -> Result<WatchClient, ClientError> {
        let tls = match &target {
            Target::Https { .. } => {
                Some(Arc::new(tls_config(trust).map_err(|e| ClientError::Setup(format!("{e:#}")))?))
            }
            Target::Unix(_) => None,
        };
        let token = token
            .map(|t| HeaderValue::from_str(&format!("Bearer {}", t.trim())))
            .transpose()
            .map_err(|_| ClientError::Setup("the token holds characters a header cannot carry".into()))?
            .map(|mut v| {
                v.set_sensitive(true);
                v
            });
        Ok(WatchClient { target, tls, token })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, ClientError> {
        let name = self.target.to_string();
        let io_err = |source| ClientError::Connect { target: name.clone(), source };
        let http = |source| ClientError::Http { target: name.clone(), source };
        let connect = async {
            match &self.target {
                Target::Unix(path) => {
                    let stream = tokio::net::UnixStream::connect(path).await.map_err(io_err)?;
                    let (send, conn) =
                        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(http)?;
                    tokio::spawn(conn);
                    Ok(send)
                }
                Target::Https { host, port } => {
                    let tcp = tokio::net::TcpStream::connect((host.as_str(), *port)).await.map_err(io_err)?;
                    let _ = tcp.set_nodelay(true);
                    let server =
                        ServerName::try_from(host.clone()).map_err(|_| ClientError::Target(self.target.to_string()))?;
                    let tls = self.tls.clone().expect("HTTPS targets have a TLS configuration");
                    let stream = tokio_rustls::TlsConnector::from(tls)
                        .connect(server, tcp)
                        .await
                        .map_err(|source| ClientError::Tls { target: name.clone(), source })?;
                    let (send, conn) =
                        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(http)?;
                    tokio::spawn(conn);
                    Ok(send)
                }
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connect).await.unwrap_or_else(|_| Err(ClientError::Timeout(name.clone())))
    }

    /// GETs `path_and_query` on a new connection; a status other than 200 is an error carrying the body's start.
    pub async fn get(
        &self,
        path_and_query: &str,
        headers: &[(&str, String)],
    ) -> Result<Response<Incoming>, ClientError> {
        let mut send = self.connect().await?;
        let host = match &self.target {
            Target::Unix(_) => "localhost".to_owned(),
            Target::Https { .. } => self.target.to_string().trim_start_matches("https://").to_owned(),
        };
        let mut request = Request::get(path_and_query).header(HOST, host);
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, token.clone());
        }
        for (k, v) in headers {
            request = request.header(*k, v.as_str());
        }
        let request = request.body(Empty::new()).map_err(|e| ClientError::Setup(e.to_string()))?;
        let name = self.target.to_string();
        let response =
            send.send_request(request).await.map_err(|source| ClientError::Http { target: name.clone(), source })?;
        if response.status() != StatusCode::OK {
            let status = response.status();
            let body = http_body_util::Limited::new(response.into_body(), 4096).collect().await;
            let body = body.map(|b| String::from_utf8_lossy(&b.to_bytes()).trim().to_owned()).unwrap_or_default();
            return Err(ClientError::Status { target: name, status, body });
        }
        Ok(response)
    }

    /// Stored records after `after`, at most `limit`.
    pub async fn records(&self, after: u64, limit: usize) -> Result<Page, ClientError> {
        let response = self.get(&format!("/v1/records?after={after}&limit={limit}"), &[]).await?;
        let number =
            |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).unwrap_or(0);
        let (first_seq, last_seq) = (number(super::routes::FIRST_SEQ_HEADER), number(super::routes::LAST_SEQ_HEADER));
        let name = self.target.to_string();
        let body = http_body_util::Limited::new(response.into_body(), MAX_PAGE)
            .collect()
            .await
            .map_err(|e| ClientError::Broken { target: name.clone(), why: e.to_string() })?
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        let records = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| (crate::record::line_seq(l.as_bytes()), l.to_owned()))
            .collect();
        Ok(Page { records, first_seq, last_seq })
    }

    /// Opens the live stream after `after` (from the next new record when `None`).
    pub async fn stream(&self, after: Option<u64>) -> Result<EventStream, ClientError> {
        let path = match after {
            Some(a) => format!("/v1/stream?after={a}"),
            None => "/v1/stream".to_owned(),
        };
        let response = self.get(&path, &[(ACCEPT.as_str(), "text/event-stream".to_owned())]).await?;
        Ok(EventStream { body: response.into_body(), parser: SseParser::default(), target: self.target.to_string() })
    }
}

/// An open stream, yielding messages as they arrive.
pub struct EventStream {
    body: Incoming,
    parser: SseParser,
    target: String,
}

impl EventStream {
    /// The next message; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<Message>, ClientError> {
        loop {
            match self.parser.next_message() {
                Ok(Some(m)) => return Ok(Some(m)),
                Ok(None) => {}
                Err(why) => return Err(ClientError::Broken { target: self.target.clone(), why }),
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(ClientError::Http { target: self.target.clone(), source: e }),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.parser.push(&data);
                    }
                }
            }
        }
    }
}

/// Incremental SSE parsing (the subset the endpoint sends: `id`, `event`, `data` and comments), bounded per line.
#[derive(Default)]
pub struct SseParser {
    buf: BytesMut,
    id: Option<u64>,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message in what was pushed, if any.
    pub fn next_message(&mut self) -> Result<Option<Message>, String> {
        loop {
            let Some(end) = memchr::memchr(b'\n', &self.buf) else {
                if self.buf.len() > MAX_SSE_LINE {
                    return Err(format!("a line longer than {MAX_SSE_LINE} bytes"));
                }
                return Ok(None);
            };
            let line = self.buf.split_to(end + 1);
            let mut line = &line[..end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            if line.is_empty() {
                let (id, event, data) = (self.id.take(), self.event.take(), self.data.take());
                let Some(data) = data else { continue };
                return Ok(Some(match event.as_deref() {
                    Some("gap") => Message::Gap(data.trim().parse().unwrap_or(0)),
                    _ => Message::Record { seq: id.unwrap_or(0), line: data },
                }));
            }
            if line[0] == b':' {
                continue;
            }
            // Checked strictly first: its ASCII fast path is several times quicker than the lossy decoder's.
            let text = match std::str::from_utf8(line) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(line),
            };
            let (field, value) = text.split_once(':').unwrap_or((&text, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "id" => self.id = value.parse().ok(),
                "event" => self.event = Some(value.to_owned()),
                "data" => match &mut self.data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => self.data = Some(value.to_owned()),
                },
                _ => {}
            }
        }
    }
}

/// Follows the stream for as long as the caller wants: reconnects after any failure with a bounded back-off,
/// resuming after the last seq seen, so no record is missed or repeated across a receiver restart.
pub struct Follower {
    client: WatchClient,
    /// The last seq delivered; `None` until one is, when the stream starts from the next new record.
    last: Option<u64>,
    stream: Option<EventStream>,
    backoff: Duration,
}

/// Shortest and longest wait between reconnection attempts.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What a [`Follower`] has to say.
#[derive(Debug)]
pub enum Followed {
    Message(Message),
    /// The connection failed or ended; the follower waits `retry_in` and reconnects.
    Disconnected {
        error: Option<ClientError>,
        retry_in: Duration,
    },
}

impl Follower {
    pub fn new(client: WatchClient, after: Option<u64>) -> Follower {
        Follower { client, last: after, stream: None, backoff: BACKOFF_START }
    }

    /// The last seq delivered.
    pub fn last(&self) -> Option<u64> {
        self.last
    }

    /// The next message, or a note that the connection is being re-established. Errors that retrying cannot
    /// fix (a refused token) are returned.
    pub async fn next(&mut self) -> Result<Followed, ClientError> {
        let stream = match &mut self.stream {
            Some(s) => s,
            None => match self.client.stream(self.last).await {
                Ok(s) => self.stream.insert(s),
                Err(e) if e.is_permanent() => return Err(e),
                Err(e) => return Ok(self.disconnected(Some(e)).await),
            },
        };
        match stream.next().await {
            Ok(Some(message)) => Ok(self.delivered(message)),
            Ok(None) => Ok(self.disconnected(None).await),
            Err(e) => Ok(self.disconnected(Some(e)).await),
        }
    }

    /// The next message if it has already arrived, without waiting: a caller that writes messages out can flush
    /// once a burst is drained (when this says `None`) instead of after each message.
    pub fn next_buffered(&mut self) -> Option<Followed> {
        let message = self.stream.as_mut()?.parser.next_message().ok().flatten()?;
        Some(self.delivered(message))
    }

    fn delivered(&mut self, message: Message) -> Followed {
        self.backoff = BACKOFF_START;
        if let Message::Record { seq, .. } = &message {
            if *seq > 0 {
                self.last = Some(*seq);
            }
        }
        Followed::Message(message)
    }

    async fn disconnected(&mut self, error: Option<ClientError>) -> Followed {
        self.stream = None;
        let retry_in = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        tokio::time::sleep(retry_in).await;
        Followed::Disconnected { error, retry_in }
    }
}

#[cfg(test)]
mod tests;
