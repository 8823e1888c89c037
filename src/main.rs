//! The `glwatch` binary: parses the command line, sets up logging and hands over to the command's start-up.

#![forbid(unsafe_code)]

mod cli;

use clap::Parser;
use cli::logging::{init_file_logging, init_logging, init_logging_or};
use cli::run::{fail, with_one_thread_runtime, with_runtime};
use cli::{Cli, Command};
use std::io::IsTerminal;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Read before the runtime starts its threads: the local offset cannot be read safely afterwards.
    let utc_offset = glwatch::tui::local_offset();
    // The dashboard needs a terminal to draw on and to read keys from; otherwise records go to stdout.
    let dashboard =
        cli.command.is_none() && !cli.run.headless && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if dashboard {
        let log_path = cli.run.log_path();
        if let Err(e) = init_file_logging(&log_path) {
            return fail(&format!("cannot open the log file {}: {e}", log_path.display()));
        }
    } else if matches!(cli.command, Some(Command::Tail(_))) {
        init_logging_or(cli::logging::TAIL_FILTER);
    } else if !matches!(cli.command, Some(Command::Demo(_) | Command::Attach(_))) {
        // The demo sets up its own logging once it knows it has a terminal.
        init_logging();
    }
    match cli.command {
        // Export reads files only: no runtime needed.
        Some(Command::Export(args)) => cli::export::run(args),
        Some(Command::Demo(args)) => cli::demo::start(args, utc_offset),
        // Logs would scribble over the dashboard; an attached one has nothing to log that it does not show.
        Some(Command::Attach(_)) if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) => {
            fail("attach needs a terminal; for records on stdout use `glwatch tail -f`")
        }
        Some(Command::Attach(args)) => with_runtime(|rt| rt.block_on(cli::attach::run(args, utc_offset))),
        Some(Command::Routes(args)) => cli::routes::command(args),
        Some(Command::Tail(args)) => with_one_thread_runtime(|rt| rt.block_on(cli::tail::run(args))),
        Some(Command::Send(args)) => cli::send::start(args),
        None if dashboard => with_runtime(|rt| rt.block_on(cli::run::run_dashboard(cli.run, utc_offset))),
        None => with_runtime(|rt| rt.block_on(cli::run::run_headless(cli.run))),
    }
}
