//! `glwatch attach`: the dashboard over a running glwatch's watch endpoint instead of a receiver in this process.

use super::run::{fail, wait_for_signal};
use super::AttachArgs;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Records queued between the endpoint's reader and the dashboard; the reader waits when it is full.
const QUEUE: usize = 16 * 1024;

/// Runs the attached dashboard until the operator quits. The receiver is never told anything: quitting only
/// closes this side's connections.
pub async fn run(args: AttachArgs, utc_offset: time::UtcOffset) -> ExitCode {
    let (tx, records) = tokio::sync::mpsc::channel(QUEUE);
    let (target, reader, routes, poller) = match args.target.nats() {
        Some(nats) => {
            let options = args.nats.options(nats);
            let name = format!("{nats} (stream {})", options.stream);
            // A stream has no routes' state to show: the receivers hold it, each on its own endpoint.
            let reader = tokio::spawn(glwatch::watch::nats::feed(options, args.retain, tx));
            (name, reader, glwatch::tui::app::routes::RouteSource::default(), None)
        }
        None => {
            let client = match args.target.client() {
                Ok(c) => c,
                Err(e) => return fail(&e),
            };
            let (routes, poll) = glwatch::tui::app::routes::RouteSource::remote();
            let poller = tokio::spawn(glwatch::watch::route_state::poll(client.clone(), poll));
            let name = client.target().to_string();
            (name, tokio::spawn(glwatch::watch::attach::feed(client, args.retain, tx)), routes, Some(poller))
        }
    };
    let ctx = glwatch::tui::DashboardContext {
        records,
        history: Vec::new(),
        listen_url: String::new(),
        fingerprint: String::new(),
        cert: None,
        secret_state: String::new(),
        retain: args.retain,
        screen_dropped: Arc::new(AtomicU64::new(0)),
        log_path: None,
        export_dir: args.export_dir,
        utc_offset,
        generated_secret: None,
        banner: None,
        attached: Some(target),
        routes,
        nats: None,
    };
    let outcome = tokio::select! {
        r = glwatch::tui::run(ctx) => r,
        () = wait_for_signal() => Ok(()),
    };
    reader.abort();
    if let Some(poller) = poller {
        poller.abort();
    }
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("dashboard: {e:#}")),
    }
}
