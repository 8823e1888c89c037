//! The dashboard of a receiver with several sources (`--sources`), on a real terminal (tmux): a GreenLake and a
//! GitHub delivery over TLS, the Source column naming each, and the source picker (`s`) narrowing the table.

mod common;

use common::tmux::{table_rows, Tmux};
use common::{audit_event, greenlake_and_github_sources, send_to, sign, Client, SECRET};
use glwatch::sources::{github, SourceSecret};

const GITHUB_SECRET: &str = "It's a Secret to Everybody";

fn port_from(screen: &str) -> u16 {
    let rest = screen.split("https://127.0.0.1:").nth(1).expect("the header shows the listen URL");
    rest.split(['/', ' ']).next().unwrap().parse().expect("a port number")
}

#[tokio::test]
async fn the_source_column_and_picker_tell_greenlake_from_github() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sources.toml"), greenlake_and_github_sources(GITHUB_SECRET)).unwrap();
    let tmux = Tmux::shell(dir.path(), 200, 50).await;
    tmux.command(&format!("{} --listen 127.0.0.1:0 --sources sources.toml", env!("CARGO_BIN_EXE_glwatch")));
    let screen = tmux.wait_for("Waiting for events…").await;
    let port = port_from(&screen);
    let client = Client::new(
        format!("127.0.0.1:{port}").parse().unwrap(),
        &dir.path().join("glwatch-data/certs/glwatch-cert.pem"),
    );

    let body = audit_event("gl-1");
    let signature = sign(SECRET, &body);
    let headers = [("content-type", "application/json"), ("hpe-webhook-signature", signature.as_str())];
    let reply = send_to(&mut client.connect().await, "POST", "/greenlake", &headers, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let push =
        br#"{"ref":"refs/heads/main","repository":{"html_url":"https://github.com/o/r"},"sender":{"login":"octocat"}}"#;
    let gh = github::headers(&SourceSecret::from_text(GITHUB_SECRET).unwrap(), "d-1", "push", push).unwrap();
    let gh: Vec<(&str, &str)> = gh.iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap())).collect();
    let reply = send_to(&mut client.connect().await, "POST", "/github", &gh, push).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let screen = tmux.wait_for("2 of 2 events shown").await;
    let titles = screen.lines().find(|l| l.starts_with("Time ")).expect("the column titles");
    assert!(titles.starts_with("Time     Source    Type"), "{screen}");
    let rows = table_rows(&screen);
    assert_eq!(rows.len(), 2, "{screen}");
    assert!(rows[0].contains(" greenlake ") && rows[0].contains("audit-log.v1.logs.created"), "{rows:?}");
    assert!(rows[1].contains(" github ") && rows[1].contains("github.push") && rows[1].contains("octocat"), "{rows:?}");

    tmux.keys(&["s"]);
    let screen = tmux.wait_for(" Sources ").await;
    assert!(screen.contains("(•) 2  all sources"), "{screen}");
    assert!(screen.contains("[ ] 1  github"), "{screen}");
    assert!(screen.contains("[ ] 1  greenlake"), "{screen}");
    // Equal counts list by name: github first.
    tmux.keys(&["j", "Enter"]);
    let screen = tmux.wait_for("filter source=github  1 of 2 events shown").await;
    let rows = table_rows(&screen);
    assert_eq!(rows.len(), 1, "{screen}");
    assert!(rows[0].contains(" github ") && rows[0].contains("github.push"), "{rows:?}");
    assert!(screen.contains("source github"), "the detail pane names the source: {screen}");

    tmux.keys(&["q"]);
    tmux.wait_for_prompt("the prompt after quitting").await;
}
