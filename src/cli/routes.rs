//! Routes on the command line: `--routes` / `--forward` loaded and started beside the receiver, and
//! `glwatch routes`: the state asked of the running glwatch's watch endpoint (or read from the route files in the
//! data directory when none runs), and redelivery requests written there.

use super::{RedeliverArgs, RoutesAction, RoutesArgs, RunArgs};
use glwatch::routes::{files, Redeliver, RouteFiles, RouteReport, Routes, RoutesOptions};
use glwatch::watch::client::ClientError;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// The exit status of a bad routes file or a refused combination of flags, like clap's usage errors.
pub const USAGE: u8 = 2;

/// Loads `--routes` or `--forward` and starts the routes; `None` when neither is given. The error is one line.
pub fn start(args: &RunArgs, last_seq: u64) -> Result<Option<Routes>, String> {
    let configs = match (&args.routes, &args.forward) {
        (Some(path), _) => glwatch::routes::config::load(path).map_err(|e| e.to_string())?,
        (None, Some(url)) => vec![glwatch::routes::config::forward(url).map_err(|e| e.to_string())?],
        (None, None) => return Ok(None),
    };
    // With --nats the routes read the stream (one durable consumer per route, shared by every receiver).
    let nats = args.nats.options();
    let nats = (!nats.servers.is_empty()).then_some(glwatch::routes::nats::NatsRoutes { options: nats });
    let journal = match args.journal_options() {
        Some(j) => (j.path, j.max_line),
        None if nats.is_some() => (glwatch::data_dir::journal(&args.data_dir), 0),
        None => return Err("--routes and --forward need the journal (not --no-journal) or --nats".into()),
    };
    let options = RoutesOptions {
        data_dir: args.data_dir.clone(),
        journal: journal.0,
        max_line: journal.1,
        last_seq,
        backoff_base: args.route_backoff_base.unwrap_or(glwatch::routes::DEFAULT_BACKOFF_BASE),
        nats,
    };
    let names: Vec<String> = configs.iter().map(|c| c.name.clone()).collect();
    let routes = Routes::start(configs, options).map_err(|e| e.to_string())?;
    eprintln!("glwatch: forwarding through {} route(s): {}", names.len(), names.join(", "));
    Ok(Some(routes))
}

/// `glwatch routes`.
pub fn command(args: RoutesArgs) -> ExitCode {
    match &args.action {
        None => super::run::with_runtime(|rt| rt.block_on(show(&args))),
        Some(RoutesAction::Redeliver(r)) => redeliver(&args.target.data_dir, r),
    }
}

/// How long `glwatch routes` waits for the endpoint's answer.
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Asks the running glwatch; with no TARGET and nothing answering on the default socket, reads the files its
/// routes left in the data directory, and says so.
async fn show(args: &RoutesArgs) -> ExitCode {
    let client = match args.target.client() {
        Ok(c) => c,
        Err(e) => return super::run::fail(&e),
    };
    let target = client.target().to_string();
    let data_dir = &args.target.data_dir;
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, glwatch::watch::route_state::fetch(&client)).await;
    match answer {
        Ok(Ok(reports)) if reports.is_empty() => {
            eprintln!("glwatch: the glwatch on {target} forwards nothing (no --routes or --forward)");
            ExitCode::SUCCESS
        }
        Ok(Ok(reports)) => {
            print(&reports, |_| false);
            ExitCode::SUCCESS
        }
        Ok(Err(ClientError::Connect { .. })) if args.target.target.is_none() => {
            eprintln!(
                "glwatch: no glwatch answers on {target}; showing what its routes last saved in {}",
                files::dir(data_dir).display()
            );
            from_files(&glwatch::data_dir::journal(data_dir), data_dir)
        }
        Ok(Err(e)) => super::run::fail(&e.to_string()),
        Err(_) => super::run::fail(&format!("{target}: no answer within {ANSWER_TIMEOUT:?}")),
    }
}

fn from_files(journal: &Path, dir: &Path) -> ExitCode {
    let mut names: Vec<String> = match std::fs::read_dir(files::dir(dir)) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".cursor")).map(str::to_owned))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    if names.is_empty() {
        eprintln!("glwatch: no routes have run with the journal {}", journal.display());
        return ExitCode::SUCCESS;
    }
    let head = glwatch::journal::reader::last_seq(journal).unwrap_or(0);
    let reports: Vec<RouteReport> = names
        .into_iter()
        .map(|name| {
            let f = RouteFiles::new(dir, &name);
            let cursor = f.read_cursor().ok().flatten().unwrap_or(0);
            let saved = f.read_state().unwrap_or_default();
            let dead_letters = f.dead_count();
            let mut state = if saved.state.is_empty() { "ok".to_owned() } else { saved.state };
            if state == "ok" && dead_letters > 0 {
                state = "dead letters".into();
            }
            RouteReport {
                name,
                state,
                cursor,
                backlog: head.saturating_sub(cursor),
                delivered: saved.delivered,
                failures: saved.failures,
                dead_letters,
                last_error: saved.last_error,
            }
        })
        .collect();
    print(&reports, |name| RouteFiles::new(dir, name).redeliver.exists());
    ExitCode::SUCCESS
}

/// The table on stdout; `pending` marks a route whose redelivery request is not taken up yet.
fn print(reports: &[RouteReport], pending: impl Fn(&str) -> bool) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<16} {:<12} {:>10} {:>8} {:>10} {:>8} {:>6}  LAST ERROR",
        "ROUTE", "STATE", "CURSOR", "BACKLOG", "DELIVERED", "FAILURES", "DEAD"
    );
    for r in reports {
        let mut state = glwatch::text::escape(&r.state).into_owned();
        if pending(&r.name) {
            state.push('*');
        }
        let _ = writeln!(
            out,
            "{:<16} {:<12} {:>10} {:>8} {:>10} {:>8} {:>6}  {}",
            glwatch::text::escape(&r.name),
            state,
            r.cursor,
            r.backlog,
            r.delivered,
            r.failures,
            r.dead_letters,
            r.last_error.as_deref().map(glwatch::text::escape).unwrap_or_default()
        );
    }
}

fn redeliver(dir: &Path, r: &RedeliverArgs) -> ExitCode {
    let f = RouteFiles::new(dir, &r.name);
    if !glwatch::routes::config::valid_name(&r.name) || !f.cursor.exists() {
        eprintln!("glwatch: error: no route named {:?} has run in {}", r.name, files::dir(dir).display());
        return ExitCode::from(USAGE);
    }
    let request = match r.from {
        Some(seq) => Redeliver::From(seq),
        None => Redeliver::Dead,
    };
    if request == Redeliver::Dead && f.dead_count() == 0 {
        eprintln!("glwatch: route {}: no dead letters", r.name);
        return ExitCode::SUCCESS;
    }
    if let Err(e) = f.request(&request) {
        eprintln!("glwatch: error: {}: {e}", f.redeliver.display());
        return ExitCode::FAILURE;
    }
    let what = match request {
        Redeliver::Dead => format!("{} dead letter(s) re-queued", f.dead_count()),
        Redeliver::From(seq) => format!("redelivery from seq {seq} requested"),
    };
    eprintln!(
        "glwatch: route {}: {what}; a running glwatch takes it up within a second, a stopped one when it starts",
        r.name
    );
    ExitCode::SUCCESS
}
