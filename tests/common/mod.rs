//! Test harness: runs the real `glwatch` binary in a temporary directory and talks to it over real TLS.
#![allow(dead_code)]

pub mod downstream;
pub mod nats;
pub mod tmux;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpSocket, TcpStream};

/// A client TLS stream for tests that write HTTP by hand.
pub type Tls = tokio_rustls::client::TlsStream<TcpStream>;

pub const SECRET: &str = "glwatch-demo-secret";
/// Bound on every wait in tests: only a real hang takes this long, even on a loaded 2-core CI machine; it is there
/// to fail rather than hang, never to measure speed.
pub const WAIT: Duration = Duration::from_secs(60);

/// How often a bounded wait looks again.
const POLL: Duration = Duration::from_millis(10);

/// One look of a bounded wait: `Some(true)` once `condition` holds, `Some(false)` once `deadline` has passed.
fn look(deadline: std::time::Instant, condition: &mut impl FnMut() -> bool) -> Option<bool> {
    if condition() {
        Some(true)
    } else if std::time::Instant::now() >= deadline {
        Some(false)
    } else {
        None
    }
}

/// Polls `condition` until it holds or `within` has passed, and says whether it held. Tests wait with this
/// instead of sleeping: a loaded machine only makes the wait longer, and only a real hang fails it.
pub async fn wait_until(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        match look(deadline, &mut condition) {
            Some(held) => return held,
            None => tokio::time::sleep(POLL).await,
        }
    }
}

/// [`wait_until`] for tests without a runtime.
pub fn wait_until_blocking(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        match look(deadline, &mut condition) {
            Some(held) => return held,
            None => std::thread::sleep(POLL),
        }
    }
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    glwatch::greenlake::Signer::new(&glwatch::greenlake::Secret::new(secret).unwrap()).header(body)
}

/// An accepted, primary-verified event record of `event` (CloudEvent JSON text), as the receiver writes it.
pub fn event_record(event: String, received_at: time::OffsetDateTime, peer: &str) -> glwatch::record::Record {
    glwatch::record::Record::Event(glwatch::record::EventRecord {
        source_name: None,
        attributes: None,
        received_at,
        peer: peer.into(),
        via: None,
        verified_by: glwatch::record::VerifiedBy::Primary,
        duplicate: false,
        event: serde_json::value::RawValue::from_string(event).unwrap(),
    })
}

/// A unique event shaped like the audit-log sample.
pub fn audit_event(id: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture("audit-log-created.json")).unwrap();
    v["id"] = Value::String(id.to_owned());
    serde_json::to_vec(&v).unwrap()
}

/// The binary, running in its own temporary working directory (so glwatch-data/ is created there).
pub struct Receiver {
    pub child: Child,
    pub addr: SocketAddr,
    /// The working directory; glwatch-data/ (journal, certificate) is created in it.
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    pub banner: Vec<String>,
}

impl Receiver {
    /// Starts `glwatch --headless --listen 127.0.0.1:0 ARGS` and waits for its listen line.
    pub fn start(args: &[&str]) -> Receiver {
        let tmp = tempfile::tempdir().unwrap();
        let mut rx = Self::start_in(tmp.path(), args);
        rx._tmp = Some(tmp);
        rx
    }

    /// Starts in a directory the caller owns, e.g. to restart on the same certificate.
    pub fn start_in(dir: &Path, args: &[&str]) -> Receiver {
        Self::start_in_with_env(dir, args, &[])
    }

