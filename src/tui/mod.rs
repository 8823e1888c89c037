//! The live terminal dashboard: records from the receiver go into the [`app::App`] model, the views draw it with
//! ratatui, and keys reach it through the [`keymap`].
//!
//! One `select!` loop serves terminal input, the record channel, finished exports and a frame tick. Records are
//! applied as they are drained (the receiver never waits: it uses `try_send` on a bounded channel) and the screen
//! is drawn at most once per tick, so a burst of thousands of records costs one draw.

pub mod action;
pub mod app;
pub use crate::feed;
pub mod filter;
pub mod history;
pub mod intern;
pub mod json;
pub mod keymap;
pub mod sanitize;
pub mod view;

use crate::export;
use crate::record::Record;
use action::{Action, Effect, ExportFailed};
use app::{App, Info};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use crossterm::event::Event;
pub use feed::{Feed, LinkState};
use futures_util::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use std::cell::Cell;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use time::{OffsetDateTime, UtcOffset};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// About 30 frames a second.
pub const FRAME: Duration = Duration::from_millis(33);
/// Records applied before the loop looks at keys and the clock again, so a flood cannot freeze the screen.
const DRAIN_BATCH: usize = 20_000;
/// Redraw at least this often, so the clock-driven parts (rate per minute) move while nothing arrives.
const IDLE_REDRAW: Duration = Duration::from_secs(1);

/// Everything the dashboard needs from the rest of the program.
pub struct DashboardContext {
    /// Records and, when attached, history and the link's state (bounded channel; the receiver uses `try_send`
    /// and never waits on the screen, an attached endpoint's reader waits on it instead).
    pub records: mpsc::Receiver<Feed>,
    /// Records replayed from the journal at start (may be empty).
    pub history: Vec<Record>,
    /// e.g. `https://127.0.0.1:8443/`.
    pub listen_url: String,
    /// Certificate SHA-256 fingerprint, hex with colons.
    pub fingerprint: String,
    /// The certificate being served, read live for the header (it can be reloaded); `None` for plain HTTP.
    pub cert: Option<Arc<crate::server::certs::CertStatus>>,
    /// e.g. `primary`, `primary+secondary`, `generated`.
    pub secret_state: String,
    /// Events kept for the table (`--retain`).
    pub retain: usize,
    /// Records the receiver could not queue to the screen because the channel was full.
    pub screen_dropped: Arc<AtomicU64>,
    /// Where logs go while the dashboard runs (shown in the help).
    pub log_path: Option<PathBuf>,
    /// Where `e` writes its CSV and JSONL files.
    pub export_dir: PathBuf,
    /// Offset for showing local times; see [`local_offset`].
    pub utc_offset: UtcOffset,
    /// A secret generated for this run, shown once in a popup at start so the operator can enter it in
    /// GreenLake's form; dropped when the popup closes.
    pub generated_secret: Option<crate::greenlake::Secret>,
    /// A line for the header, e.g. that this is the demo and keeps nothing.
    pub banner: Option<String>,
    /// The endpoint this dashboard is attached to (`glwatch attach`), shown in the header instead of the
    /// receiver's address.
    pub attached: Option<String>,
    /// The NATS link the receiver publishes through (`--nats`), read live for the header.
    pub nats: Option<Arc<crate::broker::NatsStatus>>,
}

/// Why the dashboard stopped on an error: what it was doing, and the terminal's error.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("setting up the terminal: {0}")]
    Setup(io::Error),
    #[error("opening the terminal: {0}")]
    Open(io::Error),
    #[error("clearing the terminal: {0}")]
    Clear(io::Error),
    #[error("reading terminal input: {0}")]
    Input(io::Error),
    #[error("drawing the dashboard: {0}")]
    Draw(io::Error),
}

/// The local UTC offset, or UTC when it cannot be known. Call it before the async runtime starts its threads:
/// reading the local offset is refused once a process has several threads, because of how the C library handles
/// the time zone.
pub fn local_offset() -> UtcOffset {
    UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC)
}

