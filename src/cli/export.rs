//! `glwatch export` as a command: the flags turned into a filter, the export to stdout or a file, the exit status.

use super::run::fail;
use super::ExportArgs;
use glwatch::export::{export, Exported, Filter};
use std::io;
use std::process::ExitCode;

/// `glwatch export`: the journal's accepted events through the filter, as CSV or JSONL, to stdout or a file.
pub fn run(args: ExportArgs) -> ExitCode {
    let journal = args.journal_path();
    let filter = Filter {
        types: args.types.into_iter().collect(),
        users: args.users.into_iter().collect(),
        sources: args.sources.into_iter().collect(),
        since: args.since,
        until: args.until,
        ..Filter::default()
    };
    let result = match &args.output {
        None => export(&journal, args.format.into(), &filter, io::stdout().lock()).map_err(|e| e.to_string()),
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => export(&journal, args.format.into(), &filter, f).map_err(|e| e.to_string()),
            Err(e) => Err(format!("-o {}: cannot create: {e}", path.display())),
        },
    };
    match result {
        Ok(Exported { rows, warnings }) => {
            for w in warnings {
                eprintln!("glwatch: journal warning: {w}");
            }
            if let Ok(Some((first, when))) = glwatch::journal::history_begins(&journal, glwatch::journal::MAX_LINE) {
                eprintln!("glwatch: {}", glwatch::watch::attach::history_note(first, when));
            }
            eprintln!("glwatch: exported {rows} events from {}", journal.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
