//! The data directory's layout (`--data-dir`): where the journal, the log file, exports, the generated
//! certificate and the ACME cache go when no flag names them, and the fallback to the pre-`--data-dir` `certs/`.

use std::path::{Path, PathBuf};

pub const DEFAULT: &str = "glwatch-data";
/// Where certificates were generated before `--data-dir` existed (relative to the working directory).
pub const LEGACY_CERT_DIR: &str = "certs";

pub fn journal(data_dir: &Path) -> PathBuf {
    data_dir.join("journal.jsonl")
}

pub fn log_file(data_dir: &Path) -> PathBuf {
    data_dir.join("glwatch.log")
}

/// The dashboard's `e` key writes here.
pub fn exports(data_dir: &Path) -> PathBuf {
    data_dir.to_owned()
}

pub fn acme_cache(data_dir: &Path) -> PathBuf {
    data_dir.join("acme")
}

/// Where the self-signed pair lives: `DATA_DIR/certs`, unless only the old default `certs/` in the working
/// directory holds a complete pair; that one is kept (existing users keep their fingerprint), with a notice saying
/// so.
pub fn self_signed_certs(data_dir: &Path) -> (PathBuf, Option<String>) {
    let new = data_dir.join("certs");
    let legacy = Path::new(LEGACY_CERT_DIR);
    let pair = |dir: &Path| dir.join("glwatch-cert.pem").exists() && dir.join("glwatch-key.pem").exists();
    let new_has_any = new.join("glwatch-cert.pem").exists() || new.join("glwatch-key.pem").exists();
    if !new_has_any && pair(legacy) {
        let notice = format!(
            "using the certificate in {LEGACY_CERT_DIR}/ (the default before --data-dir); move glwatch-cert.pem and glwatch-key.pem to {} to keep everything in the data directory",
            new.display()
        );
        return (legacy.to_owned(), Some(notice));
    }
    (new, None)
}
