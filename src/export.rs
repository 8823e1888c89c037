//! Exporting accepted events: the CSV (RFC 4180) and JSONL writers, and `glwatch export` over the
//! journal. The dashboard's export reuses the writers ([`export_to_dir`]).
//!
//! Both formats hold the same selection: accepted events (not re-deliveries, challenges or refusals) that pass the
//! filter, in journal order. CSV has one row per event with the columns of [`CSV_HEADER`]; JSONL has the journal
//! lines unchanged.

use crate::cloudevent::EventFields;
use crate::journal::reader::{json_reason, scan, ScanMode, ScanStep};
use crate::record::{EventRecord, Record};
use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The CSV header row: the columns of the original Google Sheet, then the event's identity and how it was verified.
pub const CSV_HEADER: &str = "received_at,time,type,user,category,summary,id,source,verified_by";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 with a header row, CRLF line ends, formula-like cells neutralised.
    Csv,
    /// The journal's records, one JSON object per line, unchanged.
    Jsonl,
}

/// Which events are exported: the dashboard's filter, with its rules ([`crate::filter`]).
pub use crate::filter::Filter;

/// A record worth exporting: an accepted event (not a re-delivery).
pub fn exportable(record: &Record) -> Option<&EventRecord> {
    match record {
        Record::Event(e) if !e.duplicate => Some(e),
        _ => None,
    }
}

/// Makes a cell safe for spreadsheets and quotes it per RFC 4180.
///
/// Event text comes from the network, and a cell starting with `=`, `+`, `-`, `@`, tab or CR can be run as a
/// formula when the file is opened, so such cells get a leading `'`. Cells with a comma, quote, CR or LF are
/// quoted, quotes doubled. The text is already escaped where it was read out of the event
/// ([`EventFields::extract_multiline`]): a CSV file is also read with `cat` and `less`, and line breaks are the
/// only controls a cell keeps.
pub fn csv_cell(value: &str) -> Cow<'_, str> {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = value.contains([',', '"', '\r', '\n']);
    if !risky && !quoted {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 4);
    if quoted {
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
    if quoted {
        out.push('"');
    }
    Cow::Owned(out)
}

/// Writes CSV rows one event at a time; the header goes out on creation.
pub struct CsvWriter<W: Write> {
    out: W,
    rows: u64,
}

impl<W: Write> CsvWriter<W> {
    pub fn new(mut out: W) -> io::Result<CsvWriter<W>> {
        out.write_all(CSV_HEADER.as_bytes())?;
        out.write_all(b"\r\n")?;
        Ok(CsvWriter { out, rows: 0 })
    }

    /// One row for `event`, whose fields the caller has already extracted.
    pub fn row(&mut self, event: &EventRecord, fields: &EventFields) -> io::Result<()> {
        write_row(&mut self.out, event, fields)?;
        self.rows += 1;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

fn write_row(out: &mut impl Write, event: &EventRecord, fields: &EventFields) -> io::Result<()> {
    let received = event.received_at.format(&Rfc3339).unwrap_or_default();
    let cells: [&str; 9] = [
        &received,
        fields.time.as_deref().unwrap_or(""),
        &fields.ty,
        fields.user.as_deref().unwrap_or(""),
        fields.category.as_deref().unwrap_or(""),
        &fields.summary,
        &fields.id,
        &fields.source,
        event.verified_by.as_str(),
    ];
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(csv_cell(cell).as_bytes())?;
    }
    out.write_all(b"\r\n")
}

/// Writes the header and one row per accepted event among `records`; returns the number of rows.
pub fn write_csv<'a, W: Write>(w: W, records: impl Iterator<Item = &'a Record>) -> io::Result<u64> {
    let mut csv = CsvWriter::new(w)?;
    for e in records.filter_map(exportable) {
        csv.row(e, &EventFields::from_raw_multiline(e.event.get()))?;
    }
    let rows = csv.rows();
    csv.into_inner().flush()?;
    Ok(rows)
}

