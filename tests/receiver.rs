//! The receiver as GreenLake (and an attacker) sees it: the real binary over real TLS on loopback.

mod common;

use common::*;
use rustls::pki_types::ServerName;
use serde_json::Value;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Logging that includes the listener's "request arriving" line, which says the server has read part of a request.
const LISTENER_DEBUG: &str = "info,glwatch::server::listener=debug";

fn event_ids(record: &Value) -> (&str, bool) {
    (record["event"]["id"].as_str().unwrap(), record["duplicate"].as_bool().unwrap())
}

#[tokio::test]
async fn challenge_sample_is_answered_with_the_public_vector() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let reply = rx.client().post(&[], &fixture("challenge.json")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.body, r#"{"verification":"4e7b31216c849c01f79d5b81a581c4415d5e381aa5f276a9c5b5fbb8da0e0c21"}"#);
    let rec = rx.next_record();
    assert_eq!(rec["kind"], "challenge");
    assert_eq!(rec["challenge_request"], "8cbecfea-d708-4706-bba3-669225084a10");
    assert_eq!(rec["answered"], true);
    assert_eq!(rec["peer"].as_str().unwrap().split(':').next(), Some("127.0.0.1"));
}

#[tokio::test]
async fn sample_signatures_from_the_protocol_vectors_are_accepted() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let client = rx.client();
    for (file, sig) in [
        ("audit-log-created.json", "sha256=b268959695b1de5c0bc5b39ffcc425fa81ea327e4cfec7afb7e28bfc91dbcfd5"),
        ("expiring-subscriptions.json", "sha256=8eb1eefd8b0673e178f5a4f6c4c16a2e4340f6200642c43b8ba8f1ae18efd7ec"),
    ] {
        let reply = client.post(&[("Hpe-Webhook-Signature", sig)], &fixture(file)).await;
        assert_eq!(reply.status, 200, "{file}: {}", reply.body);
        let rec = rx.next_record();
        assert_eq!(rec["kind"], "event");
        assert_eq!(rec["verified_by"], "primary");
        assert_eq!(rec["duplicate"], false);
        // The event is the sample exactly, whitespace aside.
        let sample: Value = serde_json::from_slice(&fixture(file)).unwrap();
        assert_eq!(rec["event"], sample);
    }
}

#[tokio::test]
async fn signed_batch_is_accepted_and_split_into_one_record_per_event() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let sig = "sha256=86e69140b93ccd724e519e5e1604b43600afb197f73d4a35de67ec10c463045a";
    let reply = rx
        .client()
        .request(
            "POST",
            &[("content-type", "application/cloudevents-batch+json"), ("hpe-webhook-signature", sig)],
            &fixture("batch.json"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["accepted"], 2);
    assert_eq!(event_ids(&rx.next_record()), ("uJoQ5JMB_HAPiq2sSllu", false));
    assert_eq!(event_ids(&rx.next_record()), ("fb25f344-6f3c-4c1e-9d55-2b8f1c0a7e41", false));
}

#[tokio::test]
async fn wrong_missing_empty_and_malformed_signatures_get_401_and_are_recorded() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let client = rx.client();
    let body = audit_event("sig-1");
    let upper = sign(SECRET, &body).to_uppercase().replacen("SHA256=", "sha256=", 1);
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![("hpe-webhook-signature", sign("another-secret", &body))], "bad signature"),
        (vec![], "no signature"),
        (vec![("hpe-webhook-signature", "sha256=".into())], "malformed signature (expected sha256=<64 hex digits>)"),
        (
            vec![("hpe-webhook-signature", sign(SECRET, &body).replace("sha256=", "sha1="))],
            "malformed signature (expected sha256=<64 hex digits>)",
        ),
    ];
    for (headers, reason) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let reply = client.post(&headers, &body).await;
        assert_eq!(reply.status, 401, "{reason}");
        assert_eq!(reply.json()["error"], reason);
        let rec = rx.next_record();
        assert_eq!(
            (rec["kind"].as_str(), rec["status"].as_u64(), rec["reason"].as_str()),
            (Some("rejected"), Some(401), Some(reason))
        );
    }
    // Upper-case hex is the same signature.
    let reply = client.post(&[("hpe-webhook-signature", &upper)], &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(event_ids(&rx.next_record()), ("sig-1", false));
}

