//! The HTTPS receiver: TLS identity, the accept loop and the request handler, started and stopped as one.

pub mod acme;
pub mod certs;
pub mod handler;
pub mod listener;
pub mod proxy;
pub mod rejections;
pub mod tls;
pub mod x509;

use crate::config::ReceiverConfig;
use crate::pipeline::Pipeline;
use handler::Handler;
use listener::Transport;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// Why the receiver could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// A receiver that is accepting connections.
pub struct RunningServer {
    pub local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<bool>,
    summaries: tokio::task::JoinHandle<()>,
    handler: Arc<Handler>,
}

impl RunningServer {
    /// Binds the listen address and starts serving: HTTPS with `tls`, plain HTTP without (then only from the
    /// trusted proxies, when there are any). Binding errors name the address.
    pub async fn start(
        config: ReceiverConfig,
        tls: Option<rustls::ServerConfig>,
        pipeline: Pipeline,
    ) -> Result<RunningServer, StartError> {
        let addr = config.listen;
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| StartError::Listen { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Listen { addr, source })?;
        let limits = config.limits.clone();
        let transport = match tls {
            Some(tls) => Transport::Tls(Arc::new(tls)),
            None => Transport::Plain {
                only_from: (!config.trusted_proxies.is_empty()).then(|| config.trusted_proxies.clone()),
            },
        };
        let handler = Arc::new(Handler::new(config, pipeline));
        let (stop, mut stopped) = watch::channel(false);
        let summaries = tokio::spawn(write_summaries(handler.clone(), stop.subscribe()));
        let task = tokio::spawn(listener::serve(listener, transport, handler.clone(), limits, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        Ok(RunningServer { local_addr, stop, task, summaries, handler })
    }

    /// Stops accepting, waits for requests in flight (up to the shutdown deadline) and returns whether
    /// connections had to be cut.
    pub async fn shutdown(self) -> bool {
        let _ = self.stop.send(true);
        let cut = self.task.await.unwrap_or(true);
        // Requests are over: what they folded is written last, so no refusal goes uncounted.
        self.summaries.abort();
        let _ = self.summaries.await;
        self.handler.flush_rejections(true).await;
        cut
    }
}

/// Writes the summaries of folded refusals when their window ends, even if no request comes to close it. Ends
/// when the server is dropped, so it never keeps the pipeline (and the committer) alive on its own.
async fn write_summaries(handler: Arc<Handler>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(rejections::WINDOW / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            closed = stop.changed() => if closed.is_err() { break },
            _ = tick.tick() => handler.flush_rejections(false).await,
        }
    }
}

/// `https://ip:port/` (or `http://` for plain HTTP) for the banner, IPv6 in brackets.
pub fn listen_url(addr: SocketAddr, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{addr}/")
}
