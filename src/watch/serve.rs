//! Serving the watch endpoint: a unix socket (mode 0600, no token, HTTP/1.1) in the data directory and, when
//! asked, HTTPS on its own address with the receiver's certificate and a bearer token.

use super::routes::{self, State};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};

/// Connections served at once on each listener.
const MAX_CONNECTIONS: usize = 512;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("watch socket {0}: another glwatch answers on it; stop it or choose another --watch-socket")]
    InUse(PathBuf),
    #[error("watch socket {0}: exists and is not a socket; remove it or choose another --watch-socket")]
    NotASocket(PathBuf),
    #[error("watch socket {path}: {source}")]
    Socket { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr} for watchers: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// Resolves once the stop flag is set (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The socket file this run created, removed when it stops (unless something else replaced it meanwhile).
struct SocketFile {
    path: PathBuf,
    ino: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The running watch listeners.
pub struct WatchServer {
    pub socket: Option<PathBuf>,
    pub local_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _file: Option<SocketFile>,
}

impl WatchServer {
    /// Stops accepting and ends every connection and stream at once: watchers resume by seq when glwatch is back.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Binds what is asked for and starts serving. `stop` is the sender whose receiver the state was built with.
pub async fn start(
    state: Arc<State>,
    stop: watch::Sender<bool>,
    socket: Option<&Path>,
    remote: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
) -> Result<WatchServer, ServeError> {
    let mut tasks = Vec::new();
    let mut file = None;
    if let Some(path) = socket {
        let (listener, ino) = bind_socket(path)?;
        file = Some(SocketFile { path: path.to_owned(), ino });
        tasks.push(tokio::spawn(serve_unix(listener, state.clone(), stop.subscribe())));
    }
    let mut local_addr = None;
    if let Some((addr, tls)) = remote {
        let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Listen { addr, source })?;
        local_addr = Some(listener.local_addr().map_err(|source| ServeError::Listen { addr, source })?);
        tasks.push(tokio::spawn(serve_tls(listener, tls, state.clone(), stop.subscribe())));
        tasks.push(tokio::spawn(write_refusals(state.clone(), stop.subscribe())));
    }
    Ok(WatchServer { socket: socket.map(Path::to_owned), local_addr, stop, tasks, _file: file })
}

/// Writes the summaries of folded refusals when their window ends, even if no request comes to close it; at stop,
/// whatever is still counted.
async fn write_refusals(state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(crate::server::rejections::WINDOW / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            _ = tick.tick() => state.flush_refusals(false).await,
        }
    }
    state.flush_refusals(true).await;
}

/// Binds the socket under a temporary name, restricts it to the owner, then moves it into place: nobody else can
/// connect in between. A socket left by a crash is replaced once nothing answers on it.
fn bind_socket(path: &Path) -> Result<(UnixListener, u64), ServeError> {
    let err = |source| ServeError::Socket { path: path.to_owned(), source };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(ServeError::NotASocket(path.to_owned()));
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(ServeError::InUse(path.to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                tracing::info!("removing the stale watch socket {} (nothing answers on it)", path.display());
                std::fs::remove_file(path).map_err(err)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let listener = UnixListener::bind(&temporary).map_err(err)?;
    let placed = std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&temporary, path))
        .and_then(|()| std::fs::symlink_metadata(path));
    match placed {
        Ok(meta) => Ok((listener, meta.ino())),
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            Err(err(e))
        }
    }
}

async fn serve_unix(listener: UnixListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = tokio::select! {
            () = stopped(&mut stop) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("watch socket: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
        let state = state.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(routes::handle(&state, req, None).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                () = stopped(&mut stop) => {}
            }
            drop(slot);
        });
    }
}

async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<State>,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(64);
    let builder = Arc::new(builder);
    loop {
        let (stream, peer) = tokio::select! {
            () = stopped(&mut stop) => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("watch listener: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else { continue };
        let (acceptor, state, builder, mut stop) = (acceptor.clone(), state.clone(), builder.clone(), stop.clone());
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await else {
                return;
            };
            let service = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(routes::handle(&state, req, Some(peer)).await) }
            });
            let conn = builder.serve_connection(TokioIo::new(tls), service);
            tokio::select! {
                _ = conn => {}
                () = stopped(&mut stop) => {}
            }
            drop(slot);
        });
    }
}
