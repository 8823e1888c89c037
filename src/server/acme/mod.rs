//! Certificates from an ACME CA (`--acme`): TLS-ALPN-01 answered on the receiver's own port, the account and
//! certificates cached in a private directory, renewal on schedule and retries with back-off, every step logged.
//!
//! rustls-acme drives the protocol; this module owns the policy around it. The receiver keeps its own accept loop:
//! its TLS config gets [`AcmeResolver`] and `acme-tls/1` as its last ALPN protocol, and the listener closes a
//! connection that negotiated `acme-tls/1` right after the handshake (the CA only checks the certificate).

mod cache;
mod log_bridge;

use super::certs::CertStatus;
use cache::{Observed, SecureDirCache};
use futures_util::StreamExt;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_acme::{is_tls_alpn_challenge, AcmeConfig, AcmeState, EventError, EventOk, ResolvesServerCertAcme};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// The ALPN protocol of TLS-ALPN-01 validation connections (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = rustls_acme::acme::ACME_TLS_ALPN_NAME;
/// Certificates shorter-lived than this are renewed at half their lifetime rather than with a third left.
const SHORT_LIVED: Duration = Duration::from_secs(10 * 24 * 3600);

pub use crate::acme::{AcmeError, AcmeOptions, LETS_ENCRYPT, LETS_ENCRYPT_STAGING};