#[tokio::test]
async fn secondary_secret_is_accepted_during_rotation() {
    let rx = Receiver::start(&["--secret", SECRET, "--secondary-secret", "the-next-secret"]);
    let reply = rx.client().post_signed("the-next-secret", &audit_event("rot-1")).await;
    assert_eq!(reply.status, 200);
    let rec = rx.next_record();
    assert_eq!(rec["verified_by"], "secondary");
}

#[tokio::test]
async fn malformed_bodies_get_400_naming_the_problem_and_batches_are_refused_whole() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let client = rx.client();
    let missing_type = br#"{"specversion":"1.0","id":"x","source":"s"}"#.to_vec();
    let mut batch: Vec<Value> = serde_json::from_slice(&fixture("batch.json")).unwrap();
    batch[1].as_object_mut().unwrap().remove("source");
    let half_bad_batch = serde_json::to_vec(&batch).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{\"specversion\": \"1.0\", ".to_vec(), "malformed: body is not valid JSON"),
        (missing_type, "malformed: missing required attribute \"type\""),
        (br#"{"specversion":"0.3","id":"x","source":"s","type":"t"}"#.to_vec(), "malformed: specversion must be"),
        (half_bad_batch, "malformed: event 1: missing required attribute \"source\""),
        (b"[]".to_vec(), "malformed: batch is empty"),
    ];
    for (body, reason) in cases {
        let reply = client.post_signed(SECRET, &body).await;
        assert_eq!(reply.status, 400, "{reason}");
        let error = reply.json()["error"].as_str().unwrap().to_owned();
        assert!(error.starts_with(reason), "{error:?} should start with {reason:?}");
        let rec = rx.next_record();
        assert_eq!(rec["kind"], "rejected", "a refused batch emits no event: {rec}");
        assert_eq!(rec["status"], 400);
    }
}

#[tokio::test]
async fn oversized_bodies_get_413_declared_or_streamed() {
    let rx = Receiver::start(&["--secret", SECRET, "--max-body", "2000"]);
    let big = audit_event(&"x".repeat(3000));
    let reply = rx.client().post_signed(SECRET, &big).await;
    assert_eq!(reply.status, 413);
    assert!(reply.json()["error"].as_str().unwrap().starts_with("too large"));
    assert_eq!(rx.next_record()["status"], 413);
    // Chunked, with no length declared: the limit is enforced while reading.
    let mut tls = open_tls(&rx).await;
    let sig = sign(SECRET, &big);
    let head = format!(
        "POST / HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nhpe-webhook-signature: {sig}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    for chunk in big.chunks(500) {
        tls.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.unwrap();
        tls.write_all(chunk).await.unwrap();
        tls.write_all(b"\r\n").await.unwrap();
    }
    tls.write_all(b"0\r\n\r\n").await.unwrap();
    let response = read_head(&mut tls).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert_eq!(rx.next_record()["status"], 413);
}

