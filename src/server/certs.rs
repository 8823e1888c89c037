//! The certificate being served, changed without a restart: a resolver whose pair is swapped atomically, a task
//! that reloads the files when their contents change or on SIGHUP, and the expiry checks (at start and hourly)
//! that warn, or renew glwatch's own self-signed pair.
//!
//! A swap only affects handshakes that start after it: established connections keep the session they have.

use super::tls::{self, Identity, TlsError};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;
use time::OffsetDateTime;

/// How often the certificate and key files are read to see whether they changed. Reading two small files is
/// cheap, and comparing contents (not modification times) also sees certbot's swapped symlinks.
pub const POLL: Duration = Duration::from_secs(2);
/// How often expiry is checked after the check at start.
pub const EXPIRY_CHECK: Duration = Duration::from_secs(3600);
/// Under this much validity left the log warns and the dashboard header shows the date in yellow.
pub const WARN_BEFORE: time::Duration = time::Duration::days(14);
/// Under this much left the header shows it in red.
pub const ALERT_BEFORE: time::Duration = time::Duration::days(3);
/// Certificate and key files larger than this are not PEM a server would use; reading stops there.
const MAX_FILE: u64 = 1024 * 1024;

/// What the dashboard header (and later /metrics and /healthz) reads about the certificate being served.
#[derive(Debug)]
pub struct CertStatus {
    /// notAfter in Unix seconds; `i64::MIN` when it could not be read.
    not_after: AtomicI64,
    fingerprint: RwLock<String>,
}

impl Default for CertStatus {
    /// Nothing known yet: no fingerprint, no expiry.
    fn default() -> CertStatus {
        CertStatus { not_after: AtomicI64::new(i64::MIN), fingerprint: RwLock::new(String::new()) }
    }
}

impl CertStatus {
    /// When the serving certificate expires, if known.
    pub fn not_after(&self) -> Option<OffsetDateTime> {
        match self.not_after.load(Ordering::Relaxed) {
            i64::MIN => None,
            secs => OffsetDateTime::from_unix_timestamp(secs).ok(),
        }
    }

    /// SHA-256 fingerprint of the serving certificate.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How urgent the expiry is at `now`.
    pub fn urgency(&self, now: OffsetDateTime) -> Urgency {
        self.not_after().map_or(Urgency::Fine, |at| urgency(at, now))
    }

    /// Records what a new certificate says about itself. Public for other sources of certificates (ACME).
    pub fn set(&self, fingerprint: String, not_after: Option<OffsetDateTime>) {
        *self.fingerprint.write().unwrap_or_else(|p| p.into_inner()) = fingerprint;
        self.not_after.store(not_after.map_or(i64::MIN, OffsetDateTime::unix_timestamp), Ordering::Relaxed);
    }
}

/// How close a certificate is to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    Fine,
    /// Under [`WARN_BEFORE`] left.
    Soon,
    /// Under [`ALERT_BEFORE`] left.
    Imminent,
    Expired,
}

pub fn urgency(not_after: OffsetDateTime, now: OffsetDateTime) -> Urgency {
    let left = not_after - now;
    if left <= time::Duration::ZERO {
        Urgency::Expired
    } else if left < ALERT_BEFORE {
        Urgency::Imminent
    } else if left < WARN_BEFORE {
        Urgency::Soon
    } else {
        Urgency::Fine
    }
}

