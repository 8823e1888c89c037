//! Receiver settings: the options as given ([`ReceiverOptions`]) checked into a [`ReceiverConfig`], with secrets
//! read and checked and timeouts as durations.

use crate::greenlake::{Secret, SecretLengthError};
use crate::server::acme::{AcmeError, AcmeOptions};
use crate::server::proxy::{Cidr, TrustedProxies};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the primary secret came from; a generated one is printed once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretOrigin {
    Given,
    Generated,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub handshake_timeout: Duration,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 1024 * 1024,
            max_connections: 4096,
            max_connections_per_ip: 512,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// The receiver's settings as given (by `glwatch`'s flags), before they are checked. Timeouts are in seconds.
#[derive(Clone)]
pub struct ReceiverOptions {
    pub listen: SocketAddr,
    pub secret: Option<String>,
    /// Read the secret from this file when `secret` is `None`; neither generates one.
    pub secret_file: Option<PathBuf>,
    pub secondary_secret: Option<String>,
    /// Certificate chain and private key (PEM); `None` for the default pair in the data directory.
    pub cert: Option<(PathBuf, PathBuf)>,
    /// Certificates from an ACME CA instead of `cert` or the generated pair.
    pub acme: Option<AcmeOptions>,
    /// Where the generated certificate goes (see [`crate::data_dir`]).
    pub data_dir: PathBuf,
    pub api_key: Option<String>,
    pub allow_unsigned: bool,
    pub allowed_rate: String,
    pub max_body: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub handshake_timeout: f64,
    pub header_timeout: f64,
    pub body_timeout: f64,
    pub idle_timeout: f64,
    pub shutdown_timeout: f64,
    pub dedup_window: usize,
    /// `--trusted-proxy`: proxies whose forwarding headers name the client.
    pub trusted_proxies: Vec<Cidr>,
    /// `--plain-http`: no TLS, for running behind a proxy that terminates it.
    pub plain_http: bool,
}

/// Why [`ReceiverOptions`] were refused: one line naming the flag or file and the problem, never the secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--secret: {0}")]
    Secret(SecretLengthError),
    #[error("--secret-file {}: cannot read: {source}", path.display())]
    SecretFileUnreadable { path: PathBuf, source: std::io::Error },
    #[error("--secret-file {}: {problem}", path.display())]
    SecretFileInvalid { path: PathBuf, problem: SecretLengthError },
    #[error("--secondary-secret: {0}")]
    SecondarySecret(SecretLengthError),
    #[error("--api-key: must not be empty")]
    EmptyApiKey,
    #[error("--max-body: must be at least 1 byte")]
    NoBody,
    #[error("--max-connections and --max-connections-per-ip must be at least 1")]
    NoConnections,
    #[error("--{flag}: must be a positive number of seconds, got {value}")]
    Timeout { flag: &'static str, value: f64 },
    #[error(transparent)]
    Acme(#[from] AcmeError),
    #[error(
        "--plain-http: refusing to serve unencrypted HTTP on {listen}, which is not a loopback address; name the \
         TLS-terminating proxy in front with --trusted-proxy (then only it is served) or listen on 127.0.0.1"
    )]
    PlainHttpExposed { listen: SocketAddr },
}

/// Everything the receiver needs to answer requests.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub listen: SocketAddr,
    pub primary: Secret,
    pub secret_origin: SecretOrigin,
    pub secondary: Option<Secret>,
    pub cert: Option<(PathBuf, PathBuf)>,
    /// Checked ACME options (domains normalized).
    pub acme: Option<AcmeOptions>,
    pub data_dir: PathBuf,
    pub api_key: Option<Secret>,
    pub allow_unsigned: bool,
    pub allowed_rate: String,
    pub limits: Limits,
    pub dedup_window: usize,
    /// Proxies whose Forwarded / X-Forwarded-For headers name the real client.
    pub trusted_proxies: TrustedProxies,
    /// Plain HTTP instead of HTTPS, behind a proxy that terminates TLS.
    pub plain_http: bool,
}

