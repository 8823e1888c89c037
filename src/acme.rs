//! What `--acme` and its companion flags ask for, checked: kept apart from the server's ACME task so the
//! configuration does not depend on the server.

use rustls::pki_types::DnsName;
use std::path::PathBuf;

/// Let's Encrypt's production ACME directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// Let's Encrypt's staging ACME directory.
pub const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// What `--acme` and its companion flags ask for.
#[derive(Debug, Clone)]
pub struct AcmeOptions {
    pub domains: Vec<String>,
    pub email: Option<String>,
    /// The CA's ACME directory URL.
    pub directory: String,
    /// A PEM file of extra roots to trust for the CA's own HTTPS (a private CA such as step-ca or Pebble).
    pub ca: Option<PathBuf>,
    /// Where the account key and the certificates are kept.
    pub cache_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("--acme {0:?}: not a domain name a CA can certify (expected e.g. events.example.com; no IP addresses, no wildcards)")]
    BadDomain(String),
    #[error("--acme-email {0:?}: not an email address")]
    BadEmail(String),
    #[error("--acme-directory {0:?}: expected an https:// URL")]
    BadDirectory(String),
    #[error("--acme-ca {path}: {problem}")]
    BadCa { path: String, problem: String },
    #[error("TLS setup: {0}")]
    Tls(#[from] rustls::Error),
}

impl AcmeOptions {
    /// Lower-cases and checks the domains (duplicates dropped, order kept), the email and the directory URL.
    pub fn normalized(mut self) -> Result<AcmeOptions, AcmeError> {
        let mut domains: Vec<String> = Vec::with_capacity(self.domains.len());
        for raw in &self.domains {
            let d = raw.trim().trim_end_matches('.').to_ascii_lowercase();
            let is_ip = d.parse::<std::net::IpAddr>().is_ok();
            if is_ip || d.contains('*') || !d.contains('.') || DnsName::try_from(d.as_str()).is_err() {
                return Err(AcmeError::BadDomain(raw.clone()));
            }
            if !domains.contains(&d) {
                domains.push(d);
            }
        }
        if domains.is_empty() {
            return Err(AcmeError::BadDomain(String::new()));
        }
        self.domains = domains;
        if let Some(email) = &self.email {
            let e = email.trim();
            let ok = e.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
                && !e.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(AcmeError::BadEmail(email.clone()));
            }
            self.email = Some(e.to_owned());
        }
        if !self.directory.starts_with("https://") {
            return Err(AcmeError::BadDirectory(self.directory));
        }
        Ok(self)
    }
}
