//! Exporting events for a spreadsheet (CSV, RFC 4180) and for tools (JSONL of the records, unchanged). Used by
//! the dashboard's `e` key and meant for a command-line export over the journal as well.

use crate::cloudevent::EventFields;
use crate::record::{EventRecord, Record, VerifiedBy};
use crate::tui::filter::Filter;
use serde::Serialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

pub const CSV_HEADER: &str = "received_at,time,type,user,category,summary,id,source,verified_by";

/// An event record by reference: what both writers need, without owning or copying the event's JSON.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub received_at: OffsetDateTime,
    pub peer: &'a str,
    pub verified_by: VerifiedBy,
    pub duplicate: bool,
    pub event: &'a RawValue,
}

impl<'a> From<&'a EventRecord> for EventView<'a> {
    fn from(r: &'a EventRecord) -> Self {
        EventView {
            received_at: r.received_at,
            peer: &r.peer,
            verified_by: r.verified_by,
            duplicate: r.duplicate,
            event: &r.event,
        }
    }
}

/// Serialises exactly as [`Record::Event`] does, so an exported line equals the journal's line.
#[derive(Serialize)]
struct Line<'a> {
    kind: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    received_at: OffsetDateTime,
    peer: &'a str,
    verified_by: VerifiedBy,
    duplicate: bool,
    event: &'a RawValue,
}

/// Makes a cell safe for spreadsheets and quotes it per RFC 4180.
///
/// A cell starting with `=`, `+`, `-`, `@`, tab or CR can be run as a formula when the file is opened, and event
/// text comes from the network, so such cells get a leading `'`.
pub fn csv_cell(value: &str) -> Cow<'_, str> {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let needs_quotes = value.contains(['"', ',', '\n', '\r']);
    if !risky && !needs_quotes {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 4);
    if needs_quotes {
        out.push('"');
    }
    if risky {
        out.push('\'');
    }
    for c in value.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if needs_quotes {
        out.push('"');
    }
    Cow::Owned(out)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Writes events to a CSV and a JSONL writer side by side, so a single pass over the events fills both files.
pub struct Exporter<C: Write, J: Write> {
    csv: C,
    jsonl: J,
    count: usize,
}

impl<C: Write, J: Write> Exporter<C, J> {
    /// Starts both outputs; the CSV gets its header line.
    pub fn new(mut csv: C, jsonl: J) -> io::Result<Self> {
        csv.write_all(CSV_HEADER.as_bytes())?;
        csv.write_all(b"\r\n")?;
        Ok(Exporter { csv, jsonl, count: 0 })
    }

    /// Adds one event whose fields are already extracted.
    pub fn push_with(&mut self, ev: EventView<'_>, f: &EventFields) -> io::Result<()> {
        let received = rfc3339(ev.received_at);
        let cells: [&str; 9] = [
            &received,
            f.time.as_deref().unwrap_or(""),
            &f.ty,
            f.user.as_deref().unwrap_or(""),
            f.category.as_deref().unwrap_or(""),
            &f.summary,
            &f.id,
            &f.source,
            ev.verified_by.as_str(),
        ];
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.csv.write_all(b",")?;
            }
            self.csv.write_all(csv_cell(cell).as_bytes())?;
        }
        self.csv.write_all(b"\r\n")?;
        let line = Line {
            kind: "event",
            received_at: ev.received_at,
            peer: ev.peer,
            verified_by: ev.verified_by,
            duplicate: ev.duplicate,
            event: ev.event,
        };
        serde_json::to_writer(&mut self.jsonl, &line)?;
        self.jsonl.write_all(b"\n")?;
        self.count += 1;
        Ok(())
    }

    pub fn push(&mut self, ev: EventView<'_>) -> io::Result<()> {
        let f = EventFields::from_raw(ev.event.get());
        self.push_with(ev, &f)
    }

    /// Flushes both outputs; returns how many events were written.
    pub fn finish(mut self) -> io::Result<usize> {
        self.csv.flush()?;
        self.jsonl.flush()?;
        Ok(self.count)
    }
}

