//! Routes forward deliveries of every scheme alike: a route picks a GitHub delivery by its source name and by the
//! type kept in the record's attributes, and hands its command the delivery's own id, type and source.

mod common;

use common::*;
use glwatch::sources::{github, SourceSecret};

const GITHUB_SECRET: &str = "route-github-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_picks_github_deliveries_by_source_and_type() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.txt");
    let script = tmp.path().join("on-event.sh");
    // One line per delivery, written whole by one `echo`, so a partly written line is never read.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$GLWATCH_EVENT_ID $GLWATCH_EVENT_TYPE $GLWATCH_EVENT_SOURCE\" >> '{}'\n",
            out.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    std::fs::write(
        tmp.path().join("routes.toml"),
        format!(
            "[[route]]\nname = \"pushes\"\ncommand = [\"{}\"]\nsources = [\"github\"]\ntypes = [\"github.push\"]\n",
            script.display()
        ),
    )
    .unwrap();
    std::fs::write(tmp.path().join("sources.toml"), greenlake_and_github_sources(GITHUB_SECRET)).unwrap();
    let rx = Receiver::start_in_with_env(
        tmp.path(),
        &["--sources", "sources.toml", "--routes", "routes.toml"],
        &[("GLWATCH_ROUTE_BACKOFF_BASE", "50ms")],
    );
    let key = SourceSecret::from_text(GITHUB_SECRET).unwrap();
    let push = br#"{"ref":"refs/heads/main","repository":{"html_url":"https://github.com/o/r"}}"#;
    let issue = br#"{"action":"opened","repository":{"html_url":"https://github.com/o/r"}}"#;
    for (id, event, body) in [("d-1", "push", &push[..]), ("d-2", "issues", &issue[..]), ("d-3", "push", &push[..])] {
        let headers = github::headers(&key, id, event, body).unwrap();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap())).collect();
        assert_eq!(send_to(&mut rx.client().connect().await, "POST", "/github", &headers, body).await.status, 200);
    }
    // A GreenLake event of any type is not for this route.
    let body = audit_event("gl-1");
    let signature = sign(SECRET, &body);
    let headers = [("content-type", "application/json"), ("hpe-webhook-signature", signature.as_str())];
    assert_eq!(send_to(&mut rx.client().connect().await, "POST", "/greenlake", &headers, &body).await.status, 200);

    // One more push after it: routes deliver in journal order, so once it arrives the GreenLake event was passed by.
    let headers = github::headers(&key, "d-5", "push", push).unwrap();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap())).collect();
    assert_eq!(send_to(&mut rx.client().connect().await, "POST", "/github", &headers, push).await.status, 200);

    let lines = || std::fs::read_to_string(&out).unwrap_or_default().lines().map(str::to_owned).collect::<Vec<_>>();
    assert!(wait_until(WAIT, || lines().len() == 3).await, "{:?}", lines());
    let source = "github.push https://github.com/o/r";
    assert_eq!(lines(), [format!("d-1 {source}"), format!("d-3 {source}"), format!("d-5 {source}")]);
}
