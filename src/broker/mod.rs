//! NATS JetStream as the shared log of several receivers: connection options and connecting with glwatch's own
//! rustls client configuration (ring), so no process-wide crypto provider is needed.

pub mod publish;
pub mod read;
pub mod stream;

pub use publish::{NatsPublisher, NatsStatus};

use std::path::PathBuf;
use std::time::Duration;

use crate::send::client::{tls_config, Trust};

/// Everything `--nats*` says, shared by the receiver (publishing) and the readers (tail, attach, routes).
#[derive(Clone)]
pub struct NatsOptions {
    /// Seed servers, `nats://host:port` or `tls://host:port`.
    pub servers: Vec<String>,
    pub creds: Option<PathBuf>,
    pub token: Option<String>,
    /// PEM CA (or pinned certificate) for TLS; without it the platform's roots.
    pub ca: Option<PathBuf>,
    pub stream: String,
    /// Subject prefix: `PREFIX.event.<type>`, `PREFIX.challenge`, `PREFIX.rejected`.
    pub subject: String,
    pub replicas: usize,
    pub duplicate_window: Duration,
    /// How long a publish may wait for JetStream's ack before the request is answered 503.
    pub timeout: Duration,
}

impl std::fmt::Debug for NatsOptions {
    // The token is a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsOptions")
            .field("servers", &self.servers)
            .field("creds", &self.creds)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("ca", &self.ca)
            .field("stream", &self.stream)
            .field("subject", &self.subject)
            .field("replicas", &self.replicas)
            .field("duplicate_window", &self.duplicate_window)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for NatsOptions {
    fn default() -> Self {
        NatsOptions {
            servers: Vec::new(),
            creds: None,
            token: None,
            ca: None,
            stream: "GLWATCH".into(),
            subject: "glwatch".into(),
            replicas: 1,
            duplicate_window: Duration::from_secs(12 * 3600),
            timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("--nats: no server given")]
    NoServer,
    #[error("--nats: {0}")]
    BadServer(String),
    #[error("--nats-creds {path}: {error}")]
    Creds { path: String, error: std::io::Error },
    #[error("--nats-ca: {0}")]
    Tls(String),
    #[error("cannot connect to NATS at {servers}: {error}")]
    Connect { servers: String, error: String },
    #[error("{0}")]
    Invalid(String),
    #[error("NATS stream {stream}: {error}")]
    Stream { stream: String, error: String },
    #[error("NATS stream {stream} is not as asked: {differences}")]
    StreamDiffers { stream: String, differences: String },
}

/// Connects to the seed list. Reconnects are automatic and unbounded afterwards; the first connection is retried in
/// the background too, so a receiver can start while NATS is down (it answers 503 until NATS is back).
pub async fn connect(options: &NatsOptions) -> Result<async_nats::Client, BrokerError> {
    if options.servers.is_empty() {
        return Err(BrokerError::NoServer);
    }
    let addrs = options
        .servers
        .iter()
        .map(|s| s.parse::<async_nats::ServerAddr>().map_err(|e| BrokerError::BadServer(format!("{s}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let trust = match &options.ca {
        Some(path) => Trust::from_pem_file(path).map_err(|e| BrokerError::Tls(e.to_string()))?,
        None => Trust::Platform,
    };
    let mut connect = async_nats::ConnectOptions::new()
        .name("glwatch")
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        // The log says when the link drops and comes back; the state itself is read from the client.
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Disconnected => tracing::warn!("NATS disconnected; reconnecting"),
                async_nats::Event::Connected => tracing::info!("NATS connected"),
                other => tracing::info!("NATS: {other}"),
            }
        });
    // Built only when TLS can be in play: the platform roots may be missing on a host that uses plain nats://.
    if options.ca.is_some() || options.servers.iter().any(|s| s.starts_with("tls://")) {
        let mut tls = tls_config(&trust).map_err(|e| BrokerError::Tls(e.to_string()))?;
        tls.alpn_protocols.clear();
        connect = connect.tls_client_config(tls).require_tls(true);
    }
    if let Some(token) = &options.token {
        connect = connect.token(token.clone());
    }
    if let Some(path) = &options.creds {
        connect = connect
            .credentials_file(path)
            .await
            .map_err(|error| BrokerError::Creds { path: path.display().to_string(), error })?;
    }
    connect
        .connect(addrs)
        .await
        .map_err(|e| BrokerError::Connect { servers: options.servers.join(","), error: e.to_string() })
}
