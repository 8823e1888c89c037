//! Forwarding events onward: the real binary with `--routes`, a real HTTP receiver on loopback that fails and
//! recovers, kill -9 with a backlog, filters and templates, dead letters and their redelivery, a command route and
//! a bad routes file.

mod common;

use common::downstream::{header, Downstream};
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const FAST: &[(&str, &str)] = &[("GLWATCH_ROUTE_BACKOFF_BASE", "50ms")];

fn write_routes(dir: &Path, text: &str) -> String {
    let path = dir.join("routes.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

async fn send(rx: &Receiver, ids: &[String]) {
    let client = rx.client();
    for id in ids {
        let reply = client.post_signed(SECRET, &audit_event(id)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// `glwatch routes ARGS` in `dir`: (exit code, stdout, stderr).
fn routes_cmd(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch")).arg("routes").args(args).current_dir(dir).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_that_recovers_gets_every_event_in_order_and_signed() {
    let down = Downstream::start(503).await;
    let tmp = tempfile::tempdir().unwrap();
    let routes = write_routes(
        tmp.path(),
        &format!("[[route]]\nname = \"hook\"\nurl = \"{}\"\nsecret = \"route-secret\"\n", down.url),
    );
    let rx = Receiver::start_in_with_env(tmp.path(), &["--secret", SECRET, "--routes", &routes], FAST);
    let sent = ids("order", 20);
    send(&rx, &sent).await;
    // The receiver answered every delivery while the route was failing.
    assert!(wait_until(WAIT, || down.attempts() >= 4).await, "the route retried");
    down.set(200);
    assert!(wait_until(WAIT, || down.delivered().len() >= sent.len()).await, "only {:?}", down.delivered_ids());
    assert_eq!(down.delivered_ids(), sent, "every event once, in order");
    let secret = glwatch::greenlake::Secret::new("route-secret").unwrap();
    let verifier = glwatch::greenlake::Verifier::new(&secret, None);
    for g in down.delivered() {
        let sig = header(&g, "hpe-webhook-signature");
        assert!(verifier.verify(Some(sig.as_bytes()), &g.body).is_ok(), "signature {sig}");
        let event: Value = serde_json::from_slice(&g.body).unwrap();
        assert_eq!(event["id"], header(&g, "ce-id"), "the body is the CloudEvent as received");
        assert_eq!(
            header(&g, "idempotency-key"),
            format!("{}/{}", event["source"].as_str().unwrap(), event["id"].as_str().unwrap())
        );
    }
    let (code, out, _) = routes_cmd(tmp.path(), &[]);
    assert_eq!(code, 0);
    let row = out.lines().find(|l| l.starts_with("hook")).unwrap_or_else(|| panic!("{out}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[3], "0", "no backlog: {row}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_survives_kill_9_and_is_delivered_after_restart() {
    let down = Downstream::start(503).await;
    let tmp = tempfile::tempdir().unwrap();
    let routes = write_routes(tmp.path(), &format!("[[route]]\nname = \"hook\"\nurl = \"{}\"\n", down.url));
    let args = ["--secret", SECRET, "--routes", routes.as_str()];
    let mut rx = Receiver::start_in_with_env(tmp.path(), &args, FAST);
    // Two delivered before the outage, so the cursor is somewhere in the middle.
    down.set(200);
    let first = ids("before", 2);
    send(&rx, &first).await;
    assert!(wait_until(WAIT, || down.delivered().len() == 2).await);
    down.set(503);
    let backlog = ids("backlog", 10);
    send(&rx, &backlog).await;
    assert!(wait_until(WAIT, || down.attempts() >= 4).await);
    rx.signal("-9");
    rx.wait_exit();
    down.set(200);
    let _rx = Receiver::start_in_with_env(tmp.path(), &args, FAST);
    let all: Vec<String> = first.iter().chain(&backlog).cloned().collect();
    assert!(wait_until(WAIT, || down.delivered().len() >= all.len()).await, "{:?}", down.delivered_ids());
    assert_eq!(down.delivered_ids(), all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_pick_events_and_templates_shape_the_body() {
    let down = Downstream::start(200).await;
    let tmp = tempfile::tempdir().unwrap();
    let routes = write_routes(
        tmp.path(),
        &format!(
            r#"
[[route]]
name = "chat"
url = "{url}"
types = ["audit-log.v1.logs.created"]
text = "keep"
template = '{{"text": "{{{{ event.data.description }}}} ({{{{ user }}}})", "seq": {{{{ record.seq }}}}}}'

[[route]]
name = "broken"
url = "{url}"
text = "keep"
template = '{{{{ event.data.nothing.here }}}}'
"#,
            url = down.url
        ),
    );
    let rx = Receiver::start_in_with_env(tmp.path(), &["--secret", SECRET, "--routes", &routes], FAST);
    let client = rx.client();
    for (id, description) in [("a", "keep \"this\" one"), ("b", "drop this"), ("c", "keep too")] {
        let mut v: Value = serde_json::from_slice(&audit_event(id)).unwrap();
        v["data"]["description"] = Value::String(description.into());
        let reply = client.post_signed(SECRET, &serde_json::to_vec(&v).unwrap()).await;
        assert_eq!(reply.status, 200);
    }
    assert!(wait_until(WAIT, || down.delivered().len() >= 2).await);
    let bodies: Vec<Value> = down.delivered().iter().map(|g| serde_json::from_slice(&g.body).unwrap()).collect();
    assert_eq!(bodies[0]["text"], "keep \"this\" one (john.doe@hpedev.io)");
    assert_eq!(bodies[1]["text"], "keep too (john.doe@hpedev.io)");
    assert!(bodies[1]["seq"].as_u64().unwrap() > bodies[0]["seq"].as_u64().unwrap());
    // The template that cannot render dead-letters both matching events with the reason.
    let dead = tmp.path().join("glwatch-data/routes/broken.dead.jsonl");
    assert!(wait_until(WAIT, || std::fs::read_to_string(&dead).map_or(0, |t| t.lines().count()) == 2).await);
    let line: Value = serde_json::from_str(std::fs::read_to_string(&dead).unwrap().lines().next().unwrap()).unwrap();
    assert!(line["reason"].as_str().unwrap().starts_with("template:"), "{line}");
    assert_eq!(line["route"], "broken");
    assert_eq!(line["event"]["id"], "a");
    assert_eq!(down.delivered().len(), 2, "nothing else was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_dead_lettered_and_redelivered_on_request() {
    let down = Downstream::start(400).await;
    let tmp = tempfile::tempdir().unwrap();
    let routes = write_routes(tmp.path(), &format!("[[route]]\nname = \"hook\"\nurl = \"{}\"\n", down.url));
    let rx = Receiver::start_in_with_env(tmp.path(), &["--secret", SECRET, "--routes", &routes], FAST);
    let sent = ids("dead", 3);
    send(&rx, &sent).await;
    let dead = tmp.path().join("glwatch-data/routes/hook.dead.jsonl");
    assert!(wait_until(WAIT, || std::fs::read_to_string(&dead).map_or(0, |t| t.lines().count()) == 3).await);
    assert_eq!(down.attempts(), 3, "a 400 is not retried");
    let first: Value = serde_json::from_str(std::fs::read_to_string(&dead).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["reason"], "HTTP 400: nope");
    assert_eq!(first["attempts"], 1);
    assert!(first["seq"].as_u64().unwrap() > 0);
    let (_, out, _) = routes_cmd(tmp.path(), &[]);
    assert!(
        out.lines().any(|l| l.starts_with("hook") && l.contains("dead letters") && l.contains("HTTP 400")),
        "{out}"
    );
    down.set(200);
    let (code, _, err) = routes_cmd(tmp.path(), &["redeliver", "hook", "--dead"]);
    assert_eq!(code, 0, "{err}");
    assert!(wait_until(WAIT, || down.delivered().len() == 3).await);
    assert_eq!(down.delivered_ids(), sent);
    assert!(
        wait_until(WAIT, || !dead.exists() && !tmp.path().join("glwatch-data/routes/hook.requeued.jsonl").exists())
            .await
    );
    // Replaying from a seq sends the journal's events again, in order.
    let (code, _, err) = routes_cmd(tmp.path(), &["redeliver", "hook", "--from", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(wait_until(WAIT, || down.delivered().len() == 6).await);
    assert_eq!(down.delivered_ids()[3..], sent[..]);
    let (code, _, err) = routes_cmd(tmp.path(), &["redeliver", "nosuch", "--dead"]);
    assert_eq!(code, 2, "{err}");
    drop(rx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_route_gets_the_body_on_stdin_and_no_secrets() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.jsonl");
    let env_out = tmp.path().join("env.txt");
    let script = tmp.path().join("on-event.sh");
    std::fs::write(
        &script,
        // The environment is written before the body, so once the third body is in, so is its environment.
        format!("#!/bin/sh\nenv > '{}'\ncat >> '{}'\necho >> '{}'\n", env_out.display(), out.display(), out.display()),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    let routes =
        write_routes(tmp.path(), &format!("[[route]]\nname = \"script\"\ncommand = [\"{}\"]\n", script.display()));
    let env = [("GLWATCH_ROUTE_BACKOFF_BASE", "50ms"), ("GLWATCH_API_TOKEN_FOR_TEST", "hush")];
    let rx = Receiver::start_in_with_env(tmp.path(), &["--secret", SECRET, "--routes", &routes], &env);
    let sent = ids("cmd", 3);
    send(&rx, &sent).await;
    let lines = || std::fs::read_to_string(&out).unwrap_or_default().lines().map(str::to_owned).collect::<Vec<_>>();
    assert!(wait_until(WAIT, || lines().len() == 3).await, "{:?}", lines());
    let got: Vec<String> =
        lines().iter().map(|l| serde_json::from_str::<Value>(l).unwrap()["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(got, sent);
    let env = std::fs::read_to_string(&env_out).unwrap();
    assert!(env.contains("GLWATCH_EVENT_ID=cmd-2"), "{env}");
    assert!(!env.contains("hush") && !env.contains(SECRET), "secrets stay behind: {env}");
}

#[test]
fn a_bad_routes_file_stops_start_up_with_one_line_and_status_2() {
    let tmp = tempfile::tempdir().unwrap();
    let routes = write_routes(tmp.path(), "[[route]]\nname = \"a\"\nurl = \"http://127.0.0.1:1/\"\ntimout = \"5s\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["--headless", "--listen", "127.0.0.1:0", "--secret", SECRET, "--routes", &routes])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("routes.toml line 4: unknown field `timout`"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["--headless", "--no-journal", "--routes", &routes])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--routes needs the journal");
}
