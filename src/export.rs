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

/// The CSV header row: the columns of the original Google Sheet, then the event's identity, how it was verified
/// and the configured source that received it (`--sources`; empty without).
pub const CSV_HEADER: &str = "received_at,time,type,user,category,summary,id,source,verified_by,source_name";

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
    let cells: [&str; 10] = [
        &received,
        fields.time.as_deref().unwrap_or(""),
        &fields.ty,
        fields.user.as_deref().unwrap_or(""),
        fields.category.as_deref().unwrap_or(""),
        &fields.summary,
        &fields.id,
        &fields.source,
        event.verified_by.as_str(),
        fields.source_name.as_deref().unwrap_or(""),
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
        csv.row(e, &EventFields::of_multiline(e))?;
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
pub fn parse_time(s: &str) -> Result<OffsetDateTime, TimeError> {
    parse_time_at(s, OffsetDateTime::now_utc())
}

fn parse_time_at(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime, TimeError> {
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
            .ok_or_else(|| TimeError::TooFarBack(s.to_owned())),
        Err(crate::units::UnitError::OutOfRange(_)) => Err(TimeError::TooFarBack(s.to_owned())),
        Err(_) => Err(TimeError::NotATime(s.to_owned())),
    }
}

/// Why `--since`/`--until` was refused; the text names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("{0:?} is too far in the past")]
    TooFarBack(String),
    #[error(
        "{0:?} is not a time: use RFC 3339 (2024-12-20T12:34:53Z), a date (2024-12-20) or a duration before now (30m, 1.5h, 7d)"
    )]
    NotATime(String),
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
        let fields = EventFields::of_multiline(event);
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
mod tests;
