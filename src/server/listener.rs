//! The accept loop: connection caps, the TLS handshake under a deadline (or plain HTTP behind a proxy), HTTP/1.1
//! and HTTP/2 with timeouts, connections without requests closed, and a graceful stop that lets requests in
//! flight finish.
//!
//! Over 400 lines: the accept loop, its caps and the graceful stop share one connection life cycle.

use super::handler::Handler;
use super::proxy::TrustedProxies;
use crate::config::Limits;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio_rustls::TlsAcceptor;

/// How connections are spoken to.
pub enum Transport {
    /// HTTPS: every connection starts with a TLS handshake.
    Tls(Arc<rustls::ServerConfig>),
    /// Plain HTTP/1.1 and h2c, for a TLS-terminating proxy in front; with `only_from`, connections from other
    /// addresses are closed at accept.
    Plain { only_from: Option<TrustedProxies> },
}

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
    transport: Transport,
    handler: Arc<Handler>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> bool {
    let (acceptor, only_from) = match transport {
        Transport::Tls(tls) => (Some(TlsAcceptor::from(tls)), None),
        Transport::Plain { only_from } => (None, only_from),
    };
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    // Every connection task holds a receiver: the stop is sent on it, and the sender sees them all gone when the
    // last connection has ended.
    let (stop, stopping) = watch::channel(false);
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
        if only_from.as_ref().is_some_and(|proxies| !proxies.contains(peer.ip())) {
            drop(stream);
            handler.refuse_connection(peer);
            continue;
        }
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
            stop: stopping.clone(),
        };
        tokio::spawn(async move {
            conn.run(stream, peer).await;
            drop((slot, ip_slot));
        });
    }
    drop(listener);
    drop(stopping);
    let _ = stop.send(true);
    match tokio::time::timeout(limits.shutdown_timeout, stop.closed()).await {
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
    acceptor: Option<TlsAcceptor>,
    handler: Arc<Handler>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: Limits,
    stop: watch::Receiver<bool>,
}

/// Where a connection is in a stop. hyper's HTTP/1 `graceful_shutdown` closes a connection at once when it is
/// between requests, even if part of the next request head is already in its buffer (or still in the socket),
/// and the client then sees a reset for a request it sent before the stop. So the stop is only passed on to
/// hyper once the connection is known to be between requests, or once a request is in the handler (then hyper
/// finishes it and closes).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// No stop yet.
    Serving,
    /// Stop seen: hyper is told once the connection is between requests or a request is in the handler, or at
    /// this instant (a header timeout on), when a request head that started arriving has still not come whole.
    Waiting(tokio::time::Instant),
    /// hyper has been told; it closes the connection when the current response is out.
    Told,
}

impl Connection {
    async fn run(self, stream: TcpStream, peer: SocketAddr) {
        let stream = Arc::new(stream);
        let socket = Socket(stream.clone());
        let Some(acceptor) = &self.acceptor else {
            // Plain HTTP: whether it is h2c is only known once hyper has read the preface, so a stop takes the
            // HTTP/1 care below (bounded by the header timeout) for both.
            return self.serve(SharedTcp(stream), false, socket, peer).await;
        };
        let accept = acceptor.accept(SharedTcp(stream));
        let tls = match tokio::time::timeout(self.limits.handshake_timeout, accept).await {
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
        if tls.get_ref().1.alpn_protocol() == Some(super::acme::ACME_TLS_ALPN) {
            // A TLS-ALPN-01 validation: the CA only checks the certificate of the handshake.
            tracing::info!(%peer, "ACME: TLS-ALPN-01 validation connection");
            let mut tls = tls;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut tls).await;
            return;
        }
        // HTTP/2 needs none of the care below: hyper's GOAWAY still serves every stream the client opened before
        // it, and PING or SETTINGS frames are not the start of a request.
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        self.serve(tls, h2, socket, peer).await;
    }

