//! Validated receiver settings built from the command line: secrets read and checked, timeouts as durations.

use crate::cli::RunArgs;
use crate::greenlake::Secret;
use crate::server::acme::{self, AcmeOptions};
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

/// Everything the receiver needs to answer requests.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub listen: SocketAddr,
    pub primary: Secret,
    pub secret_origin: SecretOrigin,
    pub secondary: Option<Secret>,
    pub cert: Option<(PathBuf, PathBuf)>,
    /// Certificates from an ACME CA instead of `cert` or the generated pair.
    pub acme: Option<AcmeOptions>,
    /// Where the generated certificate and the ACME cache go.
    pub data_dir: PathBuf,
    pub api_key: Option<Secret>,
    pub allow_unsigned: bool,
    pub allowed_rate: String,
    pub limits: Limits,
    pub dedup_window: usize,
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
        }
    }

    /// Checks the flags. Errors are one line naming the flag or file and the problem.
    pub fn from_args(args: &RunArgs) -> Result<ReceiverConfig, String> {
        let (primary, secret_origin) = match (&args.secret, &args.secret_file) {
            (Some(s), _) => (Secret::new(s.clone()).map_err(|e| format!("--secret: {e}"))?, SecretOrigin::Given),
            (None, Some(path)) => (read_secret_file(path)?, SecretOrigin::Given),
            (None, None) => (Secret::generate(), SecretOrigin::Generated),
        };
        let secondary = args
            .secondary_secret
            .as_ref()
            .map(|s| Secret::new(s.clone()).map_err(|e| format!("--secondary-secret: {e}")))
            .transpose()?;
        let api_key = match &args.api_key {
            Some(k) if k.trim().is_empty() => return Err("--api-key: must not be empty".into()),
            Some(k) => Some(Secret::new_unchecked(k.trim())),
            None => None,
        };
        if args.max_body == 0 {
            return Err("--max-body: must be at least 1 byte".into());
        }
        if args.max_connections == 0 || args.max_connections_per_ip == 0 {
            return Err("--max-connections and --max-connections-per-ip must be at least 1".into());
        }
        let secs = |name: &str, v: f64| -> Result<Duration, String> {
            Duration::try_from_secs_f64(v)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| format!("--{name}: must be a positive number of seconds, got {v}"))
        };
        Ok(ReceiverConfig {
            listen: args.listen,
            primary,
            secret_origin,
            secondary,
            cert: args.cert.clone().zip(args.key.clone()),
            acme: acme_options(args)?,
            data_dir: args.data_dir.clone(),
            api_key,
            allow_unsigned: args.allow_unsigned,
            allowed_rate: args.allowed_rate.clone(),
            limits: Limits {
                max_body: args.max_body,
                max_connections: args.max_connections,
                max_connections_per_ip: args.max_connections_per_ip,
                handshake_timeout: secs("handshake-timeout", args.handshake_timeout)?,
                header_timeout: secs("header-timeout", args.header_timeout)?,
                body_timeout: secs("body-timeout", args.body_timeout)?,
                idle_timeout: secs("idle-timeout", args.idle_timeout)?,
                shutdown_timeout: secs("shutdown-timeout", args.shutdown_timeout)?,
            },
            dedup_window: args.dedup_window.max(1),
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

/// `--acme` and its companions, checked now so a typo stops the start with one line.
fn acme_options(args: &RunArgs) -> Result<Option<AcmeOptions>, String> {
    if args.acme.is_empty() {
        return Ok(None);
    }
    let directory = match (&args.acme_directory, args.acme_staging) {
        (Some(url), _) => url.clone(),
        (None, true) => acme::LETS_ENCRYPT_STAGING.to_owned(),
        (None, false) => acme::LETS_ENCRYPT.to_owned(),
    };
    let options = AcmeOptions {
        domains: args.acme.clone(),
        email: args.acme_email.clone(),
        directory,
        ca: args.acme_ca.clone(),
        cache_dir: crate::data_dir::acme_cache(&args.data_dir),
    };
    options.normalized().map(Some).map_err(|e| e.to_string())
}

fn read_secret_file(path: &Path) -> Result<Secret, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--secret-file {}: cannot read: {e}", path.display()))?;
    Secret::new(text.trim()).map_err(|e| format!("--secret-file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<ReceiverConfig, String> {
        let mut v = vec!["glwatch"];
        v.extend_from_slice(args);
        ReceiverConfig::from_args(&Cli::try_parse_from(v).unwrap().run)
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
    fn bad_timeouts_are_refused() {
        assert!(parse(&["--idle-timeout", "0"]).unwrap_err().contains("--idle-timeout"));
        assert!(parse(&["--max-body", "0"]).is_err());
    }
}