impl ReceiverConfig {
    /// A configuration for tests and embedding: loopback on a free port, the given secret, default limits.
    pub fn for_secret(secret: Secret) -> ReceiverConfig {
        ReceiverConfig {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            primary: secret,
            secret_origin: SecretOrigin::Given,
            secondary: None,
            cert: None,
            acme: None,
            data_dir: PathBuf::from(crate::data_dir::DEFAULT),
            api_key: None,
            allow_unsigned: false,
            allowed_rate: "*".into(),
            limits: Limits::default(),
            dedup_window: 100_000,
            trusted_proxies: TrustedProxies::default(),
            plain_http: false,
        }
    }

    /// Checks the options: reads the secret file, or generates a secret when none is given.
    pub fn from_options(options: &ReceiverOptions) -> Result<ReceiverConfig, ConfigError> {
        let (primary, secret_origin) = match (&options.secret, &options.secret_file) {
            (Some(s), _) => (Secret::new(s.clone()).map_err(ConfigError::Secret)?, SecretOrigin::Given),
            (None, Some(path)) => (read_secret_file(path)?, SecretOrigin::Given),
            (None, None) => (Secret::generate(), SecretOrigin::Generated),
        };
        let secondary = options
            .secondary_secret
            .as_ref()
            .map(|s| Secret::new(s.clone()).map_err(ConfigError::SecondarySecret))
            .transpose()?;
        let api_key = match &options.api_key {
            Some(k) if k.trim().is_empty() => return Err(ConfigError::EmptyApiKey),
            Some(k) => Some(Secret::new_unchecked(k.trim())),
            None => None,
        };
        if options.max_body == 0 {
            return Err(ConfigError::NoBody);
        }
        if options.max_connections == 0 || options.max_connections_per_ip == 0 {
            return Err(ConfigError::NoConnections);
        }
        let trusted_proxies = TrustedProxies::new(options.trusted_proxies.clone());
        if options.plain_http && !options.listen.ip().is_loopback() && trusted_proxies.is_empty() {
            return Err(ConfigError::PlainHttpExposed { listen: options.listen });
        }
        let secs = |flag: &'static str, value: f64| -> Result<Duration, ConfigError> {
            Duration::try_from_secs_f64(value).ok().filter(|d| !d.is_zero()).ok_or(ConfigError::Timeout { flag, value })
        };
        Ok(ReceiverConfig {
            listen: options.listen,
            primary,
            secret_origin,
            secondary,
            cert: options.cert.clone(),
            acme: options.acme.clone().map(AcmeOptions::normalized).transpose()?,
            data_dir: options.data_dir.clone(),
            api_key,
            allow_unsigned: options.allow_unsigned,
            allowed_rate: options.allowed_rate.clone(),
            limits: Limits {
                max_body: options.max_body,
                max_connections: options.max_connections,
                max_connections_per_ip: options.max_connections_per_ip,
                handshake_timeout: secs("handshake-timeout", options.handshake_timeout)?,
                header_timeout: secs("header-timeout", options.header_timeout)?,
                body_timeout: secs("body-timeout", options.body_timeout)?,
                idle_timeout: secs("idle-timeout", options.idle_timeout)?,
                shutdown_timeout: secs("shutdown-timeout", options.shutdown_timeout)?,
            },
            dedup_window: options.dedup_window.max(1),
            trusted_proxies,
            plain_http: options.plain_http,
        })
    }

    /// How the dashboard describes the secrets in use, without showing them.
    pub fn secret_state(&self) -> String {
        let primary = match self.secret_origin {
            SecretOrigin::Given => "primary",
            SecretOrigin::Generated => "generated",
        };
        match self.secondary {
            Some(_) => format!("{primary} + secondary"),
            None => primary.to_owned(),
        }
    }
}

