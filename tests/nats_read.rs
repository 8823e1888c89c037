//! Reading NATS JetStream: `glwatch tail nats://…` (--last, --after, --kind, -f across a NATS restart),
//! `glwatch attach nats://…` on a real terminal, and routes on two receivers sharing one durable consumer so each
//! event is forwarded once. A real `nats-server -js` on loopback throughout (skipped with a printed reason where
//! it is not installed, unless GLWATCH_REQUIRE_EXTERNAL=1).

mod common;

use async_nats::jetstream;
use common::nats::Nats;
use common::tmux::Tmux;
use common::*;
use glwatch::record::Record;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// The stream as receivers create it: `glwatch.>`, file storage.
async fn create_stream(js: &jetstream::Context) {
    js.get_or_create_stream(jetstream::stream::Config {
        name: "GLWATCH".into(),
        subjects: vec!["glwatch.>".into()],
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .unwrap();
}

/// Publishes record lines as a receiver does; returns them.
async fn publish_events(js: &jetstream::Context, prefix: &str, n: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}-{i}");
        let event = String::from_utf8(audit_event(&id)).unwrap();
        let line = event_record(event, glwatch::record::now(), "127.0.0.1:1").to_line();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        js.publish_with_headers("glwatch.event.audit", headers, line.clone().into()).await.unwrap().await.unwrap();
        lines.push(line);
    }
    lines
}

async fn publish_challenge(js: &jetstream::Context) -> String {
    let line = Record::Challenge(glwatch::record::ChallengeRecord::refused(
        glwatch::record::now(),
        "127.0.0.1:2",
        "x",
        "not a UUID",
    ))
    .to_line();
    js.publish("glwatch.challenge", line.clone().into()).await.unwrap().await.unwrap();
    line
}

/// `line` as the reader must print it: the record, numbered with its stream sequence.
fn numbered(line: &str, seq: u64) -> String {
    Record::from_line(line).unwrap().to_line_seq(seq)
}

fn tail(args: &[&str]) -> (i32, Vec<String>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch")).arg("tail").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    (out.status.code().unwrap_or(-1), stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn tail_prints_the_stored_records_numbered_by_stream_sequence_and_exits() {
    let Some(nats) = Nats::start() else { return };
    let js = nats.jetstream().await;
    create_stream(&js).await;
    let mut lines = publish_events(&js, "e", 5).await;
    lines.push(publish_challenge(&js).await);
    let url = nats.url();
    let want = |seqs: &[u64]| seqs.iter().map(|&s| numbered(&lines[s as usize - 1], s)).collect::<Vec<_>>();

    let (code, out, err) = tail(&[&url, "--last", "3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, want(&[4, 5, 6]));
    assert!(err.contains("history begins at seq 1"), "{err}");

    let (code, out, err) = tail(&[&url, "--after", "2", "--kind", "event"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, want(&[3, 4, 5]));

    let (code, out, _) = tail(&[&url]);
    assert_eq!((code, out), (0, want(&[1, 2, 3, 4, 5, 6])));
    for empty in [&["--after", "6"][..], &["--last", "0"], &["--type", "no.such.type"]] {
        let (code, out, err) = tail(&[&[url.as_str()][..], empty].concat());
        assert_eq!((code, out), (0, Vec::<String>::new()), "{empty:?}: {err}");
    }

    let (code, out, err) = tail(&[&url, "--nats-stream", "NOPE"]);
    assert_eq!((code, out), (1, Vec::<String>::new()));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("NATS stream NOPE"), "{err}");

    let mut nats = nats;
    nats.kill();
    let (code, out, err) = tail(&[&url]);
    assert_eq!((code, out), (1, Vec::<String>::new()));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("cannot connect to NATS at {url}")), "{err}");
}

