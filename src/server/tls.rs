//! TLS for the receiver: load the operator's certificate, or generate and reuse a self-signed one in certs/.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const DEFAULT_CERT: &str = "certs/glwatch-cert.pem";
pub const DEFAULT_KEY: &str = "certs/glwatch-key.pem";

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
}

/// A certificate chain and its key, ready to serve.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub cert_path: PathBuf,
    /// True when this start generated the pair.
    pub generated: bool,
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
    let identity = Identity { chain, key: key_der, cert_path: cert.to_owned(), generated: false };
    // Build once here so a key that does not match the certificate is reported at start, naming the files.
    server_config(&identity).map_err(|source| TlsError::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        source,
    })?;
    Ok(identity)
}

fn pem_problem(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match e {
        Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound => "not found".into(),
        Error::Io(io) => format!("cannot read: {io}"),
        Error::NoItemsFound => "no PEM item of the expected kind found in it".into(),
        other => format!("not valid PEM: {other:?}"),
    }
}

/// The default pair under `dir` (certs/ in the working directory): reused when both files exist, generated
/// when neither does. One without the other is an error, so a lost key is never silently replaced.
pub fn load_or_generate(dir: &Path) -> Result<Identity, TlsError> {
    let cert = dir.join("glwatch-cert.pem");
    let key = dir.join("glwatch-key.pem");
    match (cert.exists(), key.exists()) {
        (true, true) => load(&cert, &key),
        (false, false) => generate(dir, &cert, &key),
        (true, false) => Err(TlsError::KeyLost { cert, key }),
        (false, true) => Err(TlsError::CertificateLost { cert, key }),
    }
}

fn generate(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<Identity, TlsError> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    if let Some(host) = gethostname::gethostname().to_str().filter(|h| !h.is_empty() && *h != "localhost") {
        names.push(host.to_owned());
    }
    let certified = rcgen::generate_simple_self_signed(names).map_err(TlsError::Generate)?;
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Directory { dir: dir.to_owned(), source })?;
    write_file(key_path, certified.key_pair.serialize_pem().as_bytes(), 0o600)?;
    write_file(cert_path, certified.cert.pem().as_bytes(), 0o644)?;
    let mut identity = load(cert_path, key_path)?;
    identity.generated = true;
    Ok(identity)
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

/// TLS 1.2 and 1.3, ALPN h2 then http/1.1, no client certificates.
pub fn server_config(identity: &Identity) -> Result<rustls::ServerConfig, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
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
