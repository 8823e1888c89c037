//! TLS for the receiver: load the operator's certificate, or generate and reuse a self-signed one in certs/
//! (renewed when it nears its end), and the rustls server configuration over a certificate resolver.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ResolvesServerCert;
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const DEFAULT_CERT: &str = "certs/glwatch-cert.pem";
pub const DEFAULT_KEY: &str = "certs/glwatch-key.pem";
/// How long a generated self-signed certificate is valid.
pub const GENERATED_VALIDITY: time::Duration = time::Duration::days(365);
/// A generated certificate with less than this left is replaced (at start, and by the hourly check).
pub const RENEW_BEFORE: time::Duration = time::Duration::days(30);

/// Why a certificate or key could not be loaded or made: one line naming the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate file {}: {problem}", path.display())]
    Certificate { path: PathBuf, problem: String },
    #[error("certificate file {}: no PEM certificate found in it", path.display())]
    NoCertificate { path: PathBuf },
    #[error("key file {}: {problem}", path.display())]
    Key { path: PathBuf, problem: String },
    #[error("certificate {} and key {} cannot be used together: {source}", cert.display(), key.display())]
    Mismatch { cert: PathBuf, key: PathBuf, source: rustls::Error },
    #[error(
        "key file {}: not found, but its certificate {} exists; restore the key or delete the certificate to generate a new pair",
        key.display(),
        cert.display()
    )]
    KeyLost { cert: PathBuf, key: PathBuf },
    #[error(
        "certificate file {}: not found, but its key {} exists; restore the certificate or delete the key to generate a new pair",
        cert.display(),
        key.display()
    )]
    CertificateLost { cert: PathBuf, key: PathBuf },
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(rcgen::Error),
    #[error("certificate directory {}: {source}", dir.display())]
    Directory { dir: PathBuf, source: std::io::Error },
    #[error("{}: cannot create: {source}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}: cannot replace: {source}", path.display())]
    Replace { path: PathBuf, source: std::io::Error },
    #[error("certificate file {}: {source}", path.display())]
    Unparsable { path: PathBuf, source: super::x509::X509Error },
}

/// A certificate chain and its key, ready to serve.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    /// True when this start generated the pair.
    pub generated: bool,
    /// The pair is glwatch's own self-signed one (the default in certs/), which it may replace when it nears
    /// its end. An operator's --cert is never replaced.
    pub managed: bool,
}

impl Identity {
    /// SHA-256 of the leaf certificate, upper-case hex pairs joined by colons (as browsers and openssl show it).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.chain[0])
    }
}

pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    Sha256::digest(cert.as_ref()).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// Loads the given pair. Errors are one line naming the file and the problem.
pub fn load(cert: &Path, key: &Path) -> Result<Identity, TlsError> {
    let bad_cert =
        |e: rustls::pki_types::pem::Error| TlsError::Certificate { path: cert.to_owned(), problem: pem_problem(&e) };
    let chain =
        CertificateDer::pem_file_iter(cert).map_err(bad_cert)?.collect::<Result<Vec<_>, _>>().map_err(bad_cert)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: cert.to_owned() });
    }
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::Key { path: key.to_owned(), problem: pem_problem(&e) })?;
    let identity = Identity {
        chain,
        key: key_der,
        cert_path: cert.to_owned(),
        key_path: key.to_owned(),
        generated: false,
        managed: false,
    };
    // Checked here so a key that does not match the certificate is reported when loading, naming the files.
    identity.certified_key()?;
    Ok(identity)
}

impl Identity {
    /// The pair as rustls serves it. Fails, naming both files, when the key does not match the certificate.
    pub fn certified_key(&self) -> Result<Arc<CertifiedKey>, TlsError> {
        CertifiedKey::from_der(self.chain.clone(), self.key.clone_key(), &provider())
            .map(Arc::new)
            .map_err(|source| TlsError::Mismatch { cert: self.cert_path.clone(), key: self.key_path.clone(), source })
    }

