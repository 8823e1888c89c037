//! Running the receiver as a program: start-up banner, outputs, signals, an orderly stop and the exit status.

use super::RunArgs;
use glwatch::config::{ConfigError, ReceiverConfig, SecretOrigin};
use glwatch::greenlake::Secret;
use glwatch::journal::Opened;
use glwatch::pipeline::{ChannelSink, Pipeline, Sink, StdoutSink};
use glwatch::server::acme::{self, AcmeOptions};
use glwatch::server::certs::{self, CertStatus, ServingCert};
use glwatch::server::{listen_url, tls, RunningServer};
use glwatch::watch::{JournalRef, Watch, WatchOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Records queued for the screen; beyond this the receiver counts them as not shown rather than wait.
const SCREEN_QUEUE: usize = 16 * 1024;
/// Where the dashboard's `e` key writes its files (beside the default journal and log file).
pub const EXPORT_DIR: &str = glwatch::data_dir::DEFAULT;
/// The watch socket's file name in the data directory.
pub const WATCH_SOCKET: &str = "glwatch.sock";

/// What the start-up resolved: enough for the banner and the dashboard's header.
pub struct Started {
    pub server: RunningServer,
    pub listen_url: String,
    /// The certificate's fingerprint at start, or what is served instead of HTTPS.
    pub fingerprint: String,
    /// The certificate being served, as it changes (reloads, renewals); `None` for plain HTTP.
    pub cert: Option<Arc<CertStatus>>,
    pub secret_state: String,
    /// The secret generated because none was given. The caller shows it once, where the operator looks: on
    /// stderr when headless, in a popup on the dashboard.
    pub generated_secret: Option<Secret>,
    /// The receiver's TLS configuration (with its reloading certificate), reused by the watch endpoint over
    /// HTTPS; `None` with --plain-http.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The ACME task, with `--acme`: held only to keep it running, as it stops when dropped.
    pub _acme: Option<acme::RunningAcme>,
}

/// Loads the certificate (or generates the default pair in the data directory, or starts ACME) and starts
/// serving; with --plain-http no certificate is needed.
pub async fn start(config: ReceiverConfig, pipeline: Pipeline) -> Result<Started, String> {
    if let Some(options) = config.acme.clone() {
        return start_acme(config, options, pipeline).await;
    }
    let identity = match &config.cert {
        _ if config.plain_http => None,
        Some((cert, key)) => Some(tls::load(cert, key).map_err(|e| e.to_string())?),
        None => {
            let (dir, notice) = glwatch::data_dir::self_signed_certs(&config.data_dir);
            if let Some(notice) = notice {
                tracing::warn!("{notice}");
            }
            Some(tls::load_or_generate(&dir).map_err(|e| e.to_string())?)
        }
    };
    launch(config, identity, pipeline).await
}

/// Starts serving with certificates from an ACME CA. Until the first one is there (from the cache at once, or
/// when the CA issues it) TLS clients are refused; the banner says which.
async fn start_acme(config: ReceiverConfig, options: AcmeOptions, pipeline: Pipeline) -> Result<Started, String> {
    // Started first: it also takes SIGHUP over, before the banner.
    let acme = acme::start(options, config.listen.port()).map_err(|e| e.to_string())?;
    let tls_config = acme.server_config().map_err(|e| e.to_string())?;
    let shared_tls = Some(Arc::new(tls_config.clone()));
    let (server, url, secret_state, generated_secret) = bind(config, Some(tls_config), pipeline).await?;
    let names = acme.options.domains.join(", ");
    // The dashboard's header shows the fingerprint; while waiting, that it is waiting.
    let (fingerprint, state) = match &acme.cached {
        Some(fp) => (fp.clone(), format!("served from the cache {}, SHA-256 {fp}", acme.options.cache_dir.display())),
        None => (
            format!("waiting for ACME ({})", acme.options.domains[0]),
            "waiting for the first one; TLS clients are refused until it arrives and the log shows each step"
                .to_owned(),
        ),
    };
    let _ = writeln!(
        std::io::stderr().lock(),
        "glwatch: certificate for {names} from the ACME CA {}: {state}",
        acme.options.directory
    );
    Ok(Started {
        server,
        listen_url: url,
        fingerprint,
        cert: Some(acme.status.clone()),
        secret_state,
        generated_secret,
        tls: shared_tls,
        _acme: Some(acme),
    })
}

/// Starts serving with `identity` and prints the listen URL and the certificate on stderr. A generated secret is
/// returned in [`Started`], not printed.
pub async fn start_with(
    config: ReceiverConfig,
    identity: tls::Identity,
    pipeline: Pipeline,
) -> Result<Started, String> {
    launch(config, Some(identity), pipeline).await
}

async fn launch(
    config: ReceiverConfig,
    identity: Option<tls::Identity>,
    pipeline: Pipeline,
) -> Result<Started, String> {
    let serving = identity.as_ref().map(ServingCert::new).transpose().map_err(|e| e.to_string())?;
    let tls_config = match &serving {
        Some(s) => Some(tls::server_config(s.clone()).map_err(|e| format!("TLS setup: {e}"))?),
        None => None,
    };
    let shared_tls = tls_config.clone().map(Arc::new);
    // Before the banner: it takes SIGHUP over, so a reload sent as soon as the banner is out cannot kill us.
    if let (Some(identity), Some(serving)) = (&identity, &serving) {
        certs::spawn_reloader(serving, identity);
    }
    let proxies = config.trusted_proxies.describe();
    let (server, url, secret_state, generated_secret) = bind(config, tls_config, pipeline).await?;
    let mut err = std::io::stderr().lock();
    let (Some(identity), Some(serving)) = (identity, serving) else {
        let only = if proxies.is_empty() { String::new() } else { format!("; serving only {proxies}") };
        let _ = writeln!(err, "glwatch: plain HTTP, behind a proxy: TLS is the proxy's job{only}");
        let fingerprint = "none (plain HTTP behind a proxy)".to_owned();
        return Ok(Started {
            server,
            listen_url: url,
            fingerprint,
            cert: None,
            secret_state,
            generated_secret,
            tls: shared_tls,
            _acme: None,
        });
    };
    let fingerprint = identity.fingerprint();
    let origin = if identity.generated { "generated self-signed" } else { "loaded" };
    let _ = writeln!(err, "glwatch: certificate {} ({origin}), SHA-256 {fingerprint}", identity.cert_path.display());
    drop(err);
    let status = serving.status();
    certs::warn_if_expiring(&identity.cert_path, &status, time::OffsetDateTime::now_utc());
    Ok(Started {
        server,
        listen_url: url,
        fingerprint,
        cert: Some(status),
        secret_state,
        generated_secret,
        tls: shared_tls,
        _acme: None,
    })
}

/// Binds and starts serving (HTTPS with `tls_config`, else plain HTTP), then prints the listen lines; the caller
/// prints the certificate line after them. Returns the server, its URL, the secret state and a generated secret.
async fn bind(
    config: ReceiverConfig,
    tls_config: Option<rustls::ServerConfig>,
    pipeline: Pipeline,
) -> Result<(RunningServer, String, String, Option<Secret>), String> {
    let https = tls_config.is_some();
    let secret_state = config.secret_state();
    let generated_secret = (config.secret_origin == SecretOrigin::Generated).then(|| config.primary.clone());
    let server = RunningServer::start(config, tls_config, pipeline).await.map_err(|e| e.to_string())?;
    let url = listen_url(server.local_addr, https);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "glwatch: listening on {url}");
    if server.local_addr.ip().is_unspecified() {
        let host = gethostname::gethostname();
        let scheme = if https { "https" } else { "http" };
        let _ = writeln!(
            err,
            "glwatch: on every interface, e.g. {scheme}://{}:{}/",
            host.to_string_lossy(),
            server.local_addr.port()
        );
    }
    Ok((server, url, secret_state, generated_secret))
}

