//! The `glwatch` binary: parses the command line and hands over to the library.

use clap::Parser;
use glwatch::cli::{Cli, Command, DemoArgs};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Read before the runtime starts its threads: the local offset cannot be read safely afterwards.
    let utc_offset = glwatch::tui::local_offset();
    // The dashboard needs a terminal to draw on and to read keys from; otherwise records go to stdout.
    let dashboard =
        cli.command.is_none() && !cli.run.headless && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if dashboard {
        if let Err(e) = init_file_logging(&cli.run.log_file) {
            return glwatch::run::fail(&format!("cannot open the log file {}: {e}", cli.run.log_file.display()));
        }
    } else if !matches!(cli.command, Some(Command::Demo(_))) {
        // The demo sets up its own logging once it knows it has a terminal.
        init_logging();
    }
    match cli.command {
        // Export reads files only: no runtime needed.
        Some(Command::Export(args)) => glwatch::export::run(args),
        Some(Command::Demo(args)) => demo(args, utc_offset),
        Some(Command::Tail(args)) => with_runtime(|rt| rt.block_on(glwatch::run::run_tail(args))),
        Some(Command::Send(args)) => with_runtime(|rt| match rt.block_on(glwatch::send::run(args)) {
            Ok(code) => code,
            Err(e) => glwatch::run::fail(&format!("{e:#}")),
        }),
        None if dashboard => with_runtime(|rt| rt.block_on(glwatch::run::run_dashboard(cli.run, utc_offset))),
        None => with_runtime(|rt| rt.block_on(glwatch::run::run_headless(cli.run))),
    }
}

/// `glwatch demo`: refuses at once without a terminal; otherwise logs to a file (in the demo's temporary
/// directory unless `--log-file` says otherwise) while the dashboard runs. The directory, with the certificate and
/// the default log file, is removed when the demo ends.
fn demo(args: DemoArgs, utc_offset: time::UtcOffset) -> ExitCode {
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return glwatch::run::fail(glwatch::demo::NEEDS_TERMINAL);
    }
    let dir = match tempfile::Builder::new().prefix("glwatch-demo-").tempdir() {
        Ok(d) => d,
        Err(e) => return glwatch::run::fail(&format!("cannot create a temporary directory for the demo: {e}")),
    };
    let log_path = args.log_file.clone().unwrap_or_else(|| dir.path().join("glwatch.log"));
    if let Err(e) = init_file_logging(&log_path) {
        return glwatch::run::fail(&format!("cannot open the log file {}: {e}", log_path.display()));
    }
    let code = with_runtime(|rt| rt.block_on(glwatch::demo::run(args, dir.path(), log_path, utc_offset)));
    let shown = dir.path().display().to_string();
    match dir.close() {
        Ok(()) => eprintln!("glwatch: demo stopped; its temporary directory {shown} was removed"),
        Err(e) => eprintln!("glwatch: demo stopped; its temporary directory {shown} could not be removed: {e}"),
    }
    code
}

fn with_runtime(f: impl FnOnce(&tokio::runtime::Runtime) -> ExitCode) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => f(&rt),
        Err(e) => glwatch::run::fail(&format!("cannot start the async runtime: {e}")),
    }
}

fn log_filter() -> tracing_subscriber::EnvFilter {
    let filter = std::env::var("GLWATCH_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| "info".into());
    tracing_subscriber::EnvFilter::new(filter)
}

/// Logs go to stderr; `GLWATCH_LOG` (or `RUST_LOG`) picks the level, `info` by default.
fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

/// While the dashboard owns the screen, logs are appended to a file: a line on stderr would tear the display.
fn init_file_logging(path: &Path) -> std::io::Result<()> {
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
