//! `nats-server -js` for tests: loopback, its store and log in a directory of its own, alone on a port the server
//! picks or as one node of a cluster, restartable on the same port and store. Skipped with a printed reason where
//! the binary is missing, unless GLWATCH_REQUIRE_EXTERNAL=1 (CI) makes that a failure.

use super::{wait_until_blocking, WAIT};
use async_nats::jetstream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Whether `nats-server` can be run; a test without it says why and passes, unless CI requires it.
pub fn have_nats_server() -> bool {
    let found = Command::new("nats-server").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if found.is_ok_and(|s| s.success()) {
        return true;
    }
    assert!(
        std::env::var("GLWATCH_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
        "`nats-server` is not installed and GLWATCH_REQUIRE_EXTERNAL=1: apt-get install nats-server (.ci/run does)"
    );
    eprintln!("skipped: `nats-server` is not installed (apt-get install nats-server; .ci/run installs it)");
    false
}

/// One `nats-server -js` of our own; killed when dropped.
pub struct Nats {
    /// Its server name (`-n`), as JetStream names a stream's leader.
    pub name: String,
    /// Its store, its log and the file it writes its port in.
    dir: PathBuf,
    /// The name and the cluster flags.
    args: Vec<String>,
    /// The client port; 0 until the first start has picked one.
    port: u16,
    child: Option<Child>,
    _tmp: Option<tempfile::TempDir>,
}

impl Nats {
    /// A server alone, in a temporary directory of its own; `None` where nats-server cannot run.
    pub fn start() -> Option<Nats> {
        if !have_nats_server() {
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let mut nats = Nats::node(tmp.path(), "n1", None);
        nats._tmp = Some(tmp);
        Some(nats)
    }

    /// A server with its files in DIR/NAME: alone, or with `cluster` (its own cluster port and every node's) one
    /// node of a cluster whose nodes route to each other.
    pub fn node(dir: &Path, name: &str, cluster: Option<(u16, &[u16])>) -> Nats {
        let mut args = vec!["-n".to_owned(), name.to_owned()];
        if let Some((own, all)) = cluster {
            let routes: Vec<String> =
                all.iter().filter(|p| **p != own).map(|p| format!("nats://127.0.0.1:{p}")).collect();
            args.extend(["--cluster_name".into(), "glwatch-test".into()]);
            args.extend(["--cluster".into(), format!("nats://127.0.0.1:{own}")]);
            args.extend(["--routes".into(), routes.join(",")]);
        }
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut node = Nats { name: name.into(), dir, args, port: 0, child: None, _tmp: None };
        node.restart();
        node
    }

    /// Starts the server (again: same port, same store) and waits until it says where it listens.
    pub fn restart(&mut self) {
        self.kill();
        let ports = self.dir.join("ports");
        let _ = std::fs::remove_dir_all(&ports);
        std::fs::create_dir_all(&ports).unwrap();
        let port = if self.port == 0 { "-1".to_owned() } else { self.port.to_string() };
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("server.log")).unwrap();
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port, "-sd"])
            .arg(self.dir.join("store"))
            .arg("-ports_file_dir")
            .arg(&ports)
            .args(&self.args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
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
        assert!(ready, "nats-server {} did not start: {}", self.name, self.log());
        self.port = found.unwrap();
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it runs (it is not killed).
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// What the server has logged, for a failure's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
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

/// A test's own view of the stream on any of `urls`, as an operator's tool would connect: retrying until one
/// answers.
pub async fn jetstream_on(urls: &[String]) -> jetstream::Context {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(urls.iter().map(|u| u.parse().unwrap()).collect::<Vec<async_nats::ServerAddr>>())
        .await
        .expect("the test connects to NATS");
    jetstream::new(client)
}