#[tokio::test]
async fn wrong_method_gets_405_with_allow_and_wrong_content_type_gets_415() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let client = rx.client();
    for method in ["GET", "PUT", "DELETE"] {
        let reply = client.request(method, &[], b"").await;
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
        assert!(reply.json()["error"].as_str().unwrap().contains(method));
        assert_eq!(rx.next_record()["status"], 405);
    }
    let body = fixture("audit-log-created.json");
    let sig = sign(SECRET, &body);
    for ct in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut headers = vec![("hpe-webhook-signature", sig.as_str())];
        if let Some(ct) = ct {
            headers.push(("content-type", ct));
        }
        let reply = client.request("POST", &headers, &body).await;
        assert_eq!(reply.status, 415, "{ct:?}");
        assert!(reply.json()["error"].as_str().unwrap().contains("content-type"));
        assert_eq!(rx.next_record()["status"], 415);
    }
    // Parameters and case do not matter.
    let reply = client
        .request("POST", &[("hpe-webhook-signature", &sig), ("content-type", "Application/JSON; charset=utf-8")], &body)
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn duplicate_is_acknowledged_but_emitted_once() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let client = rx.client();
    let body = audit_event("dup-1");
    let first = client.post_signed(SECRET, &body).await;
    assert_eq!((first.status, first.json()["duplicates"].as_u64()), (200, Some(0)));
    let again = client.post_signed(SECRET, &body).await;
    assert_eq!((again.status, again.json()["duplicates"].as_u64()), (200, Some(1)));
    client.post_signed(SECRET, &audit_event("dup-2")).await;
    // Records are written in order before each answer, so the line after dup-1 is dup-2, not a second dup-1.
    assert_eq!(event_ids(&rx.next_record()), ("dup-1", false));
    assert_eq!(event_ids(&rx.next_record()), ("dup-2", false));
}

#[tokio::test]
async fn options_answers_the_webhook_abuse_protection_handshake() {
    let rx = Receiver::start(&["--secret", SECRET, "--allowed-rate", "120"]);
    let reply = rx.client().request("OPTIONS", &[("WebHook-Request-Origin", "eventemitter.example.com")], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("webhook-allowed-origin"), Some("eventemitter.example.com"));
    assert_eq!(reply.header("webhook-allowed-rate"), Some("120"));
    assert_eq!(reply.header("allow"), Some("POST, OPTIONS"));
}

#[tokio::test]
async fn challenge_guard_refuses_to_sign_anything_but_a_uuid() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let client = rx.client();
    // The attack: ask the receiver to "answer" an event body, then replay that body with the answer as signature.
    let forged = audit_event("forged-1");
    let challenge = serde_json::json!({
        "specversion": "1.0", "id": "c1", "source": "s", "type": "com.hpe.greenlake.events.v1beta1.webhooks.verification",
        "data": { "challengeRequest": String::from_utf8(forged.clone()).unwrap() }
    });
    let reply = client.post(&[], &serde_json::to_vec(&challenge).unwrap()).await;
    assert_eq!(reply.status, 400);
    assert!(!reply.body.contains(&sign(SECRET, &forged)[7..]), "no HMAC may leak");
    assert!(reply.json()["error"].as_str().unwrap().contains("not a UUID"));
    let rec = rx.next_record();
    assert_eq!((rec["kind"].as_str(), rec["answered"].as_bool()), (Some("challenge"), Some(false)));
    assert!(rec["reason"].as_str().unwrap().contains("oracle"));
    // A GreenLake-style UUID challenge is still answered.
    let ok = client.post(&[], &fixture("challenge.json")).await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn api_key_is_required_as_plain_key_or_bearer_token() {
    let rx = Receiver::start(&["--secret", SECRET, "--api-key", "k-123456"]);
    let client = rx.client();
    let cases = [
        (None, 401),
        (Some("wrong"), 401),
        (Some("Bearer wrong"), 401),
        (Some("k-123456"), 200),
        (Some("Bearer k-123456"), 200),
    ];
    for (i, (auth, status)) in cases.into_iter().enumerate() {
        // Each case its own event: a repeated id would be a duplicate, which stdout does not show twice.
        let body = audit_event(&format!("key-{i}"));
        let sig = sign(SECRET, &body);
        let mut headers = vec![("hpe-webhook-signature", sig.as_str())];
        if let Some(a) = auth {
            headers.push(("authorization", a));
        }
        let reply = client.post(&headers, &body).await;
        assert_eq!(reply.status, status, "{auth:?}");
        assert!(!reply.body.contains("k-123456"), "the key is never echoed");
        let rec = rx.next_record();
        assert!(!rec.to_string().contains("k-123456"), "the key is never recorded");
    }
}

