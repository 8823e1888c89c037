//! `glwatch demo`: refused at once without a terminal; on one (tmux), the dashboard comes alive on its own with an
//! answered challenge, events and a refused delivery, and quitting restores the terminal and keeps nothing.

mod common;

use common::tmux::{table_rows, Tmux};
use common::{wait_until_blocking, WAIT};
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn demo_without_a_terminal_fails_at_once_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .arg("demo")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Bounded: a demo that wrongly started would never exit on its own.
    if !wait_until_blocking(WAIT, || child.try_wait().unwrap().is_some()) {
        let _ = child.kill();
        panic!("glwatch demo without a terminal did not exit");
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "glwatch: error: glwatch demo needs a terminal; to try the receiver without one run `glwatch --headless` and \
         `glwatch send`\n"
    );
    assert!(out.stdout.is_empty());
    // Nothing was created where it ran.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// The temporary directory the demo named in its certificate line, e.g. `/tmp/glwatch-demo-XXXX`.
fn demo_dir(screen: &str) -> &Path {
    let line = screen.lines().find(|l| l.starts_with("glwatch: certificate ")).expect("certificate line");
    let path = line["glwatch: certificate ".len()..].split(' ').next().unwrap();
    Path::new(path).parent().and_then(Path::parent).expect("…/certs/glwatch-cert.pem")
}

#[tokio::test]
async fn demo_shows_a_living_dashboard_and_quits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::shell(dir.path(), 200, 50).await;
    // A higher rate than the default only to fill the panels sooner.
    tmux.command(&format!("{} demo --rate 10", env!("CARGO_BIN_EXE_glwatch")));

    let screen = tmux
        .wait_until("an answered challenge, events and a bad signature", |s| {
            s.contains("Challenges (")
                && s.lines().any(|l| l.contains(" answered") && l.contains(" → "))
                && table_rows(s).len() >= 3
                && s.contains("401 bad signature")
        })
        .await;
    assert!(screen.contains("demo: simulated GreenLake traffic, throwaway secret, nothing is kept"), "{screen}");
    assert!(screen.contains("https://127.0.0.1:") && screen.contains("secret generated"), "{screen}");
    assert!(screen.contains("● following"), "{screen}");
    // The demo's secret is throwaway and never shown.
    assert!(!screen.contains("Webhook secret"), "{screen}");
    assert!(table_rows(&screen).iter().all(|r| r.contains("primary")), "every listed event was verified:\n{screen}");

    tmux.keys(&["q"]);
    let screen = tmux.wait_for_prompt("the prompt after quitting").await;
    assert!(!screen.contains("events shown"), "{screen}");
    assert!(!screen.contains("INFO"), "logs went to the screen:\n{screen}");
    assert!(screen.contains("glwatch: demo stopped; its temporary directory"), "{screen}");
    tmux.assert_shell_usable().await;
    // Nothing kept: not the certificate and logs of the temporary directory, nothing in the working directory.
    let tmp = demo_dir(&screen);
    assert!(tmp.file_name().unwrap().to_str().unwrap().starts_with("glwatch-demo-"), "{}", tmp.display());
    assert!(!tmp.exists(), "{} is still there", tmp.display());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the demo wrote to its working directory");
}
