//! `glwatch export` as an operator runs it: the real binary over journals the receiver wrote or that are built
//! from the same records.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const HEADER: &str = "received_at,time,type,user,category,summary,id,source,verified_by,source_name";

fn export(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .arg("export")
        .args(args)
        .current_dir(cwd)
        .env_remove("GLWATCH_JOURNAL")
        .output()
        .unwrap()
}

fn stdout_of(out: &Output) -> String {
    assert!(out.status.success(), "export failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A strict RFC 4180 reader, as a spreadsheet reads the file: CRLF rows, quoted cells with doubled quotes.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' => {
                assert!(cell.is_empty(), "quote inside an unquoted cell: {cell:?}");
                quoted = true;
            }
            ',' => row.push(std::mem::take(&mut cell)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "rows end in CRLF");
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            '\n' => panic!("bare LF outside quotes"),
            _ => cell.push(c),
        }
    }
    assert!(!quoted && cell.is_empty() && row.is_empty(), "the file ends with a complete row");
    rows
}

fn event_line(id: &str, ty: &str, user: &str, description: &str, at: &str) -> String {
    let mut event = serde_json::json!({
        "specversion": "1.0", "id": id, "source": "//test", "type": ty, "time": "2024-12-20T12:34:53.161Z",
        "data": {"user": {"username": user}, "category": "cat", "description": description}
    });
    if user.is_empty() {
        event["data"].as_object_mut().unwrap().remove("user");
    }
    let at = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();
    event_record(event.to_string(), at, "127.0.0.1:1").to_line()
}

fn write_journal(dir: &Path, lines: &[String]) -> PathBuf {
    let path = dir.join("glwatch-data/journal.jsonl");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    path
}

#[tokio::test]
async fn csv_columns_of_the_samples_as_received() {
    let rx = Receiver::start(&["--secret", SECRET]);
    let client = rx.client();
    for (file, sig) in [
        ("audit-log-created.json", "sha256=b268959695b1de5c0bc5b39ffcc425fa81ea327e4cfec7afb7e28bfc91dbcfd5"),
        ("expiring-subscriptions.json", "sha256=8eb1eefd8b0673e178f5a4f6c4c16a2e4340f6200642c43b8ba8f1ae18efd7ec"),
        // A re-delivery: acknowledged, journaled as a duplicate, not exported again.
        ("audit-log-created.json", "sha256=b268959695b1de5c0bc5b39ffcc425fa81ea327e4cfec7afb7e28bfc91dbcfd5"),
    ] {
        assert_eq!(client.post(&[("hpe-webhook-signature", sig)], &fixture(file)).await.status, 200);
    }
    assert_eq!(client.post(&[], &fixture("challenge.json")).await.status, 200);
    let received: Vec<String> = (0..2).map(|_| rx.next_record()["received_at"].as_str().unwrap().to_owned()).collect();

    let out = stdout_of(&export(&rx.dir, &[]));
    assert!(out.starts_with(&format!("{HEADER}\r\n")));
    let rows = parse_csv(&out);
    assert_eq!(rows.len(), 3, "header and the two accepted events: {rows:#?}");
    assert_eq!(
        rows[1],
        [
            received[0].as_str(),
            "2024-12-20T12:34:53.161Z",
            "com.hpe.greenlake.audit-log.v1.logs.created",
            "john.doe@hpedev.io",
            "user_management",
            "User john.doe@hpedev.io logged out",
            "uJoQ5JMB_HAPiq2sSllt",
            "//global.api.greenlake.hpe.com/audit-log",
            "primary",
            "",
        ]
    );
    assert_eq!(
        rows[2],
        [
            received[1].as_str(),
            "2024-10-30T21:09:16.127443806Z",
            "com.hpe.greenlake.subscriptions.v1.expiring-subscriptions",
            "John Doe Inc.",
            "",
            "Compute Subscription ENHANCED PROLIANT x500 expires 10/25/2024 (key OFKIAASTEST168IZ)",
            "fb25f344-6f3c-4c1e-9d55-2b8f1c0a7e41",
            "https://global.api.greenlake.hpe.com/subscriptions",
            "primary",
            "",
        ]
    );
    // -o writes the same to a file, and the count goes to stderr.
    let out2 = export(&rx.dir, &["-o", "events.csv"]);
    assert!(out2.status.success() && out2.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(rx.dir.join("events.csv")).unwrap(), out);
    assert!(
        String::from_utf8_lossy(&out2.stderr).contains("glwatch: exported 2 events from glwatch-data/journal.jsonl")
    );
}