#[tokio::test]
async fn unsigned_deliveries_only_with_allow_unsigned_and_never_with_a_wrong_signature() {
    let rx = Receiver::start(&["--secret", SECRET, "--allow-unsigned"]);
    let client = rx.client();
    assert_eq!(client.post(&[], &audit_event("u-1")).await.status, 200);
    assert_eq!(rx.next_record()["verified_by"], "unsigned");
    let reply = client.post_signed("not-the-secret", &audit_event("u-2")).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn http2_and_http11_both_work_and_plain_http_gets_no_service() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let h2 = Client::with_alpn(rx.addr, &rx.ca(), &[b"h2"]);
    let mut sender = h2.connect().await;
    assert!(matches!(sender, Sender::H2(_)));
    let body = audit_event("h2-1");
    let sig = sign(SECRET, &body);
    let reply =
        send(&mut sender, "POST", &[("content-type", "application/json"), ("hpe-webhook-signature", &sig)], &body)
            .await;
    assert_eq!(reply.status, 200);
    // Plain HTTP on the TLS port: the connection is closed without an HTTP answer.
    let mut tcp = tokio::net::TcpStream::connect(rx.addr).await.unwrap();
    tcp.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut buf)).await.expect("closed promptly");
    assert!(!String::from_utf8_lossy(&buf).contains("HTTP/1.1 200"));
    // And the server still serves.
    assert_eq!(rx.client().post_signed(SECRET, &audit_event("h1-1")).await.status, 200);
}