#[tokio::test]
async fn tail_follow_sees_each_event_once_across_a_nats_restart() {
    let Some(mut nats) = Nats::start() else { return };
    let js = nats.jetstream().await;
    create_stream(&js).await;
    let mut published = publish_events(&js, "before", 2).await;

    let mut child = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["tail", "-f", &nats.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(child.stdout.take().unwrap());
    let err_lines = lines(child.stderr.take().unwrap());
    let mut err = String::new();
    let mut said = |needle: &str| {
        err.extend(err_lines.try_iter().map(|l| l + "\n"));
        err.contains(needle)
    };
    let mut seen = Vec::new();
    let take = |n: usize, seen: &mut Vec<String>| {
        for _ in 0..n {
            seen.push(out.recv_timeout(WAIT).expect("a record within the wait"));
        }
    };
    take(2, &mut seen);

    drop(js);
    nats.kill();
    assert!(wait_until(WAIT, || said("lost the connection to NATS")).await);
    nats.restart();
    let js = nats.jetstream().await;
    published.extend(publish_events(&js, "after", 3).await);
    take(3, &mut seen);
    assert!(wait_until(WAIT, || said("reconnected to NATS")).await);
    // One more: had anything come twice, it would come before this one.
    published.extend(publish_events(&js, "last", 1).await);
    take(1, &mut seen);
    let want: Vec<String> = published.iter().enumerate().map(|(i, l)| numbered(l, i as u64 + 1)).collect();
    assert_eq!(seen, want);
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.try_recv().is_err(), "nothing more was printed");
}

#[tokio::test]
async fn attach_shows_the_stream_and_follows_it_across_a_nats_restart() {
    let Some(mut nats) = Nats::start() else { return };
    let js = nats.jetstream().await;
    create_stream(&js).await;
    publish_events(&js, "before", 3).await;

    let term = tempfile::tempdir().unwrap();
    let tmux = Tmux::shell(term.path(), 200, 40).await;
    tmux.type_text(&format!("{} attach {}", env!("CARGO_BIN_EXE_glwatch"), nats.url()));
    tmux.keys(&["Enter"]);
    let screen =
        tmux.wait_until("the history", |s| s.contains("3 of 3 events shown") && s.contains("● connected")).await;
    assert!(screen.contains(&format!("attached to {} (stream GLWATCH)", nats.url())), "{screen}");

    publish_events(&js, "live", 1).await;
    tmux.wait_for("4 of 4 events shown").await;

    drop(js);
    nats.kill();
    tmux.wait_for("reconnecting…").await;
    nats.restart();
    let js = nats.jetstream().await;
    publish_events(&js, "after", 2).await;
    let screen = tmux.wait_until("the records after the restart", |s| s.contains("6 of 6 events shown")).await;
    assert!(screen.contains("● connected"), "{screen}");
    assert!(screen.contains("duplicates 0"), "no record came twice: {screen}");
    tmux.keys(&["q"]);
    tmux.wait_for_prompt("attach to quit").await;
}

/// A local HTTP destination that records the CloudEvent id of every request and answers 200.
async fn destination() -> (String, Arc<Mutex<Vec<String>>>) {
    use http_body_util::{BodyExt, Empty};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    let ids = Arc::new(Mutex::new(Vec::new()));
    let got = ids.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let got = got.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let got = got.clone();
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
                        got.lock().unwrap().push(event["id"].as_str().unwrap_or_default().to_owned());
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Empty::<bytes::Bytes>::new()))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(tcp);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
            });
        }
    });
    (url, ids)
}