#[test]
fn csv_quotes_and_neutralises_what_a_spreadsheet_would_misread() {
    let dir = tempfile::tempdir().unwrap();
    let at = "2026-01-10T12:00:00Z";
    let cases = [
        ("q-comma", "a, b", "a, b"),
        ("q-quote", "say \"hi\"", "say \"hi\""),
        ("q-newline", "one\ntwo\r\nthree", "one\ntwo\r\nthree"),
        ("f-eq", "=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"),
        ("f-plus", "+1+1", "'+1+1"),
        ("f-minus", "-2+3", "'-2+3"),
        ("f-at", "@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("f-tab", "\t=1", "'\t=1"),
        ("f-cr", "\r=1", "'\r=1"),
    ];
    let lines: Vec<String> = cases.iter().map(|(id, text, _)| event_line(id, "t", text, text, at)).collect();
    write_journal(dir.path(), &lines);
    let rows = parse_csv(&stdout_of(&export(dir.path(), &[])));
    assert_eq!(rows[0].join(","), HEADER);
    for ((id, text, shown), row) in cases.iter().zip(&rows[1..]) {
        assert_eq!(row[6], *id);
        assert_eq!(row[3], *shown, "user column of {id} ({text:?})");
        assert_eq!(row[5], *shown, "summary column of {id} ({text:?})");
    }
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "risky cell {cell:?}");
        }
    }
}

#[test]
fn filters_by_type_user_and_time_like_the_dashboard() {
    let dir = tempfile::tempdir().unwrap();
    let audit = "com.hpe.greenlake.audit-log.v1.logs.created";
    let subs = "com.hpe.greenlake.subscriptions.v1.expiring-subscriptions";
    let lines = vec![
        event_line("a1", audit, "ann", "x", "2026-01-10T10:00:00Z"),
        event_line("s1", subs, "bob", "x", "2026-01-10T11:00:00Z"),
        event_line("a2", audit, "bob", "x", "2026-01-10T12:00:00Z"),
        event_line("a3", audit, "", "x", "2026-01-10T13:00:00Z"),
        r#"{"kind":"rejected","received_at":"2026-01-10T13:30:00Z","peer":"p","status":401,"reason":"bad signature"}"#
            .to_owned(),
    ];
    write_journal(dir.path(), &lines);
    let ids = |args: &[&str]| -> Vec<String> {
        parse_csv(&stdout_of(&export(dir.path(), args)))[1..].iter().map(|r| r[6].clone()).collect()
    };
    assert_eq!(ids(&[]), ["a1", "s1", "a2", "a3"]);
    assert_eq!(ids(&["--type", "audit-log.v1.logs.created"]), ["a1", "a2", "a3"], "short form");
    assert_eq!(ids(&["--type", subs]), ["s1"], "full form");
    assert_eq!(ids(&["--type", "audit-log"]), Vec::<String>::new(), "a type is matched whole, not as a fragment");
    assert_eq!(ids(&["--type", subs, "--type", "audit-log.v1.logs.created", "--user", "bob"]), ["s1", "a2"]);
    assert_eq!(ids(&["--user", "ann"]), ["a1"]);
    assert_eq!(ids(&["--since", "2026-01-10T11:00:00Z"]), ["s1", "a2", "a3"], "since is inclusive");
    assert_eq!(ids(&["--until", "2026-01-10T12:00:00Z"]), ["a1", "s1"], "until is exclusive");
    assert_eq!(ids(&["--since", "2026-01-10T12:00:00+01:00", "--until", "2026-01-10T12:30:00Z"]), ["s1", "a2"]);
    assert_eq!(ids(&["--since", "2026-01-11"]), Vec::<String>::new());
    // A relative time: everything in this journal is older than an hour ago.
    assert_eq!(ids(&["--since", "1h"]), Vec::<String>::new());
    let jsonl = stdout_of(&export(dir.path(), &["--format", "jsonl", "--user", "bob"]));
    assert_eq!(jsonl, format!("{}\n{}\n", lines[1], lines[2]));

    let bad = export(dir.path(), &["--since", "last tuesday"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));
}