/// The watch endpoint's settings from the command line; the error is one line naming the flag.
pub fn watch_options(args: &RunArgs) -> Result<WatchOptions, String> {
    let token = read_token("--watch-token-file", &args.watch_token, &args.watch_token_file)?;
    if token.as_deref().is_some_and(str::is_empty) {
        return Err("--watch-token: must not be empty".into());
    }
    if args.watch_listen.is_some() && token.is_none() {
        return Err(
            "--watch-listen needs --watch-token or --watch-token-file: remote watchers must authenticate".into()
        );
    }
    let socket =
        (!args.no_watch_socket).then(|| args.watch_socket.clone().unwrap_or_else(|| args.data_dir.join(WATCH_SOCKET)));
    Ok(WatchOptions { socket, listen: args.watch_listen, token })
}

/// A watch token given on the command line or read from a file (surrounding whitespace ignored); the error names
/// the file's flag.
pub fn read_token(file_flag: &str, token: &Option<String>, file: &Option<PathBuf>) -> Result<Option<String>, String> {
    match (token, file) {
        (Some(t), _) => Ok(Some(t.trim().to_owned())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|t| Some(t.trim().to_owned()))
            .map_err(|e| format!("{file_flag} {}: {e}", path.display())),
        (None, None) => Ok(None),
    }
}

