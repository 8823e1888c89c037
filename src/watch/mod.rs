//! The watch endpoint: committed records live (SSE) and stored ones by seq, metrics and health, served on a local
//! socket and optionally over HTTPS; and the client side that `glwatch tail` (and the dashboard's attach) use.

pub mod attach;
pub mod client;
pub mod hub;
pub mod metrics;
pub mod nats;
pub mod route_state;
pub mod routes;
pub mod serve;
mod stream;
pub mod tail;

use crate::pipeline::{Pipeline, Sink, Store};
use hub::{Hub, HubSink};
use metrics::{MeteredStore, Metrics, MetricsSink};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use routes::JournalRef;
pub use serve::{ServeError, WatchServer};

/// Where the endpoint is served.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// The local socket; `None` serves none.
    pub socket: Option<PathBuf>,
    /// HTTPS for remote watchers, with the receiver's certificate.
    pub listen: Option<SocketAddr>,
    /// The bearer token HTTPS watchers must send; required with `listen`.
    pub token: Option<String>,
}

/// The watch side of a run: set up before the pipeline starts (its sinks and the metered journal), served once
/// the receiver is up.
pub struct Watch {
    pub hub: Arc<Hub>,
    pub metrics: Arc<Metrics>,
}

impl Watch {
    /// `last_seq` is the number of the last record stored.
    pub fn new(last_seq: u64) -> Watch {
        let metrics = Metrics::new();
        Watch { hub: Hub::new(last_seq, metrics.clone()), metrics }
    }

    /// The pipeline sinks that feed watchers and count records.
    pub fn sinks(&self) -> Vec<Box<dyn Sink>> {
        vec![Box::new(HubSink(self.hub.clone())), Box::new(MetricsSink(self.metrics.clone()))]
    }

    /// The journal's store, timed for the metrics. `base` is the journal, sized when the metrics are scraped.
    pub fn meter(&self, store: Option<Box<dyn Store>>, base: Option<&Path>) -> Option<Box<dyn Store>> {
        if let Some(base) = base {
            self.metrics.size_journal(base);
        }
        store.map(|s| Box::new(MeteredStore::new(s, self.metrics.clone())) as Box<dyn Store>)
    }

    /// Starts serving. `tls` is the receiver's own configuration, reused for remote watchers (who are not served
    /// without it).
    pub async fn serve(
        &self,
        options: &WatchOptions,
        journal: Option<JournalRef>,
        pipeline: Pipeline,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<WatchServer, ServeError> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let state =
            Arc::new(routes::State::new(self.hub.clone(), journal, pipeline, options.token.as_deref(), stopped));
        let remote = options.listen.zip(tls);
        serve::start(state, stop, options.socket.as_deref(), remote).await
    }
}
