//! `--acme` against a real ACME server: Pebble (with pebble-challtestsrv as its DNS) issues glwatch a certificate
//! over TLS-ALPN-01 on glwatch's own port; GreenLake's challenge and a signed event are then served with it, a
//! restart serves the cached certificate without a new order, and short-lived certificates renew at half-life.
//! The certificate's expiry reaches the metrics and /healthz of the watch socket.
//!
//! Over 400 lines: the Pebble and glwatch process harness lives beside the two scenarios that share it.

mod common;

use bytes::Bytes;
use common::{audit_event, fixture, free_port, sign, SECRET};
use http_body_util::{BodyExt, Full};
use rustls::pki_types::ServerName;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DOMAIN: &str = "events.glwatch.test";
/// Issuance takes seconds (rustls-acme polls at 1 s steps); generous for a loaded machine.
const ISSUE_WAIT: Duration = Duration::from_secs(90);

/// A child process killed and reaped when the test ends, whether it passes or panics.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn require(program: &str) {
    let found = Command::new(program).arg("-h").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    assert!(
        found,
        "`{program}` is not installed: these tests need Debian's `pebble` package (apt-get install pebble; .ci/run installs it)"
    );
}

/// Pebble with its own HTTPS certificate (the Debian package ships none) and challtestsrv answering every name
/// with 127.0.0.1. Pebble validates TLS-ALPN-01 on `tls_port`, where glwatch listens.
struct Pebble {
    dir: tempfile::TempDir,
    directory_url: String,
    management: SocketAddr,
    /// The CA of Pebble's own HTTPS (for --acme-ca), not the CA that signs issued certificates.
    https_ca: PathBuf,
    log: PathBuf,
    _procs: Vec<Killed>,
}