/// The journal as the watch endpoint reads it; `None` without one.
fn watch_journal(args: &RunArgs) -> Option<JournalRef> {
    args.journal_options().map(|o| JournalRef { base: o.path, max_line: o.max_line })
}

/// Serves the watch endpoint beside the started receiver and says where on stderr.
async fn serve_watch(
    watch: &Watch,
    options: &WatchOptions,
    journal: Option<JournalRef>,
    pipeline: Pipeline,
    started: &Started,
) -> Result<glwatch::watch::WatchServer, String> {
    if let Some(status) = &started.cert {
        watch.metrics.watch_certificate(status.clone());
    }
    let tls = match (&started.tls, options.listen) {
        (None, Some(_)) => {
            return Err(
                "--watch-listen serves HTTPS with the receiver's certificate, which --plain-http has none of".into()
            )
        }
        (tls, _) => tls.clone(),
    };
    let served = watch.serve(options, journal, pipeline, tls).await.map_err(|e| e.to_string())?;
    let mut err = std::io::stderr().lock();
    if let Some(path) = &served.socket {
        let _ = writeln!(err, "glwatch: watch socket {}", path.display());
    }
    if let Some(addr) = served.local_addr {
        let _ = writeln!(err, "glwatch: watch endpoint on {} (bearer token required)", listen_url(addr, true));
    }
    Ok(served)
}

/// Prints a generated secret on stderr, for headless runs: the operator must paste it into GreenLake's form.
fn print_generated_secret(secret: &Secret) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "glwatch: generated webhook secret (enter it in GreenLake's \"Register webhook\" form; it is not shown again):\n{}",
        secret.expose()
    );
}