/// `2026-11-30`, how dates of certificates are shown.
pub fn day(at: OffsetDateTime) -> String {
    let d = at.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The resolver the server's TLS configuration asks at every handshake.
#[derive(Debug)]
pub struct ServingCert {
    current: RwLock<Arc<CertifiedKey>>,
    status: Arc<CertStatus>,
}

impl ResolvesServerCert for ServingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

impl ServingCert {
    /// Serves `identity`; fails, naming the files, when its key does not match.
    pub fn new(identity: &Identity) -> Result<Arc<ServingCert>, TlsError> {
        let serving = Arc::new(ServingCert { current: RwLock::new(identity.certified_key()?), status: Arc::default() });
        serving.note(identity);
        Ok(serving)
    }

    pub fn status(&self) -> Arc<CertStatus> {
        self.status.clone()
    }

    /// Serves `identity` from the next handshake on.
    fn install(&self, identity: &Identity) -> Result<(), TlsError> {
        let key = identity.certified_key()?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = key;
        self.note(identity);
        Ok(())
    }

    fn note(&self, identity: &Identity) {
        self.status.set(identity.fingerprint(), identity.facts().ok().map(|f| f.not_after));
    }
}

/// Logs a warning when the serving certificate has expired or has less than [`WARN_BEFORE`] left.
pub fn warn_if_expiring(path: &Path, status: &CertStatus, now: OffsetDateTime) {
    let Some(at) = status.not_after() else { return };
    match urgency(at, now) {
        Urgency::Fine => {}
        Urgency::Expired => tracing::warn!(
            "certificate {} expired on {}: clients will refuse it; replace it (glwatch reloads it without a restart)",
            path.display(),
            day(at)
        ),
        Urgency::Soon | Urgency::Imminent => tracing::warn!(
            "certificate {} expires on {} (in {} days); renew it (glwatch reloads it without a restart)",
            path.display(),
            day(at),
            (at - now).whole_days()
        ),
    }
}

/// Starts the task that keeps `serving` current: reloads `identity`'s files when their contents change or on
/// SIGHUP (a bad new pair is refused with one log line and the old one kept), checks expiry every hour and
/// renews glwatch's own self-signed pair when it nears its end. The task ends once the server has dropped
/// `serving`.
pub fn spawn_reloader(serving: &Arc<ServingCert>, identity: &Identity) -> tokio::task::JoinHandle<()> {
    let files = Files {
        cert: identity.cert_path.clone(),
        key: identity.key_path.clone(),
        managed: identity.managed,
        seen: digest(&identity.cert_path, &identity.key_path),
    };
    // Registered before returning, so a SIGHUP sent as soon as the banner is out cannot kill the process.
    let hangup = hangups();
    tokio::spawn(keep_current(Arc::downgrade(serving), files, hangup))
}

struct Files {
    cert: PathBuf,
    key: PathBuf,
    managed: bool,
    /// The contents last loaded or refused, so a bad pair is reported once, not every poll.
    seen: [u8; 32],
}

enum Wake {
    Poll,
    Hangup,
    Hourly,
}

async fn keep_current(serving: Weak<ServingCert>, mut files: Files, mut hangup: Hangups) {
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut hourly = tokio::time::interval_at(tokio::time::Instant::now() + EXPIRY_CHECK, EXPIRY_CHECK);
    hourly.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wake = tokio::select! {
            _ = poll.tick() => Wake::Poll,
            _ = hourly.tick() => Wake::Hourly,
            Some(()) = next_hangup(&mut hangup) => Wake::Hangup,
        };
        let Some(serving) = serving.upgrade() else { return };
        let path = files.cert.clone();
        // File reads and key parsing are blocking work, kept off the runtime's threads.
        files = match tokio::task::spawn_blocking(move || {
            wake_up(&serving, &mut files, wake);
            files
        })
        .await
        {
            Ok(files) => files,
            Err(e) => {
                tracing::error!("certificate reloading for {} stopped: {e}", path.display());
                return;
            }
        };
    }
}

fn wake_up(serving: &ServingCert, files: &mut Files, wake: Wake) {
    match wake {
        Wake::Poll => {
            let now = digest(&files.cert, &files.key);
            if now != files.seen {
                files.seen = now;
                reload(serving, files);
            }
        }
        Wake::Hangup => {
            tracing::info!("SIGHUP: reloading certificate {} and key {}", files.cert.display(), files.key.display());
            files.seen = digest(&files.cert, &files.key);
            reload(serving, files);
        }
        Wake::Hourly => {
            let now = OffsetDateTime::now_utc();
            if files.managed {
                renew(serving, files, now);
            }
            warn_if_expiring(&files.cert, &serving.status, now);
        }
    }
}

fn reload(serving: &ServingCert, files: &Files) {
    match tls::load(&files.cert, &files.key).and_then(|identity| serving.install(&identity).map(|()| identity)) {
        Ok(identity) => {
            let until = serving.status.not_after().map(day).unwrap_or_else(|| "an unreadable date".into());
            tracing::info!(
                "certificate reloaded from {}: SHA-256 {}, valid until {until}",
                files.cert.display(),
                identity.fingerprint()
            );
            warn_if_expiring(&files.cert, &serving.status, OffsetDateTime::now_utc());
        }
        Err(e) => tracing::warn!("new certificate refused, still serving the previous one: {e}"),
    }
}