impl Pebble {
    async fn start(tls_port: u16, validity_secs: Option<u64>) -> Pebble {
        require("pebble");
        require("pebble-challtestsrv");
        let dir = tempfile::tempdir().unwrap();
        let https_ca = write_pebble_https_cert(dir.path());
        let (listen, management, http_port, dns, dns_mgmt) =
            (free_port(), free_port(), free_port(), free_port(), free_port());
        let mut pebble = serde_json::json!({
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        });
        if let Some(secs) = validity_secs {
            pebble["certificateValidityPeriod"] = secs.into();
        }
        let config = dir.path().join("pebble-config.json");
        std::fs::write(&config, serde_json::json!({ "pebble": pebble }).to_string()).unwrap();
        let log = dir.path().join("pebble.log");
        let dns_log = std::fs::File::create(dir.path().join("challtestsrv.log")).unwrap();
        let mut procs = vec![Killed(
            Command::new("pebble-challtestsrv")
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                .args(["-dns01", &format!("127.0.0.1:{dns}"), "-management", &format!("127.0.0.1:{dns_mgmt}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .stdout(dns_log.try_clone().unwrap())
                .stderr(dns_log)
                .spawn()
                .unwrap(),
        )];
        let pebble_log = std::fs::File::create(&log).unwrap();
        procs.push(Killed(
            Command::new("pebble")
                .args(["-config", config.to_str().unwrap(), "-dnsserver", &format!("127.0.0.1:{dns}")])
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0")
                .stdout(pebble_log.try_clone().unwrap())
                .stderr(pebble_log)
                .spawn()
                .unwrap(),
        ));
        let pebble = Pebble {
            directory_url: format!("https://localhost:{listen}/dir"),
            management: format!("127.0.0.1:{management}").parse().unwrap(),
            https_ca,
            log,
            dir,
            _procs: procs,
        };
        let api: SocketAddr = format!("127.0.0.1:{listen}").parse().unwrap();
        poll(Duration::from_secs(30), "Pebble's directory to answer", || async {
            get(api, "localhost", &pebble.https_ca, "/dir").await.ok().filter(|(status, _)| *status == 200)
        })
        .await;
        poll(Duration::from_secs(30), "challtestsrv to listen", || async {
            tokio::net::TcpStream::connect(("127.0.0.1", dns_mgmt)).await.ok()
        })
        .await;
        pebble
    }

    /// The root that signs issued certificates: Pebble makes a new one at every start.
    async fn root(&self) -> PathBuf {
        let (status, pem) = get(self.management, "localhost", &self.https_ca, "/roots/0").await.unwrap();
        assert_eq!(status, 200);
        let path = self.dir.path().join("root0.pem");
        std::fs::write(&path, pem).unwrap();
        path
    }

    fn new_orders(&self) -> usize {
        std::fs::read_to_string(&self.log).unwrap().matches("order-plz").count()
    }
}

/// An ECDSA CA and a leaf for localhost / 127.0.0.1, PKCS#8 key (Go reads it).
fn write_pebble_https_cert(dir: &Path) -> PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, "glwatch test: Pebble HTTPS CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem()).unwrap();
    dir.join("ca.pem")
}

/// Polls `probe` (which talks to a server, so it is async) until it yields something, at most `within`.
async fn poll<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The real binary, headless, its stderr collected for the test to search.
struct Glwatch {
    child: Killed,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: std::sync::mpsc::Receiver<String>,
}

impl Glwatch {
    fn start(port: u16, data_dir: &Path, pebble: &Pebble) -> Glwatch {
        Self::start_for(port, data_dir, &pebble.directory_url, &pebble.https_ca)
    }

    fn start_for(port: u16, data_dir: &Path, directory_url: &str, https_ca: &Path) -> Glwatch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_glwatch"))
            .args(["--headless", "--listen", &format!("127.0.0.1:{port}"), "--secret", SECRET])
            .args(["--data-dir", data_dir.to_str().unwrap(), "--acme", DOMAIN, "--acme-email", "ops@glwatch.test"])
            .args(["--acme-directory", directory_url, "--acme-ca", https_ca.to_str().unwrap()])
            .env("GLWATCH_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("glwatch binary starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let err = BufReader::new(child.stderr.take().unwrap());
        let lines = stderr.clone();
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let stdout = common::lines(child.stdout.take().unwrap());
        Glwatch { child: Killed(child), stderr, stdout }
    }

    /// The first stderr line containing `needle`, waiting up to `within`.
    async fn line(&self, needle: &str, within: Duration) -> String {
        let find = || self.stderr.lock().unwrap().iter().find(|l| l.contains(needle)).cloned();
        let printed = common::wait_until(within, || find().is_some()).await;
        assert!(printed, "glwatch did not print {needle:?}; stderr: {:?}", self.stderr());
        find().unwrap()
    }

    fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    fn count(&self, needle: &str) -> usize {
        self.stderr.lock().unwrap().iter().filter(|l| l.contains(needle)).count()
    }

    fn stop(mut self) {
        let pid = self.child.0.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let exited = common::wait_until_blocking(common::WAIT, || self.child.0.try_wait().unwrap().is_some());
        assert!(exited, "glwatch did not exit on SIGTERM");
    }
}

/// One HTTPS/1.1 request trusting only `ca`, with `sni` as the server name. Returns the status, the body and the
/// SHA-256 fingerprint of the certificate served; a TLS failure is an error.
async fn request(
    addr: SocketAddr,
    sni: &str,
    ca: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, Vec<u8>, String), String> {
    let config = common::client_config(ca, &[b"http/1.1"]);
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(sni.to_owned()).unwrap(), tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))?;
    let served = glwatch::server::tls::fingerprint(&tls.get_ref().1.peer_certificates().unwrap()[0]);
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = hyper::Request::builder().method(method).uri(path).header("host", sni);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = send
        .send_request(req.body(Full::new(Bytes::copy_from_slice(body))).unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes().to_vec();
    Ok((status, body, served))
}

/// A handshake offering only `acme-tls/1`, as the CA's validation does.
async fn validation_handshake(addr: SocketAddr, ca: &Path) -> Result<(), String> {
    let config = common::client_config(ca, &[b"acme-tls/1"]);
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(DOMAIN).unwrap(), tcp)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

async fn get(addr: SocketAddr, sni: &str, ca: &Path, path: &str) -> Result<(u16, Vec<u8>), String> {
    request(addr, sni, ca, "GET", path, &[], b"").await.map(|(s, b, _)| (s, b))
}

/// GreenLake's challenge and a signed event, both over the ACME certificate; returns the certificate's fingerprint.
async fn serve_greenlake(glwatch: &Glwatch, addr: SocketAddr, root: &Path, event_id: &str) -> String {
    let json = [("content-type", "application/json")];
    let (status, body, served) =
        request(addr, DOMAIN, root, "POST", "/webhook", &json, &fixture("challenge.json")).await.unwrap();
    assert_eq!(status, 200);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["verification"], "4e7b31216c849c01f79d5b81a581c4415d5e381aa5f276a9c5b5fbb8da0e0c21");
    let event = audit_event(event_id);
    let signature = sign(SECRET, &event);
    let headers = [json[0], ("hpe-webhook-signature", signature.as_str())];
    let (status, _, again) = request(addr, DOMAIN, root, "POST", "/webhook", &headers, &event).await.unwrap();
    assert_eq!((status, again.as_str()), (200, served.as_str()));
    let mut seen = Vec::new();
    let record = loop {
        let line = glwatch.stdout.recv_timeout(common::WAIT).unwrap_or_else(|_| panic!("no event record: {seen:?}"));
        let record: serde_json::Value = serde_json::from_str(&line).unwrap();
        if record["kind"] == "event" {
            break record;
        }
        seen.push(line);
    };
    assert_eq!(record["verified_by"], "primary");
    assert!(record.to_string().contains(event_id), "{record}");
    served
}

