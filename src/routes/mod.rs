//! Routes: committed events forwarded onward (HTTP or a command), each route reading the journal by seq with its
//! own durable cursor (or, with --nats, a durable JetStream consumer shared by every receiver), retrying with
//! back-off and dead-lettering what cannot be delivered.
//!
//! The receiver never waits for a route: the committer only moves a `tokio::sync::watch` of the last committed
//! seq (see [`CommitNotify`]), and each route, in its own task, reads the journal itself in bounded batches.

pub mod config;
mod deliver;
pub mod files;
pub mod nats;
pub mod source;
pub mod template;
pub mod transport;

pub use config::{ConfigError, RouteConfig};
pub use files::{Redeliver, RouteFiles, SavedState};

use crate::pipeline::Sink;
use crate::record::{line_seq, Record};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Default first back-off; doubled per failed attempt up to [`MAX_BACKOFF`].
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Where routes read and keep their files.
#[derive(Debug, Clone)]
pub struct RoutesOptions {
    /// The journal's first segment.
    pub journal: PathBuf,
    pub max_line: usize,
    /// Holds `routes/`.
    pub data_dir: PathBuf,
    /// The number of the last record stored at start: a route that never ran starts after it.
    pub last_seq: u64,
    /// The first back-off (`GLWATCH_ROUTE_BACKOFF_BASE`, for tests).
    pub backoff_base: Duration,
    /// Read events from JetStream instead of the journal.
    pub nats: Option<nats::NatsRoutes>,
}

/// How a route is doing, as the dashboard and `glwatch routes` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// The current event failed and is being retried.
    Retrying,
    /// Retried many times in a row.
    Failing,
    /// Going, but some events were dead-lettered.
    DeadLetters,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Retrying => "retrying",
            Health::Failing => "failing",
            Health::DeadLetters => "dead letters",
        }
    }
}

/// A route's live state, shared by its task (the only writer) and the views.
#[derive(Debug)]
pub struct RouteStatus {
    pub name: String,
    pub delivered: AtomicU64,
    pub failures: AtomicU64,
    pub dead_letters: AtomicU64,
    /// The last seq the route is done with.
    pub cursor: AtomicU64,
    /// The last seq committed.
    pub head: AtomicU64,
    detail: Mutex<(Health, Option<String>)>,
}

impl RouteStatus {
    fn new(name: &str, saved: &SavedState, dead: u64) -> RouteStatus {
        RouteStatus {
            name: name.to_owned(),
            delivered: AtomicU64::new(saved.delivered),
            failures: AtomicU64::new(saved.failures),
            dead_letters: AtomicU64::new(dead),
            cursor: AtomicU64::new(0),
            head: AtomicU64::new(0),
            detail: Mutex::new((Health::Ok, saved.last_error.clone())),
        }
    }

    /// Records after the cursor (not all of them may match the route's filter).
    pub fn backlog(&self) -> u64 {
        self.head.load(Ordering::Relaxed).saturating_sub(self.cursor.load(Ordering::Relaxed))
    }

    pub fn health(&self) -> Health {
        let h = self.lock().0;
        if h == Health::Ok && self.dead_letters.load(Ordering::Relaxed) > 0 {
            Health::DeadLetters
        } else {
            h
        }
    }

    pub fn last_error(&self) -> Option<String> {
        self.lock().1.clone()
    }

    fn set(&self, health: Health, error: Option<String>) {
        let mut d = self.lock();
        d.0 = health;
        if error.is_some() {
            d.1 = error;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Health, Option<String>)> {
        self.detail.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What is written to `<name>.state.json` for `glwatch routes`.
    pub fn saved(&self) -> SavedState {
        SavedState {
            delivered: self.delivered.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            dead_letters: self.dead_letters.load(Ordering::Relaxed),
            state: self.health().as_str().to_owned(),
            last_error: self.last_error(),
            last_delivered_at: None,
        }
    }
}

/// One route's state as `GET /v1/routes` serves it and `glwatch routes` and the dashboard's routes panel show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteReport {
    pub name: String,
    /// `ok`, `retrying`, `failing` or `dead letters` (see [`Health`]).
    pub state: String,
    /// The last seq the route is done with.
    pub cursor: u64,
    /// Records after the cursor (not all of them may match the route's filter).
    pub backlog: u64,
    pub delivered: u64,
    /// Failed attempts, retried ones included.
    pub failures: u64,
    /// Events in the dead-letter file now.
    pub dead_letters: u64,
    pub last_error: Option<String>,
}

impl RouteStatus {
    pub fn report(&self) -> RouteReport {
        RouteReport {
            name: self.name.clone(),
            state: self.health().as_str().to_owned(),
            cursor: self.cursor.load(Ordering::Relaxed),
            backlog: self.backlog(),
            delivered: self.delivered.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            dead_letters: self.dead_letters.load(Ordering::Relaxed),
            last_error: self.last_error(),
        }
    }
}

/// Why routes could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Transport(#[from] transport::SetupError),
    #[error("route {route:?}: {path}: {source}")]
    Files { route: String, path: String, source: std::io::Error },
}