#[test]
fn reads_a_journal_being_written_without_touching_it() {
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        event_line("w1", "t", "u", "x", "2026-01-10T10:00:00Z"),
        "{not json".to_owned(),
        event_line("w2", "t", "u", "x", "2026-01-10T10:00:00Z"),
    ];
    let path = write_journal(dir.path(), &lines);
    let mut content = std::fs::read(&path).unwrap();
    // A record being appended right now: no newline yet.
    content.extend_from_slice(br#"{"kind":"event","received_at":"2026-01-10T10:"#);
    std::fs::write(&path, &content).unwrap();
    let out = export(dir.path(), &["--format", "jsonl"]);
    assert_eq!(stdout_of(&out), format!("{}\n{}\n", lines[0], lines[2]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("glwatch: journal warning: glwatch-data/journal.jsonl line 2: skipped, invalid record"),
        "{stderr}"
    );
    assert!(!stderr.contains("line 4"), "a write in progress is not a warning: {stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), content, "export never modifies the journal");

    let missing = export(dir.path(), &["--journal", "elsewhere/journal.jsonl"]);
    assert!(!missing.status.success());
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        "glwatch: error: journal elsewhere/journal.jsonl: not found"
    );
}

#[tokio::test]
async fn multiple_segments_are_exported_in_order_and_jsonl_keeps_lines_unchanged() {
    let rx = Receiver::start(&["--secret", SECRET, "--journal-segment-size", "3000"]);
    let client = rx.client();
    let ids: Vec<String> = (0..12).map(|i| format!("seg-{i:02}")).collect();
    for id in &ids {
        assert_eq!(client.post_signed(SECRET, &audit_event(id)).await.status, 200);
    }
    assert_eq!(client.post_signed(SECRET, &audit_event("seg-03")).await.body, r#"{"accepted":0,"duplicates":1}"#);
    let base = rx.dir.join("glwatch-data/journal.jsonl");
    let segments = glwatch::journal::segments(&base).unwrap();
    assert!(segments.len() >= 4, "{segments:?}");
    assert_eq!(segments[1].1, rx.dir.join("glwatch-data/journal.000001.jsonl"));

    let csv = parse_csv(&stdout_of(&export(&rx.dir, &[])));
    let exported: Vec<&str> = csv[1..].iter().map(|r| r[6].as_str()).collect();
    assert_eq!(exported, ids);

    let journal: Vec<String> = segments
        .iter()
        .flat_map(|(_, p)| std::fs::read_to_string(p).unwrap().lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["duplicate"] == false)
        .collect();
    let jsonl = stdout_of(&export(&rx.dir, &["--format", "jsonl"]));
    assert_eq!(jsonl.lines().collect::<Vec<_>>(), journal, "JSONL is the journal's lines, byte for byte");
}

#[test]
fn users_match_as_shown_and_relative_times_take_the_shared_grammar() {
    let dir = tempfile::tempdir().unwrap();
    let at = "2026-01-10T10:00:00Z";
    let lines =
        vec![event_line("esc", "t", "ann\u{1b}[31m\u{feff}", "x", at), event_line("plain", "t", "ann", "x", at)];
    write_journal(dir.path(), &lines);
    let rows = |args: &[&str]| parse_csv(&stdout_of(&export(dir.path(), args)))[1..].to_vec();
    // The user column shows the escapes, and --user takes the value as shown, as the dashboard's picker does.
    let shown = "ann\\u{1b}[31m\\u{feff}";
    assert_eq!(rows(&[])[0][3], shown);
    assert_eq!(rows(&["--user", shown]).iter().map(|r| r[6].as_str()).collect::<Vec<_>>(), ["esc"]);
    assert_eq!(rows(&["--user", "ann"]).iter().map(|r| r[6].as_str()).collect::<Vec<_>>(), ["plain"]);
    for ago in ["1.5h", "1h 30m", "2d", "90s"] {
        assert!(rows(&["--since", ago]).is_empty(), "--since {ago}");
        assert_eq!(rows(&["--until", ago]).len(), 2, "--until {ago}");
    }
    let bare = export(dir.path(), &["--since", "90"]);
    assert!(!bare.status.success(), "a bare number could be a year or seconds");
    assert!(String::from_utf8_lossy(&bare.stderr).contains("RFC 3339"));
}

#[test]
fn csv_names_the_source_of_each_event_and_filters_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let at = time::macros::datetime!(2026-01-10 10:00 UTC);
    let record = |source: Option<&str>, event: Value, attributes: Option<Value>, verified_by: &str| {
        let mut line: Value =
            serde_json::from_str(&event_record(event.to_string(), at, "127.0.0.1:1").to_line()).unwrap();
        if let Some(name) = source {
            line["source_name"] = name.into();
        }
        if let Some(a) = attributes {
            line["attributes"] = a;
        }
        line["verified_by"] = verified_by.into();
        line.to_string()
    };
    let cloudevent = |id: &str| serde_json::json!({"specversion": "1.0", "id": id, "source": "//gl", "type": "t"});
    let lines = vec![
        record(Some("greenlake"), cloudevent("g1"), None, "primary"),
        record(
            Some("github"),
            serde_json::json!({"ref": "refs/heads/main", "sender": {"login": "octocat"}}),
            Some(
                serde_json::json!({"id": "d-1", "type": "github.push", "source": "https://github.com/o/r", "user": "octocat"}),
            ),
            "secondary",
        ),
        // Received before a sources file was configured: the column is empty.
        record(None, cloudevent("old"), None, "primary"),
    ];
    write_journal(dir.path(), &lines);
    let rows = parse_csv(&stdout_of(&export(dir.path(), &[])));
    assert_eq!(rows[0].join(","), HEADER);
    let picked = |r: &Vec<String>| [r[2].clone(), r[3].clone(), r[6].clone(), r[8].clone(), r[9].clone()];
    assert_eq!(
        rows[1..].iter().map(picked).collect::<Vec<_>>(),
        [
            ["t", "", "g1", "primary", "greenlake"],
            ["github.push", "octocat", "d-1", "secondary", "github"],
            ["t", "", "old", "primary", ""],
        ]
    );
    let ids = |args: &[&str]| -> Vec<String> {
        parse_csv(&stdout_of(&export(dir.path(), args)))[1..].iter().map(|r| r[6].clone()).collect()
    };
    assert_eq!(ids(&["--source", "github"]), ["d-1"]);
    assert_eq!(ids(&["--source", "github", "--source", "greenlake"]), ["g1", "d-1"]);
    assert_eq!(ids(&["--source", "stripe"]), Vec::<String>::new());
    let jsonl = stdout_of(&export(dir.path(), &["--format", "jsonl", "--source", "greenlake"]));
    assert_eq!(jsonl, format!("{}\n", lines[0]));
}