/// ACME running beside the receiver: its resolver serves the certificate, its task orders and renews. Dropping it
/// stops the task.
pub struct RunningAcme {
    pub resolver: Arc<AcmeResolver>,
    /// The checked options (domains lower-cased, duplicates dropped).
    pub options: AcmeOptions,
    /// The SHA-256 fingerprint of the certificate for these domains from this CA found in the cache at start,
    /// which is served at once; `None` when there is none (or it cannot be read) and one is ordered.
    pub cached: Option<String>,
    /// The certificate being served (fingerprint and expiry) as ACME deploys and renews it, for the dashboard's
    /// header, /healthz and the metrics; until the first one, its fingerprint says that it is waiting.
    pub status: Arc<CertStatus>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RunningAcme {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RunningAcme {
    /// The receiver's TLS config: the ACME resolver, and `acme-tls/1` after h2 and http/1.1 (rustls picks by the
    /// server's order, so a client offering more than `acme-tls/1` never gets it).
    pub fn server_config(&self) -> Result<rustls::ServerConfig, AcmeError> {
        let mut config = super::tls::server_config(self.resolver.clone())?;
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
        Ok(config)
    }
}

/// Starts the ACME task on the current tokio runtime. The first certificate comes from the cache at once when
/// there is one; otherwise it is ordered, and TLS clients other than the CA's validation are refused meanwhile.
pub fn start(options: AcmeOptions, listen_port: u16) -> Result<RunningAcme, AcmeError> {
    let options = options.normalized()?;
    log_bridge::install();
    let client = Arc::new(
        rustls::ClientConfig::builder_with_provider(super::tls::provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots(options.ca.as_deref())?)
            .with_no_client_auth(),
    );
    let observed = Arc::new(Observed::default());
    let status = Arc::new(CertStatus::default());
    let settings = Settings { options, client, observed, status: status.clone() };
    let state = settings.new_state();
    let resolver = Arc::new(AcmeResolver::new(state.resolver()));
    if listen_port != 443 {
        tracing::warn!(
            "ACME: the CA validates on port 443; make sure port 443 of {} reaches this listener on port {listen_port}",
            settings.options.domains.join(", ")
        );
    }
    tracing::info!(
        "ACME: certificate for {} from {}; cache {}",
        settings.options.domains.join(", "),
        settings.options.directory,
        settings.options.cache_dir.display()
    );
    let cached = std::fs::read(SecureDirCache::cert_file(&settings.options)).ok().and_then(|pem| parse(&pem).ok());
    match &cached {
        Some(cert) => cert.report(&status),
        None => status.set(format!("waiting for ACME ({})", settings.options.domains[0]), None),
    }
    let cached = cached.map(|cert| cert.fingerprint);
    let options = settings.options.clone();
    // Registered here rather than in the task, so SIGHUP is handled from the moment this returns.
    let hangups = Hangups::new();
    let task = tokio::spawn(manage(settings, state, resolver.clone(), hangups));
    Ok(RunningAcme { resolver, options, cached, status, task })
}

/// The CA's own HTTPS is checked against the public roots, plus `--acme-ca` when given.
fn roots(extra: Option<&Path>) -> Result<rustls::RootCertStore, AcmeError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = extra {
        let bad = |problem: String| AcmeError::BadCa { path: path.display().to_string(), problem };
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| bad(format!("cannot read PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate found in it".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
        }
    }
    Ok(roots)
}

struct Settings {
    options: AcmeOptions,
    client: Arc<rustls::ClientConfig>,
    observed: Arc<Observed>,
    status: Arc<CertStatus>,
}

type State = AcmeState<std::io::Error, std::io::Error>;

impl Settings {
    fn new_state(&self) -> State {
        let mut config = AcmeConfig::new_with_client_config(&self.options.domains, self.client.clone())
            .directory(&self.options.directory)
            .challenge_type(rustls_acme::UseChallenge::TlsAlpn01);
        if let Some(email) = &self.options.email {
            config = config.contact_push(format!("mailto:{email}"));
        }
        config.cache(SecureDirCache::new(self.options.cache_dir.clone(), self.observed.clone())).state()
    }

    fn names(&self) -> String {
        self.options.domains.join(", ")
    }
}

/// Polls rustls-acme's state machine (nothing happens unless it is polled), logs each of its events, and renews
/// short-lived certificates at half their lifetime: rustls-acme itself waits until a third is left, so for those a
/// fresh state is started that skips the cached certificate, while the resolver keeps serving the current one.
async fn manage(settings: Settings, mut state: State, resolver: Arc<AcmeResolver>, mut hangups: Hangups) {
    let mut order_since = Some(Instant::now());
    let mut order_failures: u32 = 0;
    let mut deployed: Option<Deployed> = None;
    let mut early_renewal: Option<SystemTime> = None;
    loop {
        let until_renewal = early_renewal.map(|at| at.duration_since(SystemTime::now()).unwrap_or_default());
        let event = tokio::select! {
            event = state.next() => event,
            () = hangups.next() => {
                tracing::info!("SIGHUP: nothing to reload, ACME certificates are renewed as they come due");
                continue;
            }
            () = sleep_for(until_renewal) => {
                tracing::info!(
                    "ACME: the certificate for {} is half-way through its short lifetime; ordering a new one (the current one is served meanwhile)",
                    settings.names()
                );
                early_renewal = None;
                order_since = Some(Instant::now());
                settings.observed.skip_next_load();
                state = settings.new_state();
                resolver.follow(state.resolver());
                continue;
            }
        };
        // The stream never ends.
        let Some(event) = event else { return };
        match event {
            Ok(EventOk::DeployedCachedCert) => deployed = Some(Deployed::Cached),
            Ok(EventOk::DeployedNewCert) => {
                order_failures = 0;
                // Whatever the cache saw before belongs to an earlier certificate; the new one is seen when stored.
                settings.observed.take_cert();
                deployed = Some(Deployed::New(order_since.take().map(|t| t.elapsed())));
            }
            Ok(EventOk::CertCacheStore) => {
                tracing::info!("ACME: certificate saved in {}", settings.options.cache_dir.display())
            }
            Ok(EventOk::AccountCacheStore) => tracing::info!(
                "ACME: no account key cached; created one, saved in {}",
                settings.options.cache_dir.display()
            ),
            Err(EventError::Order(e)) => {
                // rustls-acme waits 2^n seconds after the n-th failure in a row, n at most 16 (about 18 hours).
                let wait = 1u64 << order_failures.min(16);
                order_failures = order_failures.saturating_add(1);
                tracing::warn!(
                    "ACME: ordering a certificate for {} failed (attempt {order_failures}): {e}; next attempt in {wait} s",
                    settings.names()
                );
            }
            Err(e) => tracing::warn!("ACME: {e}"),
        }
        if let Some(kind) = deployed {
            if let Some(pem) = settings.observed.take_cert() {
                deployed = None;
                match parse(&pem) {
                    Ok(cert) => {
                        announce(&settings, kind, &cert);
                        early_renewal = cert.early_renewal();
                        cert.report(&settings.status);
                        resolver.keep_serving(cert.key);
                    }
                    Err(e) => tracing::warn!("ACME: the certificate just deployed cannot be read back: {e}"),
                }
            }
        }
    }
}

/// SIGHUP (`systemctl reload`) would end the process by default; with ACME there is no file to reload, so it is
/// only acknowledged.
struct Hangups(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

impl Hangups {
    fn new() -> Hangups {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
            Hangups(signal.map_err(|e| tracing::warn!("cannot listen for SIGHUP: {e}")).ok())
        }
        #[cfg(not(unix))]
        Hangups()
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.0 {
            if signal.recv().await.is_some() {
                return;
            }
        }
        std::future::pending().await
    }
}

async fn sleep_for(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

#[derive(Debug, Clone, Copy)]
enum Deployed {
    Cached,
    /// How long the order took, when this process saw it start.
    New(Option<Duration>),
}

struct ParsedCert {
    key: Arc<CertifiedKey>,
    fingerprint: String,
    not_before: SystemTime,
    not_after: SystemTime,
}

impl ParsedCert {
    /// Makes this the certificate the status reports.
    fn report(&self, status: &CertStatus) {
        status.set(self.fingerprint.clone(), Some(time::OffsetDateTime::from(self.not_after)));
    }

    /// When this module renews ahead of rustls-acme (which renews with a third of the lifetime left).
    fn early_renewal(&self) -> Option<SystemTime> {
        early_renewal(self.not_before, self.not_after)
    }
}

/// Half-way through a lifetime under [`SHORT_LIVED`]; `None` for longer ones, which rustls-acme renews itself.
fn early_renewal(not_before: SystemTime, not_after: SystemTime) -> Option<SystemTime> {
    let lifetime = not_after.duration_since(not_before).ok()?;
    (lifetime < SHORT_LIVED).then(|| not_before + lifetime / 2)
}

/// When the certificate will be renewed, by whichever schedule applies.
fn renewal_due(not_before: SystemTime, not_after: SystemTime) -> SystemTime {
    early_renewal(not_before, not_after).unwrap_or_else(|| {
        let lifetime = not_after.duration_since(not_before).unwrap_or_default();
        not_after - lifetime / 3
    })
}

/// The cache's format: the certificate's PKCS#8 key, then the chain.
fn parse(pem: &[u8]) -> Result<ParsedCert, String> {
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("key: {e:?}"))?;
    let chain = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>().map_err(|e| format!("{e:?}"))?;
    let leaf = chain.first().ok_or("no certificate")?;
    let (_, x509) = x509_parser::parse_x509_certificate(leaf).map_err(|e| format!("certificate: {e}"))?;
    let at = |t: x509_parser::time::ASN1Time| {
        let secs = t.timestamp();
        if secs >= 0 {
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
        } else {
            SystemTime::UNIX_EPOCH
        }
    };
    let (not_before, not_after) = (at(x509.validity().not_before), at(x509.validity().not_after));
    let fingerprint = super::tls::fingerprint(leaf);
    let signing = super::tls::provider().key_provider.load_private_key(key).map_err(|e| format!("key: {e}"))?;
    Ok(ParsedCert { key: Arc::new(CertifiedKey::new(chain, signing)), fingerprint, not_before, not_after })
}

fn announce(settings: &Settings, kind: Deployed, cert: &ParsedCert) {
    let names = settings.names();
    let date = |t: SystemTime| {
        let t = time::OffsetDateTime::from(t).replace_nanosecond(0).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
    };
    let validity = format!(
        "SHA-256 {}, valid {} to {}, renewal from {}",
        cert.fingerprint,
        date(cert.not_before),
        date(cert.not_after),
        date(renewal_due(cert.not_before, cert.not_after))
    );
    match kind {
        Deployed::Cached => {
            tracing::info!("ACME: serving the cached certificate for {names}, no new order: {validity}")
        }
        Deployed::New(Some(took)) => tracing::info!(
            "ACME: serving a new certificate for {names}, issued in {:.1} s: {validity}",
            took.as_secs_f64()
        ),
        Deployed::New(None) => tracing::info!("ACME: serving a renewed certificate for {names}: {validity}"),
    }
}

/// The receiver's certificate resolver: rustls-acme's (the current certificate, or the challenge certificate for
/// a validation connection), else the last certificate deployed while a fresh state orders its replacement. With
/// no certificate at all (before the first one arrives) the handshake fails: a self-signed stand-in would only
/// teach clients to ignore certificate errors, and GreenLake refuses it anyway.
#[derive(Debug)]
pub struct AcmeResolver {
    current: RwLock<Arc<ResolvesServerCertAcme>>,
    last: RwLock<Option<Arc<CertifiedKey>>>,
    refused: AtomicU64,
    strays: AtomicU64,
}

impl AcmeResolver {
    fn new(inner: Arc<ResolvesServerCertAcme>) -> AcmeResolver {
        AcmeResolver {
            current: RwLock::new(inner),
            last: RwLock::new(None),
            refused: AtomicU64::new(0),
            strays: AtomicU64::new(0),
        }
    }

    fn follow(&self, inner: Arc<ResolvesServerCertAcme>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = inner;
    }

    fn keep_serving(&self, key: Arc<CertifiedKey>) {
        *self.last.write().unwrap_or_else(|p| p.into_inner()) = Some(key);
    }
}

impl ResolvesServerCert for AcmeResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validation = is_tls_alpn_challenge(&hello);
        let inner = self.current.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(key) = inner.resolve(hello) {
            return Some(key);
        }
        if validation {
            // Anyone can send such a ClientHello: one line at info, the rest at debug.
            let message = "ACME: refused a TLS-ALPN-01 validation handshake: no challenge pending for its name";
            if self.strays.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::info!("{message}");
            } else {
                tracing::debug!("{message}");
            }
            return None;
        }
        let last = self.last.read().unwrap_or_else(|p| p.into_inner()).clone();
        if last.is_none() {
            // Once at info, so the log explains why early clients fail without one line per attempt.
            if self.refused.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::info!("ACME: refusing TLS clients (handshake failure) until the first certificate arrives");
            } else {
                tracing::debug!("ACME: refused a TLS client: no certificate yet");
            }
        }
        last
    }
}

#[cfg(test)]
mod tests;
