//! Deployment: certificates replaced on disk and served without a restart, the generated pair renewed, glwatch
//! behind a TLS-terminating proxy (trusted client headers, plain HTTP) and `glwatch send --ca` with an
//! `openssl req -x509` certificate. The real binary, real TLS, real files.

mod common;

use bytes::Bytes;
use common::{audit_event, sign, Receiver, Sender, SECRET, WAIT};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A generated pair in `dir`: (certificate path, key path, fingerprint).
fn pair(dir: &Path) -> (PathBuf, PathBuf, String) {
    let identity = glwatch::server::tls::load_or_generate(dir).unwrap();
    (identity.cert_path.clone(), identity.key_path.clone(), identity.fingerprint())
}

/// Copies a pair over the files the receiver serves, each written whole and renamed into place.
fn install(cert: &Path, key: &Path, live_cert: &Path, live_key: &Path) {
    for (from, to) in [(key, live_key), (cert, live_cert)] {
        write_atomically(to, &std::fs::read(from).unwrap());
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A CA file trusting every certificate given.
fn bundle(dir: &Path, certs: &[&Path]) -> PathBuf {
    let path = dir.join("bundle.pem");
    let all: Vec<u8> = certs.iter().flat_map(|c| std::fs::read(c).unwrap()).collect();
    std::fs::write(&path, all).unwrap();
    path
}

/// The fingerprint of the certificate a new handshake gets.
async fn served_fingerprint(addr: SocketAddr, ca: &Path) -> String {
    let config = Arc::new(common::client_config(ca, &[b"http/1.1"]));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    glwatch::server::tls::fingerprint(&tls.get_ref().1.peer_certificates().unwrap()[0])
}

/// Polls until a new handshake shows `want`, within the tests' bound.
async fn wait_for_fingerprint(addr: SocketAddr, ca: &Path, want: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        if served_fingerprint(addr, ca).await == want {
            return;
        }
        assert!(Instant::now() < deadline, "the new certificate was not served in time");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Collects stderr until a line satisfies `found`; returns everything collected.
fn wait_for_log(rx: &Receiver, seen: &mut Vec<String>, found: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let before = seen.len();
        seen.extend(rx.stderr_now());
        if let Some(line) = seen[before..].iter().find(|l| found(l)) {
            return line.clone();
        }
        assert!(Instant::now() < deadline, "no such log line; stderr so far: {seen:#?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn post_on(sender: &mut Sender, id: &str) -> u16 {
    let body = audit_event(id);
    let sig = sign(SECRET, &body);
    common::send(sender, "POST", &[("content-type", "application/json"), ("hpe-webhook-signature", &sig)], &body)
        .await
        .status
}

/// A receiver serving pair `a` from `cert`/`key` (given as --cert/--key), with pair `b` ready to swap in and a
/// CA file trusting both.
struct Swap {
    dir: tempfile::TempDir,
    a: (PathBuf, PathBuf, String),
    b: (PathBuf, PathBuf, String),
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
    rx: Receiver,
}

impl Swap {
    fn start() -> Swap {
        let dir = tempfile::tempdir().unwrap();
        let a = pair(&dir.path().join("a"));
        let b = pair(&dir.path().join("b"));
        let live = dir.path().join("live");
        std::fs::create_dir(&live).unwrap();
        let (cert, key) = (live.join("cert.pem"), live.join("key.pem"));
        install(&a.0, &a.1, &cert, &key);
        let ca = bundle(dir.path(), &[&a.0, &b.0]);
        let rx = Receiver::start_in(
            dir.path(),
            &["--secret", SECRET, "--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()],
        );
        Swap { dir, a, b, cert, key, ca, rx }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_replaced_on_disk_is_served_to_new_connections_while_old_ones_go_on() {
    let Swap { dir: _dir, a: (_, _, a_fp), b: (b_cert, b_key, b_fp), cert, key, ca, rx } = Swap::start();
    assert_eq!(served_fingerprint(rx.addr, &ca).await, a_fp);
    let client = common::Client::new(rx.addr, &ca);
    let mut kept = client.connect().await;
    assert_eq!(post_on(&mut kept, "before-swap").await, 200);

    install(&b_cert, &b_key, &cert, &key);
    wait_for_fingerprint(rx.addr, &ca, &b_fp).await;
    // The connection opened before the swap keeps its session and goes on working.
    assert_eq!(post_on(&mut kept, "after-swap").await, 200);
    let mut seen = Vec::new();
    let line = wait_for_log(&rx, &mut seen, |l| l.contains("certificate reloaded from"));
    assert!(line.contains(&b_fp) && line.contains("cert.pem"), "{line}");
    for id in ["before-swap", "after-swap"] {
        assert_eq!(rx.next_record()["event"]["id"], id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_a_broken_pair_is_refused_with_one_line_keeping_the_old_one() {
    let Swap { dir: _dir, a: (a_cert, a_key, a_fp), b: (b_cert, b_key, b_fp), cert, key, ca, rx } = Swap::start();
    let mut seen = Vec::new();

    install(&b_cert, &b_key, &cert, &key);
    rx.signal("-HUP");
    wait_for_log(&rx, &mut seen, |l| l.contains("SIGHUP: reloading certificate"));
    wait_for_fingerprint(rx.addr, &ca, &b_fp).await;
    let reloaded_b = |l: &str| l.contains("certificate reloaded from") && l.contains(&b_fp);
    if !seen.iter().any(|l| reloaded_b(l)) {
        wait_for_log(&rx, &mut seen, reloaded_b);
    }
    // The pair was installed one file at a time, so a look at the files between the two writes may have refused
    // it once (a refusal logged before that reload). Only what follows is counted below.
    seen.clear();

    // Garbage where the certificate was: refused, naming the file; the previous pair is still served.
    write_atomically(&cert, b"-----BEGIN GARBAGE-----\n");
    let refused = |l: &str| l.contains("new certificate refused, still serving the previous one");
    let line = wait_for_log(&rx, &mut seen, refused);
    assert!(line.contains(cert.to_str().unwrap()) && line.contains("not valid PEM"), "{line}");
    assert_eq!(served_fingerprint(rx.addr, &ca).await, b_fp);

    // A certificate whose key is not the one beside it: refused, naming both files.
    write_atomically(&cert, &std::fs::read(&a_cert).unwrap());
    let line = wait_for_log(&rx, &mut seen, |l| refused(l) && l.contains("cannot be used together"));
    assert!(line.contains(cert.to_str().unwrap()) && line.contains(key.to_str().unwrap()), "{line}");
    assert_eq!(served_fingerprint(rx.addr, &ca).await, b_fp);

    // Made whole again, it is served; each broken state was reported once, not at every look at the files.
    write_atomically(&key, &std::fs::read(&a_key).unwrap());
    wait_for_fingerprint(rx.addr, &ca, &a_fp).await;
    wait_for_log(&rx, &mut seen, |l| l.contains("certificate reloaded from") && l.contains(&a_fp));
    assert_eq!(seen.iter().filter(|l| refused(l)).count(), 2, "{seen:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_pair_near_its_end_is_renewed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("glwatch-data/certs");
    std::fs::create_dir_all(&certs).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(20);
    let key = rcgen::KeyPair::generate().unwrap();
    let old = params.self_signed(&key).unwrap();
    std::fs::write(certs.join("glwatch-cert.pem"), old.pem()).unwrap();
    std::fs::write(certs.join("glwatch-key.pem"), key.serialize_pem()).unwrap();
    let old_fp = glwatch::server::tls::fingerprint(old.der());

    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    let renewed =
        rx.banner.iter().find(|l| l.contains("generated a new one")).unwrap_or_else(|| panic!("{:?}", rx.banner));
    assert!(renewed.contains("glwatch-cert.pem expires on"), "{renewed}");
    let cert_line = rx.banner.last().unwrap();
    assert!(cert_line.contains("(generated self-signed)"), "{cert_line}");
    let new_fp = cert_line.split("SHA-256 ").nth(1).unwrap();
    assert_ne!(new_fp, old_fp);
    assert!(renewed.contains(new_fp), "{renewed}");
    assert_eq!(served_fingerprint(rx.addr, &rx.ca()).await, new_fp);
    // Valid for a year from now.
    let pem = std::fs::read(rx.ca()).unwrap();
    let der = CertificateDer::from_pem_slice(&pem).unwrap();
    let left = glwatch::server::x509::facts(&der).unwrap().not_after - time::OffsetDateTime::now_utc();
    assert!(left > time::Duration::days(364) && left <= time::Duration::days(365), "{left}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(certs.join("glwatch-key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_records_show_the_client_and_the_proxy() {
    let rx = Receiver::start(&["--secret", SECRET, "--trusted-proxy", "127.0.0.1"]);
    let client = rx.client();
    let body = audit_event("proxied-xff");
    let sig = sign(SECRET, &body);
    let reply =
        client.post(&[("hpe-webhook-signature", &sig), ("x-forwarded-for", "6.6.6.6, 198.51.100.7")], &body).await;
    assert_eq!(reply.status, 200);
    let rec = rx.next_record();
    assert_eq!(rec["peer"], "198.51.100.7", "{rec}");
    let via = rec["via"].as_str().unwrap();
    assert!(via.starts_with("127.0.0.1:"), "{rec}");

    let body = audit_event("proxied-forwarded");
    let sig = sign(SECRET, &body);
    let forwarded = r#"for="[2001:db8:cafe::17]:4711";proto=https"#;
    let reply = client.post(&[("hpe-webhook-signature", &sig), ("forwarded", forwarded)], &body).await;
    assert_eq!(reply.status, 200);
    let rec = rx.next_record();
    assert_eq!(
        (rec["peer"].as_str(), rec["event"]["id"].as_str()),
        (Some("[2001:db8:cafe::17]:4711"), Some("proxied-forwarded"))
    );

    // A refusal names the client too.
    let reply =
        client.post(&[("hpe-webhook-signature", "sha256=00"), ("x-forwarded-for", "198.51.100.8")], &body).await;
    assert_eq!(reply.status, 401);
    let rec = rx.next_record();
    assert_eq!((rec["kind"].as_str(), rec["peer"].as_str()), (Some("rejected"), Some("198.51.100.8")));
    assert!(rec["via"].as_str().unwrap().starts_with("127.0.0.1:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_from_an_untrusted_address_are_ignored() {
    let rx = Receiver::start(&["--secret", SECRET, "--trusted-proxy", "10.0.0.0/8"]);
    let body = audit_event("spoofed");
    let sig = sign(SECRET, &body);
    let headers = [
        ("hpe-webhook-signature", sig.as_str()),
        ("x-forwarded-for", "198.51.100.7"),
        ("forwarded", "for=198.51.100.9"),
    ];
    assert_eq!(rx.client().post(&headers, &body).await.status, 200);
    let line = rx.next_line();
    let rec: Value = serde_json::from_str(&line).unwrap();
    assert!(rec["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{rec}");
    // Records of direct connections are as they always were: no `via` at all.
    assert!(!line.contains("\"via\""), "{line}");
}

/// The binary with --plain-http (the shared harness expects HTTPS): the address from its `http://` line, its
/// banner and its stdout records.
struct Plain {
    child: std::process::Child,
    addr: SocketAddr,
    banner: Vec<String>,
    stdout: std::sync::mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Plain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Plain {
    fn start(args: &[&str]) -> Plain {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_glwatch"))
            .args(["--headless", "--plain-http", "--secret", SECRET])
            .args(args)
            .current_dir(dir.path())
            .env_remove("GLWATCH_SECRET")
            .env("GLWATCH_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut banner = Vec::new();
        let addr: SocketAddr = loop {
            let mut line = String::new();
            assert!(err.read_line(&mut line).unwrap() > 0, "no listen line: {banner:?}");
            banner.push(line.trim_end().to_owned());
            if let Some(url) = line.trim_end().strip_prefix("glwatch: listening on http://") {
                break url.trim_end_matches('/').parse().unwrap();
            }
        };
        let mut mode = String::new();
        err.read_line(&mut mode).unwrap();
        banner.push(mode.trim_end().to_owned());
        // Drained so the binary never blocks on a full pipe.
        std::thread::spawn(move || err.lines().for_each(drop));
        let (tx, stdout) = std::sync::mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Plain { child, addr, banner, stdout, _dir: dir }
    }

    fn next_record(&self) -> Value {
        serde_json::from_str(&self.stdout.recv_timeout(WAIT).expect("a record on stdout")).unwrap()
    }

    async fn h1(&self) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
        tokio::spawn(conn);
        send
    }

    async fn h2c(&self) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await.unwrap();
        tokio::spawn(conn);
        send
    }
}

fn signed_request(uri: &str, id: &str, extra: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let body = audit_event(id);
    let mut req = Request::post(uri)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .header("hpe-webhook-signature", sign(SECRET, &body));
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.body(Full::new(Bytes::from(body))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_loopback_speaks_http1_and_h2c() {
    let p = Plain::start(&["--listen", "127.0.0.1:0"]);
    assert!(p.banner.iter().any(|l| l.contains("plain HTTP, behind a proxy")), "{:?}", p.banner);
    let mut h1 = p.h1().await;
    let resp = h1.send_request(signed_request("/webhook", "over-h1", &[])).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), hyper::Version::HTTP_11);
    let mut h2 = p.h2c().await;
    let resp = h2.send_request(signed_request("http://localhost/webhook", "over-h2c", &[])).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"{"accepted":1,"duplicates":0}"#);
    for id in ["over-h1", "over-h2c"] {
        let rec = p.next_record();
        assert_eq!(rec["event"]["id"], id);
        assert!(rec["peer"].as_str().unwrap().starts_with("127.0.0.1:") && rec.get("via").is_none(), "{rec}");
    }
    // SIGTERM with both connections still open: an orderly stop, as over TLS.
    let mut p = p;
    let killed = Command::new("kill").args(["-TERM", &p.child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "glwatch did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    drop((h1, h2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_with_trusted_proxies_serves_only_them() {
    // This test's own connections come from 127.0.0.1: as the proxy, their header names the client.
    let p = Plain::start(&["--listen", "127.0.0.1:0", "--trusted-proxy", "127.0.0.0/8"]);
    assert!(p.banner.iter().any(|l| l.contains("serving only 127.0.0.0/8")), "{:?}", p.banner);
    let mut h1 = p.h1().await;
    let req = signed_request("/webhook", "via-plain-proxy", &[("x-forwarded-for", "203.0.113.5")]);
    assert_eq!(h1.send_request(req).await.unwrap().status(), 200);
    let rec = p.next_record();
    assert_eq!(rec["peer"], "203.0.113.5");
    assert!(rec["via"].as_str().unwrap().starts_with("127.0.0.1:"));

    // From an address that is not a trusted proxy, the connection is closed before any HTTP, and recorded.
    let p = Plain::start(&["--listen", "127.0.0.1:0", "--trusted-proxy", "10.0.0.0/8"]);
    let tcp = tokio::net::TcpStream::connect(p.addr).await.unwrap();
    let outcome = async {
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(conn);
        send.send_request(signed_request("/webhook", "not-a-proxy", &[])).await
    };
    assert!(outcome.await.is_err(), "an untrusted address must not be served");
    let rec = p.next_record();
    assert_eq!(rec["kind"], "rejected", "{rec}");
    assert!(rec["reason"].as_str().unwrap().contains("not a --trusted-proxy"), "{rec}");
    assert!(rec["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{rec}");
}

#[test]
fn plain_http_refuses_a_public_address_without_a_trusted_proxy() {
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["--headless", "--plain-http", "--listen", "0.0.0.0:0", "--secret", SECRET, "--no-journal"])
        .env_remove("GLWATCH_SECRET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("glwatch: error: --plain-http: refusing"), "{stderr}");
    assert!(stderr.contains("--trusted-proxy"), "{stderr}");
}

/// `openssl req -x509`'s self-signed certificate and key for localhost in `dir`.
fn openssl_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{name}-cert.pem")), dir.join(format!("{name}-key.pem")));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed (.ci/run installs it)");
    assert!(status.success());
    (cert, key)
}

fn send(url: &str, ca: &Path) -> (std::process::ExitStatus, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["send", url, "--secret", SECRET, "--count", "2", "--json", "--ca"])
        .arg(ca)
        .env_remove("GLWATCH_SECRET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status, format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn send_trusts_an_openssl_self_signed_certificate_given_with_ca_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_pair(dir.path(), "handler");
    let (other, _) = openssl_pair(dir.path(), "other");
    let rx = Receiver::start(&["--secret", SECRET, "--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    let url = format!("https://localhost:{}/", rx.addr.port());
    let (status, out) = send(&url, &cert);
    assert!(status.success(), "{out}");
    let summary: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!((summary["state"].as_str(), summary["acknowledged"].as_u64()), (Some("Active"), Some(2)), "{out}");
    // Another certificate, even for the same name, is not trusted.
    let (status, out) = send(&url, &other);
    assert!(!status.success(), "{out}");
    assert!(out.contains("certificate"), "{out}");
}
