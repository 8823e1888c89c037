//! The ACME cache on disk: account and certificate keys in a private directory (0700, files 0600), written
//! atomically, under the same file names as rustls-acme's own `DirCache`.

use async_trait::async_trait;
use base64::prelude::*;
use rustls_acme::{AccountCache, CertCache};
use sha2::{Digest, Sha256};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What the cache saw, for the manager: rustls-acme reports that a certificate was deployed but not which one.
#[derive(Debug, Default)]
pub(crate) struct Observed {
    /// The certificate PEM (key first, then the chain) last loaded or stored, until the manager takes it.
    last_cert: Mutex<Option<Vec<u8>>>,
    /// Makes the next certificate load report nothing, so a fresh state orders a new certificate (renewal
    /// earlier than rustls-acme's own schedule).
    skip_next_load: AtomicBool,
}

impl Observed {
    pub(crate) fn take_cert(&self) -> Option<Vec<u8>> {
        self.last_cert.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    pub(crate) fn skip_next_load(&self) {
        self.skip_next_load.store(true, Ordering::SeqCst);
    }

    fn saw_cert(&self, pem: &[u8]) {
        *self.last_cert.lock().unwrap_or_else(|p| p.into_inner()) = Some(pem.to_vec());
    }
}

/// rustls-acme's `DirCache` writes with the umask (0755/0644 typically), but the certificate file holds the
/// certificate's private key and the account file the account key.
pub(crate) struct SecureDirCache {
    dir: PathBuf,
    observed: Arc<Observed>,
}

impl SecureDirCache {
    pub(crate) fn new(dir: PathBuf, observed: Arc<Observed>) -> Self {
        Self { dir, observed }
    }

    /// The naming scheme of rustls-acme 0.15's `DirCache`, so a directory it wrote keeps working:
    /// base64url(sha256(item\0 ... + directory_url)).
    fn file_name(prefix: &str, items: &[String], directory_url: &str) -> String {
        let mut hash = Sha256::new();
        for item in items {
            hash.update(item.as_bytes());
            hash.update([0]);
        }
        hash.update(directory_url.as_bytes());
        format!("{prefix}{}", BASE64_URL_SAFE_NO_PAD.encode(hash.finalize()))
    }

    /// Where the certificate for these options is cached.
    pub(crate) fn cert_file(options: &super::AcmeOptions) -> PathBuf {
        options.cache_dir.join(Self::file_name("cached_cert_", &options.domains, &options.directory))
    }

    async fn read(&self, name: String) -> std::io::Result<Option<Vec<u8>>> {
        let (dir, path) = (self.dir.clone(), self.dir.join(name));
        tokio::task::spawn_blocking(move || {
            // A cached certificate is not rewritten until renewal, so modes set by an older writer are fixed here.
            tighten(&dir, &path)?;
            match std::fs::read(&path) {
                Ok(v) => Ok(Some(v)),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(std::io::Error::other)?
    }

    async fn write(&self, name: String, contents: Vec<u8>) -> std::io::Result<()> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || write_private(&dir, &name, &contents))
            .await
            .map_err(std::io::Error::other)?
    }
}

fn tighten(dir: &Path, file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    for (path, mode) in [(dir, 0o700), (file, 0o600)] {
        use std::os::unix::fs::PermissionsExt;
        match std::fs::metadata(path) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
                tracing::warn!("ACME: tightened the permissions of {} to {mode:o}", path.display());
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, file);
    Ok(())
}

/// Creates the directory private and writes through a temporary file created 0600, synced and renamed, so the
/// key is never readable by others and a crash leaves the old file or the new one, never half of one.
pub(crate) fn write_private(dir: &Path, name: &str, contents: &[u8]) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        builder.mode(0o700);
        options.mode(0o600);
        builder.create(dir)?;
        // A directory that already existed keeps its mode through create(); tighten it too.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    builder.create(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut file = options.open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, dir.join(name))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[async_trait]
impl CertCache for SecureDirCache {
    type EC = std::io::Error;

    async fn load_cert(&self, domains: &[String], directory_url: &str) -> Result<Option<Vec<u8>>, Self::EC> {
        if self.observed.skip_next_load.swap(false, Ordering::SeqCst) {
            return Ok(None);
        }
        let pem = self.read(Self::file_name("cached_cert_", domains, directory_url)).await?;
        if let Some(pem) = &pem {
            self.observed.saw_cert(pem);
        }
        Ok(pem)
    }

    async fn store_cert(&self, domains: &[String], directory_url: &str, cert: &[u8]) -> Result<(), Self::EC> {
        // Seen before writing: the certificate is served whether or not the cache can keep it.
        self.observed.saw_cert(cert);
        self.write(Self::file_name("cached_cert_", domains, directory_url), cert.to_vec()).await
    }
}

#[async_trait]
impl AccountCache for SecureDirCache {
    type EA = std::io::Error;

    async fn load_account(&self, contact: &[String], directory_url: &str) -> Result<Option<Vec<u8>>, Self::EA> {
        self.read(Self::file_name("cached_account_", contact, directory_url)).await
    }

    async fn store_account(&self, contact: &[String], directory_url: &str, account: &[u8]) -> Result<(), Self::EA> {
        self.write(Self::file_name("cached_account_", contact, directory_url), account.to_vec()).await
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn keys_are_private_and_names_match_dir_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("acme");
        let observed = Arc::new(Observed::default());
        let cache = SecureDirCache::new(dir.clone(), observed.clone());
        let domains = vec!["events.example.com".to_owned()];
        cache.store_cert(&domains, "https://ca/dir", b"PEM").await.unwrap();
        cache.store_account(&["mailto:a@b.c".to_owned()], "https://ca/dir", b"KEY").await.unwrap();
        assert_eq!(mode(&dir), 0o700);
        for entry in std::fs::read_dir(&dir).unwrap() {
            assert_eq!(mode(&entry.unwrap().path()), 0o600);
        }
        assert_eq!(observed.take_cert().as_deref(), Some(&b"PEM"[..]));
        // rustls-acme's DirCache would find the same file.
        let dir_cache = rustls_acme::caches::DirCache::new(dir.clone());
        assert_eq!(dir_cache.load_cert(&domains, "https://ca/dir").await.unwrap().as_deref(), Some(&b"PEM"[..]));

        // Loading reports the certificate, except once after skip_next_load.
        observed.skip_next_load();
        assert_eq!(cache.load_cert(&domains, "https://ca/dir").await.unwrap(), None);
        assert_eq!(observed.take_cert(), None);
        assert!(cache.load_cert(&domains, "https://ca/dir").await.unwrap().is_some());
        assert!(observed.take_cert().is_some());
    }

    #[tokio::test]
    async fn loose_modes_are_tightened_on_load() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("acme");
        let domains = vec!["events.example.com".to_owned()];
        rustls_acme::caches::DirCache::new(dir.clone()).store_cert(&domains, "u", b"PEM").await.unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let cache = SecureDirCache::new(dir.clone(), Arc::default());
        assert!(cache.load_cert(&domains, "u").await.unwrap().is_some());
        assert_eq!(mode(&dir), 0o700);
        for entry in std::fs::read_dir(&dir).unwrap() {
            assert_eq!(mode(&entry.unwrap().path()), 0o600);
        }
    }
}