/// `glwatch --headless`, and plain `glwatch` without a terminal: NDJSON records on stdout.
pub async fn run_headless(mut args: RunArgs) -> ExitCode {
    // Nothing shows history here: the journal is read for the duplicate window alone.
    args.retain = 0;
    let (config, watch_options, journal) = match configure(&args) {
        Ok(all) => all,
        Err(e) => return e.report(),
    };
    let routes = match super::routes::start(&args, journal.last_seq) {
        Ok(r) => r,
        Err(e) => return fail_with(super::routes::USAGE, &e),
    };
    let nats = match super::nats::start(&args).await {
        Ok(n) => n,
        Err(e) => return fail(&e),
    };
    let watch = Watch::new(journal.last_seq);
    watch.metrics.watch_routes(routes.as_ref().map(|r| r.statuses.clone()).unwrap_or_default());
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(StdoutSink::new())];
    sinks.extend(watch.sinks());
    sinks.extend(routes.as_ref().map(|r| r.sink()));
    let journal_notices = journal.notices;
    let journal_ref = watch_journal(&args);
    let store = watch.meter(journal.store, journal_ref.as_ref().map(|j| j.base.as_path()));
    // Dropped once the start-up lines are out: what reading the window found is printed after them.
    let (banner_out, after_banner) = std::sync::mpsc::channel::<()>();
    let (publisher, nats_notice) = split_nats(nats, Some(&watch));
    let load = super::window::loader(journal.pending, None, Some(after_banner));
    let (pipeline, committer) = Pipeline::start_loading(store, sinks, load, publisher);
    let pipeline = pipeline.with_metrics(watch.metrics.clone());
    let started = match start(config, pipeline.clone()).await {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let watching = match serve_watch(&watch, &watch_options, journal_ref, pipeline, &started).await {
        Ok(w) => w,
        Err(e) => {
            finish(started.server, committer).await;
            return fail(&e);
        }
    };
    if let Some(secret) = &started.generated_secret {
        print_generated_secret(secret);
    }
    // After the listen and certificate lines, so the first lines keep their place whatever the journal says.
    for notice in journal_notices.iter().chain(&nats_notice) {
        eprintln!("glwatch: {notice}");
    }
    let _ = banner_out.send(());
    wait_for_signal().await;
    tracing::info!("stopping: no new connections, finishing requests in flight");
    watching.shutdown().await;
    finish(started.server, committer).await;
    if let Some(r) = routes {
        r.stop();
    }
    ExitCode::SUCCESS
}

/// `glwatch` on a terminal: the live dashboard over the receiver, starting with the journal's history. Logs must
/// already go to a file.
pub async fn run_dashboard(args: RunArgs, utc_offset: time::UtcOffset) -> ExitCode {
    let (config, watch_options, journal) = match configure(&args) {
        Ok(all) => all,
        Err(e) => return e.report(),
    };
    let screen = Screen {
        retain: args.retain,
        log_path: Some(args.log_path()),
        export_dir: glwatch::data_dir::exports(&args.data_dir),
        utc_offset,
        show_generated_secret: true,
        banner: None,
        watch: Some((watch_options, watch_journal(&args))),
        routes: match super::routes::start(&args, journal.last_seq) {
            Ok(r) => r,
            Err(e) => return fail_with(super::routes::USAGE, &e),
        },
        nats: match super::nats::start(&args).await {
            Ok(n) => n,
            Err(e) => return fail(&e),
        },
    };
    dashboard_over_receiver(config, None, journal, screen, |_, _| std::future::ready(None)).await
}

/// How the dashboard is set up, beyond what the receiver itself reports.
pub struct Screen {
    /// Events kept for the table.
    pub retain: usize,
    /// Where logs go while the dashboard runs (shown in the help).
    pub log_path: Option<PathBuf>,
    /// Where `e` writes its files.
    pub export_dir: PathBuf,
    pub utc_offset: time::UtcOffset,
    /// Show a generated secret in a popup at start (the operator must copy it into GreenLake's form).
    pub show_generated_secret: bool,
    /// A line for the header, e.g. that this is the demo.
    pub banner: Option<String>,
    /// The watch endpoint to serve beside the dashboard, and the journal it reads.
    pub watch: Option<(WatchOptions, Option<JournalRef>)>,
    /// Routes forwarding events onward, already started.
    pub routes: Option<glwatch::routes::Routes>,
    /// The NATS JetStream publisher with `--nats`, connected and its stream checked.
    pub nats: Option<glwatch::broker::publish::Started>,
}

/// The publisher for the pipeline and the banner's NATS line; the state goes to the metrics and /healthz.
fn split_nats(
    nats: Option<glwatch::broker::publish::Started>,
    watch: Option<&Watch>,
) -> (Option<Box<dyn glwatch::pipeline::Publisher>>, Option<String>) {
    let Some(nats) = nats else { return (None, None) };
    if let Some(w) = watch {
        w.metrics.watch_nats(nats.status.clone());
    }
    (Some(Box::new(nats.publisher)), Some(nats.notice))
}