/// Runs the dashboard until the operator quits (q or Ctrl-C). The terminal is restored on quit, on error and on
/// panic.
pub async fn run(ctx: DashboardContext) -> Result<(), DashboardError> {
    let DashboardContext {
        mut records,
        history,
        listen_url,
        fingerprint,
        cert,
        secret_state,
        retain,
        screen_dropped,
        log_path,
        export_dir,
        utc_offset,
        generated_secret,
        banner,
        attached,
        nats,
    } = ctx;
    let info =
        Info { listen_url, fingerprint, cert, secret_state, log_path, export_dir, utc_offset, banner, attached, nats };
    let mut app = App::new(info, retain);
    if let Some(secret) = generated_secret {
        app.update(Action::ShowSecret(secret));
    }
    for r in history {
        app.update(Action::History(r));
    }
    let _guard = TerminalGuard::enter().map_err(DashboardError::Setup)?;
    let mut terminal =
        Terminal::new(ratatui::backend::CrosstermBackend::new(io::stdout())).map_err(DashboardError::Open)?;
    terminal.clear().map_err(DashboardError::Clear)?;
    let input = crossterm::event::EventStream::new();
    let mut clipboard = Osc52(io::stdout());
    run_loop(&mut terminal, &mut app, input, &mut records, &screen_dropped, &mut clipboard).await
}

/// Where `y` puts the selected event.
pub trait Clipboard {
    fn copy(&mut self, text: &str) -> io::Result<()>;
}

/// Copies through the terminal with OSC 52, which works over SSH and inside tmux (with `set-clipboard on`). This is
/// the one raw write to the terminal besides ratatui's own; the payload is base64, so nothing from an event
/// reaches the terminal as control text.
pub struct Osc52<W: Write>(pub W);

impl<W: Write> Clipboard for Osc52<W> {
    fn copy(&mut self, text: &str) -> io::Result<()> {
        write!(self.0, "\x1b]52;c;{}\x07", STANDARD.encode(text))?;
        self.0.flush()
    }
}

/// Lays out, tells the model its viewport and the time, and draws one frame.
pub fn draw_frame<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    now: OffsetDateTime,
    screen_dropped: u64,
) -> io::Result<()> {
    let size = terminal.size()?;
    let area = Rect::new(0, 0, size.width, size.height);
    let regions = view::layout(area, app);
    let (table_rows, detail_rows) = view::viewport(&regions);
    let (help_rows, help_max_scroll) = view::help::viewport(area);
    app.update(Action::Viewport { table_rows, detail_rows, help_rows, help_max_scroll });
    app.update(Action::Frame { now, screen_dropped });
    terminal.draw(|f| view::draw(f, app))?;
    Ok(())
}

fn action_for_event(app: &App, ev: &Event) -> Option<Action> {
    match ev {
        Event::Key(k) => keymap::action_for_key(app.key_context(), k),
        Event::Mouse(m) => keymap::action_for_mouse(app.key_context(), m),
        _ => None,
    }
}

/// Applies one item of the channel.
fn apply(app: &mut App, item: Feed) {
    app.update(match item {
        Feed::Record(r) => Action::Record(r),
        Feed::History(r) => Action::History(r),
        Feed::Link(state) => Action::Link(state),
        Feed::Notice(text) => Action::Notice(text),
    });
}

/// Applies every item already queued, up to a batch. Returns whether any was applied.
fn drain(app: &mut App, records: &mut mpsc::Receiver<Feed>) -> bool {
    let mut any = false;
    for _ in 0..DRAIN_BATCH {
        match records.try_recv() {
            Ok(item) => {
                apply(app, item);
                any = true;
            }
            Err(_) => break,
        }
    }
    any
}