/// Writes one line per accepted event among `records`, exactly as the journal has it; returns the count.
pub fn write_jsonl<'a, W: Write>(mut w: W, records: impl Iterator<Item = &'a Record>) -> io::Result<u64> {
    let mut n = 0;
    for record in records.filter(|r| exportable(r).is_some()) {
        w.write_all(record.to_line().as_bytes())?;
        w.write_all(b"\n")?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

/// The two files the dashboard's `e` key wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFiles {
    pub csv: std::path::PathBuf,
    pub jsonl: std::path::PathBuf,
    pub count: u64,
}

/// Writes the accepted events among `records` to `glwatch-export-<UTC time>.csv` and `.jsonl` in `dir` with the
/// same writers as `glwatch export`; never replaces an existing file. The dashboard passes the events it lists.
pub fn export_to_dir(dir: &Path, now: OffsetDateTime, records: &[Record]) -> io::Result<ExportFiles> {
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
    let (csv, jsonl, csv_file, jsonl_file) = create_pair(dir, &stem)?;
    let count = write_csv(BufWriter::new(csv_file), records.iter())?;
    write_jsonl(BufWriter::new(jsonl_file), records.iter())?;
    Ok(ExportFiles { csv, jsonl, count })
}

fn create_pair(dir: &Path, stem: &str) -> io::Result<(std::path::PathBuf, std::path::PathBuf, File, File)> {
    let create = |p: &Path| OpenOptions::new().write(true).create_new(true).open(p);
    for n in 1..1000 {
        let name = if n == 1 { stem.to_owned() } else { format!("{stem}-{n}") };
        let (csv_path, jsonl_path) = (dir.join(format!("{name}.csv")), dir.join(format!("{name}.jsonl")));
        let csv = match create(&csv_path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        };
        match create(&jsonl_path) {
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

/// Parses `--since`/`--until`: RFC 3339 (`2024-12-20T12:34:53Z`), a date (`2024-12-20`, midnight UTC), or a
/// duration before now with a unit ([`crate::units::parse_span`]: `90s`, `15m`, `1.5h`, `7d`, `1h 30m`). A bare
/// number is refused: `2024` could be a year as well as seconds.
pub fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    parse_time_at(s, OffsetDateTime::now_utc())
}

fn parse_time_at(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(s, &date_format) {
        return Ok(d.midnight().assume_utc());
    }
    match crate::units::parse_span(s) {
        Ok(ago) => time::Duration::try_from(ago)
            .ok()
            .and_then(|ago| now.checked_sub(ago))
            .ok_or_else(|| format!("{s:?} is too far in the past")),
        Err(crate::units::UnitError::OutOfRange(_)) => Err(format!("{s:?} is too far in the past")),
        Err(_) => Err(format!(
            "{s:?} is not a time: use RFC 3339 (2024-12-20T12:34:53Z), a date (2024-12-20) or a duration before now (30m, 1.5h, 7d)"
        )),
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("journal {}: not found", path.display())]
    NotFound { path: PathBuf },
    #[error("journal {}: cannot be read: {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error("cannot write the export: {0}")]
    Write(io::Error),
}

/// What an export wrote, and the corrupt lines it skipped.
pub struct Exported {
    pub rows: u64,
    pub warnings: Vec<String>,
}

/// Exports the journal at `journal` to `out`. Never modifies the journal; a line being written is left out.
pub fn export(journal: &Path, format: Format, filter: &Filter, out: impl Write) -> Result<Exported, ExportError> {
    let unreadable = |source| ExportError::Unreadable { path: journal.to_owned(), source };
    match crate::journal::segments(journal) {
        Ok(list) if list.is_empty() => return Err(ExportError::NotFound { path: journal.to_owned() }),
        Ok(_) => {}
        Err(e) => return Err(unreadable(e)),
    }
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut rows = 0u64;
    let mut failed: Option<io::Error> = None;
    if format == Format::Csv {
        // A sheet with no matching events still has its header.
        if let Err(e) = out.write_all(CSV_HEADER.as_bytes()).and_then(|_| out.write_all(b"\r\n")) {
            failed = Some(e);
        }
    }
    let matcher = filter.matcher();
    let report = scan(journal, ScanMode::ReadOnly, crate::journal::MAX_LINE, |line| {
        if failed.is_some() {
            return ScanStep::Stop;
        }
        let record = match Record::from_line(line.text) {
            Ok(r) => r,
            Err(e) => return ScanStep::Corrupt(json_reason(&e)),
        };
        let Some(event) = exportable(&record) else { return ScanStep::Continue };
        if !filter.admits_time(event.received_at) {
            return ScanStep::Continue;
        }
        let fields = EventFields::from_raw_multiline(event.event.get());
        if !matcher.matches(&fields) {
            return ScanStep::Continue;
        }
        let written = match format {
            Format::Jsonl => out.write_all(line.text.as_bytes()).and_then(|_| out.write_all(b"\n")),
            Format::Csv => write_row(&mut out, event, &fields),
        };
        match written {
            Ok(()) => {
                rows += 1;
                ScanStep::Continue
            }
            Err(e) => {
                failed = Some(e);
                ScanStep::Stop
            }
        }
    })
    .map_err(unreadable)?;
    let flushed = out.flush();
    match failed.map_or(flushed, Err) {
        Ok(()) => {}
        // `glwatch export | head` closing the pipe early is not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(ExportError::Write(e)),
    }
    Ok(Exported { rows, warnings: report.messages() })
}

#[cfg(test)]
mod tests {
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
            format!("{CSV_HEADER}\r\n2026-01-10T12:00:00Z,,t,ann,,d,a,s,primary\r\n2026-01-10T12:00:00Z,,t,'-bob,,d,b,s,primary\r\n")
        );
        let mut jsonl = Vec::new();
        assert_eq!(write_jsonl(&mut jsonl, records.iter()).unwrap(), 2);
        let expected = format!("{}\n{}\n", records[0].to_line(), records[3].to_line());
        assert_eq!(String::from_utf8(jsonl).unwrap(), expected);
    }

    #[test]
    fn export_to_dir_writes_both_files_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let body =
            std::fs::read_to_string(format!("{}/tests/fixtures/audit-log-created.json", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let event = |duplicate| {
            Record::Event(EventRecord {
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
        assert!(
            csv.starts_with(&format!("{CSV_HEADER}\r\n2024-12-20T12:34:55.25Z,2024-12-20T12:34:53.161Z,")),
            "{csv}"
        );
    }
}
