//! Watching from elsewhere: `glwatch attach` on a real terminal (tmux) over the watch socket, across a receiver
//! restart; journal retention deleting old segments; and start-up over a large journal. The real binary throughout.

mod common;

use common::tmux::Tmux;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

fn socket(dir: &Path) -> String {
    format!("unix:{}", dir.join("glwatch-data/glwatch.sock").display())
}

#[tokio::test]
async fn attach_shows_history_and_live_records_and_resumes_across_a_restart_without_gap_or_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let mut rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    let minute = || time::OffsetDateTime::now_utc().unix_timestamp() / 60;
    let sent_in = minute();
    send_events(&rx, "before", 3).await;

    let term = tempfile::tempdir().unwrap();
    let tmux = Tmux::shell(term.path(), 200, 40).await;
    tmux.type_text(&format!("{} attach {}", env!("CARGO_BIN_EXE_glwatch"), socket(dir.path())));
    tmux.keys(&["Enter"]);
    let screen =
        tmux.wait_until("the history", |s| s.contains("3 of 3 events shown") && s.contains("● connected")).await;
    assert!(screen.contains(&format!("attached to {}", socket(dir.path()))), "{screen}");
    // History counts in the rate by when it arrived, not when it was loaded (unless the minute turned meanwhile).
    if minute() == sent_in {
        assert!(screen.contains("rate") && screen.contains(" 3/min"), "history counted by arrival time: {screen}");
    }

    send_events(&rx, "live", 1).await;
    tmux.wait_for("4 of 4 events shown").await;

    rx.signal("-TERM");
    rx.wait_exit();
    tmux.wait_for("reconnecting…").await;
    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET]);
    send_events(&rx, "after", 2).await;
    let screen = tmux.wait_until("the records after the restart", |s| s.contains("6 of 6 events shown")).await;
    assert!(screen.contains("● connected"), "{screen}");
    assert!(screen.contains("duplicates 0"), "no record came twice: {screen}");
    assert!(screen.contains("events 6"), "{screen}");

    // Export writes the dashboard's records, here in the terminal's directory.
    tmux.keys(&["e"]);
    tmux.wait_for("exported 6 events").await;
    tmux.keys(&["q"]);
    tmux.wait_for_prompt("attach to quit").await;
    // The receiver is untouched by the dashboard quitting.
    send_events(&rx, "still", 1).await;
}

#[test]
fn attach_without_a_terminal_fails_with_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_glwatch"))
        .args(["attach", "unix:/nonexistent.sock"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("attach needs a terminal"), "{err}");
}

#[tokio::test]
async fn retention_deletes_old_segments_and_keeps_the_one_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start_in(
        dir.path(),
        &["--secret", SECRET, "--journal-segment-size", "4K", "--journal-max-size", "12K"],
    );
    send_events(&rx, "r", 60).await;
    let base = dir.path().join("glwatch-data/journal.jsonl");
    // Old segments are deleted beside the writing, not by it: wait for the pass after the last roll.
    let older = || {
        let list = glwatch::journal::segments(&base).unwrap();
        let sizes = list[..list.len() - 1].iter().map(|(_, p)| std::fs::metadata(p).map_or(0, |m| m.len()));
        (list.clone(), sizes.sum::<u64>())
    };
    wait_until(WAIT, || older().1 <= 12 * 1024).await;
    let (list, older) = older();
    assert!(list.first().unwrap().0 > 0, "the first segments are gone: {list:?}");
    let (newest, _) = list.last().unwrap().clone();
    assert!(older <= 12 * 1024, "{older} bytes in older segments");
    // The newest segment is the one written to: a new event lands there (or in the one after it).
    send_events(&rx, "last", 1).await;
    let list = glwatch::journal::segments(&base).unwrap();
    assert!(list.iter().any(|(i, _)| *i == newest) || list.last().unwrap().0 == newest + 1, "{list:?}");

    let out = Command::new(env!("CARGO_BIN_EXE_glwatch")).args(["tail", &socket(dir.path())]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err
        .lines()
        .find_map(|l| l.strip_prefix("glwatch: history begins at seq "))
        .unwrap_or_else(|| panic!("tail says where history begins: {err}"));
    let first: u64 = first.split(' ').next().unwrap().parse().unwrap();
    assert!(first > 1, "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().next().unwrap().starts_with(&format!("{{\"seq\":{first},")), "{stdout}");
}

#[tokio::test]
async fn start_up_over_a_large_journal_answers_and_still_knows_recent_duplicates() {
    const RECORDS: u64 = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("glwatch-data");
    std::fs::create_dir_all(&data).unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(data.join("journal.jsonl")).unwrap());
    let template: serde_json::Value = serde_json::from_slice(&fixture("audit-log-created.json")).unwrap();
    let at = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    for seq in 1..=RECORDS {
        let mut event = template.clone();
        event["id"] = serde_json::Value::String(format!("old-{seq}"));
        let record = event_record(event.to_string(), at, "127.0.0.1:1");
        std::io::Write::write_all(&mut out, (record.to_line_seq(seq) + "\n").as_bytes()).unwrap();
    }
    std::io::Write::flush(&mut out).unwrap();
    drop(out);

    let rx = Receiver::start_in(dir.path(), &["--secret", SECRET, "--dedup-window", "1000", "--retain", "100"]);
    let client = rx.client();
    let fresh = client.post_signed(SECRET, &audit_event("new-1")).await;
    assert_eq!((fresh.status, fresh.json()["duplicates"].as_u64()), (200, Some(0)), "{}", fresh.body);
    let record = rx.next_record();
    assert_eq!(record["seq"].as_u64(), Some(RECORDS + 1), "numbering goes on after the journal");
    let again = client.post_signed(SECRET, &audit_event(&format!("old-{RECORDS}"))).await;
    assert_eq!((again.status, again.json()["duplicates"].as_u64()), (200, Some(1)), "{}", again.body);
}