    /// HTTP/1.1 or HTTP/2 (told apart by the connection preface) until the client, the idle timeout or a stop
    /// ends it.
    async fn serve<I>(self, io: I, h2: bool, socket: Socket, peer: SocketAddr)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched { inner: io, activity: activity.clone() });
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
        let conn = self.builder.serve_connection(io, service).into_owned();
        tokio::pin!(conn);
        let idle = self.limits.idle_timeout;
        let mut stop = self.stop;
        let mut phase = Stop::Serving;
        loop {
            let remaining = activity.idle_for().map_or(idle, |d| idle.saturating_sub(d));
            let wait_until = match phase {
                Stop::Waiting(until) => until,
                _ => tokio::time::Instant::now() + idle,
            };
            // Biased: the connection is polled first, so whatever the client sent is read before a stop is judged.
            tokio::select! {
                biased;
                result = &mut conn => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, "connection ended: {e}");
                    }
                    return;
                }
                // A closed channel means the accept loop is gone: a stop too.
                _ = stop.wait_for(|s| *s), if phase == Stop::Serving => {
                    phase = Stop::Waiting(tokio::time::Instant::now() + self.limits.header_timeout);
                }
                _ = activity.changed.notified(), if matches!(phase, Stop::Waiting(_)) => {}
                _ = tokio::time::sleep_until(wait_until), if matches!(phase, Stop::Waiting(_)) => {
                    tracing::debug!(%peer, "request head incomplete at the header timeout; closing");
                    phase = Stop::Told;
                    conn.as_mut().graceful_shutdown();
                }
                _ = tokio::time::sleep(remaining) => {
                    if activity.idle_for().is_some_and(|d| d >= idle) {
                        tracing::debug!(%peer, "closing idle connection");
                        return;
                    }
                }
            }
            if matches!(phase, Stop::Waiting(_)) && (h2 || activity.ready_to_stop(&socket)) {
                phase = Stop::Told;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The TLS stream as hyper reads it, noting each read that may start a request (see [`Activity::arrived`]).
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.arrived();
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Requests in flight on a connection and when the last one began or ended. Idleness is counted in requests, not
/// bytes: HTTP/2 PING and SETTINGS frames (ours or the client's) move bytes, and would otherwise let a client
/// that never sends a request hold a connection slot forever.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicU64,
    /// Bytes were read while no request was in the handler: a request head is (or may be) on its way.
    arriving: AtomicBool,
    /// Woken when a request reaches the handler or starts arriving, for a stop that waits on either.
    changed: Notify,
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
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            arriving: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.arriving.store(false, Ordering::Relaxed);
        self.touch();
        self.changed.notify_one();
        Busy(self.clone())
    }

    /// hyper read bytes. With no request in the handler they are the start of the next one (or the rest of a
    /// body the handler left unread, which the header timeout bounds in a stop).
    fn arrived(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0 && !self.arriving.swap(true, Ordering::Relaxed) {
            // Tests wait for this line to know the server holds part of a request before they stop it.
            tracing::debug!("request arriving");
            self.changed.notify_one();
        }
    }

    /// Whether hyper may be told to stop without cutting a request the client already started: either one is in
    /// the handler (hyper answers it, then closes), or nothing of the next one has been sent: none read, and none
    /// waiting in the socket for the runtime to hand to hyper.
    fn ready_to_stop(&self, socket: &Socket) -> bool {
        self.in_flight.load(Ordering::Relaxed) > 0
            || (!self.arriving.load(Ordering::Relaxed) && !socket.has_unread_bytes())
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

/// The connection's socket, looked at when a stop comes: bytes the client sent just before it may still be in the
/// socket, not yet handed to hyper because the runtime has not polled for them.
struct Socket(Arc<TcpStream>);

impl Socket {
    /// Whether the client has sent bytes nobody has read yet. The runtime's own readiness may not know of them
    /// yet, so this asks the kernel (a non-blocking peek). On error it says no: hyper's own judgement stands.
    fn has_unread_bytes(&self) -> bool {
        let mut byte = [std::mem::MaybeUninit::uninit(); 1];
        matches!(socket2::SockRef::from(&*self.0).peek(&mut byte), Ok(n) if n > 0)
    }
}

/// The TCP stream shared between the TLS layer (which reads and writes it) and [`Socket`] (which only peeks), so
/// the stop logic can look at the socket without unsafe access to a descriptor hyper owns.
struct SharedTcp(Arc<TcpStream>);

impl AsyncRead for SharedTcp {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            std::task::ready!(self.0.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let want = unfilled.len();
            let mut got = None;
            // `try_read` clears the readiness on WouldBlock, so the next poll waits for new bytes. A read that
            // fills less than asked has drained the socket too (epoll is edge-triggered), which is how tokio's
            // own `TcpStream` saves the read that would only say WouldBlock: the outer `try_io` clears the
            // readiness it saw before this read, so bytes that arrived since are still noticed.
            let read = self.0.try_io(tokio::io::Interest::READABLE, || match self.0.try_read(unfilled) {
                Ok(n) if 0 < n && n < want => {
                    got = Some(n);
                    Err(io::ErrorKind::WouldBlock.into())
                }
                other => other,
            });
            match (read, got) {
                (_, Some(n)) | (Ok(n), None) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                (Err(e), None) if e.kind() == io::ErrorKind::WouldBlock => continue,
                (Err(e), None) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedTcp {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&*self.0).shutdown(std::net::Shutdown::Write))
    }
}
