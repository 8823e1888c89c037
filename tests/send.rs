//! `glwatch send` against webhook handlers this test controls: a correct one, one holding the wrong secret, one
//! that answers 500, and variations, all over HTTPS on loopback with certificates made in memory.

use bytes::Bytes;
use clap::Parser;
use glwatch::greenlake::{answer_challenge, challenge_request, Secret, Signer, Verifier};
use glwatch::record::VerifiedBy;
use glwatch::send::{execute, SendOptions, State, Summary};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

mod common;

// The binary's own `glwatch send` flags, so these tests parse what a user types.
#[allow(dead_code)]
#[path = "../src/cli/send_args.rs"]
mod send_args;
use common::SECRET;
use send_args::SendArgs;
const SECONDARY: &str = "the-next-secret";

/// How the test handler behaves.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Answers challenges and acknowledges well-signed CloudEvents, as a correct handler does.
    Correct,
    /// Holds a different secret than the sender.
    WrongSecret,
    /// Answers every delivery with this status (challenges are still answered).
    Status(u16),
    /// Answers the first `n` deliveries 503, then behaves.
    FailFirst(u64),
}

/// One request the handler received.
#[derive(Clone, Debug)]
struct Seen {
    body: Bytes,
    authorization: Option<String>,
    verified_by: Option<VerifiedBy>,
}

struct Handler {
    mode: Mode,
    verifier: Verifier,
    answer_with: Signer,
    deliveries: Mutex<Vec<Seen>>,
    challenges: Mutex<Vec<String>>,
    connections: AtomicU64,
    delivery_count: AtomicU64,
}

struct Server {
    addr: SocketAddr,
    handler: Arc<Handler>,
    ca: tempfile::NamedTempFile,
}

impl Server {
    async fn start(mode: Mode) -> Server {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let ca = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca.path(), cert.cert.pem()).unwrap();

