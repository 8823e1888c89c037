//! Unit tests for `crate::export`.

use super::*;
use crate::record::VerifiedBy;
use serde_json::value::RawValue;
use time::macros::datetime;

#[test]
fn cells_are_neutralised_and_quoted() {
    assert_eq!(csv_cell("plain text"), "plain text");
    assert_eq!(csv_cell("a,b"), "\"a,b\"");
    assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
    assert_eq!(csv_cell("=1+2"), "'=1+2");
    assert_eq!(csv_cell("+1"), "'+1");
    assert_eq!(csv_cell("-1"), "'-1");
    assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(csv_cell("\tx"), "'\tx");
    assert_eq!(csv_cell("\rx"), "\"'\rx\"");
    assert_eq!(csv_cell("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
    assert_eq!(csv_cell("a=b"), "a=b", "only a leading sign is risky");
    assert_eq!(csv_cell(""), "");
}

#[test]
fn times_parse_in_three_forms() {
    let now = datetime!(2026-01-10 12:00 UTC);
    assert_eq!(parse_time_at("2024-12-20T12:34:53.161Z", now).unwrap(), datetime!(2024-12-20 12:34:53.161 UTC));
    assert_eq!(parse_time_at("2024-12-20T13:00:00+01:00", now).unwrap(), datetime!(2024-12-20 12:00 UTC));
    assert_eq!(parse_time_at("2024-12-20", now).unwrap(), datetime!(2024-12-20 0:00 UTC));
    assert_eq!(parse_time_at("90s", now).unwrap(), datetime!(2026-01-10 11:58:30 UTC));
    assert_eq!(parse_time_at("15m", now).unwrap(), datetime!(2026-01-10 11:45 UTC));
    assert_eq!(parse_time_at("2h", now).unwrap(), datetime!(2026-01-10 10:00 UTC));
    assert_eq!(parse_time_at("7d", now).unwrap(), datetime!(2026-01-03 12:00 UTC));
    assert_eq!(parse_time_at("1.5h", now).unwrap(), datetime!(2026-01-10 10:30 UTC));
    assert_eq!(parse_time_at("1h 30m", now).unwrap(), datetime!(2026-01-10 10:30 UTC));
    assert_eq!(parse_time_at("1w", now).unwrap(), datetime!(2026-01-03 12:00 UTC));
    for bad in ["", "h", "90", "1.5", "yesterday", "2024-13-01", "99999999999999999999d", "-5m"] {
        assert!(parse_time_at(bad, now).is_err(), "{bad}");
    }
}

fn record(id: &str, ty: &str, user: &str, at: OffsetDateTime, duplicate: bool) -> Record {
    let json = format!(
        r#"{{"specversion":"1.0","id":"{id}","source":"s","type":"{ty}","data":{{"username":"{user}","description":"d"}}}}"#
    );
    Record::Event(EventRecord {
        source_name: None,
        attributes: None,
        received_at: at,
        peer: "127.0.0.1:1".into(),
        via: None,
        verified_by: VerifiedBy::Primary,
        duplicate,
        event: RawValue::from_string(json).unwrap(),
    })
}

#[test]
fn filter_matches_full_or_short_type_user_and_window() {
    let t = datetime!(2026-01-10 12:00 UTC);
    let f = Filter {
        types: ["audit-log.v1.logs.created".to_owned()].into(),
        users: ["ann".to_owned()].into(),
        since: Some(t),
        until: Some(t + time::Duration::hours(1)),
        ..Filter::default()
    };
    let fields = |ty: &str, user: Option<&str>| EventFields {
        ty: ty.into(),
        user: user.map(str::to_owned),
        ..EventFields::default()
    };
    let full = "com.hpe.greenlake.audit-log.v1.logs.created";
    assert!(f.admits(t, &fields(full, Some("ann"))));
    assert!(f.admits(t, &fields("audit-log.v1.logs.created", Some("ann"))));
    assert!(!f.admits(t, &fields("com.hpe.greenlake.audit-log.v1.logs.created.x", Some("ann"))));
    assert!(!f.admits(t, &fields(full, Some("bob"))));
    assert!(!f.admits(t, &fields(full, None)));
    assert!(!f.admits(t - time::Duration::SECOND, &fields(full, Some("ann"))), "since is inclusive");
    assert!(!f.admits(t + time::Duration::hours(1), &fields(full, Some("ann"))), "until is exclusive");
    let by_full = Filter { types: [full.to_owned()].into(), ..Filter::default() };
    assert!(by_full.admits(t, &fields(full, None)));
    assert!(Filter::default().admits(t, &fields("", None)));
}

#[test]
fn writers_skip_duplicates_and_other_records() {
    let t = datetime!(2026-01-10 12:00 UTC);
    let records = [
        record("a", "t", "ann", t, false),
        record("a", "t", "ann", t, true),
        Record::Rejected(crate::record::RejectedRecord {
            source_name: None,
            received_at: t,
            peer: "p".into(),
            via: None,
            status: 401,
            reason: "bad signature".into(),
            method: None,
            path: None,
            count: None,
        }),
        record("b", "t", "-bob", t, false),
    ];
    let mut csv = Vec::new();
    assert_eq!(write_csv(&mut csv, records.iter()).unwrap(), 2);
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        format!("{CSV_HEADER}\r\n2026-01-10T12:00:00Z,,t,ann,,d,a,s,primary,\r\n2026-01-10T12:00:00Z,,t,'-bob,,d,b,s,primary,\r\n")
    );
    let mut jsonl = Vec::new();
    assert_eq!(write_jsonl(&mut jsonl, records.iter()).unwrap(), 2);
    let expected = format!("{}\n{}\n", records[0].to_line(), records[3].to_line());
    assert_eq!(String::from_utf8(jsonl).unwrap(), expected);
}

#[test]
fn export_to_dir_writes_both_files_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let body = std::fs::read_to_string(format!("{}/tests/fixtures/audit-log-created.json", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    let event = |duplicate| {
        Record::Event(EventRecord {
            source_name: None,
            attributes: None,
            received_at: datetime!(2024-12-20 12:34:55.25 UTC),
            peer: "127.0.0.1:5000".into(),
            via: None,
            verified_by: VerifiedBy::Primary,
            duplicate,
            event: RawValue::from_string(crate::cloudevent::minify(&body).into_owned()).unwrap(),
        })
    };
    let records = [event(false), event(true)];
    let now = datetime!(2025-01-02 03:04:05 UTC);
    let a = export_to_dir(dir.path(), now, &records).unwrap();
    let b = export_to_dir(dir.path(), now, &records).unwrap();
    assert_eq!(a.csv, dir.path().join("glwatch-export-20250102T030405Z.csv"));
    assert_eq!(b.jsonl, dir.path().join("glwatch-export-20250102T030405Z-2.jsonl"));
    assert_eq!(a.count, 1, "a re-delivery is not exported");
    assert_eq!(std::fs::read_to_string(&a.jsonl).unwrap(), format!("{}\n", records[0].to_line()));
    let csv = std::fs::read_to_string(&a.csv).unwrap();
    assert!(csv.starts_with(&format!("{CSV_HEADER}\r\n2024-12-20T12:34:55.25Z,2024-12-20T12:34:53.161Z,")), "{csv}");
}
