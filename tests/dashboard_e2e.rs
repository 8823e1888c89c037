//! The dashboard as an operator uses it: the real binary on a real terminal (tmux), fed by signed deliveries of
//! the samples over TLS, read back with `capture-pane`, driven with keys, then quit.

mod common;

use common::{fixture, sign, Client, SECRET, WAIT};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A tmux server of our own (its own socket), so the test neither sees nor disturbs any other tmux.
struct Tmux {
    socket: String,
}

const TARGET: &str = "dash";
const PROMPT: &str = "glwatch-e2e-prompt$";

impl Tmux {
    fn new() -> Tmux {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        Tmux { socket: format!("glwatch-e2e-{}-{nanos}", std::process::id()) }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed (the CI script installs it)");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", TARGET]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", TARGET];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", TARGET, "-l", text]);
    }

    /// Polls the screen until `pred` holds, failing with the last screen after [`WAIT`].
    async fn wait_until(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "screen never showed {what}; last screen:\n{screen}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_for(&self, text: &str) -> String {
        self.wait_until(text, |s| s.contains(text)).await
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

fn port_from(screen: &str) -> u16 {
    let rest = screen.split("https://127.0.0.1:").nth(1).expect("the header shows the listen URL");
    rest.split('/').next().unwrap().parse().expect("a port number")
}

/// The table rows: lines starting with a time, left of the detail pane.
fn table_rows(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .filter(|l| l.len() > 9 && l.as_bytes()[2] == b':' && l.as_bytes()[5] == b':' && l.contains('│'))
        .map(|l| l.split('│').next().unwrap_or(l))
        .collect()
}

#[tokio::test]
async fn operator_watches_filters_reads_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::new();
    let dir_s = dir.path().to_str().unwrap();
    tmux.run(&[
        "new-session",
        "-d",
        "-x",
        "200",
        "-y",
        "50",
        "-s",
        TARGET,
        "-c",
        dir_s,
        "env",
        "-u",
        "GLWATCH_SECRET",
        &format!("PS1={PROMPT} "),
        "bash",
        "--norc",
        "--noprofile",
    ]);
    tmux.wait_for(PROMPT).await;
    let bin = env!("CARGO_BIN_EXE_glwatch");
    tmux.type_text(&format!("{bin} --listen 127.0.0.1:0 --secret {SECRET}"));
    tmux.keys(&["Enter"]);

    let screen = tmux.wait_for("Waiting for events…").await;
    assert!(screen.contains("secret primary"), "{screen}");
    assert!(screen.contains("0 of 0 events shown  ● following"), "{screen}");
    let port = port_from(&screen);
    let client = Client::new(format!("127.0.0.1:{port}").parse().unwrap(), &dir.path().join("certs/glwatch-cert.pem"));

    // GreenLake's challenge first, then the signed samples; the stand-alone expiring event re-delivers the
    // batch's second one.
    assert_eq!(client.post(&[], &fixture("challenge.json")).await.status, 200);
    let challenge = tmux.wait_for("Challenges (1)").await;
    let row = challenge.lines().find(|l| l.contains("8cbecfea-d708-4706-bba3-669225084a10")).expect("challenge row");
    assert!(row.contains("answered") && row.contains("→ 4e7b31216c84…"), "{row}");
    for name in ["audit-log-created.json", "batch.json", "expiring-subscriptions.json"] {
        let body = fixture(name);
        let sig = sign(SECRET, &body);
        let reply = client.post(&[("hpe-webhook-signature", &sig)], &body).await;
        assert_eq!(reply.status, 200, "{name}: {}", reply.body);
    }
    let bad = client.post(&[("hpe-webhook-signature", &sign("not-the-secret", b"x"))], &fixture("batch.json")).await;
    assert_eq!(bad.status, 401);

    let screen = tmux.wait_for("events 3  challenges 1  rejected 1  duplicates 1").await;
    assert!(screen.contains("3 of 3 events shown  ● following"), "{screen}");
    let rows = table_rows(&screen);
    assert_eq!(rows.len(), 3, "{screen}");
    assert!(
        rows[0].contains(
            "audit-log.v1.logs.created john.doe@hpedev.io   user_management User john.doe@hpedev.io logged out"
        ),
        "{rows:?}"
    );
    assert!(rows[1].contains("User john.doe@hpedev.io logged in"), "{rows:?}");
    assert!(rows[2].contains("subscriptions.v1.expiring John Doe Inc.") && rows[2].contains("×2 Compute"), "{rows:?}");
    assert!(screen.contains("Rejected requests (1)") && screen.contains("401 bad signature"), "{screen}");
    // The newest event is selected and shown whole, with its duplicate count.
    assert!(screen.contains("Event fb25f344-6f3c-4c1e-9d55-2b8f1c0a7e41"), "{screen}");
    assert!(screen.contains("signature valid (primary secret)  duplicates 1"), "{screen}");
    assert!(screen.contains(r#""subscriptiontype": "Compute Subscription","#), "{screen}");

    // A text filter, live as typed.
    tmux.keys(&["/"]);
    tmux.type_text("logged in");
    let screen = tmux.wait_for("filter /logged in  1 of 3 events shown").await;
    assert!(screen.contains(" /  logged in▏"), "{screen}");
    let rows = table_rows(&screen);
    assert_eq!(rows.len(), 1, "{screen}");
    assert!(rows[0].contains("logged in"), "{rows:?}");
    tmux.keys(&["Enter"]);
    tmux.keys(&["Escape"]);
    tmux.wait_for("3 of 3 events shown").await;

    // By type, with the picker.
    tmux.keys(&["t"]);
    let screen = tmux.wait_for("Event types").await;
    assert!(screen.contains("[ ] 2  audit-log.v1.logs.created"), "{screen}");
    assert!(screen.contains("[ ] 1  subscriptions.v1.expiring-subscriptions"), "{screen}");
    tmux.keys(&["j", "j", "Enter"]);
    let screen = tmux.wait_for("filter type=subscriptions.v1.expiring-subscriptions  1 of 3 events shown").await;
    assert_eq!(table_rows(&screen).len(), 1, "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait_for("3 of 3 events shown").await;

    // By user.
    tmux.keys(&["u"]);
    tmux.wait_for("[ ] 2  john.doe@hpedev.io").await;
    tmux.keys(&["j", "Enter"]);
    let screen = tmux.wait_for("filter user=john.doe@hpedev.io  2 of 3 events shown").await;
    assert!(table_rows(&screen).iter().all(|r| r.contains("john.doe@hpedev.io")), "{screen}");

    // Read the older event whole: move up (which pauses following), focus the detail pane.
    tmux.keys(&["k", "Enter"]);
    let screen = tmux.wait_for("Enter/Esc: back to table").await;
    assert!(screen.contains("Event uJoQ5JMB_HAPiq2sSllt"), "{screen}");
    assert!(screen.contains("‖ paused (f follows)"), "{screen}");
    assert!(screen.contains(r#""description": "User john.doe@hpedev.io logged out","#), "{screen}");

    // Help, generated from the keymap, says where the logs go.
    // An Escape directly followed by another key reads as Alt+key, so wait for it to take effect.
    tmux.keys(&["Escape"]);
    tmux.wait_for(" Enter: read ").await;
    tmux.keys(&["?"]);
    let screen = tmux.wait_for("Logs go to glwatch-data/glwatch.log").await;
    assert!(screen.contains("filter by text in type, user, summary and id"), "{screen}");
    tmux.keys(&["Escape"]);

    // Quit: the shell prompt is back on the normal screen, nothing of the dashboard or its logs left on it.
    tmux.keys(&["q"]);
    let screen = tmux.wait_until("the prompt after quitting", |s| s.trim_end().ends_with(PROMPT)).await;
    let alternate = String::from_utf8_lossy(&tmux.run(&["display", "-p", "-t", TARGET, "#{alternate_on}"]).stdout)
        .trim()
        .to_owned();
    assert_eq!(alternate, "0", "the alternate screen was left");
    assert!(!screen.contains("events shown"), "{screen}");
    assert!(!screen.contains("INFO"), "logs went to the screen:\n{screen}");
    assert!(screen.contains("glwatch: listening on https://127.0.0.1:"), "{screen}");
    // The shell takes input normally again (raw mode is off): a command echoes and runs.
    tmux.type_text("echo restored-$((40+2))");
    tmux.keys(&["Enter"]);
    tmux.wait_for("restored-42").await;
    let log = std::fs::read_to_string(Path::new(dir_s).join("glwatch-data/glwatch.log")).expect("log file");
    assert!(log.contains("stopping"), "{log}");

    // Started again, the dashboard opens on the journal's history.
    tmux.type_text("clear");
    tmux.keys(&["Enter"]);
    tmux.type_text(&format!("{bin} --listen 127.0.0.1:0 --secret {SECRET}"));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("events 3  challenges 1  rejected 1  duplicates 1").await;
    assert_eq!(table_rows(&screen).len(), 3, "{screen}");
    assert!(screen.contains("8cbecfea-d708-4706-bba3-669225084a10"), "{screen}");
    tmux.keys(&["C-c"]);
    tmux.wait_until("the prompt after Ctrl-C", |s| s.trim_end().ends_with(PROMPT)).await;
}
