//! Running the receiver as a program: start-up banner, outputs, signals and an orderly stop.

use crate::cli::RunArgs;
use crate::config::{ReceiverConfig, SecretOrigin};
use crate::pipeline::{ChannelSink, DedupWindow, Pipeline, Sink, StdoutSink};
use crate::server::{listen_url, tls, RunningServer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Records queued for the screen; beyond this the receiver counts them as not shown rather than wait.
const SCREEN_QUEUE: usize = 16 * 1024;
/// Where the dashboard's `e` key writes its files (beside the default log file).
const EXPORT_DIR: &str = "glwatch-data";

/// What the start-up resolved: enough for the banner and the dashboard's header.
pub struct Started {
    pub server: RunningServer,
    pub listen_url: String,
    pub fingerprint: String,
    pub secret_state: String,
}

/// Loads the certificate (or generates the default pair) and starts serving.
pub async fn start(config: ReceiverConfig, pipeline: Pipeline) -> Result<Started, String> {
    let identity = match &config.cert {
        Some((cert, key)) => tls::load(cert, key)?,
        None => tls::load_or_generate(Path::new("certs"))?,
    };
    let tls_config = tls::server_config(&identity).map_err(|e| format!("TLS setup: {e}"))?;
    let fingerprint = identity.fingerprint();
    let secret_state = config.secret_state();
    let generated_secret = (config.secret_origin == SecretOrigin::Generated).then(|| config.primary.clone());
    let server = RunningServer::start(config, tls_config, pipeline).await?;
    let url = listen_url(server.local_addr);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "glwatch: listening on {url}");
    if server.local_addr.ip().is_unspecified() {
        let host = gethostname::gethostname();
        let _ = writeln!(
            err,
            "glwatch: on every interface, e.g. https://{}:{}/",
            host.to_string_lossy(),
            server.local_addr.port()
        );
    }
    let origin = if identity.generated { "generated self-signed" } else { "loaded" };
    let _ = writeln!(err, "glwatch: certificate {} ({origin}), SHA-256 {fingerprint}", identity.cert_path.display());
    if let Some(secret) = generated_secret {
        // The one place a secret is ever printed: the operator must paste it into GreenLake's form.
        let _ = writeln!(
            err,
            "glwatch: generated webhook secret (enter it in GreenLake's \"Register webhook\" form; it is not shown again):\n{}",
            secret.expose()
        );
    }
    Ok(Started { server, listen_url: url, fingerprint, secret_state })
}

/// `glwatch --headless` (and, until a terminal is attached, the default): NDJSON records on stdout.
pub async fn run_headless(args: RunArgs) -> ExitCode {
    let config = match ReceiverConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let sinks: Vec<Box<dyn Sink>> = vec![Box::new(StdoutSink::new())];
    let (pipeline, committer) = Pipeline::start(None, sinks, DedupWindow::new(config.dedup_window));
    let started = match start(config, pipeline).await {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    wait_for_signal().await;
    tracing::info!("stopping: no new connections, finishing requests in flight");
    finish(started.server, committer).await;
    ExitCode::SUCCESS
}

/// `glwatch` on a terminal: the live dashboard over the receiver. Logs must already go to a file.
pub async fn run_dashboard(args: RunArgs, utc_offset: time::UtcOffset) -> ExitCode {
    let config = match ReceiverConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let screen_dropped = Arc::new(AtomicU64::new(0));
    let (tx, records) = tokio::sync::mpsc::channel(SCREEN_QUEUE);
    let sinks: Vec<Box<dyn Sink>> = vec![Box::new(ChannelSink::new(tx, screen_dropped.clone()))];
    let (pipeline, committer) = Pipeline::start(None, sinks, DedupWindow::new(config.dedup_window));
    let started = match start(config, pipeline).await {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let ctx = crate::tui::DashboardContext {
        records,
        history: Vec::new(),
        listen_url: started.listen_url.clone(),
        fingerprint: started.fingerprint.clone(),
        secret_state: started.secret_state.clone(),
        retain: args.retain,
        screen_dropped,
        log_path: Some(args.log_file.clone()),
        export_dir: PathBuf::from(EXPORT_DIR),
        utc_offset,
    };
    // Ctrl-C reaches the dashboard as a key (the terminal is in raw mode); SIGTERM from outside ends it here,
    // and dropping it restores the terminal.
    let outcome = tokio::select! {
        r = crate::tui::run(ctx) => r,
        () = wait_for_signal() => Ok(()),
    };
    tracing::info!("stopping: no new connections, finishing requests in flight");
    finish(started.server, committer).await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("dashboard: {e:#}")),
    }
}

/// Stops the server, then waits for the committer to write what is queued.
pub async fn finish(server: crate::server::RunningServer, committer: crate::pipeline::Committer) {
    let cut = server.shutdown().await;
    if cut > 0 {
        tracing::warn!("stopped with connections cut at the deadline");
    }
    let flushed = tokio::task::spawn_blocking(move || committer.join_within(std::time::Duration::from_secs(5)))
        .await
        .unwrap_or(false);
    if !flushed {
        tracing::warn!("records of unfinished requests were not written; those requests were never acknowledged");
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// One clear line on stderr and a failing exit status.
pub fn fail(message: &str) -> ExitCode {
    eprintln!("glwatch: error: {message}");
    ExitCode::FAILURE
}
