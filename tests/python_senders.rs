//! Deliveries made by real sender libraries, not by glwatch's own code: the official CloudEvents Python SDK
//! (binary and structured HTTP output) and the Standard Webhooks Python library sign and POST over HTTPS to the
//! real binary (tests/python/senders.py), and the records say what those libraries meant.
//!
//! The libraries live in a virtual environment `.ci/run` creates (`.tools/py`, or the interpreter named by
//! `GLWATCH_TEST_PYTHON`). Without it the test says why and passes as skipped, except when
//! `GLWATCH_REQUIRE_EXTERNAL=1` (which `.ci/run` sets): then a missing library fails it.

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WHSEC_SECONDARY: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

/// The venv's interpreter when it has both libraries; `None` (skip) when it is missing and not required.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("GLWATCH_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/py/bin/python"));
    let problem = match Command::new(&python).args(["-c", "import cloudevents, standardwebhooks"]).output() {
        Ok(out) if out.status.success() => return Some(python),
        Ok(out) => {
            format!("{} cannot import the libraries: {}", python.display(), String::from_utf8_lossy(&out.stderr))
        }
        Err(e) => format!("{} cannot run: {e}", python.display()),
    };
    assert!(
        std::env::var("GLWATCH_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
        "GLWATCH_REQUIRE_EXTERNAL=1 and {problem} (.ci/run creates the venv)"
    );
    println!("skipped: {problem}; run .ci/run to create the venv");
    None
}

#[test]
fn cloudevents_sdk_and_standard_webhooks_library_deliveries_are_recorded_as_sent() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sources.toml");
    std::fs::write(
        &file,
        format!(
            "[[source]]\nname = \"greenlake\"\npath = \"/greenlake\"\nscheme = \"greenlake\"\nsecret = \"{SECRET}\"\n\n\
             [[source]]\nname = \"svix\"\npath = \"/hooks\"\nscheme = \"standard-webhooks\"\nsecret = \"{WHSEC}\"\n\
             secondary_secret = \"{WHSEC_SECONDARY}\"\n"
        ),
    )
    .unwrap();
    let rx = Receiver::start(&["--sources", file.to_str().unwrap()]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/senders.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(format!("https://localhost:{}", rx.addr.port()))
        .args([rx.ca().to_str().unwrap(), SECRET, WHSEC, WHSEC_SECONDARY])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let sent: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let status: HashMap<&str, u64> =
        sent.iter().map(|s| (s["name"].as_str().unwrap(), s["status"].as_u64().unwrap())).collect();
    for (name, expected) in [
        ("binary", 200),
        ("structured", 200),
        ("binary-octets", 200),
        ("structured-octets", 200),
        ("v1-binary", 200),
        ("v1-structured", 200),
        ("standard-webhooks", 200),
        ("standard-webhooks-secondary", 200),
        ("standard-webhooks-wrong", 401),
    ] {
        assert_eq!(status.get(name), Some(&expected), "{name}: {sent:#?}");
    }

    // One record per delivery, in order.
    let records: Vec<Value> = sent.iter().map(|_| rx.next_record()).collect();
    let by_id = |id: &str| -> &Value {
        records
            .iter()
            .find(|r| r["event"]["id"] == id || r["attributes"]["id"] == id)
            .unwrap_or_else(|| panic!("no record of {id}: {records:#?}"))
    };
    // Binary mode is recorded as the structured event the SDK would have sent: percent-encoded header values
    // decoded, the content type as datacontenttype, the JSON data as data.
    let binary = &by_id("sdk-binary")["event"];
    let structured = &by_id("sdk-structured")["event"];
    assert_eq!(binary["subject"], "jöhn doe \"quoted\" 100%", "{binary}");
    assert_eq!(binary["comexampleext"], "a b/ü", "{binary}");
    assert_eq!(binary["datacontenttype"], "application/json");
    assert_eq!(binary["time"], "2026-01-10T12:00:00Z");
    for member in ["specversion", "source", "type", "subject", "datacontenttype", "data"] {
        assert_eq!(binary[member], structured[member], "{member}: {binary} vs {structured}");
    }
    assert_eq!(binary["data"]["user"]["username"], "sdk");
    assert!(binary["data"]["description"].as_str().unwrap().starts_with("sent by the CloudEvents SDK 2."));
    // Octets: base64 in both modes, the same bytes.
    let octets = &by_id("sdk-octets")["event"];
    let octets_structured = &by_id("sdk-octets-structured")["event"];
    assert_eq!(octets["datacontenttype"], "application/octet-stream", "{octets}");
    assert!(octets.get("data").is_none(), "{octets}");
    assert_eq!(octets["data_base64"], "ABEiM0RVZneImaq7zN3u/w==", "{octets}");
    assert_eq!(octets_structured["data_base64"], octets["data_base64"], "{octets_structured}");
    // The v1 conversion helpers.
    let v1 = &by_id("sdk-v1-binary")["event"];
    assert_eq!(v1["data"]["helper"], "to_binary", "{v1}");
    assert_eq!(by_id("sdk-v1-structured")["event"]["data"]["helper"], "to_structured");
    for id in ["sdk-binary", "sdk-structured", "sdk-octets", "sdk-octets-structured", "sdk-v1-binary"] {
        let r = by_id(id);
        assert_eq!((r["source_name"].as_str(), r["verified_by"].as_str()), (Some("greenlake"), Some("primary")));
    }

    // Standard Webhooks: the library's signature verifies, with the secret that made it.
    let first = by_id("msg_library_1");
    assert_eq!((first["source_name"].as_str(), first["verified_by"].as_str()), (Some("svix"), Some("primary")));
    assert_eq!(first["attributes"]["type"], "invoice.paid");
    assert_eq!(first["event"]["data"]["amount"], 4200);
    assert_eq!(by_id("msg_library_2")["verified_by"], "secondary");
    let refused = records.last().unwrap();
    assert_eq!((refused["kind"].as_str(), refused["reason"].as_str()), (Some("rejected"), Some("signature mismatch")));
}