#[tokio::test]
async fn tls12_clients_are_served() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let config = rustls::ClientConfig::builder_with_provider(glwatch::server::tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_root_certificates(roots_of(&rx))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(rx.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
}

#[tokio::test]
async fn graceful_stop_finishes_the_request_in_flight_then_exits_zero() {
    let mut rx = Receiver::start_with_env(&["--secret", SECRET], &[("GLWATCH_LOG", LISTENER_DEBUG)]);
    let body = audit_event("stop-1");
    let mut tls = open_tls(&rx).await;
    tls.write_all(signed_head(&body, "").as_bytes()).await.unwrap();
    tls.write_all(&body[..100]).await.unwrap();
    tls.flush().await.unwrap();
    // Stopped only once the server has read part of the request. Bytes still on their way to the server when it
    // stops cannot be told from a request sent after the stop, and a loaded machine can hold them back for long.
    rx.wait_stderr("request arriving");
    rx.signal("-TERM");
    // Wait until the server has stopped accepting, so the signal is known to have been handled.
    let stopped = wait_until(WAIT, || std::net::TcpStream::connect(rx.addr).is_err()).await;
    assert!(stopped, "still accepting after SIGTERM");
    tls.write_all(&body[100..]).await.unwrap();
    let response = read_head(&mut tls).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(event_ids(&rx.next_record()), ("stop-1", false));
    drop(tls);
    assert!(rx.wait_exit().success());
}

/// The race a stop can lose: the client has sent part of its next request on a kept-alive connection, the server
/// has read it, and the stop comes before the head is complete. hyper would close such a connection as idle; the
/// server must answer the request instead. The log line makes the order certain rather than likely.
#[tokio::test]
async fn graceful_stop_serves_a_request_whose_head_had_started_arriving() {
    let mut rx = Receiver::start_with_env(&["--secret", SECRET], &[("GLWATCH_LOG", LISTENER_DEBUG)]);
    let mut tls = open_tls(&rx).await;
    // A first request leaves the connection kept alive and between requests.
    let first = audit_event("stop-2a");
    tls.write_all(signed_head(&first, "").as_bytes()).await.unwrap();
    tls.write_all(&first).await.unwrap();
    let (response, _) = read_response(&mut tls).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(event_ids(&rx.next_record()), ("stop-2a", false));

    let second = audit_event("stop-2b");
    let head = signed_head(&second, "");
    let (start, rest) = head.split_at(20);
    tls.write_all(start.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    // The server has read it (the second such line: the first was the first request's): from here the stop
    // cannot come first.
    let mut seen = Vec::new();
    let arrived = wait_until(WAIT, || {
        seen.extend(rx.stderr_now());
        seen.iter().filter(|l| l.contains("request arriving")).count() == 2
    })
    .await;
    assert!(arrived, "the server never read the start of the second request: {seen:#?}");

    rx.signal("-TERM");
    let stopped = wait_until(WAIT, || std::net::TcpStream::connect(rx.addr).is_err()).await;
    assert!(stopped, "still accepting after SIGTERM");
    tls.write_all(rest.as_bytes()).await.expect("the connection is still open after the stop");
    tls.write_all(&second).await.unwrap();
    let (response, _) = read_response(&mut tls).await;
    assert!(response.starts_with("HTTP/1.1 200"), "the request begun before the stop was cut: {response:?}");
    assert_eq!(event_ids(&rx.next_record()), ("stop-2b", false));
    // Then the server closes the connection (with `connection: close` on the answer if the stop reached hyper
    // before the answer did) and exits.
    let mut after = Vec::new();
    let closed = tokio::time::timeout(WAIT, tls.read_to_end(&mut after)).await;
    assert!(closed.is_ok() && after.is_empty(), "the connection stayed open after its last answer: {after:?}");
    assert!(rx.wait_exit().success());
}

#[tokio::test]
async fn generated_secret_is_printed_once_and_works() {
    let rx = Receiver::start(&[]);
    let mut lines = rx.banner.clone();
    // The secret line follows its announcement.
    let shown = wait_until(WAIT, || {
        lines.extend(rx.stderr_now());
        lines.iter().any(|l| l.contains("generated webhook secret"))
            && !lines.last().unwrap().contains("generated webhook secret")
    })
    .await;
    assert!(shown, "no generated secret in {lines:?}");
    let at = lines.iter().position(|l| l.contains("generated webhook secret")).unwrap();
    let secret = lines[at + 1].clone();
    assert_eq!(secret.len(), 32);
    let reply = rx.client().post_signed(&secret, &audit_event("gen-1")).await;
    assert_eq!(reply.status, 200);
    let rec = rx.next_record();
    assert!(!rec.to_string().contains(&secret));
    assert_eq!(lines.iter().filter(|l| l.contains(&secret)).count(), 1);
}

#[test]
fn bad_certificate_files_give_one_clear_line_and_a_failing_exit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args([
            "--headless",
            "--listen",
            "127.0.0.1:0",
            "--secret",
            SECRET,
            "--cert",
            "cert.pem",
            "--key",
            "missing.pem",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cert.pem") && stderr.contains("no PEM"), "{stderr}");
}

#[test]
fn certificate_is_generated_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let first = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    let line = first.banner[1].clone();
    assert!(line.contains("(generated self-signed)"), "{line}");
    let fingerprint = line.split("SHA-256 ").nth(1).unwrap().to_owned();
    drop(first);
    let second = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    assert!(second.banner[1].contains("(loaded)"), "{}", second.banner[1]);
    assert!(second.banner[1].ends_with(&fingerprint), "same certificate after restart");
}

fn roots_of(rx: &Receiver) -> rustls::RootCertStore {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(rx.ca()).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    roots
}

/// Reads one whole response: its head, then as many body bytes as it declares.
async fn read_response(tls: &mut Tls) -> (String, Vec<u8>) {
    let head = read_head(tls).await;
    let length = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>()))
        .map_or(0, |n| n.unwrap());
    let mut body = vec![0; length];
    tokio::time::timeout(WAIT, tls.read_exact(&mut body)).await.expect("the body within the wait").unwrap();
    (head, body)
}
