//! The dashboard as an operator uses it: the real binary on a real terminal (tmux), fed by signed deliveries of
//! the samples over TLS, read back with `capture-pane`, driven with keys, then quit.

mod common;

use common::tmux::{table_rows, Tmux};
use common::{fixture, sign, Client, SECRET};
use std::path::Path;

fn port_from(screen: &str) -> u16 {
    let rest = screen.split("https://127.0.0.1:").nth(1).expect("the header shows the listen URL");
    rest.split('/').next().unwrap().parse().expect("a port number")
}

#[tokio::test]
async fn operator_watches_filters_reads_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    let dir_s = dir.path().to_str().unwrap();
    let tmux = Tmux::shell(dir.path(), 200, 50).await;
    let bin = env!("CARGO_BIN_EXE_glwatch");
    tmux.type_text(&format!("{bin} --listen 127.0.0.1:0 --secret {SECRET}"));
    tmux.keys(&["Enter"]);

    let screen = tmux.wait_for("Waiting for events…").await;
    assert!(screen.contains("secret primary"), "{screen}");
    assert!(screen.contains("0 of 0 events shown  ● following"), "{screen}");
    let port = port_from(&screen);
    let client = Client::new(
        format!("127.0.0.1:{port}").parse().unwrap(),
        &dir.path().join("glwatch-data/certs/glwatch-cert.pem"),
    );

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
    let screen = tmux.wait_for_prompt("the prompt after quitting").await;
    assert!(!screen.contains("events shown"), "{screen}");
    assert!(!screen.contains("INFO"), "logs went to the screen:\n{screen}");
    assert!(screen.contains("glwatch: listening on https://127.0.0.1:"), "{screen}");
    // The shell takes input normally again (raw mode is off).
    tmux.assert_shell_usable().await;
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
    tmux.wait_for_prompt("the prompt after Ctrl-C").await;
}

#[tokio::test]
async fn a_generated_secret_is_shown_once_in_the_dashboard_and_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::shell(dir.path(), 200, 50).await;
    tmux.command(&format!("{} --listen 127.0.0.1:0", env!("CARGO_BIN_EXE_glwatch")));
    let screen = tmux.wait_for("(it is not shown again; press any key)").await;
    assert!(screen.contains("Generated webhook secret — enter it in GreenLake's Register webhook form:"), "{screen}");
    let line = screen.lines().position(|l| l.contains("Register webhook form")).unwrap();
    let secret =
        screen.lines().skip(line + 1).map(|l| l.trim_matches(|c| c == ' ' || c == '│')).find(|l| !l.is_empty());
    let secret = secret.expect("the secret under the prompt").to_owned();
    assert_eq!(secret.len(), 32, "{screen}");
    assert!(screen.contains("secret generated"), "{screen}");

    // It is the receiver's secret: the challenge is answered with its HMAC.
    let port = port_from(&screen);
    let client = Client::new(
        format!("127.0.0.1:{port}").parse().unwrap(),
        &dir.path().join("glwatch-data/certs/glwatch-cert.pem"),
    );
    let reply = client.post(&[], &fixture("challenge.json")).await;
    let want = glwatch::greenlake::Signer::new(&glwatch::greenlake::Secret::new(secret.clone()).unwrap())
        .hex(b"8cbecfea-d708-4706-bba3-669225084a10");
    assert!(reply.body.contains(&want), "{}", reply.body);

    // Any key closes it for good.
    tmux.keys(&["x"]);
    let screen = tmux.wait_until("the popup closed", |s| !s.contains("Webhook secret")).await;
    assert!(!screen.contains(&secret), "{screen}");
    tmux.wait_for("Challenges (1)").await;
    tmux.keys(&["?"]);
    tmux.wait_for("Logs go to").await;
    // An Escape directly followed by another key reads as Alt+key, so wait for it to take effect.
    tmux.keys(&["Escape"]);
    tmux.wait_until("the help closed", |s| !s.contains("Logs go to")).await;
    tmux.keys(&["q"]);
    let screen = tmux.wait_for_prompt("the prompt after quitting").await;
    // Not printed on stderr either (it would be dead by the time it could be read), and never logged.
    assert!(!screen.contains(&secret), "{screen}");
    let log = std::fs::read_to_string(dir.path().join("glwatch-data/glwatch.log")).expect("log file");
    assert!(!log.contains(&secret), "the secret was logged:\n{log}");
}