    /// When the leaf certificate expires and whether it is self-issued.
    pub fn facts(&self) -> Result<super::x509::CertFacts, TlsError> {
        super::x509::facts(&self.chain[0])
            .map_err(|source| TlsError::Unparsable { path: self.cert_path.clone(), source })
    }
}

fn pem_problem(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => "not found".into(),
        Error::Io(io) => format!("cannot read: {io}"),
        Error::NoItemsFound => "no PEM item of the expected kind found in it".into(),
        Error::MissingSectionEnd { end_marker } => format!(
            "not valid PEM: the {} section has no END line (a file cut short?)",
            crate::text::escape(&String::from_utf8_lossy(end_marker))
        ),
        Error::IllegalSectionStart { .. } => "not valid PEM: a malformed BEGIN line".into(),
        other => format!("not valid PEM: {other}"),
    }
}

/// The default pair under `dir` (`certs/` of the data directory, see `crate::data_dir`): reused when both files
/// exist, generated when neither does, and generated anew when the existing one is self-signed and expired or has
/// less than [`RENEW_BEFORE`] left. One file without the other is an error, so a lost key is never silently
/// replaced.
pub fn load_or_generate(dir: &Path) -> Result<Identity, TlsError> {
    let cert = dir.join("glwatch-cert.pem");
    let key = dir.join("glwatch-key.pem");
    match (cert.exists(), key.exists()) {
        (true, true) => {
            let mut identity = load(&cert, &key)?;
            identity.managed = true;
            match renew_if_due(dir, &identity, time::OffsetDateTime::now_utc())? {
                Some(renewed) => Ok(renewed),
                None => Ok(identity),
            }
        }
        (false, false) => generate(dir, &cert, &key),
        (true, false) => Err(TlsError::KeyLost { cert, key }),
        (false, true) => Err(TlsError::CertificateLost { cert, key }),
    }
}

/// Replaces glwatch's own self-signed pair in `dir` with a new one when it has expired or expires within
/// [`RENEW_BEFORE`] of `now`, with a log line giving the new fingerprint. Returns the new pair, or `None` when
/// the current one is kept. A pair that is not self-issued was put there by someone else and is left alone.
pub fn renew_if_due(dir: &Path, current: &Identity, now: time::OffsetDateTime) -> Result<Option<Identity>, TlsError> {
    let facts = current.facts()?;
    if !current.managed || !facts.self_issued || facts.not_after - now >= RENEW_BEFORE {
        return Ok(None);
    }
    let why = if facts.not_after <= now { "expired on" } else { "expires on" };
    let renewed = generate(dir, &current.cert_path, &current.key_path)?;
    tracing::info!(
        "self-signed certificate {} {why} {}: generated a new one valid until {}, SHA-256 {}",
        current.cert_path.display(),
        super::certs::day(facts.not_after),
        super::certs::day(renewed.facts()?.not_after),
        renewed.fingerprint()
    );
    Ok(Some(renewed))
}

/// Generates a self-signed pair valid for [`GENERATED_VALIDITY`], replacing the files if they exist (each one
/// written whole beside it and renamed over it).
fn generate(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<Identity, TlsError> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    if let Some(host) = gethostname::gethostname().to_str().filter(|h| !h.is_empty() && *h != "localhost") {
        names.push(host.to_owned());
    }
    let mut params = rcgen::CertificateParams::new(names).map_err(TlsError::Generate)?;
    let now = time::OffsetDateTime::now_utc();
    // A little in the past, so a client whose clock is slightly behind still accepts it.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + GENERATED_VALIDITY;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "glwatch self-signed");
    let key_pair = rcgen::KeyPair::generate().map_err(TlsError::Generate)?;
    let cert = params.self_signed(&key_pair).map_err(TlsError::Generate)?;
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Directory { dir: dir.to_owned(), source })?;
    replace_file(key_path, key_pair.serialize_pem().as_bytes(), 0o600)?;
    replace_file(cert_path, cert.pem().as_bytes(), 0o644)?;
    let mut identity = load(cert_path, key_path)?;
    identity.generated = true;
    identity.managed = true;
    Ok(identity)
}

fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    // Left over from an interrupted run: it was never in use.
    let _ = std::fs::remove_file(&tmp);
    write_file(&tmp, bytes, mode)?;
    std::fs::rename(&tmp, path).map_err(|source| TlsError::Replace { path: path.to_owned(), source })
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), TlsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Created with the final mode, so the key is never readable by others, not even for a moment.
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = options.open(path).map_err(|source| TlsError::Create { path: path.to_owned(), source })?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|source| TlsError::Write { path: path.to_owned(), source })
}

/// The rustls provider of the whole build. Only ring is compiled in.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.2 and 1.3, ALPN h2 then http/1.1, no client certificates; each handshake asks `certificates` what to
/// present, so what it resolves to can change (a reload, an ACME renewal) without touching the acceptor.
pub fn server_config(certificates: Arc<dyn ResolvesServerCert>) -> Result<rustls::ServerConfig, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(certificates);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reuses_with_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        let first = load_or_generate(&certs).unwrap();
        assert!(first.generated);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(certs.join("glwatch-key.pem")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = load_or_generate(&certs).unwrap();
        assert!(!second.generated);
        assert_eq!(first.fingerprint(), second.fingerprint());
        assert_eq!(first.fingerprint().len(), 32 * 3 - 1);
    }

    #[test]
    fn bad_files_give_one_line_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(&dir.path().join("c.pem"), &dir.path().join("k.pem")).err().unwrap().to_string();
        assert!(e.contains("c.pem") && e.contains("not found"), "{e}");
        std::fs::write(dir.path().join("c.pem"), "garbage").unwrap();
        let e = load(&dir.path().join("c.pem"), &dir.path().join("k.pem")).err().unwrap().to_string();
        assert!(e.contains("c.pem") && e.contains("no PEM"), "{e}");
        // A lone certificate (its key lost) is an error, not a reason to replace the pair.
        let certs = dir.path().join("certs");
        load_or_generate(&certs).unwrap();
        std::fs::remove_file(certs.join("glwatch-key.pem")).unwrap();
        let e = load_or_generate(&certs).err().unwrap().to_string();
        assert!(e.contains("glwatch-key.pem") && !e.contains('\n'), "{e}");
    }

    /// A self-signed pair at `dir`'s default names that ends at `not_after`; returns its fingerprint.
    pub(crate) fn ending_pair(dir: &Path, not_after: time::OffsetDateTime) -> String {
        std::fs::create_dir_all(dir).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.not_after = not_after;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join("glwatch-cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("glwatch-key.pem"), key.serialize_pem()).unwrap();
        fingerprint(cert.der())
    }

    #[test]
    fn only_glwatch_s_own_pair_is_renewed_and_only_near_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let now = time::OffsetDateTime::now_utc();
        let certs = dir.path().join("certs");
        let old = ending_pair(&certs, now + time::Duration::days(40));
        assert_eq!(load_or_generate(&certs).unwrap().fingerprint(), old, "40 days left: kept");
        let old = ending_pair(&certs, now - time::Duration::days(1));
        let renewed = load_or_generate(&certs).unwrap();
        assert!(renewed.generated && renewed.fingerprint() != old, "expired: renewed");
        assert!(!certs.join("glwatch-cert.pem.new").exists());
        // The same files given as --cert/--key are the operator's: never replaced, whatever their date.
        let old = ending_pair(&certs, now - time::Duration::days(1));
        let operator = load(&certs.join("glwatch-cert.pem"), &certs.join("glwatch-key.pem")).unwrap();
        assert!(renew_if_due(&certs, &operator, now).unwrap().is_none());
        assert_eq!(operator.fingerprint(), old);
    }

    #[test]
    fn mismatched_key_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        load_or_generate(&dir.path().join("a")).unwrap();
        load_or_generate(&dir.path().join("b")).unwrap();
        let e = load(&dir.path().join("a/glwatch-cert.pem"), &dir.path().join("b/glwatch-key.pem"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("cannot be used together"), "{e}");
    }
}