fn read_secret_file(path: &Path) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::SecretFileUnreadable { path: path.to_owned(), source })?;
    Secret::new(text.trim()).map_err(|problem| ConfigError::SecretFileInvalid { path: path.to_owned(), problem })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `glwatch`'s defaults with `flags` (pairs of flag and value) applied.
    fn parse(flags: &[&str]) -> Result<ReceiverConfig, String> {
        let mut o = ReceiverOptions {
            listen: "0.0.0.0:8443".parse().unwrap(),
            secret: None,
            secret_file: None,
            secondary_secret: None,
            cert: None,
            acme: None,
            data_dir: PathBuf::from(crate::data_dir::DEFAULT),
            api_key: None,
            allow_unsigned: false,
            allowed_rate: "*".into(),
            max_body: 1024 * 1024,
            max_connections: 4096,
            max_connections_per_ip: 512,
            handshake_timeout: 10.0,
            header_timeout: 10.0,
            body_timeout: 30.0,
            idle_timeout: 60.0,
            shutdown_timeout: 10.0,
            dedup_window: 1_000_000,
            trusted_proxies: Vec::new(),
            plain_http: false,
        };
        for pair in flags.chunks(2) {
            let v = pair[1].to_owned();
            match pair[0] {
                "--secret" => o.secret = Some(v),
                "--secret-file" => o.secret_file = Some(v.into()),
                "--secondary-secret" => o.secondary_secret = Some(v),
                "--idle-timeout" => o.idle_timeout = v.parse().unwrap(),
                "--max-body" => o.max_body = v.parse().unwrap(),
                "--listen" => o.listen = v.parse().unwrap(),
                "--trusted-proxy" => o.trusted_proxies.push(v.parse().unwrap()),
                "--plain-http" => o.plain_http = v.parse().unwrap(),
                other => panic!("no such flag in this test: {other}"),
            }
        }
        ReceiverConfig::from_options(&o).map_err(|e| e.to_string())
    }

    #[test]
    fn generated_secret_when_none_given() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.secret_origin, SecretOrigin::Generated);
        assert_eq!(c.secret_state(), "generated");
    }

    #[test]
    fn secret_length_is_checked_without_echoing_it() {
        let e = parse(&["--secret", "abc"]).unwrap_err();
        assert!(e.starts_with("--secret:") && !e.contains("abc"), "{e}");
        let e = parse(&["--secondary-secret", "x".repeat(101).as_str()]).unwrap_err();
        assert!(e.starts_with("--secondary-secret:"), "{e}");
    }

    #[test]
    fn secret_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "glwatch-demo-secret\n").unwrap();
        let c = parse(&["--secret-file", p.to_str().unwrap()]).unwrap();
        assert_eq!(c.primary.expose(), "glwatch-demo-secret");
        let missing = dir.path().join("nope");
        let e = parse(&["--secret-file", missing.to_str().unwrap()]).unwrap_err();
        assert!(e.contains("nope") && e.contains("cannot read"), "{e}");
    }

    #[test]
    fn plain_http_needs_loopback_or_a_trusted_proxy() {
        let e = parse(&["--plain-http", "true", "--listen", "0.0.0.0:8080"]).unwrap_err();
        assert!(e.starts_with("--plain-http:") && !e.contains('\n'), "{e}");
        assert!(parse(&["--plain-http", "true", "--listen", "127.0.0.1:8080"]).unwrap().plain_http);
        assert!(parse(&["--plain-http", "true", "--listen", "[::1]:8080"]).is_ok());
        let c = parse(&["--plain-http", "true", "--listen", "0.0.0.0:8080", "--trusted-proxy", "10.0.0.0/8"]).unwrap();
        assert_eq!(c.trusted_proxies.describe(), "10.0.0.0/8");
        let c = parse(&["--trusted-proxy", "10.0.0.1", "--trusted-proxy", "fd00::/8"]).unwrap();
        assert_eq!(c.trusted_proxies.describe(), "10.0.0.1/32, fd00::/8");
    }

    #[test]
    fn bad_timeouts_are_refused() {
        assert!(parse(&["--idle-timeout", "0"]).unwrap_err().contains("--idle-timeout"));
        assert!(parse(&["--max-body", "0"]).is_err());
    }
}
