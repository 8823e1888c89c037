//! A `nats-server -js` for tests: loopback, a port the server picks, its store in a temporary directory; skipped
//! with a printed reason where the binary is missing, unless GLWATCH_REQUIRE_EXTERNAL=1 (CI) makes that a failure.

use super::{wait_until_blocking, WAIT};
use async_nats::jetstream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A `nats-server -js` of our own: loopback, a port the server picks, its store in a temporary directory.
pub struct Nats {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// Whether `nats-server` can be run; a test without it says why and passes, unless CI requires it.
pub fn have_nats_server() -> bool {
    let found = Command::new("nats-server").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if found.is_ok() {
        return true;
    }
    if std::env::var("GLWATCH_REQUIRE_EXTERNAL").as_deref() == Ok("1") {
        panic!("nats-server is not installed and GLWATCH_REQUIRE_EXTERNAL=1 (.ci/run installs it)");
    }
    eprintln!("skipped: nats-server is not installed (apt-get install nats-server)");
    false
}

impl Nats {
    pub fn start() -> Option<Nats> {
        if !have_nats_server() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let (child, port) = Nats::spawn(dir.path(), None);
        Some(Nats { child, port, dir })
    }

    /// Runs the server on `port` (one it picks when `None`) and waits until it says where it listens.
    fn spawn(dir: &Path, port: Option<u16>) -> (Child, u16) {
        let ports = dir.join("ports");
        let _ = std::fs::remove_dir_all(&ports);
        std::fs::create_dir_all(&ports).unwrap();
        let port_arg = port.map(|p| p.to_string()).unwrap_or_else(|| "-1".into());
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port_arg, "-sd"])
            .arg(dir.join("store"))
            .arg("-ports_file_dir")
            .arg(&ports)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
            .spawn()
            .unwrap();
        let mut found = None;
        let ready = wait_until_blocking(WAIT, || {
            found = std::fs::read_dir(&ports)
                .ok()
                .and_then(|mut d| d.next())
                .and_then(|e| std::fs::read_to_string(e.ok()?.path()).ok())
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|v| v["nats"][0].as_str()?.rsplit(':').next()?.parse::<u16>().ok());
            found.is_some()
        });
        assert!(ready, "nats-server did not start: {}", std::fs::read_to_string(dir.join("server.log")).unwrap());
        (child, found.unwrap())
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The same server again: same port, same store.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Nats::spawn(self.dir.path(), Some(self.port)).0;
    }

    pub async fn jetstream(&self) -> jetstream::Context {
        jetstream::new(async_nats::connect(self.url()).await.unwrap())
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}