#[cfg(unix)]
/// The end of validity the log line announcing a certificate names (`..., valid FROM to UNTIL, renewal ...`).
fn expiry_in(announced: &str) -> time::OffsetDateTime {
    let until =
        announced.split(", valid ").nth(1).and_then(|s| s.split(" to ").nth(1)).and_then(|s| s.split(',').next());
    let until = until.unwrap_or_else(|| panic!("no validity in {announced:?}"));
    time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339).unwrap()
}

/// The ACME certificate's expiry is what the watch socket's metrics and health report.
fn assert_shows_expiry(data_dir: &Path, expiry: time::OffsetDateTime) {
    let socket = data_dir.join("glwatch.sock");
    // The banner comes before the watch socket is bound: a restarted receiver may not answer on it yet.
    let bound = common::wait_until_blocking(common::WAIT, || std::os::unix::net::UnixStream::connect(&socket).is_ok());
    assert!(bound, "nothing answers on {}", socket.display());
    let (_, metrics) = common::get_unix(&socket, "/metrics");
    let shown = common::metric(&metrics, "glwatch_certificate_expiry_timestamp_seconds");
    assert_eq!(shown, Some(expiry.unix_timestamp() as f64), "{metrics}");
    let (_, health) = common::get_unix(&socket, "/healthz");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    let at = expiry.format(&time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(health["certificate_expiry"].as_str(), Some(at.as_str()), "{health}");
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn obtains_a_certificate_serves_greenlake_with_it_and_reuses_it_after_a_restart() {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let data = tempfile::tempdir().unwrap();

    // glwatch starts before the CA is reachable: it says it is waiting, refuses TLS clients with a handshake
    // failure, logs the failed order and retries.
    let nowhere = tempfile::tempdir().unwrap();
    let some_ca = write_pebble_https_cert(nowhere.path());
    let closed = format!("https://localhost:{}/dir", free_port());
    let glwatch = Glwatch::start_for(port, data.path(), &closed, &some_ca);
    let banner = glwatch.line("glwatch: certificate for", common::WAIT).await;
    assert!(banner.contains(DOMAIN) && banner.contains("waiting for the first one"), "{banner}");
    glwatch.line("failed (attempt 1)", common::WAIT).await;
    let refused = request(addr, DOMAIN, &some_ca, "GET", "/", &[], b"").await;
    assert!(refused.as_ref().is_err_and(|e| e.starts_with("TLS")), "{refused:?}");
    glwatch.line("refusing TLS clients (handshake failure) until the first certificate arrives", common::WAIT).await;
    glwatch.stop();

    // With the CA up: a certificate over TLS-ALPN-01 on glwatch's port.
    let pebble = Pebble::start(port, None).await;
    let glwatch = Glwatch::start(port, data.path(), &pebble);
    let issued = glwatch.line("ACME: serving a new certificate for events.glwatch.test", ISSUE_WAIT).await;
    let took = issued.split("issued in ").nth(1).and_then(|s| s.split(' ').next()).unwrap_or("?");
    eprintln!("measured: certificate issued by Pebble in {took} s (order start to deployment)");
    assert!(glwatch.count("TLS-ALPN-01 validation connection") >= 1, "{:?}", glwatch.stderr());
    for step in ["trigger challenge for events.glwatch.test", "sending csr", "download certificate"] {
        assert!(glwatch.count(step) >= 1, "the log shows {step:?}: {:?}", glwatch.stderr());
    }
    let root = pebble.root().await;
    let first = serve_greenlake(&glwatch, addr, &root, "acme-event-1").await;
    assert!(issued.contains(&first), "the log names the served certificate: {issued}");
    glwatch.line("ACME: certificate saved in", common::WAIT).await;
    let expiry = expiry_in(&issued);
    assert_shows_expiry(data.path(), expiry);
    // Outside a validation, a stranger posing as the CA gets no certificate, and the receiver keeps serving.
    assert!(validation_handshake(addr, &root).await.is_err());
    glwatch.line("refused a TLS-ALPN-01 validation handshake: no challenge pending", common::WAIT).await;
    assert_eq!(serve_greenlake(&glwatch, addr, &root, "acme-event-1b").await, first);
    glwatch.stop();

    // The cache is private: directory 0700, account and certificate files 0600.
    let cache = data.path().join("acme");
    #[cfg(unix)]
    {
        assert_eq!(mode(&cache), 0o700);
        let files: Vec<PathBuf> = std::fs::read_dir(&cache).unwrap().map(|e| e.unwrap().path()).collect();
        // The unreachable CA of the first start left an account key of its own (the name hashes the URL).
        let certs = files.iter().filter(|f| f.to_string_lossy().contains("cached_cert_")).count();
        assert_eq!(certs, 1, "{files:?}");
        for file in files {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    // A restart serves the cached certificate at once and orders nothing.
    let orders = pebble.new_orders();
    assert!(orders >= 1, "Pebble logged the first order");
    let glwatch = Glwatch::start(port, data.path(), &pebble);
    let banner = glwatch.line("glwatch: certificate for", common::WAIT).await;
    assert!(banner.contains("served from the cache") && banner.contains(&first), "{banner}");
    assert_shows_expiry(data.path(), expiry);
    glwatch.line("ACME: serving the cached certificate for events.glwatch.test, no new order", common::WAIT).await;
    let again = serve_greenlake(&glwatch, addr, &root, "acme-event-2").await;
    assert_eq!(again, first);
    assert_eq!(pebble.new_orders(), orders, "no new order after the restart");
    assert_eq!(glwatch.count("trigger challenge"), 0);
    // `systemctl reload` sends SIGHUP: acknowledged, and the receiver keeps serving.
    let pid = glwatch.child.0.id().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    glwatch.line("SIGHUP: nothing to reload", common::WAIT).await;
    assert_eq!(serve_greenlake(&glwatch, addr, &root, "acme-event-3").await, first);
    glwatch.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_lived_certificate_is_renewed_at_half_its_lifetime() {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let data = tempfile::tempdir().unwrap();
    // 30 s certificates: rustls-acme alone would renew with 10 s left; glwatch renews from 15 s.
    let pebble = Pebble::start(port, Some(30)).await;
    let glwatch = Glwatch::start(port, data.path(), &pebble);
    let issued = glwatch.line("ACME: serving a new certificate for events.glwatch.test", ISSUE_WAIT).await;
    let root = pebble.root().await;
    let first = serve_greenlake(&glwatch, addr, &root, "short-1").await;
    assert!(issued.contains(&first));
    let renewing = glwatch.line("half-way through its short lifetime", ISSUE_WAIT).await;
    assert!(renewing.contains(DOMAIN), "{renewing}");
    // While the new one is ordered, clients are still served, with the current certificate.
    let during = serve_greenlake(&glwatch, addr, &root, "short-during").await;
    if glwatch.count("ACME: serving a new certificate") == 1 {
        assert_eq!(during, first);
    }
    let issued = || -> Vec<String> {
        glwatch.stderr().into_iter().filter(|l| l.contains("ACME: serving a new certificate")).collect()
    };
    assert!(common::wait_until(ISSUE_WAIT, || issued().len() >= 2).await, "{:?}", glwatch.stderr());
    let renewed = issued()[1].clone();
    let second = serve_greenlake(&glwatch, addr, &root, "short-2").await;
    assert_ne!(second, first, "a new certificate is served after the renewal");
    assert!(renewed.contains(&second), "{renewed}");
    glwatch.stop();
}
