//! The headless output: committed records as NDJSON on stdout.

use super::Sink;
use crate::record::Record;
use std::io::{self, Write};

/// Prints records as NDJSON on stdout, flushed after each group so `glwatch --headless | jq` is live.
/// Re-deliveries are not printed again: stdout has each event once.
pub struct StdoutSink {
    out: io::BufWriter<io::Stdout>,
    broken: bool,
}

impl StdoutSink {
    pub fn new() -> StdoutSink {
        StdoutSink { out: io::BufWriter::with_capacity(64 * 1024, io::stdout()), broken: false }
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for StdoutSink {
    fn emit(&mut self, record: &Record, line: &str) {
        if self.broken || matches!(record, Record::Event(e) if e.duplicate) {
            return;
        }
        if let Err(e) = self.out.write_all(line.as_bytes()).and_then(|_| self.out.write_all(b"\n")) {
            self.broken = true;
            tracing::error!("stdout is no longer writable, records stop being printed: {e}");
        }
    }

    fn flush(&mut self) {
        if !self.broken {
            if let Err(e) = self.out.flush() {
                self.broken = true;
                tracing::error!("stdout is no longer writable, records stop being printed: {e}");
            }
        }
    }
}