/// One receiver's routes reading the stream: its own data directory, its own connection.
async fn routes_on(nats: &Nats, data_dir: PathBuf, url: &str) -> glwatch::routes::Routes {
    let options = glwatch::broker::NatsOptions { servers: vec![nats.url()], ..Default::default() };
    let config = glwatch::routes::config::forward(url).unwrap();
    glwatch::routes::Routes::start(
        vec![config],
        glwatch::routes::RoutesOptions {
            journal: data_dir.join("journal.jsonl"),
            max_line: 1 << 20,
            data_dir,
            last_seq: 0,
            backoff_base: std::time::Duration::from_millis(50),
            nats: Some(glwatch::routes::nats::NatsRoutes { options }),
        },
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_on_two_receivers_forwards_each_event_once() {
    let Some(nats) = Nats::start() else { return };
    let js = nats.jetstream().await;
    create_stream(&js).await;
    let (url, destination_ids) = destination().await;
    let got = destination_ids.clone();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let first = routes_on(&nats, dirs[0].path().to_owned(), &url).await;
    let second = routes_on(&nats, dirs[1].path().to_owned(), &url).await;
    wait_for_route(&js).await;

    let mut sent: Vec<String> = (0..30).map(|i| format!("ev-{i}")).collect();
    publish_events(&js, "ev", 30).await;
    publish_challenge(&js).await;
    assert!(wait_until(WAIT, || got.lock().unwrap().len() >= 30).await, "{:?}", got.lock().unwrap());
    // A last one: anything forwarded twice would be forwarded before it.
    publish_events(&js, "marker", 1).await;
    sent.push("marker-0".into());
    assert!(wait_until(WAIT, || got.lock().unwrap().contains(&"marker-0".to_owned())).await);
    let got = got.lock().unwrap().clone();
    assert_eq!(got, sent, "each event once, in order");
    let delivered: u64 =
        [&first, &second].iter().map(|r| r.statuses[0].delivered.load(std::sync::atomic::Ordering::Relaxed)).sum();
    assert_eq!(delivered, 31);
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), got.len());

    // `glwatch routes redeliver forward --from 1` on one receiver replays the stream once, not once per receiver.
    let files = glwatch::routes::RouteFiles::new(dirs[0].path(), "forward");
    files.request(&glwatch::routes::Redeliver::From(1)).unwrap();
    let all = || destination_ids.lock().unwrap().len();
    assert!(wait_until(WAIT, || all() >= 2 * sent.len()).await, "{:?}", destination_ids.lock().unwrap());
    publish_events(&js, "after-replay", 1).await;
    assert!(wait_until(WAIT, || all() > 2 * sent.len()).await);
    let again = destination_ids.lock().unwrap()[sent.len()..].to_vec();
    assert_eq!(again, [sent.clone(), vec!["after-replay-0".to_owned()]].concat());
    first.stop();
    second.stop();
}

/// A new route starts with what arrives from now on: waits for its durable consumer before anything is sent.
async fn wait_for_route(js: &jetstream::Context) {
    let name = glwatch::routes::nats::consumer_name("forward");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Ok(stream) = js.get_stream("GLWATCH").await {
            if stream.consumer_info(&name).await.is_ok() {
                return;
            }
        }
        assert!(std::time::Instant::now() < deadline, "the route's durable consumer {name} was never created");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn event_id(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["event"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_on_one_stream_feed_one_tail_and_one_route_each_event_once() {
    let Some(nats) = Nats::start() else { return };
    let url = nats.url();
    let (dest, got) = destination().await;
    // Started before any receiver: it waits for the stream to exist.
    let mut follow = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["tail", "-f", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let followed = lines(follow.stdout.take().unwrap());
    let args = ["--secret", SECRET, "--nats", &url, "--forward", &dest];
    let receivers = [Receiver::start(&args), Receiver::start(&args)];
    wait_for_route(&nats.jetstream().await).await;

    let ids: Vec<String> = (0..10).map(|i| format!("ev-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let reply = receivers[i % 2].client().post_signed(SECRET, &audit_event(id)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    // GreenLake retrying an event through the other receiver: acknowledged, stored and forwarded once.
    let reply = receivers[1].client().post_signed(SECRET, &audit_event("ev-0")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // A last one: had the retry been stored or forwarded again, it would come before this.
    let mut ids = ids;
    ids.push("marker".into());
    let reply = receivers[0].client().post_signed(SECRET, &audit_event("marker")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let seen: Vec<String> = (0..11).map(|_| followed.recv_timeout(WAIT).expect("a record followed")).collect();
    assert_eq!(seen.iter().map(|l| event_id(l)).collect::<Vec<_>>(), ids);
    for (n, line) in seen.iter().enumerate() {
        assert_eq!(glwatch::record::line_seq(line.as_bytes()), n as u64 + 1, "{line}");
    }
    assert!(wait_until(WAIT, || got.lock().unwrap().len() >= 11).await, "{:?}", got.lock().unwrap());
    assert_eq!(*got.lock().unwrap(), ids, "the route forwarded each event once, in order");

    let (code, out, err) = tail(&[&url, "--last", "3"]);
    assert_eq!((code, out), (0, seen[8..].to_vec()), "{err}");
    let (code, out, err) = tail(&[&url, "--after", "9"]);
    assert_eq!((code, out), (0, seen[9..].to_vec()), "{err}");
    let _ = follow.kill();
    let _ = follow.wait();
}
