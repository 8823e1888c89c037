//! Routes' state as an operator reads it: `glwatch routes` asking the running receiver (its socket, and HTTPS with
//! a token) or, with none running, the files in the data directory; the per-route metrics; the routes panel of
//! the dashboard and of `glwatch attach` on a real terminal (tmux); and `Retry-After` as an HTTP-date.

mod common;

use common::downstream::Downstream;
use common::tmux::Tmux;
use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const FAST: &[(&str, &str)] = &[("GLWATCH_ROUTE_BACKOFF_BASE", "50ms")];
const TOKEN: &str = "route-state-token";

/// Three routes: `ok` delivers, `down` answers 503 for ever, `bad` refuses with 400 (dead letters).
struct Destinations {
    ok: Downstream,
    down: Downstream,
    bad: Downstream,
}

impl Destinations {
    async fn start() -> Destinations {
        Destinations {
            ok: Downstream::start(200).await,
            down: Downstream::start(503).await,
            bad: Downstream::start(400).await,
        }
    }

    fn routes_file(&self, dir: &Path) -> String {
        let text = format!(
            "[[route]]\nname = \"ok\"\nurl = \"{}\"\n\n[[route]]\nname = \"down\"\nurl = \"{}\"\n\n\
             [[route]]\nname = \"bad\"\nurl = \"{}\"\n",
            self.ok.url, self.down.url, self.bad.url
        );
        let path = dir.join("routes.toml");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// Every event is through `ok` and `bad`, and `down` was tried a few times, as the receiver in `dir` reports
    /// it (a destination sees a request before glwatch has counted its answer).
    async fn settled(&self, dir: &Path, events: u64) {
        let client = socket_client(dir);
        let deadline = std::time::Instant::now() + WAIT;
        let mut last = Vec::new();
        while std::time::Instant::now() < deadline {
            if let Ok(reports) = glwatch::watch::route_state::fetch(&client).await {
                let by = |n: &str| reports.iter().find(|r| r.name == n).cloned().unwrap();
                let (ok, down, bad) = (by("ok"), by("down"), by("bad"));
                if ok.delivered == events && bad.dead_letters == events && down.failures >= 3 {
                    return;
                }
                last = reports;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the routes never settled: {last:#?}");
    }
}

/// A client of the receiver's watch socket in `dir`.
fn socket_client(dir: &Path) -> glwatch::watch::client::WatchClient {
    glwatch::watch::client::WatchClient::new(
        glwatch::watch::client::Target::Unix(dir.join("glwatch-data/glwatch.sock")),
        &glwatch::send::client::Trust::Platform,
        None,
    )
    .unwrap()
}

async fn send(rx: &Receiver, prefix: &str, n: usize) {
    let client = rx.client();
    for i in 0..n {
        let reply = client.post_signed(SECRET, &audit_event(&format!("{prefix}-{i}"))).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
}

/// `glwatch routes ARGS` in `dir`: (exit code, stdout, stderr).
fn routes_cmd(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .arg("routes")
        .args(args)
        .current_dir(dir)
        .env_remove("GLWATCH_WATCH_TOKEN")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The row of `route` in the printed table: name, state, cursor, backlog, delivered, failures, dead letters and
/// the last error.
fn row(table: &str, route: &str) -> Vec<String> {
    let line = table.lines().find(|l| l.split_whitespace().next() == Some(route)).unwrap_or_else(|| panic!("{table}"));
    let mut out = vec![line[..16].trim().to_owned(), line[17..29].trim().to_owned()];
    let mut rest = &line[29..];
    for _ in 0..5 {
        rest = rest.trim_start();
        let end = rest.find(' ').unwrap_or(rest.len());
        out.push(rest[..end].to_owned());
        rest = &rest[end..];
    }
    out.push(rest.trim().to_owned());
    out
}

/// The HTTPS watch endpoint's port, from the start-up lines.
fn watch_port(rx: &Receiver) -> u16 {
    const NEEDLE: &str = "glwatch: watch endpoint on https://127.0.0.1:";
    let line = rx.banner.iter().find(|l| l.contains(NEEDLE)).cloned().unwrap_or_else(|| rx.wait_stderr(NEEDLE));
    line.split(NEEDLE).nth(1).unwrap().split('/').next().unwrap().parse().unwrap()
}

/// A metric's value from an OpenMetrics text.
fn metric(text: &str, name: &str) -> u64 {
    let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glwatch_routes_asks_the_running_receiver_and_reads_the_files_once_it_is_gone() {
    let dest = Destinations::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let routes = dest.routes_file(tmp.path());
    let args = ["--secret", SECRET, "--routes", &routes, "--watch-listen", "127.0.0.1:0", "--watch-token", TOKEN];
    let mut rx = Receiver::start_in_with_env(tmp.path(), &args, FAST);
    send(&rx, "state", 3).await;
    dest.settled(tmp.path(), 3).await;

    // Over the default socket in glwatch-data/.
    let (code, out, err) = routes_cmd(tmp.path(), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("no glwatch answers"), "{err}");
    let ok = row(&out, "ok");
    assert_eq!((ok[1].as_str(), ok[3].as_str(), ok[4].as_str(), ok[6].as_str()), ("ok", "0", "3", "0"), "{out}");
    let down = row(&out, "down");
    assert!(down[1] == "retrying" || down[1] == "failing", "{out}");
    assert_eq!((down[3].as_str(), down[4].as_str()), ("3", "0"), "the whole backlog waits: {out}");
    assert_eq!(down[7], "HTTP 503: nope", "{out}");
    let bad = row(&out, "bad");
    assert_eq!(
        (bad[1].as_str(), bad[3].as_str(), bad[6].as_str(), bad[7].as_str()),
        ("dead letters", "0", "3", "HTTP 400: nope")
    );

    // Over HTTPS with the token; without it, one line and a failure.
    let target = format!("https://localhost:{}", watch_port(&rx));
    let ca = rx.ca().display().to_string();
    let (code, remote, err) = routes_cmd(tmp.path(), &[&target, "--ca", &ca, "--token", TOKEN]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(row(&remote, "ok"), ok);
    assert_eq!(row(&remote, "bad"), bad);
    assert_eq!(row(&remote, "down")[7], "HTTP 503: nope");
    let (code, _, err) = routes_cmd(tmp.path(), &[&target, "--ca", &ca, "--token", "wrong"]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("401 Unauthorized"), "{err}");

    // The receiver gone, the default target falls back to the files, and says so.
    rx.signal("-TERM");
    rx.wait_exit();
    let (code, out, err) = routes_cmd(tmp.path(), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no glwatch answers on unix:") && err.contains("showing what its routes last saved"), "{err}");
    assert_eq!(row(&out, "ok")[4], "3", "{out}");
    assert_eq!(row(&out, "bad")[6], "3", "{out}");
    assert_eq!(row(&out, "down")[7], "HTTP 503: nope", "{out}");
    // A target given explicitly is not replaced by the files.
    let socket = format!("unix:{}", tmp.path().join("glwatch-data/glwatch.sock").display());
    let (code, out, err) = routes_cmd(tmp.path(), &[&socket]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot connect to unix:"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_route_metrics_match_the_run() {
    let dest = Destinations::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let routes = dest.routes_file(tmp.path());
    let rx = Receiver::start_in_with_env(tmp.path(), &["--secret", SECRET, "--routes", &routes], FAST);
    send(&rx, "metrics", 4).await;
    dest.settled(tmp.path(), 4).await;
    let client = socket_client(tmp.path());
    let before = dest.down.attempts() as u64;
    let response = client.get("/metrics", &[]).await.unwrap();
    let text = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let text = String::from_utf8(text.to_vec()).unwrap();
    let after = dest.down.attempts() as u64;
    assert_eq!(metric(&text, "glwatch_route_delivered_total{route=\"ok\"}"), 4, "{text}");
    assert_eq!(metric(&text, "glwatch_route_failures_total{route=\"ok\"}"), 0);
    assert_eq!(metric(&text, "glwatch_route_backlog{route=\"ok\"}"), 0);
    assert_eq!(metric(&text, "glwatch_route_dead_letters{route=\"ok\"}"), 0);
    assert_eq!(metric(&text, "glwatch_route_delivered_total{route=\"down\"}"), 0);
    let failures = metric(&text, "glwatch_route_failures_total{route=\"down\"}");
    // Every answered attempt failed; one may be in flight while scraping.
    assert!(before.saturating_sub(1) <= failures && failures <= after, "{before} <= {failures} <= {after}");
    assert_eq!(metric(&text, "glwatch_route_backlog{route=\"down\"}"), 4);
    assert_eq!(metric(&text, "glwatch_route_dead_letters{route=\"bad\"}"), 4);
    assert_eq!(metric(&text, "glwatch_route_failures_total{route=\"bad\"}"), 4);
    for kind in ["# TYPE glwatch_route_delivered counter", "# TYPE glwatch_route_backlog gauge"] {
        assert!(text.lines().any(|l| l == kind), "{kind}:\n{text}");
    }
    // The same figures on /v1/routes.
    let reports = glwatch::watch::route_state::fetch(&client).await.unwrap();
    let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["ok", "down", "bad"]);
    assert_eq!((reports[0].delivered, reports[2].dead_letters, reports[1].backlog), (4, 4, 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_as_an_http_date_is_honoured() {
    let down = Downstream::start(503).await;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("routes.toml");
    std::fs::write(&path, format!("[[route]]\nname = \"later\"\nurl = \"{}\"\n", down.url)).unwrap();
    // Three seconds ahead, in whole seconds as HTTP-dates are: the retry waits at least two.
    let at = time::OffsetDateTime::now_utc() + Duration::from_secs(3);
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    down.answer_with("retry-after", &at.format(&format).unwrap());
    let rx = Receiver::start_in_with_env(tmp.path(), &["--secret", SECRET, "--routes", path.to_str().unwrap()], FAST);
    send(&rx, "later", 1).await;
    assert!(wait_until(WAIT, || down.attempts() >= 2).await);
    let all = down.all();
    let waited = all[1].at - all[0].at;
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?} despite Retry-After");
}

fn port_from(screen: &str) -> u16 {
    let rest = screen.split("https://127.0.0.1:").nth(1).expect("the header shows the listen URL");
    rest.split('/').next().unwrap().parse().expect("a port number")
}

/// Opens the routes panel and waits until it shows `ok` with 2 delivered and `down` failing with its error.
async fn panel_shows_the_routes(tmux: &Tmux) {
    tmux.keys(&["o"]);
    let screen = tmux
        .wait_until("the routes panel", |s| {
            s.contains("Routes (3)")
                && s.lines().any(|l| l.starts_with("ok ") && l.contains(" ok ") && l.contains(" 2 "))
                && s.lines().any(|l| l.starts_with("down ") && l.contains("HTTP 503: nope"))
        })
        .await;
    assert!(screen.lines().any(|l| l.contains("ROUTE") && l.contains("LAST ERROR")), "{screen}");
    assert!(screen.lines().any(|l| l.starts_with("bad ") && l.contains("dead letters")), "{screen}");
    tmux.keys(&["o"]);
    tmux.wait_until("the panel closed", |s| !s.contains("Routes (3)")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routes_panel_shows_delivered_counts_and_the_last_error_locally_and_attached() {
    let dest = Destinations::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let routes = dest.routes_file(tmp.path());

    // The dashboard over a receiver in the same process.
    let tmux = Tmux::shell(tmp.path(), 200, 50).await;
    tmux.command(&format!(
        "GLWATCH_ROUTE_BACKOFF_BASE=50ms {} --listen 127.0.0.1:0 --secret {SECRET} --routes {routes}",
        env!("CARGO_BIN_EXE_glwatch")
    ));
    let screen = tmux.wait_for("Waiting for events…").await;
    let client = Client::new(
        format!("127.0.0.1:{}", port_from(&screen)).parse().unwrap(),
        &tmp.path().join("glwatch-data/certs/glwatch-cert.pem"),
    );
    for id in ["panel-1", "panel-2"] {
        assert_eq!(client.post_signed(SECRET, &audit_event(id)).await.status, 200);
    }
    dest.settled(tmp.path(), 2).await;
    panel_shows_the_routes(&tmux).await;

    // The same from `glwatch attach` over the receiver's socket.
    let term = tempfile::tempdir().unwrap();
    let attached = Tmux::shell(term.path(), 200, 50).await;
    let socket = tmp.path().join("glwatch-data/glwatch.sock");
    attached.command(&format!("{} attach unix:{}", env!("CARGO_BIN_EXE_glwatch"), socket.display()));
    attached.wait_for("2 of 2 events shown").await;
    panel_shows_the_routes(&attached).await;
    attached.keys(&["q"]);
    attached.wait_for_prompt("attach to quit").await;

    tmux.keys(&["q"]);
    tmux.wait_for_prompt("the dashboard to quit").await;
}
