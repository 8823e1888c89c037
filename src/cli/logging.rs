//! Where logs go: stderr, or a file while the dashboard owns the screen.

use std::io::IsTerminal;
use std::path::Path;

/// The NATS client's own connection chatter is left out: glwatch says what the connection does where it matters.
const DEFAULT_FILTER: &str = "info,async_nats=warn";

/// `glwatch tail` says itself what its connection does, one line each; the log only adds problems.
pub const TAIL_FILTER: &str = "warn,async_nats=error,glwatch::broker=error";

fn log_filter_or(default: &str) -> tracing_subscriber::EnvFilter {
    let filter = std::env::var("GLWATCH_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| default.into());
    tracing_subscriber::EnvFilter::new(filter)
}

fn log_filter() -> tracing_subscriber::EnvFilter {
    log_filter_or(DEFAULT_FILTER)
}

/// Logs go to stderr; `GLWATCH_LOG` (or `RUST_LOG`) picks the level, `info` by default.
pub fn init_logging() {
    init_logging_or(DEFAULT_FILTER)
}

/// [`init_logging`] with another default than `info`.
pub fn init_logging_or(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(log_filter_or(default))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

/// While the dashboard owns the screen, logs are appended to a file: a line on stderr would tear the display.
pub fn init_file_logging(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .init();
    Ok(())
}
