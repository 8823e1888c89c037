//! `glwatch send` as a command: Ctrl-C wired to an orderly stop, the summary printed, the exit status.

use super::run::fail;
use super::send_args::SendArgs;
use std::process::ExitCode;
use tokio::sync::watch;

/// Starts `glwatch send` on its runtime. With a single CPU to run on (a load generator pinned with taskset, a
/// one-core container) that is a single-threaded runtime: the connections' tasks then hand requests and answers
/// to each other without the work-stealing scheduler's cross-thread bookkeeping, which costs the multi-threaded
/// one a few microseconds per request even with one worker. With more CPUs, one worker per CPU.
pub fn start(args: SendArgs) -> ExitCode {
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let runtime = if one_cpu {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    };
    match runtime {
        Ok(rt) => match rt.block_on(run(args)) {
            Ok(code) => code,
            Err(e) => fail(&format!("{e:#}")),
        },
        Err(e) => fail(&format!("cannot start the async runtime: {e}")),
    }
}

/// Runs `glwatch send`: prints warnings and progress on stderr and the summary on stdout. Exits non-zero when
/// verification failed or any event stayed unacknowledged.
pub async fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let options = args.options();
    let json = options.json;
    let summary = glwatch::send::execute(options, stop_on_ctrl_c).await?;
    if json {
        println!("{}", summary.to_json());
    } else {
        println!("{summary}");
    }
    Ok(if summary.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The first Ctrl-C stops handing out work and lets deliveries in flight finish, so the summary still accounts
/// for every event sent; a second one exits at once. Until deliveries start, Ctrl-C ends the process as usual.
fn stop_on_ctrl_c(stop: watch::Sender<bool>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    }))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
