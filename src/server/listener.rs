//! The accept loop: connection caps, the TLS handshake under a deadline, HTTP/1.1 and HTTP/2 with timeouts,
//! connections without requests closed, and a graceful stop that lets requests in flight finish.

use super::handler::Handler;
use crate::config::Limits;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// Counts open connections per IP so one address cannot take every slot.
#[derive(Default)]
struct PerIp {
    open: Mutex<HashMap<IpAddr, usize>>,
}

struct PerIpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn acquire(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<PerIpSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(PerIpSlot { table: self.clone(), ip })
    }
}

impl Drop for PerIpSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves until `shutdown` resolves, then stops accepting and gives connections `limits.shutdown_timeout` to
/// finish what they are doing. Returns whether connections had to be cut at the deadline.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    handler: Arc<Handler>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let acceptor = TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(http_builder(&limits));
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let Some(ip_slot) = per_ip.acquire(peer.ip(), limits.max_connections_per_ip) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            acceptor: acceptor.clone(),
            handler: handler.clone(),
            builder: builder.clone(),
            limits: limits.clone(),
            watcher: graceful.watcher(),
        };
        tokio::spawn(async move {
            conn.run(stream, peer).await;
            drop((slot, ip_slot));
        });
    }
    drop(listener);
    match tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown()).await {
        Ok(()) => false,
        Err(_) => {
            tracing::warn!("connections still open at the shutdown deadline were cut");
            true
        }
    }
}

fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // Too many headers or a head over the buffer is a parse error that hyper answers with 431 itself.
        .max_headers(100)
        .max_buf_size(64 * 1024)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .max_pending_accept_reset_streams(32)
        .max_local_error_reset_streams(64)
        .max_header_list_size(64 * 1024)
        .max_send_buf_size(256 * 1024)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

struct Connection {
    acceptor: TlsAcceptor,
    handler: Arc<Handler>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: Limits,
    watcher: hyper_util::server::graceful::Watcher,
}

impl Connection {
    async fn run(self, stream: TcpStream, peer: SocketAddr) {
        let tls = match tokio::time::timeout(self.limits.handshake_timeout, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(%peer, "TLS handshake failed: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        };
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(tls);
        let handler = self.handler.clone();
        let requests = activity.clone();
        // Formatted once: every record of this connection's requests names the same peer.
        let peer_text: Arc<str> = peer.to_string().into();
        let service = service_fn(move |req| {
            let handler = handler.clone();
            let peer_text = peer_text.clone();
            let busy = requests.begin();
            async move {
                let response = handler.handle(req, peer, &peer_text).await;
                drop(busy);
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let conn = self.watcher.watch(self.builder.serve_connection(io, service).into_owned());
        tokio::pin!(conn);
        let idle = self.limits.idle_timeout;
        loop {
            let remaining = activity.idle_for().map_or(idle, |d| idle.saturating_sub(d));
            tokio::select! {
                result = &mut conn => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, "connection ended: {e}");
                    }
                    return;
                }
                _ = tokio::time::sleep(remaining) => {
                    if activity.idle_for().is_some_and(|d| d >= idle) {
                        tracing::debug!(%peer, "closing idle connection");
                        return;
                    }
                }
            }
        }
    }
}

/// Requests in flight on a connection and when the last one began or ended. Idleness is counted in requests, not
/// bytes: HTTP/2 PING and SETTINGS frames (ours or the client's) move bytes, and would otherwise let a client
/// that never sends a request hold a connection slot forever.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicU64,
}

/// Marks a request in flight until dropped (also when a reset stream drops the request's future).
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Activity {
    fn new() -> Activity {
        Activity { start: Instant::now(), last_ms: AtomicU64::new(0), in_flight: AtomicU64::new(0) }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        Busy(self.clone())
    }

    fn touch(&self) {
        self.last_ms.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// How long the connection has had no request in flight; `None` while one is.
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let now = self.start.elapsed().as_millis() as u64;
        Some(Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed))))
    }
}
