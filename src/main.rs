//! The `glwatch` binary: parses the command line and hands over to the library.

use clap::Parser;
use glwatch::cli::Cli;
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return glwatch::run::fail(&format!("cannot start the async runtime: {e}")),
    };
    match cli.command {
        None => runtime.block_on(glwatch::run::run_headless(cli.run)),
        Some(command) => match command {},
    }
}

/// Logs go to stderr; `GLWATCH_LOG` (or `RUST_LOG`) picks the level, `info` by default.
fn init_logging() {
    let filter = std::env::var("GLWATCH_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