fn renew(serving: &ServingCert, files: &mut Files, now: OffsetDateTime) {
    let Some(dir) = files.cert.parent() else { return };
    let renewed = tls::load(&files.cert, &files.key).and_then(|mut current| {
        current.managed = true;
        tls::renew_if_due(dir, &current, now)
    });
    match renewed {
        Ok(Some(identity)) => match serving.install(&identity) {
            Ok(()) => files.seen = digest(&files.cert, &files.key),
            Err(e) => tracing::warn!("renewed certificate not served: {e}"),
        },
        Ok(None) => {}
        Err(e) => tracing::warn!("self-signed certificate not renewed: {e}"),
    }
}

/// SHA-256 over both files' contents (or what stopped them being read, so a vanished file counts as a change).
fn digest(cert: &Path, key: &Path) -> [u8; 32] {
    let mut hash = Sha256::new();
    for path in [cert, key] {
        let mut bytes = Vec::new();
        match std::fs::File::open(path).and_then(|f| f.take(MAX_FILE).read_to_end(&mut bytes)) {
            Ok(n) => hash.update((n as u64).to_le_bytes()),
            Err(e) => hash.update(format!("unreadable: {e}")),
        }
        hash.update(&bytes);
    }
    hash.finalize().into()
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangups() -> Hangups {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("SIGHUP will not reload the certificate: {e}");
            None
        }
    }
}

#[cfg(not(unix))]
fn hangups() -> Hangups {}

#[cfg(unix)]
async fn next_hangup(hangups: &mut Hangups) -> Option<()> {
    match hangups {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) -> Option<()> {
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn urgency_thresholds() {
        let now = datetime!(2026-11-30 0:00 UTC);
        assert_eq!(urgency(now + time::Duration::days(30), now), Urgency::Fine);
        assert_eq!(urgency(now + time::Duration::days(13), now), Urgency::Soon);
        assert_eq!(urgency(now + time::Duration::days(2), now), Urgency::Imminent);
        assert_eq!(urgency(now, now), Urgency::Expired);
        assert_eq!(day(now), "2026-11-30");
    }

    #[test]
    fn the_hourly_check_renews_glwatch_s_own_pair_and_serves_it() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        let old = tls::tests::ending_pair(&certs, OffsetDateTime::now_utc() + time::Duration::days(40));
        let identity = tls::load_or_generate(&certs).unwrap();
        let serving = ServingCert::new(&identity).unwrap();
        let mut files = Files {
            cert: identity.cert_path.clone(),
            key: identity.key_path.clone(),
            managed: true,
            seen: digest(&identity.cert_path, &identity.key_path),
        };
        wake_up(&serving, &mut files, Wake::Hourly);
        assert_eq!(serving.status().fingerprint(), old, "40 days left: kept");
        // Twenty days later, under 30 days are left.
        renew(&serving, &mut files, OffsetDateTime::now_utc() + time::Duration::days(20));
        let renewed = serving.status().fingerprint();
        assert_ne!(renewed, old);
        assert_eq!(tls::load_or_generate(&certs).unwrap().fingerprint(), renewed, "written to disk too");
        assert_eq!(files.seen, digest(&files.cert, &files.key), "not reloaded again by the next poll");
    }

    #[test]
    fn the_resolver_serves_the_installed_pair_and_keeps_it_on_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let first = tls::load_or_generate(&dir.path().join("a")).unwrap();
        let second = tls::load_or_generate(&dir.path().join("b")).unwrap();
        let serving = ServingCert::new(&first).unwrap();
        let status = serving.status();
        assert_eq!(status.fingerprint(), first.fingerprint());
        let left = status.not_after().unwrap() - OffsetDateTime::now_utc();
        assert!(left > time::Duration::days(360) && left <= tls::GENERATED_VALIDITY, "{left}");
        serving.install(&second).unwrap();
        assert_eq!(status.fingerprint(), second.fingerprint());
        let mismatched = Identity { key: first.key.clone_key(), ..second };
        assert!(serving.install(&mismatched).is_err());
        assert_eq!(status.fingerprint(), mismatched.fingerprint(), "the pair in use did not change");
    }
}