        let primary = Secret::new(SECRET).unwrap();
        let answer_secret =
            if mode == Mode::WrongSecret { Secret::new("some-other-secret").unwrap() } else { primary.clone() };
        let handler = Arc::new(Handler {
            mode,
            verifier: Verifier::new(&primary, Some(&Secret::new(SECONDARY).unwrap())),
            answer_with: Signer::new(&answer_secret),
            deliveries: Mutex::default(),
            challenges: Mutex::default(),
            connections: AtomicU64::new(0),
            delivery_count: AtomicU64::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let h = handler.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                h.connections.fetch_add(1, Ordering::SeqCst);
                let (acceptor, h) = (acceptor.clone(), h.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        let h = h.clone();
                        async move { Ok::<_, hyper::Error>(h.handle(req).await) }
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        Server { addr, handler, ca }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}/webhook", self.addr.port())
    }

    fn deliveries(&self) -> Vec<Seen> {
        self.handler.deliveries.lock().unwrap().clone()
    }

    fn challenges(&self) -> Vec<String> {
        self.handler.challenges.lock().unwrap().clone()
    }

    /// `glwatch send` arguments aimed at this server, trusting its certificate.
    fn args(&self, extra: &[&str]) -> SendOptions {
        let mut v = vec![
            "send".to_owned(),
            self.url(),
            "--secret".into(),
            SECRET.into(),
            "--ca".into(),
            self.ca.path().display().to_string(),
            "--quiet".into(),
            "--retry-base-ms".into(),
            "5".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        parse(v)
    }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    send: SendArgs,
}

fn parse(args: Vec<String>) -> SendOptions {
    Cli::try_parse_from(args).unwrap().send.options()
}

fn response(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

impl Handler {
    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let signature = req.headers().get("hpe-webhook-signature").map(|v| v.as_bytes().to_vec());
        let authorization = req.headers().get("authorization").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(req.headers()["content-type"], "application/json");
        let body = Limited::new(req.into_body(), 1 << 20).collect().await.unwrap().to_bytes();
        if let Some(request) = challenge_request(&body) {
            self.challenges.lock().unwrap().push(request.clone());
            let (_, answer) = answer_challenge(&self.answer_with, &request);
            return response(200, answer);
        }
        let n = self.delivery_count.fetch_add(1, Ordering::SeqCst);
        let verified_by = self.verifier.verify(signature.as_deref(), &body).ok();
        self.deliveries.lock().unwrap().push(Seen { body: body.clone(), authorization, verified_by });
        if verified_by.is_none() {
            return response(401, "{\"error\":\"bad signature\"}".into());
        }
        if let Err(e) = glwatch::cloudevent::parse_body(&body) {
            return response(400, format!("{{\"error\":{:?}}}", e.to_string()));
        }
        match self.mode {
            Mode::Status(s) => response(s, "{}".into()),
            Mode::FailFirst(k) if n < k => response(503, "{}".into()),
            _ => response(200, String::new()),
        }
    }
}

fn ids(body: &[u8]) -> Vec<String> {
    glwatch::cloudevent::parse_body(body).unwrap().into_iter().map(|e| e.id).collect()
}

async fn send(args: SendOptions) -> Summary {
    execute(args, |_| ()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_passes_and_every_event_is_acknowledged_over_keep_alive_connections() {
    let server = Server::start(Mode::Correct).await;
    let s = send(server.args(&["--count", "60", "--concurrency", "4", "--json"])).await;
    assert_eq!(s.state, State::Active, "{s}");
    assert_eq!(s.state_reason, None);
    assert_eq!((s.sent, s.acknowledged, s.failed, s.retries), (60, 60, 0, 0));
    assert!(s.refused.is_empty());
    assert!(s.ok());
    assert!(s.latency_ms.p50 > 0.0 && s.latency_ms.p50 <= s.latency_ms.p99);
    assert!(s.latency_ms.p99 <= s.latency_ms.max);
    assert!(s.challenge_ms.is_some());

    // The challenge carried a fresh UUID, as GreenLake's does.
    let challenges = server.challenges();
    assert_eq!(challenges.len(), 1);
    assert!(glwatch::greenlake::ChallengeGuard.check(&challenges[0]).is_ok());

    // Every delivery was signed with the primary secret over its exact bytes, and the ids are all distinct.
    let seen = server.deliveries();
    assert_eq!(seen.len(), 60);
    let mut all = std::collections::HashSet::new();
    for d in &seen {
        assert_eq!(d.verified_by, Some(VerifiedBy::Primary));
        assert_eq!(d.authorization, None);
        for id in ids(&d.body) {
            assert!(all.insert(id));
        }
    }
    assert_eq!(all.len(), 60);
    // One connection for the challenge, then one per concurrency slot, each kept alive.
    assert_eq!(server.handler.connections.load(Ordering::SeqCst), 5);

    let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
    assert_eq!(json["state"], "Active");
    assert_eq!(json["acknowledged"], 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_with_the_wrong_secret_is_critical_and_gets_no_events() {
    let server = Server::start(Mode::WrongSecret).await;
    let s = send(server.args(&["--count", "5"])).await;
    assert_eq!(s.state, State::Critical);
    assert_eq!(s.state_reason.as_deref(), Some("HMAC validation failed. Please verify webhook secret."));
    assert_eq!(s.sent, 0);
    assert!(!s.ok());
    assert!(server.deliveries().is_empty());
    let text = s.to_string();
    assert!(
        text.starts_with("webhook       Critical (HMAC validation failed. Please verify webhook secret.)"),
        "{text}"
    );
    assert!(!text.contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_answering_500_is_retried_then_reported() {
    let server = Server::start(Mode::Status(500)).await;
    let s = send(server.args(&["--count", "3", "--retries", "2"])).await;
    assert_eq!(s.sent, 3);
    assert_eq!(s.acknowledged, 0);
    assert_eq!(s.refused.get("500"), Some(&3));
    assert_eq!(s.retries, 6);
    // Each event was attempted three times: the first try and two retries.
    assert_eq!(server.deliveries().len(), 9);
    assert_eq!(s.state, State::Critical);
    assert_eq!(s.state_reason.as_deref(), Some("Failure in Event Deliveries"));
    assert!(!s.ok());
    assert!(s.to_string().contains("refused       3 with status 500"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_that_cannot_change_is_not_retried() {
    let server = Server::start(Mode::Status(400)).await;
    let s = send(server.args(&["--count", "2", "--retries", "5"])).await;
    assert_eq!(s.refused.get("400"), Some(&2));
    assert_eq!(s.retries, 0);
    assert_eq!(server.deliveries().len(), 2);
    assert!(!s.ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_recovered_by_a_retry_leaves_the_webhook_in_warning() {
    let server = Server::start(Mode::FailFirst(1)).await;
    let s = send(server.args(&["--count", "4"])).await;
    assert_eq!((s.sent, s.acknowledged, s.retries), (4, 4, 1));
    assert_eq!(s.state, State::Warning);
    assert!(s.ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_json_arrays_of_up_to_n_events() {
    let server = Server::start(Mode::Correct).await;
    let s = send(server.args(&["--count", "25", "--batch", "10"])).await;
    assert_eq!((s.sent, s.acknowledged, s.deliveries), (25, 25, 3));
    let sizes: Vec<usize> = server
        .deliveries()
        .iter()
        .map(|d| {
            assert_eq!(d.body[0], b'[');
            ids(&d.body).len()
        })
        .collect();
    assert_eq!(sizes, vec![10, 10, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sample_file_is_sent_byte_for_byte_and_signed() {
    let server = Server::start(Mode::Correct).await;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    for (name, events) in [("audit-log-created.json", 1), ("expiring-subscriptions.json", 1), ("batch.json", 2)] {
        let path = format!("{fixtures}/{name}");
        let before = server.deliveries().len();
        let s = send(server.args(&["--file", &path, "--no-challenge"])).await;
        assert_eq!((s.sent, s.acknowledged, s.deliveries), (events, events, 1), "{name}");
        let seen = server.deliveries();
        assert_eq!(seen.len(), before + 1);
        let d = &seen[before];
        assert_eq!(d.body, std::fs::read(&path).unwrap(), "{name}");
        assert_eq!(d.verified_by, Some(VerifiedBy::Primary));
    }
    assert!(server.challenges().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ndjson_file_is_batched_on_request() {
    let server = Server::start(Mode::Correct).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    let g = glwatch::send::catalog::Generator::new(&[], Some(11));
    let lines: Vec<String> =
        (0..5).map(|i| String::from_utf8(g.event(i, time::OffsetDateTime::now_utc())).unwrap()).collect();
    std::fs::write(file.path(), lines.join("\n") + "\n").unwrap();
    let path = file.path().display().to_string();
    let s = send(server.args(&["--file", &path, "--batch", "2"])).await;
    assert_eq!((s.sent, s.acknowledged, s.deliveries), (5, 5, 3));
    let bodies: Vec<Bytes> = server.deliveries().into_iter().map(|d| d.body).collect();
    assert_eq!(bodies[0], format!("[{},{}]", lines[0], lines[1]));
    assert_eq!(bodies[2], format!("[{}]", lines[4]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondary_secret_and_authorization_headers() {
    let server = Server::start(Mode::Correct).await;
    let s = send(server.args(&[
        "--count",
        "2",
        "--secondary-secret",
        SECONDARY,
        "--sign-with",
        "secondary",
        "--api-key",
        "key-123",
    ]))
    .await;
    assert_eq!(s.acknowledged, 2);
    for d in server.deliveries() {
        assert_eq!(d.verified_by, Some(VerifiedBy::Secondary));
        assert_eq!(d.authorization.as_deref(), Some("key-123"));
    }
    let server = Server::start(Mode::Correct).await;
    send(server.args(&["--count", "1", "--bearer", "tok"])).await;
    assert_eq!(server.deliveries()[0].authorization.as_deref(), Some("Bearer tok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_only_and_type_selection() {
    let server = Server::start(Mode::Correct).await;
    let s = send(server.args(&["--challenge-only"])).await;
    assert_eq!(s.state, State::Active);
    assert_eq!(s.sent, 0);
    assert!(s.ok());
    assert!(s.to_string().contains("sent          no events"));
    assert_eq!(server.challenges().len(), 1);
    assert!(server.deliveries().is_empty());

    let s = send(server.args(&["--count", "20", "--type", "expiring-subscriptions", "--no-challenge"])).await;
    assert_eq!(s.acknowledged, 20);
    for d in server.deliveries() {
        let v: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
        assert_eq!(v["type"], "com.hpe.greenlake.subscriptions.v1.expiring-subscriptions");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_and_duration_bound_the_run() {
    let server = Server::start(Mode::Correct).await;
    let s = send(server.args(&["--rate", "20", "--duration", "500ms", "--no-challenge"])).await;
    // Event k is due at k/20 s, and none may be due after the 500 ms: at most 10, never faster than the rate.
    assert!(s.sent >= 1 && s.sent <= 10, "{s}");
    assert_eq!(s.acknowledged, s.sent);
    assert!(s.elapsed_s >= (s.sent - 1) as f64 / 20.0, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_and_untrusted_handlers_are_critical() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let args = parse(
        [
            "send",
            &format!("https://127.0.0.1:{port}/"),
            "--secret",
            SECRET,
            "--insecure",
            "--retries",
            "1",
            "--retry-base-ms",
            "5",
            "--quiet",
        ]
        .map(String::from)
        .to_vec(),
    );
    let s = send(args).await;
    assert_eq!(s.state, State::Critical);
    let reason = s.state_reason.unwrap();
    assert!(
        reason.starts_with(&format!("Webhook URL unreachable. error: connection to 127.0.0.1:{port} failed:")),
        "{reason}"
    );

    // A self-signed certificate is not trusted by default, and is with --insecure.
    let server = Server::start(Mode::Correct).await;
    let base = ["send", &server.url(), "--secret", SECRET, "--quiet", "--retries", "0", "--count", "1"];
    let s = send(parse(base.map(String::from).to_vec())).await;
    assert_eq!(s.state, State::Critical);
    let reason = s.state_reason.unwrap();
    assert!(
        reason.starts_with(
            "Webhook URL unreachable. error: TLS handshake with localhost failed: invalid peer certificate"
        ),
        "{reason}"
    );
    let mut insecure = base.map(String::from).to_vec();
    insecure.push("--insecure".into());
    let s = send(parse(insecure)).await;
    assert_eq!(s.state, State::Active);
    assert_eq!(s.acknowledged, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_stream_verifies_then_streams_until_cancelled() {
    let server = Server::start(Mode::Correct).await;
    let trust = glwatch::send::Trust::from_pem_file(server.ca.path()).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handler = server.handler.clone();
    // Cancel once the stream has shown a bad signature and a duplicate, which it does within its first steps.
    let watcher = tokio::spawn(async move {
        let shown = common::wait_until(common::WAIT, || {
            let seen = handler.deliveries.lock().unwrap();
            let bad = seen.iter().any(|d| d.verified_by.is_none());
            let mut ids_seen = std::collections::HashSet::new();
            let dup = seen
                .iter()
                .filter(|d| d.verified_by.is_some())
                .flat_map(|d| ids(&d.body))
                .any(|id| !ids_seen.insert(id));
            bad && dup
        })
        .await;
        if shown {
            let _ = tx.send(());
        }
    });
    let report = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        glwatch::send::demo_stream(&server.url(), &Secret::new(SECRET).unwrap(), trust, 50.0, async {
            let _ = rx.await;
        }),
    )
    .await
    .expect("the demo shows a bad signature and a duplicate within a minute")
    .unwrap();
    watcher.await.unwrap();
    // The stream may take a step or two more before it sees the cancellation, so counts are lower bounds.
    let challenges = server.challenges();
    assert!(glwatch::greenlake::ChallengeGuard.check(&challenges[0]).is_ok());
    assert!(report.bad_signatures >= 1 && report.duplicates >= 1, "{report:?}");
    // Only the badly signed deliveries are refused; the duplicate is acknowledged, as GreenLake expects.
    assert_eq!(report.refused, report.bad_signatures, "{report:?}");
    assert_eq!(report.errors, 0);
    assert!(report.acknowledged >= 6, "{report:?}");
}

/// Runs the `glwatch` binary with `args`; returns the exit status, stdout and stderr.
fn glwatch(args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(args)
        .env_remove("GLWATCH_SECRET")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (out.status, String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn the_binary_verifies_and_loads_the_real_receiver() {
    let rx = common::Receiver::start(&["--secret", SECRET]);
    let url = format!("https://localhost:{}/", rx.addr.port());
    let ca = rx.ca().display().to_string();
    let (status, stdout, stderr) = glwatch(&[
        "send",
        &url,
        "--secret",
        SECRET,
        "--ca",
        &ca,
        "--count",
        "30",
        "--concurrency",
        "3",
        "--seed",
        "7",
        "--json",
    ]);
    assert!(status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["state"], "Active");
    assert_eq!((summary["sent"].as_u64(), summary["acknowledged"].as_u64()), (Some(30), Some(30)));

    // The receiver answered the challenge and emitted every event, with the ids the simulator generated.
    let challenge = rx.next_record();
    assert_eq!((challenge["kind"].as_str(), challenge["answered"].as_bool()), (Some("challenge"), Some(true)));
    let g = glwatch::send::catalog::Generator::new(&[], Some(7));
    let mut expected: Vec<String> = (0..30)
        .map(|i| {
            let v: serde_json::Value = serde_json::from_slice(&g.event(i, time::OffsetDateTime::now_utc())).unwrap();
            v["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let mut got: Vec<String> = (0..30)
        .map(|_| {
            let rec = rx.next_record();
            assert_eq!(rec["kind"], "event", "{rec}");
            assert_eq!(rec["verified_by"], "primary");
            rec["event"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);

    // The same events again are duplicates: acknowledged (so GreenLake would stop retrying), not emitted twice.
    let (status, stdout, _) = glwatch(&[
        "send",
        &url,
        "--secret",
        SECRET,
        "--ca",
        &ca,
        "--count",
        "30",
        "--seed",
        "7",
        "--no-challenge",
        "--json",
    ]);
    assert!(status.success(), "{stdout}");
    // Proof that nothing was emitted for them: the next record on stdout is a fresh event sent afterwards.
    let (status, stdout, _) = glwatch(&[
        "send",
        &url,
        "--secret",
        SECRET,
        "--ca",
        &ca,
        "--count",
        "1",
        "--seed",
        "8",
        "--no-challenge",
        "--json",
    ]);
    assert!(status.success(), "{stdout}");
    let fresh: serde_json::Value = serde_json::from_slice(
        &glwatch::send::catalog::Generator::new(&[], Some(8)).event(0, time::OffsetDateTime::now_utc()),
    )
    .unwrap();
    assert_eq!(rx.next_record()["event"]["id"], fresh["id"]);
}

#[test]
fn the_binary_reports_a_wrong_secret_and_a_failed_run_with_exit_status() {
    let rx = common::Receiver::start(&["--secret", SECRET]);
    let url = format!("https://localhost:{}/", rx.addr.port());
    let ca = rx.ca().display().to_string();
    let (status, stdout, _) = glwatch(&["send", &url, "--secret", "not-the-secret", "--ca", &ca]);
    assert_eq!(status.code(), Some(1));
    assert!(
        stdout.starts_with("webhook       Critical (HMAC validation failed. Please verify webhook secret.)"),
        "{stdout}"
    );
    assert!(!stdout.contains("not-the-secret"));

    // Skipping the challenge, events signed with the wrong secret are refused with 401 and the run fails.
    let (status, stdout, _) =
        glwatch(&["send", &url, "--secret", "not-the-secret", "--ca", &ca, "--no-challenge", "--count", "3", "--json"]);
    assert_eq!(status.code(), Some(1));
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["refused"]["401"], 3);
    assert_eq!(summary["state"], "Critical");
    assert_eq!(summary["state_reason"], "Failure in Event Deliveries");
}

#[test]
fn rates_too_small_to_schedule_are_refused_not_a_panic() {
    // 1e-20 events per second once overflowed the scheduler's Duration and panicked.
    for rate in ["1e-20", "-1", "NaN"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_glwatch"))
            .args(["send", "https://127.0.0.1:9/", "--secret", "abcd", "--count", "1", &format!("--rate={rate}")])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "--rate {rate}: {stderr}");
        assert!(stderr.contains("--rate") && !stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn pinned_to_one_cpu_the_binary_still_delivers_every_event_verified() {
    // One CPU to run on selects the single-threaded runtime (how the benchmark pins its load generator).
    let rx = common::Receiver::start(&["--secret", SECRET]);
    let url = format!("https://localhost:{}/", rx.addr.port());
    let ca = rx.ca().display().to_string();
    let out = std::process::Command::new("taskset")
        .args(["-c", "0", env!("CARGO_BIN_EXE_glwatch"), "send", &url, "--secret", SECRET, "--ca", &ca])
        .args(["--count", "40", "--concurrency", "4", "--type", "audit-log", "--seed", "3", "--json"])
        .env_remove("GLWATCH_SECRET")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("taskset (util-linux) runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!((summary["sent"].as_u64(), summary["acknowledged"].as_u64()), (Some(40), Some(40)));
    assert_eq!(rx.next_record()["kind"], "challenge");
    let mut ids = std::collections::HashSet::new();
    for _ in 0..40 {
        let rec = rx.next_record();
        assert_eq!((rec["kind"].as_str(), rec["verified_by"].as_str()), (Some("event"), Some("primary")), "{rec}");
        ids.insert(rec["event"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 40, "every delivery is a distinct event");
}