/// The running routes.
pub struct Routes {
    pub statuses: Vec<Arc<RouteStatus>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    notify: watch::Sender<u64>,
}

impl Routes {
    /// Starts one task per route. Each reads the journal from its cursor right away, and again whenever the
    /// committer notifies through [`Routes::sink`].
    pub fn start(configs: Vec<RouteConfig>, options: RoutesOptions) -> Result<Routes, StartError> {
        let (notify, _) = watch::channel(options.last_seq);
        let mut statuses = Vec::new();
        let mut runners = Vec::new();
        for cfg in configs {
            let files = RouteFiles::new(&options.data_dir, &cfg.name);
            let io_err = |path: &std::path::Path, source| StartError::Files {
                route: cfg.name.clone(),
                path: path.display().to_string(),
                source,
            };
            std::fs::create_dir_all(files::dir(&options.data_dir)).map_err(|e| io_err(&options.data_dir, e))?;
            let cursor = match files.read_cursor().map_err(|e| io_err(&files.cursor, e))? {
                Some(c) => c,
                // The consumer keeps the position; the file only shows it (and lets `redeliver` find the route).
                None if options.nats.is_some() => {
                    files.write_cursor(0).map_err(|e| io_err(&files.cursor, e))?;
                    0
                }
                None => {
                    // A new route starts with what arrives from now on; `redeliver --from` replays history.
                    files.write_cursor(options.last_seq).map_err(|e| io_err(&files.cursor, e))?;
                    options.last_seq
                }
            };
            let transport = transport::Transport::new(&cfg.name, &cfg.target, cfg.timeout)?;
            let status =
                Arc::new(RouteStatus::new(&cfg.name, &files.read_state().unwrap_or_default(), files.dead_count()));
            status.cursor.store(cursor, Ordering::Relaxed);
            status.head.store(options.last_seq, Ordering::Relaxed);
            statuses.push(status.clone());
            let source: Box<dyn source::Source> = match &options.nats {
                Some(n) => Box::new(nats::NatsSource::new(&cfg.name, n.clone(), files.clone())),
                None => Box::new(source::JournalSource::new(
                    &cfg.name,
                    files.clone(),
                    options.journal.clone(),
                    options.max_line,
                    cursor,
                    notify.subscribe(),
                )),
            };
            runners.push(deliver::Runner::new(cfg, files, status, transport, &options, cursor, source));
        }
        let tasks = runners.into_iter().map(|r| tokio::spawn(r.run())).collect();
        Ok(Routes { statuses, tasks, notify })
    }

    /// The pipeline sink that wakes the routes after each committed group; it never blocks.
    pub fn sink(&self) -> Box<dyn Sink> {
        Box::new(CommitNotify { tx: self.notify.clone(), last: *self.notify.borrow(), statuses: self.statuses.clone() })
    }

    /// Stops every route where it is: cursors are only ever moved past finished work, so nothing is lost.
    pub fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Moves the last committed seq after each group.
struct CommitNotify {
    tx: watch::Sender<u64>,
    last: u64,
    /// Their backlog grows with each group even while a route is stuck retrying one event.
    statuses: Vec<Arc<RouteStatus>>,
}

impl Sink for CommitNotify {
    fn emit(&mut self, _record: &Record, line: &str) {
        self.last = self.last.max(line_seq(line.as_bytes()));
    }

    fn flush(&mut self) {
        let last = self.last;
        for s in &self.statuses {
            s.head.fetch_max(last, Ordering::Relaxed);
        }
        self.tx.send_if_modified(|v| {
            let moved = *v != last;
            *v = last;
            moved
        });
    }
}
