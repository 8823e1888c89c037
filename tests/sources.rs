//! Several webhook sources on one receiver (`--sources`): each path verified with its own scheme, signed by
//! `glwatch send --scheme` and by hand with the providers' published vectors. The real binary over real TLS.

mod common;

use common::*;
use glwatch::sources::{github, standard_webhooks, stripe, SourceSecret};
use serde_json::Value;

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const STRIPE_SECRET: &str = "whsec_stripe-test-secret";

/// A receiver serving the four schemes, and the directory holding its sources file. `secondary`: a second secret
/// for each source, in the order greenlake, github, svix, stripe.
fn receiver_with(secondary: Option<[&str; 4]>) -> (Receiver, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("greenlake.secret"), format!("{SECRET}\n")).unwrap();
    let sources = [
        ("greenlake", "/greenlake", "greenlake", "secret_file = \"greenlake.secret\"".to_owned()),
        ("github", "/github", "github", format!("secret = \"{GITHUB_SECRET}\"")),
        ("svix", "/hooks", "standard-webhooks", format!("secret = \"{WHSEC}\"")),
        ("stripe", "/stripe", "stripe", format!("secret = \"{STRIPE_SECRET}\"")),
    ];
    let mut text = String::new();
    for (i, (name, path, scheme, secret)) in sources.iter().enumerate() {
        text += &format!("[[source]]\nname = \"{name}\"\npath = \"{path}\"\nscheme = \"{scheme}\"\n{secret}\n");
        if let Some(second) = secondary {
            text += &format!("secondary_secret = \"{}\"\n", second[i]);
        }
        text += "\n";
    }
    let file = dir.path().join("sources.toml");
    std::fs::write(&file, text).unwrap();
    (Receiver::start_in(dir.path(), &["--sources", file.to_str().unwrap()]), dir)
}

fn receiver() -> (Receiver, tempfile::TempDir) {
    receiver_with(None)
}

async fn post(rx: &Receiver, path: &str, headers: &http::HeaderMap, body: &[u8]) -> Reply {
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap())).collect();
    let mut all = vec![];
    if !headers.contains_key("content-type") {
        all.push(("content-type", "application/json"));
    }
    all.extend(pairs);
    let mut sender = rx.client().connect().await;
    send_to(&mut sender, "POST", path, &all, body).await
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn glwatch_send(rx: &Receiver, path: &str, scheme: &str, secret: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["send", &format!("https://localhost:{}{path}", rx.addr.port()), "--scheme", scheme, "--secret", secret])
        .args(["--ca", rx.ca().to_str().unwrap(), "--count", "1", "--seed", "3", "--json", "--quiet"])
        .env_remove("GLWATCH_SECRET")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{scheme}: {stdout} {}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["acknowledged"], 1, "{scheme}: {summary}");
}

#[test]
fn glwatch_send_signs_each_scheme_and_each_path_verifies_its_own() {
    let (rx, _dir) = receiver();
    glwatch_send(&rx, "/greenlake", "greenlake", SECRET);
    let challenge = rx.next_record();
    assert_eq!((challenge["kind"].as_str(), challenge["source_name"].as_str()), (Some("challenge"), Some("greenlake")));
    let event = rx.next_record();
    assert_eq!((event["kind"].as_str(), event["source_name"].as_str()), (Some("event"), Some("greenlake")));
    assert!(event.get("attributes").is_none(), "a CloudEvent needs no attributes: {event}");
    for (path, scheme, secret, name) in [
        ("/github", "github", GITHUB_SECRET, "github"),
        ("/hooks", "standard-webhooks", WHSEC, "svix"),
        ("/stripe", "stripe", STRIPE_SECRET, "stripe"),
    ] {
        glwatch_send(&rx, path, scheme, secret);
        let rec = rx.next_record();
        assert_eq!((rec["kind"].as_str(), rec["source_name"].as_str()), (Some("event"), Some(name)), "{rec}");
        assert_eq!(rec["duplicate"], false);
        // The payload is kept as sent; the scheme's identity is beside it.
        assert!(rec["event"]["specversion"].is_string(), "{rec}");
        let expected_type = if scheme == "github" {
            "github.glwatch".to_owned()
        } else {
            rec["event"]["type"].as_str().unwrap().to_owned()
        };
        assert_eq!(rec["attributes"]["type"], expected_type.as_str(), "{rec}");
    }
    // A GreenLake-signed delivery on GitHub's path is refused by GitHub's scheme.
    let status = {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_glwatch"))
            .args(["send", &format!("https://localhost:{}/github", rx.addr.port()), "--secret", GITHUB_SECRET])
            .args(["--ca", rx.ca().to_str().unwrap(), "--count", "1", "--no-challenge", "--quiet", "--retries", "0"])
            .env_remove("GLWATCH_SECRET")
            .output()
            .unwrap();
        out.status
    };
    assert!(!status.success(), "the refused delivery is reported");
    let rec = rx.next_record();
    assert_eq!((rec["kind"].as_str(), rec["status"].as_u64()), (Some("rejected"), Some(401)), "{rec}");
    assert_eq!(
        (rec["reason"].as_str(), rec["source_name"].as_str()),
        (Some("missing x-hub-signature-256 header"), Some("github"))
    );
}

