//! contrib/systemd/glwatch.service passes `systemd-analyze verify`, pointed at the binary just built (verify
//! checks that ExecStart's program exists), with no warning about any of its lines.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const UNIT: &str = "contrib/systemd/glwatch.service";

fn unit_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(UNIT)).unwrap()
}

/// The unit as installed, except that ExecStart runs `program`.
fn unit_running(program: &str) -> String {
    let text = unit_text();
    assert!(text.contains("ExecStart=/usr/local/bin/glwatch "), "the unit starts /usr/local/bin/glwatch");
    text.replace("ExecStart=/usr/local/bin/glwatch ", &format!("ExecStart={program} "))
}

/// `systemd-analyze verify` on the unit text; `None` when the tool is missing.
fn verify(text: &str) -> Option<(bool, String)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("glwatch.service");
    std::fs::write(&path, text).unwrap();
    let out = match Command::new("systemd-analyze").arg("verify").arg(&path).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("systemd-analyze: {e}"),
    };
    let said = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    // Unknown keys and bad values are only warnings (exit status 0): any line about the unit counts.
    let about_unit: Vec<&str> = said.lines().filter(|l| l.contains("glwatch.service")).collect();
    Some((out.status.success() && about_unit.is_empty(), said))
}

#[test]
fn the_service_unit_verifies() {
    let Some((ok, said)) = verify(&unit_running(env!("CARGO_BIN_EXE_glwatch"))) else {
        println!("skipped: systemd-analyze is not installed, so the unit cannot be verified here");
        return;
    };
    assert!(ok, "systemd-analyze verify {UNIT}:\n{said}");
    // The check has teeth: a missing program and an unknown key are both caught.
    let (ok, said) = verify(&unit_running("/nonexistent/glwatch")).unwrap();
    assert!(!ok && said.contains("/nonexistent/glwatch"), "{said}");
    let (ok, said) =
        verify(&unit_running(env!("CARGO_BIN_EXE_glwatch")).replace("NoNewPrivileges", "NoNewPrivilege")).unwrap();
    assert!(!ok, "{said}");
}

#[test]
fn the_service_runs_unprivileged_with_its_secret_from_a_credential() {
    let text = unit_text();
    for line in [
        "DynamicUser=yes",
        "StateDirectory=glwatch",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "LoadCredential=secret:/etc/glwatch/secret",
    ] {
        assert!(text.lines().any(|l| l == line), "{UNIT} has {line}");
    }
    let exec = text.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    for part in ["--headless", "--data-dir ${STATE_DIRECTORY}", "--secret-file ${CREDENTIALS_DIRECTORY}/secret"] {
        assert!(exec.contains(part), "{exec}");
    }
    // The command line and environment work as systemd would run them (port 443 and Let's Encrypt swapped for a
    // free port and a closed one): glwatch reads the secret and says it waits for the certificate.
    let dir = tempfile::tempdir().unwrap();
    let (state, credentials) = (dir.path().join("state"), dir.path().join("credentials"));
    std::fs::create_dir_all(&credentials).unwrap();
    std::fs::write(credentials.join("secret"), "glwatch-demo-secret\n").unwrap();
    let args: Vec<String> = exec
        .trim_start_matches("ExecStart=")
        .replace("${STATE_DIRECTORY}", state.to_str().unwrap())
        .replace("${CREDENTIALS_DIRECTORY}", credentials.to_str().unwrap())
        .replace("[::]:443", "127.0.0.1:0")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let mut command = Command::new(env!("CARGO_BIN_EXE_glwatch"));
    command.args(&args[1..]).env_clear().env("GLWATCH_LOG", "info");
    for line in text.lines().filter_map(|l| l.strip_prefix("Environment=")) {
        let (key, value) = line.split_once('=').unwrap();
        command.env(key, value);
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    command.env("GLWATCH_ACME_DIRECTORY", format!("https://127.0.0.1:{closed}/dir"));
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || stderr.lines().map_while(Result::ok).try_for_each(|l| tx.send(l)));
    let mut said = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
        said.push(line.clone());
        if line.starts_with("glwatch: certificate for") || line.contains("error") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let last = said.last().cloned().unwrap_or_default();
    assert!(last.contains("certificate for events.example.com") && last.contains("waiting"), "{said:?}");
    assert!(!said.iter().any(|l| l.contains("generated webhook secret")), "the secret came from the credential");
    assert!(state.join("journal.jsonl").exists(), "the journal is in the state directory");
}