/// Starts the receiver (with `identity`, else the configured or default certificate), runs the dashboard over it
/// and, beside it, the future `alongside` makes from the started receiver. When the operator quits, `alongside` is
/// told to stop through its `oneshot` (the sender is dropped) and awaited, then the receiver stops. What
/// `alongside` returns, if anything, is printed on stderr once the terminal is restored.
pub async fn dashboard_over_receiver<F, Fut>(
    config: ReceiverConfig,
    identity: Option<tls::Identity>,
    journal: Opened,
    mut screen: Screen,
    alongside: F,
) -> ExitCode
where
    F: FnOnce(&Started, tokio::sync::oneshot::Receiver<()>) -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let screen_dropped = Arc::new(AtomicU64::new(0));
    let (tx, records) = tokio::sync::mpsc::channel(SCREEN_QUEUE);
    let history_tx = tx.clone();
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(ChannelSink::new(tx, screen_dropped.clone()))];
    let screen_routes = screen.routes.take();
    let route_statuses = screen_routes.as_ref().map(|r| r.statuses.clone()).unwrap_or_default();
    sinks.extend(screen_routes.as_ref().map(|r| r.sink()));
    let watch = screen.watch.as_ref().map(|_| Watch::new(journal.last_seq));
    let mut store = journal.store;
    if let (Some(w), Some((_, journal_ref))) = (&watch, &screen.watch) {
        sinks.extend(w.sinks());
        store = w.meter(store, journal_ref.as_ref().map(|j| j.base.as_path()));
        w.metrics.count_dashboard_drops(screen_dropped.clone());
        w.metrics.watch_routes(route_statuses.clone());
    }
    let nats_status = screen.nats.as_ref().map(|n| n.status.clone());
    let (publisher, nats_notice) = split_nats(screen.nats.take(), watch.as_ref());
    let load = super::window::loader(journal.pending, Some(history_tx), None);
    let (mut pipeline, committer) = Pipeline::start_loading(store, sinks, load, publisher);
    if let Some(w) = &watch {
        pipeline = pipeline.with_metrics(w.metrics.clone());
    }
    let started = match identity {
        Some(identity) => start_with(config, identity, pipeline.clone()).await,
        None => start(config, pipeline.clone()).await,
    };
    let started = match started {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let watching = match (&watch, screen.watch) {
        (Some(w), Some((options, journal_ref))) => {
            match serve_watch(w, &options, journal_ref, pipeline, &started).await {
                Ok(served) => Some(served),
                Err(e) => {
                    finish(started.server, committer).await;
                    return fail(&e);
                }
            }
        }
        _ => {
            drop(pipeline);
            None
        }
    };
    // Printed before the dashboard takes the screen, so they are there to read after it closes; logged too.
    for notice in &journal.notices {
        eprintln!("glwatch: {notice}");
        tracing::warn!("{notice}");
    }
    if let Some(notice) = &nats_notice {
        eprintln!("glwatch: {notice}");
        tracing::info!("{notice}");
    }
    let ctx = glwatch::tui::DashboardContext {
        records,
        // Arrives on `records` once read, ahead of every live record.
        history: Vec::new(),
        listen_url: started.listen_url.clone(),
        fingerprint: started.fingerprint.clone(),
        cert: started.cert.clone(),
        secret_state: started.secret_state.clone(),
        retain: screen.retain,
        screen_dropped,
        log_path: screen.log_path,
        export_dir: screen.export_dir,
        utc_offset: screen.utc_offset,
        generated_secret: started.generated_secret.clone().filter(|_| screen.show_generated_secret),
        banner: screen.banner,
        attached: None,
        routes: glwatch::tui::app::routes::RouteSource::Local(route_statuses),
        nats: nats_status,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let beside = alongside(&started, stopped);
    let dashboard = async move {
        // Ctrl-C reaches the dashboard as a key (the terminal is in raw mode); SIGTERM from outside ends it here,
        // and dropping it restores the terminal.
        let outcome = tokio::select! {
            r = glwatch::tui::run(ctx) => r,
            () = wait_for_signal() => Ok(()),
        };
        drop(stop);
        outcome
    };
    let (outcome, said) = tokio::join!(dashboard, beside);
    tracing::info!("stopping: no new connections, finishing requests in flight");
    if let Some(w) = watching {
        w.shutdown().await;
    }
    finish(started.server, committer).await;
    if let Some(r) = screen_routes {
        r.stop();
    }
    if let Some(said) = said {
        eprintln!("glwatch: {said}");
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("dashboard: {e:#}")),
    }
}