#[tokio::test]
async fn hand_signed_deliveries_published_vectors_refusals_and_pings() {
    let (rx, _dir) = receiver();
    // GitHub's published vector: the signature is right, so what is refused is the body (not JSON), with 400.
    let gh = SourceSecret::from_text(GITHUB_SECRET).unwrap();
    let mut headers = github::headers(&gh, "d-1", "push", b"Hello, World!").unwrap();
    assert_eq!(
        headers[github::SIGNATURE_HEADER],
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    let reply = post(&rx, "/github", &headers, b"Hello, World!").await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(rx.next_record()["reason"], "body is not a JSON object");

    // A push, then its redelivery (same delivery id): accepted once, then acknowledged as a duplicate (which
    // stdout does not repeat).
    let push =
        br#"{"ref":"refs/heads/main","repository":{"html_url":"https://github.com/o/r"},"sender":{"login":"octocat"}}"#;
    headers = github::headers(&gh, "d-2", "push", push).unwrap();
    let reply = post(&rx, "/github", &headers, push).await;
    assert_eq!(reply.body, r#"{"accepted":1,"duplicates":0}"#);
    let rec = rx.next_record();
    assert_eq!(rec["duplicate"], false);
    assert_eq!(rec["attributes"]["id"], "d-2");
    assert_eq!(rec["attributes"]["user"], "octocat");
    assert_eq!(rec["attributes"]["source"], "https://github.com/o/r");
    assert_eq!(rec["event"]["sender"]["login"], "octocat");
    let reply = post(&rx, "/github", &headers, push).await;
    assert_eq!(reply.body, r#"{"accepted":0,"duplicates":1}"#);
    // A wrong signature.
    let wrong = github::headers(&SourceSecret::from_text("not the secret").unwrap(), "d-3", "push", push).unwrap();
    assert_eq!(post(&rx, "/github", &wrong, push).await.status, 401);
    let rec = rx.next_record();
    assert_eq!((rec["reason"].as_str(), rec["source_name"].as_str()), (Some("signature mismatch"), Some("github")));

    // The ping is answered and shown as a challenge.
    let ping = br#"{"zen":"Design for failure.","hook_id":42}"#;
    let reply = post(&rx, "/github", &github::headers(&gh, "d-4", "ping", ping).unwrap(), ping).await;
    assert_eq!(reply.status, 200);
    let rec = rx.next_record();
    assert_eq!((rec["kind"].as_str(), rec["answered"].as_bool()), (Some("challenge"), Some(true)), "{rec}");
    assert_eq!(rec["challenge_request"], "GitHub ping, hook 42: Design for failure.");

    // Standard Webhooks' published vector is from 2021: refused as a replay.
    let body = br#"{"test": 2432232314}"#;
    let mut h = http::HeaderMap::new();
    h.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse().unwrap());
    h.insert("webhook-timestamp", "1614265330".parse().unwrap());
    h.insert("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".parse().unwrap());
    assert_eq!(post(&rx, "/hooks", &h, body).await.status, 401);
    assert_eq!(rx.next_record()["reason"], "timestamp outside tolerance");

    // Several signatures in one header: a wrong one first, the right one after.
    let key = SourceSecret::from_whsec(WHSEC).unwrap();
    let message = br#"{"type":"invoice.paid","data":{"id":"in_1"}}"#;
    let mut h = standard_webhooks::headers(std::slice::from_ref(&key), "msg_1", now(), message).unwrap();
    let good = h["webhook-signature"].to_str().unwrap().to_owned();
    h.insert("webhook-signature", format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {good}").parse().unwrap());
    assert_eq!(post(&rx, "/hooks", &h, message).await.status, 200);
    let rec = rx.next_record();
    assert_eq!((rec["source_name"].as_str(), rec["attributes"]["id"].as_str()), (Some("svix"), Some("msg_1")));
    assert_eq!(rec["attributes"]["type"], "invoice.paid");

    let stripe_key = SourceSecret::from_text(STRIPE_SECRET).unwrap();
    let event = br#"{"id":"evt_1","type":"charge.succeeded","data":{"object":{}}}"#;
    let t = now();
    let mut h = stripe::headers(std::slice::from_ref(&stripe_key), t, event);
    let good = stripe::sign(&stripe_key, t, event);
    h.insert("stripe-signature", format!("t={t},v1={},v1={good}", "0".repeat(64)).parse().unwrap());
    assert_eq!(post(&rx, "/stripe", &h, event).await.status, 200);
    let rec = rx.next_record();
    assert_eq!((rec["source_name"].as_str(), rec["attributes"]["id"].as_str()), (Some("stripe"), Some("evt_1")));
    // An old Stripe timestamp is a replay.
    let old = stripe::headers(std::slice::from_ref(&stripe_key), t - 3600, event);
    assert_eq!(post(&rx, "/stripe", &old, event).await.status, 401);
    assert_eq!(rx.next_record()["reason"], "timestamp outside tolerance");

    // A path no source claims.
    assert_eq!(post(&rx, "/elsewhere", &http::HeaderMap::new(), b"{}").await.status, 404);
    let rec = rx.next_record();
    assert_eq!((rec["status"].as_u64(), rec["path"].as_str()), (Some(404), Some("/elsewhere")));
    assert_eq!(rec["reason"], "no source at this path");
}

#[tokio::test]
async fn cloudevents_binary_mode_is_recorded_structured_with_the_signature_over_the_body() {
    let (rx, _dir) = receiver();
    let data = br#"{"description":"binary mode"}"#;
    let mut h = http::HeaderMap::new();
    for (k, v) in [
        ("content-type", "application/json"),
        ("ce-specversion", "1.0"),
        ("ce-id", "bin-1"),
        ("ce-source", "//example/binary"),
        ("ce-type", "com.hpe.greenlake.audit-log.v1.logs.created"),
    ] {
        h.insert(k, v.parse().unwrap());
    }
    h.insert("hpe-webhook-signature", sign(SECRET, data).parse().unwrap());
    let reply = post(&rx, "/greenlake", &h, data).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let rec = rx.next_record();
    assert_eq!(rec["source_name"], "greenlake");
    assert_eq!(rec["event"]["id"], "bin-1");
    assert_eq!(rec["event"]["specversion"], "1.0");
    assert_eq!(rec["event"]["data"]["description"], "binary mode");
    // The same id from another source is not a duplicate of it.
    let event = br#"{"id":"bin-1","type":"charge.succeeded"}"#;
    let key = SourceSecret::from_text(STRIPE_SECRET).unwrap();
    let reply = post(&rx, "/stripe", &stripe::headers(std::slice::from_ref(&key), now(), event), event).await;
    assert_eq!(reply.body, r#"{"accepted":1,"duplicates":0}"#);
    assert_eq!(rx.next_record()["duplicate"], false);

    // A structured event with data_base64, and one with both data members.
    let structured = br#"{"specversion":"1.0","id":"b64","source":"s","type":"t","data_base64":"aGk="}"#;
    assert_eq!(rx.client().post_signed(SECRET, structured).await.status, 404, "the default path is not a source");
    let mut h = http::HeaderMap::new();
    h.insert("hpe-webhook-signature", sign(SECRET, structured).parse().unwrap());
    assert_eq!(post(&rx, "/greenlake", &h, structured).await.status, 200);
    let _ = rx.next_record();
    assert_eq!(rx.next_record()["event"]["data_base64"], "aGk=");
    let both = br#"{"specversion":"1.0","id":"b2","source":"s","type":"t","data":1,"data_base64":"aGk="}"#;
    h.insert("hpe-webhook-signature", sign(SECRET, both).parse().unwrap());
    assert_eq!(post(&rx, "/greenlake", &h, both).await.status, 400);
    assert_eq!(rx.next_record()["reason"], "malformed: event has both data and data_base64");
}

#[test]
fn a_bad_sources_file_is_one_line_naming_file_line_and_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sources.toml");
    std::fs::write(&file, "[[source]]\nname = \"a\"\npath = \"/a\"\nscheme = \"gitlab\"\nsecret = \"x\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["--headless", "--listen", "127.0.0.1:0", "--no-journal", "--sources", file.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = format!("glwatch: error: {}: line 4: scheme: unknown scheme \"gitlab\"", file.display());
    assert!(stderr.starts_with(&line), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// GET over the receiver's local watch socket, whole answer.
fn get_unix(dir: &std::path::Path, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(dir.join("glwatch-data/glwatch.sock")).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text.split_once("\r\n\r\n")?.1.to_owned())
}

#[tokio::test]
async fn verified_by_names_the_secret_that_matched_in_records_and_metrics() {
    let old_whsec = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    let (rx, _dir) = receiver_with(Some(["greenlake-old-secret", "github-old-secret", old_whsec, "whsec_stripe-old"]));
    let mut h = http::HeaderMap::new();
    let gl_body = audit_event("gl-old");
    h.insert("hpe-webhook-signature", sign("greenlake-old-secret", &gl_body).parse().unwrap());
    assert_eq!(post(&rx, "/greenlake", &h, &gl_body).await.status, 200);
    let push = br#"{"ref":"refs/heads/main","sender":{"login":"octocat"}}"#;
    let old_gh = SourceSecret::from_text("github-old-secret").unwrap();
    assert_eq!(post(&rx, "/github", &github::headers(&old_gh, "d-old", "push", push).unwrap(), push).await.status, 200);
    let new_gh = SourceSecret::from_text(GITHUB_SECRET).unwrap();
    assert_eq!(post(&rx, "/github", &github::headers(&new_gh, "d-new", "push", push).unwrap(), push).await.status, 200);
    let message = br#"{"type":"invoice.paid"}"#;
    let old_sw = [SourceSecret::from_whsec(old_whsec).unwrap()];
    let h = standard_webhooks::headers(&old_sw, "msg_old", now(), message).unwrap();
    assert_eq!(post(&rx, "/hooks", &h, message).await.status, 200);
    let event = br#"{"id":"evt_old","type":"charge.succeeded"}"#;
    let old_stripe = [SourceSecret::from_text("whsec_stripe-old").unwrap()];
    assert_eq!(post(&rx, "/stripe", &stripe::headers(&old_stripe, now(), event), event).await.status, 200);

    let seen: Vec<(String, String)> = (0..5)
        .map(|_| rx.next_record())
        .map(|r| (r["source_name"].as_str().unwrap().to_owned(), r["verified_by"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [
        ("greenlake", "secondary"),
        ("github", "secondary"),
        ("github", "primary"),
        ("svix", "secondary"),
        ("stripe", "secondary"),
    ];
    assert_eq!(seen, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));
    // The metrics count what the records say.
    let mut metrics = String::new();
    let counted = wait_until(std::time::Duration::from_secs(60), || {
        metrics = get_unix(&rx.dir, "/metrics").unwrap_or_default();
        metrics.lines().any(|l| l == "glwatch_events_total{verified_by=\"secondary\"} 4")
    })
    .await;
    assert!(counted, "{metrics}");
    assert!(metrics.lines().any(|l| l == "glwatch_events_total{verified_by=\"primary\"} 1"), "{metrics}");
    // tail picks by source, and by the type a scheme keeps in the record's attributes.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["tail", "--source", "github", "--type", "github.push"])
        .current_dir(&rx.dir)
        .env("GLWATCH_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let printed: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<&str> = printed.iter().map(|r| r["attributes"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["d-old", "d-new"], "{}", String::from_utf8_lossy(&out.stderr));
}