/// Exports the accepted events among `records` that pass `filter`. Re-deliveries (`duplicate: true`) are left
/// out: the CSV is one row per event, as the dashboard shows them.
pub fn export_records<'a, C: Write, J: Write>(
    records: impl IntoIterator<Item = &'a Record>,
    filter: &Filter,
    csv: C,
    jsonl: J,
) -> io::Result<usize> {
    let matcher = filter.matcher();
    let mut out = Exporter::new(csv, jsonl)?;
    for r in records {
        let Record::Event(e) = r else { continue };
        if e.duplicate {
            continue;
        }
        let f = EventFields::from_raw(e.event.get());
        if matcher.matches(&f) {
            out.push_with(e.into(), &f)?;
        }
    }
    out.finish()
}

/// The two files an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFiles {
    pub csv: PathBuf,
    pub jsonl: PathBuf,
    pub count: usize,
}

/// Writes `events` to `glwatch-export-<UTC time>.csv` and `.jsonl` in `dir`, never replacing an existing file.
pub fn export_to_dir<'a>(
    dir: &Path,
    now: OffsetDateTime,
    events: impl IntoIterator<Item = EventView<'a>>,
) -> io::Result<ExportFiles> {
    std::fs::create_dir_all(dir)?;
    let now = now.to_offset(time::UtcOffset::UTC);
    let stem = format!(
        "glwatch-export-{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let (csv_path, jsonl_path, csv, jsonl) = create_pair(dir, &stem)?;
    let mut out = Exporter::new(BufWriter::new(csv), BufWriter::new(jsonl))?;
    for ev in events {
        out.push(ev)?;
    }
    let count = out.finish()?;
    Ok(ExportFiles { csv: csv_path, jsonl: jsonl_path, count })
}

fn create_pair(dir: &Path, stem: &str) -> io::Result<(PathBuf, PathBuf, File, File)> {
    for n in 1..1000 {
        let name = if n == 1 { stem.to_owned() } else { format!("{stem}-{n}") };
        let csv_path = dir.join(format!("{name}.csv"));
        let jsonl_path = dir.join(format!("{name}.jsonl"));
        let csv = match OpenOptions::new().write(true).create_new(true).open(&csv_path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        match OpenOptions::new().write(true).create_new(true).open(&jsonl_path) {
            Ok(jsonl) => return Ok((csv_path, jsonl_path, csv, jsonl)),
            Err(e) => {
                let _ = std::fs::remove_file(&csv_path);
                if e.kind() != io::ErrorKind::AlreadyExists {
                    return Err(e);
                }
            }
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("too many exports named {stem} in {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_record(name: &str, duplicate: bool) -> Record {
        let body = std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        Record::Event(EventRecord {
            received_at: time::macros::datetime!(2024-12-20 12:34:55.25 UTC),
            peer: "127.0.0.1:5000".into(),
            verified_by: VerifiedBy::Primary,
            duplicate,
            event: RawValue::from_string(crate::cloudevent::minify(&body).into_owned()).unwrap(),
        })
    }

    #[test]
    fn csv_cells_are_neutralised_and_quoted() {
        assert_eq!(csv_cell("plain text"), "plain text");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("a=b"), "a=b");
    }

    #[test]
    fn exports_csv_rows_and_unchanged_jsonl_lines() {
        let records = [
            fixture_record("audit-log-created.json", false),
            fixture_record("expiring-subscriptions.json", false),
            fixture_record("audit-log-created.json", true),
            Record::Rejected(crate::record::RejectedRecord {
                received_at: time::macros::datetime!(2024-12-20 12:34:55 UTC),
                peer: "1.1.1.1:1".into(),
                status: 401,
                reason: "bad signature".into(),
                method: None,
                path: None,
                count: None,
            }),
        ];
        let (mut csv, mut jsonl) = (Vec::new(), Vec::new());
        let n = export_records(&records, &Filter::default(), &mut csv, &mut jsonl).unwrap();
        assert_eq!(n, 2);
        let csv = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(
            lines[1],
            "2024-12-20T12:34:55.25Z,2024-12-20T12:34:53.161Z,com.hpe.greenlake.audit-log.v1.logs.created,\
             john.doe@hpedev.io,user_management,User john.doe@hpedev.io logged out,uJoQ5JMB_HAPiq2sSllt,\
             //global.api.greenlake.hpe.com/audit-log,primary"
        );
        assert_eq!(
            lines[2],
            "2024-12-20T12:34:55.25Z,2024-10-30T21:09:16.127443806Z,\
             com.hpe.greenlake.subscriptions.v1.expiring-subscriptions,John Doe Inc.,,\
             Compute Subscription ENHANCED PROLIANT x500 expires 10/25/2024 (key OFKIAASTEST168IZ),\
             fb25f344-6f3c-4c1e-9d55-2b8f1c0a7e41,https://global.api.greenlake.hpe.com/subscriptions,primary"
        );
        assert_eq!(lines[3], "");
        let jsonl = String::from_utf8(jsonl).unwrap();
        let out: Vec<&str> = jsonl.lines().collect();
        assert_eq!(out, [records[0].to_line(), records[1].to_line()]);
    }

    #[test]
    fn export_honours_the_filter() {
        let records =
            [fixture_record("audit-log-created.json", false), fixture_record("expiring-subscriptions.json", false)];
        let mut f = Filter::default();
        f.users.insert("John Doe Inc.".into());
        let (mut csv, mut jsonl) = (Vec::new(), Vec::new());
        assert_eq!(export_records(&records, &f, &mut csv, &mut jsonl).unwrap(), 1);
        assert_eq!(String::from_utf8(jsonl).unwrap().trim_end(), records[1].to_line());
        f.users.clear();
        f.text = "LOGGED OUT".into();
        let (mut csv, mut jsonl) = (Vec::new(), Vec::new());
        assert_eq!(export_records(&records, &f, &mut csv, &mut jsonl).unwrap(), 1);
        assert!(String::from_utf8(csv).unwrap().contains("uJoQ5JMB_HAPiq2sSllt"));
    }

    #[test]
    fn hostile_text_is_neutralised_in_the_csv() {
        let raw = r#"{"specversion":"1.0","id":"x","source":"s","type":"t","data":{"description":"=cmd|' /C calc'!A0","user":{"username":"@evil, \"q\""}}}"#;
        let rec = Record::Event(EventRecord {
            received_at: time::macros::datetime!(2024-12-20 12:34:55 UTC),
            peer: "p".into(),
            verified_by: VerifiedBy::Unsigned,
            duplicate: false,
            event: RawValue::from_string(raw.into()).unwrap(),
        });
        let (mut csv, mut jsonl) = (Vec::new(), Vec::new());
        export_records([&rec], &Filter::default(), &mut csv, &mut jsonl).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.contains(",\"'@evil, \"\"q\"\"\",,'=cmd|' /C calc'!A0,x,s,unsigned\r\n"), "{csv}");
    }

    #[test]
    fn export_to_dir_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let rec = fixture_record("audit-log-created.json", false);
        let Record::Event(e) = &rec else { unreachable!() };
        let now = time::macros::datetime!(2025-01-02 03:04:05 UTC);
        let a = export_to_dir(dir.path(), now, [EventView::from(e)]).unwrap();
        let b = export_to_dir(dir.path(), now, [EventView::from(e)]).unwrap();
        assert_eq!(a.csv, dir.path().join("glwatch-export-20250102T030405Z.csv"));
        assert_eq!(b.jsonl, dir.path().join("glwatch-export-20250102T030405Z-2.jsonl"));
        assert_eq!(a.count, 1);
        assert_eq!(std::fs::read_to_string(&b.jsonl).unwrap(), format!("{}\n", rec.to_line()));
        assert!(std::fs::read_to_string(&a.csv).unwrap().starts_with(CSV_HEADER));
    }
}