    /// Starts with extra environment variables, e.g. `GLWATCH_LOG=trace`.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Receiver {
        let tmp = tempfile::tempdir().unwrap();
        let mut rx = Self::start_in_with_env(tmp.path(), args, env);
        rx._tmp = Some(tmp);
        rx
    }

    pub fn start_in_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Receiver {
        let mut child = Command::new(env!("CARGO_BIN_EXE_glwatch"))
            .args(["--headless", "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .env_remove("GLWATCH_SECRET")
            .env("GLWATCH_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("glwatch binary starts");
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let mut banner = Vec::new();
        let addr = loop {
            let line = stderr.recv_timeout(WAIT).unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("glwatch did not print its listen line; stderr so far: {banner:?}")
            });
            banner.push(line.clone());
            if let Some(url) = line.strip_prefix("glwatch: listening on https://") {
                break url.trim_end_matches('/').parse().unwrap();
            }
        };
        // The certificate line follows the listen line.
        if let Ok(line) = stderr.recv_timeout(WAIT) {
            banner.push(line);
        }
        Receiver { child, addr, dir: dir.to_owned(), _tmp: None, stdout, stderr, banner }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("glwatch-data/certs/glwatch-cert.pem")
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr, &self.ca())
    }

    /// The next NDJSON record on stdout.
    pub fn next_record(&self) -> Value {
        let line = self.stdout.recv_timeout(WAIT).expect("a record on stdout");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"))
    }

    /// The next stdout line exactly as printed.
    pub fn next_line(&self) -> String {
        self.stdout.recv_timeout(WAIT).expect("a line on stdout")
    }

    /// A stdout line if one is already there or arrives within `wait`.
    pub fn try_record(&self, wait: Duration) -> Option<Value> {
        self.stdout.recv_timeout(wait).ok().map(|l| serde_json::from_str(&l).unwrap())
    }

    /// Everything the binary printed on stderr so far (after the banner).
    pub fn stderr_now(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig} failed");
    }

    /// Waits for the process to exit (bounded).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut status = None;
        let exited = wait_until_blocking(WAIT, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        assert!(exited, "glwatch did not exit");
        status.unwrap()
    }

    /// Waits (bounded) until stderr shows a line containing `needle`; returns that line. Lines read past are
    /// gone from [`Receiver::stderr_now`].
    pub fn wait_stderr(&self, needle: &str) -> String {
        let mut seen = Vec::new();
        let found = wait_until_blocking(WAIT, || {
            seen.extend(self.stderr_now());
            seen.iter().any(|l| l.contains(needle))
        });
        assert!(found, "stderr never showed {needle:?}: {seen:#?}");
        seen.into_iter().find(|l| l.contains(needle)).unwrap()
    }

    /// Remaining stdout after exit.
    pub fn rest_of_stdout(&self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(l) = self.stdout.recv_timeout(WAIT) {
            out.push(l);
        }
        out
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Delivers `n` signed audit-log events with ids `PREFIX-0`, `PREFIX-1`, ..., each acknowledged.
pub async fn send_events(rx: &Receiver, prefix: &str, n: usize) {
    let client = rx.client();
    for i in 0..n {
        let reply = client.post_signed(SECRET, &audit_event(&format!("{prefix}-{i}"))).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
}

/// A loopback port free now, for a server that must be told its port before it starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET `path` from a watch socket, the whole answer (HTTP/1.1 with `Connection: close`): status and body.
pub fn get_unix(socket: &Path, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)
        .unwrap_or_else(|e| panic!("watch socket {}: {e}", socket.display()));
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// The value of the metric line that starts with `name ` (labels included in `name`), if scraped.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The lines `r` yields, read on a thread of their own, so the child never blocks on a full pipe.
pub fn lines(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    rx
}

/// A TLS connection from a chosen loopback address (the whole of 127.0.0.0/8 is local on Linux).
pub async fn tls_from(
    addr: SocketAddr,
    source: std::net::IpAddr,
    config: Arc<rustls::ClientConfig>,
) -> std::io::Result<Tls> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let tcp = socket.connect(addr).await?;
    let connect = tokio_rustls::TlsConnector::from(config).connect(ServerName::try_from("localhost").unwrap(), tcp);
    tokio::time::timeout(WAIT, connect).await.map_err(|_| std::io::Error::other("handshake did not end"))?
}

/// An HTTP/1.1 TLS connection to the receiver, to write requests by hand.
pub async fn open_tls(rx: &Receiver) -> Tls {
    let config = Arc::new(client_config(&rx.ca(), &[b"http/1.1"]));
    tls_from(rx.addr, "127.0.0.1".parse().unwrap(), config).await.unwrap()
}

/// Reads until the end of a response head, EOF or an error; bounded by [`WAIT`]. Returns what came.
pub async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    let _ = tokio::time::timeout(WAIT, async {
        while !buf.ends_with(b"\r\n\r\n") {
            match s.read(&mut byte).await {
                Ok(1) => buf.push(byte[0]),
                _ => break,
            }
        }
    })
    .await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// The head of an HTTP/1.1 POST of `body`, signed with [`SECRET`]; `extra` is more header lines, each ending in
/// CRLF.
pub fn signed_head(body: &[u8], extra: &str) -> String {
    format!(
        "POST /webhook HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nhpe-webhook-signature: {}\r\ncontent-length: {}\r\n{extra}\r\n",
        sign(SECRET, body),
        body.len()
    )
}

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An HTTPS client trusting the receiver's certificate.
pub struct Client {
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
}

pub fn client_config(ca: &Path, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(glwatch::server::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

pub enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

impl Client {
    pub fn new(addr: SocketAddr, ca: &Path) -> Client {
        Client { addr, tls: Arc::new(client_config(ca, &[b"http/1.1"])) }
    }

    pub fn with_alpn(addr: SocketAddr, ca: &Path, alpn: &[&[u8]]) -> Client {
        Client { addr, tls: Arc::new(client_config(ca, alpn)) }
    }

    /// Opens one TLS connection; the negotiated protocol decides HTTP/1.1 or HTTP/2.
    pub async fn connect(&self) -> Sender {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        let tls = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(tls);
        if h2 {
            let (send, conn) = http2::handshake(TokioExecutor::new(), io).await.unwrap();
            tokio::spawn(conn);
            Sender::H2(send)
        } else {
            let (send, conn) = http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            Sender::H1(send)
        }
    }

    pub async fn request(&self, method: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut sender = self.connect().await;
        send(&mut sender, method, headers, body).await
    }

    /// POST with `content-type: application/json` and the given extra headers.
    pub async fn post(&self, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.request("POST", &all, body).await
    }

    /// POST signed with `secret`.
    pub async fn post_signed(&self, secret: &str, body: &[u8]) -> Reply {
        let sig = sign(secret, body);
        self.post(&[("hpe-webhook-signature", &sig)], body).await
    }
}

pub async fn send(sender: &mut Sender, method: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    send_to(sender, method, "/webhook", headers, body).await
}

/// Like [`send`], to `path`.
pub async fn send_to(sender: &mut Sender, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    // HTTP/2 needs the scheme and authority in the URI; HTTP/1.1 gets origin-form plus Host.
    let mut req = match sender {
        Sender::H1(_) => Request::builder().method(method).uri(path).header("host", "localhost"),
        Sender::H2(_) => Request::builder().method(method).uri(format!("https://localhost{path}")),
    };
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::copy_from_slice(body))).unwrap();
    let response = match sender {
        Sender::H1(s) => s.send_request(req).await.unwrap(),
        Sender::H2(s) => s.send_request(req).await.unwrap(),
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

/// A sources file (`--sources`) with a GreenLake source on `/greenlake` signed with [`SECRET`] and a GitHub
/// source on `/github` signed with `github_secret`.
pub fn greenlake_and_github_sources(github_secret: &str) -> String {
    format!(
        "[[source]]\nname = \"greenlake\"\npath = \"/greenlake\"\nscheme = \"greenlake\"\nsecret = \"{SECRET}\"\n\n\
         [[source]]\nname = \"github\"\npath = \"/github\"\nscheme = \"github\"\nsecret = \"{github_secret}\"\n"
    )
}