/// The dashboard's loop, generic over the ratatui backend and the input stream so tests drive it with
/// `TestBackend` and scripted keys. Returns when the operator quits or the input ends.
pub async fn run_loop<B, I, C>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    mut input: I,
    records: &mut mpsc::Receiver<Feed>,
    screen_dropped: &AtomicU64,
    clipboard: &mut C,
) -> Result<(), DashboardError>
where
    B: Backend,
    I: Stream<Item = io::Result<Event>> + Unpin,
    C: Clipboard,
{
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (export_tx, mut export_rx) = mpsc::unbounded_channel();
    let mut exporting = false;
    let mut records_open = true;
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    loop {
        // Input first so keys stay responsive under a flood; the tick before records so a flood cannot starve
        // the drawing.
        tokio::select! {
            biased;
            ev = input.next() => {
                let _active = ActiveHere::enter();
                let ev = match ev {
                    None => return Ok(()),
                    Some(ev) => ev.map_err(DashboardError::Input)?,
                };
                if matches!(ev, Event::Resize(..)) {
                    dirty = true;
                }
                let Some(action) = action_for_event(app, &ev) else { continue };
                dirty = true;
                match app.update(action) {
                    None => {}
                    Some(Effect::Quit) => return Ok(()),
                    Some(Effect::Copy(text)) => {
                        if let Err(e) = clipboard.copy(&text) {
                            app.update(Action::Notice(format!("copy failed: {e}")));
                        }
                    }
                    Some(Effect::Export) if exporting => {
                        app.update(Action::Notice("an export is already running".into()));
                    }
                    Some(Effect::Export) => {
                        exporting = true;
                        start_export(app, export_tx.clone());
                    }
                }
            }
            _ = tick.tick() => {
                let _active = ActiveHere::enter();
                dirty |= drain(app, records);
                let dropped = screen_dropped.load(Ordering::Relaxed);
                let stale = last_draw.map_or(true, |t| t.elapsed() >= IDLE_REDRAW);
                if dirty || stale || dropped != app.screen_dropped() {
                    draw_frame(terminal, app, OffsetDateTime::now_utc(), dropped).map_err(DashboardError::Draw)?;
                    dirty = false;
                    last_draw = Some(Instant::now());
                }
            }
            done = export_rx.recv() => {
                let _active = ActiveHere::enter();
                exporting = false;
                dirty = true;
                if let Some(done) = done {
                    app.update(Action::Exported(done));
                }
            }
            rec = records.recv(), if records_open => {
                let _active = ActiveHere::enter();
                dirty = true;
                match rec {
                    Some(item) => {
                        apply(app, item);
                        drain(app, records);
                    }
                    None => {
                        records_open = false;
                        app.update(Action::ReceiverClosed);
                    }
                }
            }
        }
    }
}

/// Copies the listed events (cheap next to writing them) and writes the files on a blocking thread, so a large
/// export does not freeze the screen.
fn start_export(app: &mut App, done: mpsc::UnboundedSender<Result<export::ExportFiles, ExportFailed>>) {
    let records = app.export_records();
    let dir = app.info.export_dir.clone();
    app.update(Action::Notice(format!("exporting {} events to {}…", records.len(), dir.display())));
    let now = OffsetDateTime::now_utc();
    tokio::spawn(async move {
        let job = tokio::task::spawn_blocking(move || export::export_to_dir(&dir, now, &records));
        let result = match job.await {
            Ok(r) => r.map_err(ExportFailed::Write),
            Err(e) => Err(ExportFailed::Stopped(e)),
        };
        let _ = done.send(result);
    });
}

thread_local! {
    /// Set while this thread runs dashboard code, so the panic hook restores the terminal only for a panic in the
    /// dashboard and not for one on another thread that the rest of the program survives.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

struct ActiveHere;

impl ActiveHere {
    fn enter() -> ActiveHere {
        ACTIVE.with(|a| a.set(true));
        ActiveHere
    }
}

impl Drop for ActiveHere {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(false));
    }
}

fn restore_terminal() {
    let _ = crossterm::execute!(
        io::stdout(),
        crossterm::event::DisableMouseCapture,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = crossterm::terminal::disable_raw_mode();
}

/// Raw mode, the alternate screen and mouse capture for as long as it lives; a panic hook restores the terminal
/// before the panic message is printed, so the message is readable and the shell usable.
struct TerminalGuard {
    unhook: Option<Box<dyn FnOnce() + Send>>,
}

impl TerminalGuard {
    fn enter() -> io::Result<TerminalGuard> {
        let previous = Arc::new(std::panic::take_hook());
        let chained = previous.clone();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.with(Cell::get) {
                restore_terminal();
            }
            chained(info);
        }));
        let guard = TerminalGuard {
            unhook: Some(Box::new(move || {
                let _ = std::panic::take_hook();
                std::panic::set_hook(Box::new(move |info| previous(info)));
            })),
        };
        crossterm::terminal::enable_raw_mode()?;
        crossterm::execute!(
            io::stdout(),
            crossterm::terminal::EnterAlternateScreen,
            crossterm::event::EnableMouseCapture
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
        if let Some(unhook) = self.unhook.take() {
            unhook();
        }
    }
}

#[cfg(test)]
mod tests;
