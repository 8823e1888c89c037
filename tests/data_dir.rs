//! `--data-dir`: one directory holds the journal, the generated certificate and the log file; a pair left in the
//! old default `certs/` keeps being used.

mod common;

use common::tmux::Tmux;
use common::{fixture, sign, Client, Receiver, SECRET};

#[tokio::test]
async fn the_dashboard_keeps_journal_certificate_and_log_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("state");
    let tmux = Tmux::shell(dir.path(), 160, 40).await;
    let bin = env!("CARGO_BIN_EXE_glwatch");
    tmux.type_text(&format!("{bin} --listen 127.0.0.1:0 --secret {SECRET} --data-dir {}", data.display()));
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("Waiting for events…").await;
    let port: u16 = screen.split("https://127.0.0.1:").nth(1).unwrap().split('/').next().unwrap().parse().unwrap();

    let cert = data.join("certs/glwatch-cert.pem");
    let client = Client::new(format!("127.0.0.1:{port}").parse().unwrap(), &cert);
    let body = fixture("audit-log-created.json");
    assert_eq!(client.post(&[("hpe-webhook-signature", &sign(SECRET, &body))], &body).await.status, 200);
    tmux.wait_for("1 of 1 events shown").await;
    tmux.keys(&["q"]);
    tmux.wait_for_prompt("the prompt after quitting").await;

    let journal = std::fs::read_to_string(data.join("journal.jsonl")).unwrap();
    assert!(journal.contains("uJoQ5JMB_HAPiq2sSllt"), "{journal}");
    assert!(data.join("certs/glwatch-key.pem").exists());
    let log = std::fs::read_to_string(data.join("glwatch.log")).unwrap();
    assert!(log.contains("stopping"), "{log}");
    // Nothing is written beside it.
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["state"]);
}

#[test]
fn a_pair_in_the_old_certs_folder_keeps_being_used() {
    let dir = tempfile::tempdir().unwrap();
    // The first start generates the pair in the data directory; moving it to certs/ is what an existing user has.
    drop(Receiver::start_in(dir.path(), &["--secret", SECRET]));
    std::fs::rename(dir.path().join("glwatch-data/certs"), dir.path().join("certs")).unwrap();

    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    assert!(rx.banner.iter().any(|l| l.contains("certificate certs/glwatch-cert.pem (loaded)")), "{:?}", rx.banner);
    let warned =
        rx.banner.iter().any(|l| l.contains("using the certificate in certs/ (the default before --data-dir)"));
    assert!(warned, "{:?}", rx.banner);
    assert!(!dir.path().join("glwatch-data/certs").exists());
}