/// Stops the server, then waits for the committer to write what is queued.
pub async fn finish(server: RunningServer, committer: glwatch::pipeline::Committer) {
    let cut = server.shutdown().await;
    if cut {
        tracing::warn!("stopped with connections cut at the deadline");
    }
    let flushed = tokio::task::spawn_blocking(move || committer.join_within(std::time::Duration::from_secs(5)))
        .await
        .unwrap_or(false);
    if !flushed {
        tracing::warn!("records of unfinished requests were not written; those requests were never acknowledged");
    }
}

/// The receiver's settings, the watch endpoint's and the opened journal, as both `run_headless` and
/// `run_dashboard` start. The journal is replayed (its torn tail repaired) and opened for appending; the error is
/// one line naming the flag or file.
fn configure(args: &RunArgs) -> Result<(ReceiverConfig, WatchOptions, Opened), Failure> {
    let config = ReceiverConfig::from_options(&args.receiver_options()).map_err(|e| match e {
        // A mistake in the sources file is a usage error, like a bad flag: exit status 2.
        ConfigError::Sources(e) => Failure::Usage(e.to_string()),
        e => Failure::Other(e.to_string()),
    })?;
    let watch = watch_options(args).map_err(Failure::Other)?;
    let journal = glwatch::journal::open(args.journal_options().as_ref(), args.dedup_window.max(1))
        .map_err(|e| Failure::Other(e.to_string()))?;
    Ok((config, watch, journal))
}

/// Why the receiver could not be configured; a usage error exits with 2.
enum Failure {
    Usage(String),
    Other(String),
}

impl Failure {
    fn report(self) -> ExitCode {
        match self {
            Failure::Usage(message) => {
                eprintln!("glwatch: error: {message}");
                ExitCode::from(2)
            }
            Failure::Other(message) => fail(&message),
        }
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

/// A multi-threaded runtime for `f`. Its workers wake the committer when they run out of work rather than for every
/// request (see [`glwatch::pipeline::before_park`]).
pub fn with_runtime(f: impl FnOnce(&tokio::runtime::Runtime) -> ExitCode) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    run_on(builder.on_thread_park(glwatch::pipeline::before_park), f)
}

/// A runtime on the calling thread alone, for `f`: for a command that only reads one stream (`tail`), whose
/// connection and reader then take turns on one thread instead of waking each other across two for every frame.
pub fn with_one_thread_runtime(f: impl FnOnce(&tokio::runtime::Runtime) -> ExitCode) -> ExitCode {
    run_on(&mut tokio::runtime::Builder::new_current_thread(), f)
}

/// Builds the runtime and runs `f` on it; failing to build one is reported like any start-up error.
fn run_on(builder: &mut tokio::runtime::Builder, f: impl FnOnce(&tokio::runtime::Runtime) -> ExitCode) -> ExitCode {
    match builder.enable_all().build() {
        Ok(rt) => f(&rt),
        Err(e) => fail(&format!("cannot start the async runtime: {e}")),
    }
}

/// One clear line on stderr and a failing exit status.
pub fn fail(message: &str) -> ExitCode {
    fail_with(1, message)
}

/// One clear line on stderr and exit status `code`.
pub fn fail_with(code: u8, message: &str) -> ExitCode {
    eprintln!("glwatch: error: {message}");
    ExitCode::from(code)
}
