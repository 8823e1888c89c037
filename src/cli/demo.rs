//! `glwatch demo`: the dashboard over a receiver on loopback, fed by the GreenLake simulator, with nothing to set up.
//!
//! Everything is throwaway: a secret generated for the run (the simulator holds it, so it is not shown), a
//! certificate generated into a temporary directory (never the data directory), no journal, and by default the log file in
//! that same directory, which is removed on quit. Only an export asked for with `e` stays behind.

use super::logging::init_file_logging;
use super::run::{dashboard_over_receiver, fail, with_runtime, Screen, EXPORT_DIR};
use super::DemoArgs;
use glwatch::config::{ReceiverConfig, SecretOrigin};
use glwatch::greenlake::Secret;
use glwatch::journal::Opened;
use glwatch::pipeline::DedupWindow;
use glwatch::send::client::Trust;
use glwatch::send::demo::demo_stream;
use glwatch::server::tls;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The one line `glwatch demo` prints (after `glwatch: error: `) when it has no terminal to draw on.
pub const NEEDS_TERMINAL: &str =
    "glwatch demo needs a terminal; to try the receiver without one run `glwatch --headless` and `glwatch send`";

/// Shown in the dashboard's header for the whole run.
pub const BANNER: &str = " demo: simulated GreenLake traffic, throwaway secret, nothing is kept ";

/// Events kept for the table, as for the receiver's default `--retain`.
const RETAIN: usize = 100_000;
/// Re-deliveries are recognised among this many recent events (the simulator re-sends recent ones).
const DEDUP_WINDOW: usize = 100_000;

/// `glwatch demo`: refuses at once without a terminal; otherwise logs to a file (in the demo's temporary
/// directory unless `--log-file` says otherwise) while the dashboard runs. The directory, with the certificate and
/// the default log file, is removed when the demo ends.
pub fn start(args: DemoArgs, utc_offset: time::UtcOffset) -> ExitCode {
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return fail(NEEDS_TERMINAL);
    }
    let dir = match tempfile::Builder::new().prefix("glwatch-demo-").tempdir() {
        Ok(d) => d,
        Err(e) => return fail(&format!("cannot create a temporary directory for the demo: {e}")),
    };
    let log_path = args.log_file.clone().unwrap_or_else(|| dir.path().join("glwatch.log"));
    if let Err(e) = init_file_logging(&log_path) {
        return fail(&format!("cannot open the log file {}: {e}", log_path.display()));
    }
    let code = with_runtime(|rt| rt.block_on(run(args, dir.path(), log_path, utc_offset)));
    let shown = dir.path().display().to_string();
    match dir.close() {
        Ok(()) => eprintln!("glwatch: demo stopped; its temporary directory {shown} was removed"),
        Err(e) => eprintln!("glwatch: demo stopped; its temporary directory {shown} could not be removed: {e}"),
    }
    code
}

/// Runs the demo until the operator quits. `dir` is the run's temporary directory (the certificate goes in
/// it); `log_path` is where logging was pointed, shown in the help.
pub async fn run(args: DemoArgs, dir: &Path, log_path: PathBuf, utc_offset: time::UtcOffset) -> ExitCode {
    let secret = Secret::generate();
    let mut config = ReceiverConfig::for_secret(secret.clone());
    config.secret_origin = SecretOrigin::Generated;
    config.dedup_window = DEDUP_WINDOW;
    let identity = match tls::load_or_generate(&dir.join("certs")) {
        Ok(i) => i,
        Err(e) => return fail(&e.to_string()),
    };
    // The simulator trusts exactly the certificate just made, as `glwatch send --ca` would.
    let trust = Trust::Certificates(identity.chain.clone());
    // No journal: the demo's events are not worth a file, and an operator's real journal must not fill with them.
    let journal = Opened {
        store: None,
        history: Vec::new(),
        dedup: DedupWindow::new(DEDUP_WINDOW),
        notices: Vec::new(),
        last_seq: 0,
    };
    let screen = Screen {
        retain: RETAIN,
        log_path: Some(log_path),
        export_dir: PathBuf::from(EXPORT_DIR),
        utc_offset,
        // The secret is throwaway and already in the simulator's hands: no one needs to copy it.
        show_generated_secret: false,
        banner: Some(BANNER.to_owned()),
        // The demo keeps nothing, and serves nothing beyond its own receiver.
        watch: None,
        routes: None,
        nats: None,
    };
    let rate = args.rate;
    dashboard_over_receiver(config, Some(identity), journal, screen, move |started, stop| {
        // The certificate names localhost, as a browser or `glwatch send` would address a local receiver.
        let url = format!("https://localhost:{}/", started.server.local_addr.port());
        async move {
            let cancel = async move {
                let _ = stop.await;
            };
            match demo_stream(&url, &secret, trust, rate, cancel).await {
                Ok(report) => {
                    tracing::info!(
                        deliveries = report.deliveries,
                        acknowledged = report.acknowledged,
                        refused = report.refused,
                        bad_signatures = report.bad_signatures,
                        duplicates = report.duplicates,
                        challenges = report.challenges,
                        errors = report.errors,
                        "demo stream stopped"
                    );
                    None
                }
                Err(e) => {
                    tracing::error!("demo stream failed: {e:#}");
                    Some(format!("demo: the simulated GreenLake stopped early: {e:#}"))
                }
            }
        }
    })
    .await
}
