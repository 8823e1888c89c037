//! The simulator's HTTPS client: which certificates to trust, the target URL, and keep-alive HTTP/1.1
//! connections that post one body and read one bounded answer.
//!
//! Built on hyper's low-level `client::conn` rather than a pooled client: each concurrency slot owns exactly one
//! connection, which is what a load generator wants and keeps the build on a single rustls provider (ring).
//!
//! Over 400 lines: trust, target and connection setup form one client; each part is too small to stand alone.

use super::server_cert::HandlerCertVerifier;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Largest response body read; a webhook's answer is a few bytes, so anything bigger is cut off unread.
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// Which server certificates the client accepts.
#[derive(Clone)]
pub enum Trust {
    /// The platform's root certificates, as a browser would.
    Platform,
    /// These certificates: a server presenting exactly one of them (e.g. glwatch's own self-signed certificate,
    /// or one from `openssl req -x509`), or one they sign.
    Certificates(Vec<CertificateDer<'static>>),
    /// Any certificate: no verification at all.
    Insecure,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trust::Platform => f.write_str("Platform"),
            Trust::Certificates(c) => write!(f, "Certificates({})", c.len()),
            Trust::Insecure => f.write_str("Insecure"),
        }
    }
}

impl Trust {
    /// The certificates of a PEM document.
    pub fn from_pem(pem: &[u8]) -> Result<Trust, SetupError> {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SetupError::NotPem(e.to_string()))?;
        if certs.is_empty() {
            return Err(SetupError::NoCertificate);
        }
        Ok(Trust::Certificates(certs))
    }

    pub fn from_pem_file(path: &Path) -> Result<Trust, SetupError> {
        let pem = std::fs::read(path).map_err(|e| SetupError::CaUnreadable { path: path.to_owned(), error: e })?;
        Trust::from_pem(&pem).map_err(|e| SetupError::CaFile { path: path.to_owned(), error: Box::new(e) })
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS client configuration for `trust`, offering HTTP/1.1 by ALPN.
pub fn tls_config(trust: &Trust) -> Result<ClientConfig, SetupError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(SetupError::TlsSetup)?;
    let mut config = match trust {
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(HandlerCertVerifier::any(provider)))
            .with_no_client_auth(),
        Trust::Certificates(certs) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(HandlerCertVerifier::pinned_or_signed_by(certs, provider)?))
            .with_no_client_auth(),
        Trust::Platform => {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(SetupError::NoPlatformRoots);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Where deliveries go: a parsed `https://host[:port]/path` (plain `http://` works too, for handlers under test
/// behind no TLS, though GreenLake itself only delivers over HTTPS).
#[derive(Debug, Clone)]
pub struct Target {
    pub tls: bool,
    /// Host name or IP address, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// `host[:port]` as written, for the Host header.
    pub authority: String,
    pub path: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, SetupError> {
        let uri = url.parse::<Uri>().map_err(|e| SetupError::InvalidUrl(url.to_owned(), e.to_string()))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(SetupError::NotHttps(url.to_owned())),
        };
        let authority = uri.authority().ok_or_else(|| SetupError::NoHost(url.to_owned()))?;
        if authority.as_str().contains('@') {
            return Err(SetupError::CredentialsInUrl);
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        if host.is_empty() {
            return Err(SetupError::NoHost(url.to_owned()));
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".to_owned());
        Ok(Target { tls, host, port, authority: authority.as_str().to_owned(), path })
    }
}

/// Why the simulator cannot be set up against a handler: its URL, a credential or the certificates to trust.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("not a PEM certificate: {0}")]
    NotPem(String),
    #[error("no certificate found in the PEM document")]
    NoCertificate,
    #[error("cannot read {}: {error}", path.display())]
    CaUnreadable { path: PathBuf, error: std::io::Error },
    #[error("{}: {error}", path.display())]
    CaFile { path: PathBuf, error: Box<SetupError> },
    #[error("TLS setup: {0}")]
    TlsSetup(rustls::Error),
    #[error("unusable CA certificate: {0}")]
    UnusableCa(rustls::Error),
    #[error("no platform root certificates found; use --ca PEM to trust the handler's certificate")]
    NoPlatformRoots,
    #[error("invalid URL {0:?}: {1}")]
    InvalidUrl(String, String),
    #[error("the URL must start with https:// (got {0:?})")]
    NotHttps(String),
    #[error("the URL {0:?} has no host")]
    NoHost(String),
    #[error("the URL must not carry credentials; use --api-key or --bearer")]
    CredentialsInUrl,
    #[error("the credential contains characters not allowed in a header")]
    BadCredential,
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
    #[error("invalid host {0:?}")]
    InvalidHost(String),
    #[error("invalid path {0:?}: {1}")]
    InvalidPath(String, String),
}

/// Why a request got no HTTP answer. The text follows GreenLake's "Webhook URL unreachable. error: ...".
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("connection to {addr} failed: {reason}")]
    Connect { addr: String, reason: String },
    #[error("TLS handshake with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("{0} timed out after {1:?}")]
    Timeout(&'static str, Duration),
    #[error("HTTP error: {0}")]
    Http(String),
}

/// The answer to one request: status, content type and the body (at most [`MAX_RESPONSE_BODY`] bytes).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Bytes,
    /// `Retry-After`, sent as seconds or as an HTTP-date.
    pub retry_after: Option<Duration>,
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One keep-alive HTTP/1.1 connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Whether the server has closed it (idle timeout, `Connection: close`): then a new one is needed.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

/// Headers every request carries besides the signature.
#[derive(Clone, Default)]
pub struct Auth(Option<HeaderValue>);

impl Auth {
    /// GreenLake's `APIKey` auth type: `Authorization: <key>`, no scheme.
    pub fn api_key(key: &str) -> Result<Auth, SetupError> {
        Self::value(key.to_owned())
    }

    /// GreenLake's `Oauth` auth type: `Authorization: Bearer <token>`.
    pub fn bearer(token: &str) -> Result<Auth, SetupError> {
        Self::value(format!("Bearer {token}"))
    }

    fn value(v: String) -> Result<Auth, SetupError> {
        let mut v = HeaderValue::try_from(v).map_err(|_| SetupError::BadCredential)?;
        v.set_sensitive(true);
        Ok(Auth(Some(v)))
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Auth(<redacted>)" } else { "Auth(None)" })
    }
}

/// Makes connections to one target and sends requests over them.
#[derive(Clone)]
pub struct Client {
    target: Arc<Target>,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    /// The request target and headers every request carries, parsed once rather than per request.
    path: Uri,
    host_header: HeaderValue,
    auth: Auth,
    timeout: Duration,
}

impl Client {
    /// `timeout` bounds each step separately: connecting, the TLS handshake, and a request's whole answer.
    pub fn new(target: Target, trust: &Trust, auth: Auth, timeout: Duration) -> Result<Client, SetupError> {
        let tls = if target.tls {
            let name =
                ServerName::try_from(target.host.clone()).map_err(|_| SetupError::ServerName(target.host.clone()))?;
            Some((TlsConnector::from(Arc::new(tls_config(trust)?)), name))
        } else {
            None
        };
        let host_header = HeaderValue::try_from(target.authority.as_str())
            .map_err(|_| SetupError::InvalidHost(target.authority.clone()))?;
        let path = Uri::try_from(target.path.as_str())
            .map_err(|e| SetupError::InvalidPath(target.path.clone(), e.to_string()))?;
        Ok(Client { target: Arc::new(target), tls, path, host_header, auth, timeout })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Opens a connection: resolve, TCP connect (each address in turn), TLS handshake, HTTP/1.1 handshake.
    pub async fn connect(&self) -> Result<Connection, ClientError> {
        let t = &self.target;
        let addrs: Vec<_> = tokio::time::timeout(self.timeout, tokio::net::lookup_host((t.host.as_str(), t.port)))
            .await
            .map_err(|_| ClientError::Timeout("name resolution", self.timeout))?
            .map_err(|e| ClientError::Resolve { host: t.host.clone(), reason: e.to_string() })?
            .collect();
        let mut last = ClientError::Resolve { host: t.host.clone(), reason: "no address".into() };
        let mut tcp = None;
        for addr in addrs {
            match tokio::time::timeout(self.timeout, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => {
                    tcp = Some(s);
                    break;
                }
                Ok(Err(e)) => last = ClientError::Connect { addr: addr.to_string(), reason: e.to_string() },
                Err(_) => last = ClientError::Timeout("connecting", self.timeout),
            }
        }
        let tcp = tcp.ok_or(last)?;
        // Small requests answered by small responses: Nagle's algorithm would only add delay.
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match &self.tls {
            Some((connector, name)) => {
                let stream = tokio::time::timeout(self.timeout, connector.connect(name.clone(), tcp))
                    .await
                    .map_err(|_| ClientError::Timeout("TLS handshake", self.timeout))?
                    .map_err(|e| ClientError::Tls { host: t.host.clone(), reason: tls_reason(&e) })?;
                Box::new(stream)
            }
            None => Box::new(tcp),
        };
        // The head and the body in one buffer: one TLS record written from one slice, where a vectored write
        // would first gather the two slices into a list of its own for every request.
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .writev(false)
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        // The connection task ends when the server closes or the sender is dropped.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection { sender })
    }

    /// POSTs `body` as JSON with the given extra header, and reads the answer, all within the timeout.
    pub async fn post(
        &self,
        conn: &mut Connection,
        body: Bytes,
        signature: Option<&str>,
    ) -> Result<Answer, ClientError> {
        let mut headers = HeaderMap::new();
        if let Some(sig) = signature.and_then(|s| HeaderValue::from_str(s).ok()) {
            headers.insert(HeaderName::from_static(crate::greenlake::SIGNATURE_HEADER), sig);
        }
        self.post_with(conn, body, &headers).await
    }

    /// POSTs `body` with this content type and these extra headers (a route's delivery), and reads the answer.
    pub async fn send(
        &self,
        conn: &mut Connection,
        content_type: HeaderValue,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<Answer, ClientError> {
        let mut extra = HeaderMap::with_capacity(headers.len() + 1);
        extra.insert(CONTENT_TYPE, content_type);
        for (name, value) in headers {
            extra.append(name.clone(), value.clone());
        }
        self.post_with(conn, body, &extra).await
    }

    /// POSTs `body` as JSON with `extra` headers (another scheme's signature), and reads the answer.
    pub async fn post_with(
        &self,
        conn: &mut Connection,
        body: Bytes,
        extra: &HeaderMap,
    ) -> Result<Answer, ClientError> {
        self.post_owned(conn, body, extra.clone()).await
    }

    /// Like [`Client::post_with`], sending `headers` itself with Host, a JSON content type (unless it has one)
    /// and the credential added: the load generator's path, which builds no second map per request.
    pub async fn post_owned(
        &self,
        conn: &mut Connection,
        body: Bytes,
        mut headers: HeaderMap,
    ) -> Result<Answer, ClientError> {
        headers.insert(HOST, self.host_header.clone());
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(auth) = &self.auth.0 {
            headers.append(AUTHORIZATION, auth.clone());
        }
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.path.clone();
        *req.headers_mut() = headers;
        let exchange = async {
            conn.sender.ready().await.map_err(|e| ClientError::Http(e.to_string()))?;
            let resp = conn.sender.send_request(req).await.map_err(|e| ClientError::Http(http_reason(&e)))?;
            let status = resp.status();
            let content_type = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let retry_after = resp
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after::parse(v, time::OffsetDateTime::now_utc()));
            let body = Limited::new(resp.into_body(), MAX_RESPONSE_BODY)
                .collect()
                .await
                .map_err(|e| ClientError::Http(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok(Answer { status, content_type, body, retry_after })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout("waiting for the answer", self.timeout))?
    }
}

fn tls_reason(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => format!("invalid peer certificate: {c:?}"),
        Some(other) => other.to_string(),
        None => e.to_string(),
    }
}

fn http_reason(e: &hyper::Error) -> String {
    use std::error::Error as _;
    match e.source() {
        Some(src) => format!("{e}: {src}"),
        None => e.to_string(),
    }
}

mod retry_after;

#[cfg(test)]
mod tests;
