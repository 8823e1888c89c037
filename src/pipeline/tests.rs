//! Tests of pipeline/mod.rs.
use super::*;
use crate::cloudevent::parse_body;
use crate::record::now;
use std::sync::Mutex;

#[derive(Clone, Default)]
struct Memory {
    written: Arc<Mutex<Vec<u8>>>,
    syncs: Arc<AtomicU64>,
    fail: Arc<std::sync::atomic::AtomicBool>,
}

impl Store for Memory {
    fn append(&mut self, lines: &[u8], _keys: &[DedupKey]) -> io::Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(io::Error::other("disk full"));
        }
        self.written.lock().unwrap().extend_from_slice(lines);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn last_seq(&self) -> u64 {
        7
    }
}

struct Collect(Arc<Mutex<Vec<String>>>);
impl Sink for Collect {
    fn emit(&mut self, _record: &Record, line: &str) {
        self.0.lock().unwrap().push(line.to_owned());
    }
}

fn delivery(id: &str) -> Delivery {
    let body = format!(r#"{{"specversion":"1.0","id":"{id}","source":"s","type":"t"}}"#);
    Delivery {
        received_at: now(),
        peer: "127.0.0.1:1".into(),
        via: None,
        verified_by: VerifiedBy::Primary,
        events: parse_body(body.as_bytes()).unwrap(),
        source_name: None,
        attributes: None,
    }
}

#[tokio::test]
async fn duplicates_are_acknowledged_and_flagged_and_failures_are_retryable() {
    let store = Memory::default();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (p, committer) =
        Pipeline::start(Some(Box::new(store.clone())), vec![Box::new(Collect(lines.clone()))], DedupWindow::new(10));
    assert_eq!(p.commit(delivery("a")).await.unwrap(), Committed { accepted: 1, duplicates: 0 });
    assert_eq!(p.commit(delivery("a")).await.unwrap(), Committed { accepted: 0, duplicates: 1 });
    store.fail.store(true, Ordering::SeqCst);
    assert!(matches!(p.commit(delivery("b")).await, Err(CommitError::Store(_))));
    store.fail.store(false, Ordering::SeqCst);
    // The failed event was never acknowledged, so its retry is new, not a duplicate.
    assert_eq!(p.commit(delivery("b")).await.unwrap(), Committed { accepted: 1, duplicates: 0 });
    drop(p);
    committer.join();
    let journal = String::from_utf8(store.written.lock().unwrap().clone()).unwrap();
    let kinds: Vec<(String, bool)> = journal
        .lines()
        .map(|l| match Record::from_line(l).unwrap() {
            Record::Event(e) => (EventFieldsId::of(&e), e.duplicate),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(kinds, vec![("a".into(), false), ("a".into(), true), ("b".into(), false)]);
    // Numbers continue after the store's last one; the failed group's number is not given out again.
    let seqs: Vec<u64> = journal.lines().map(|l| crate::record::line_seq(l.as_bytes())).collect();
    assert_eq!(seqs, [8, 9, 11]);
    let seen = lines.lock().unwrap();
    assert_eq!(seen.len(), 4, "sinks see the 503 rejection too: {seen:?}");
    assert!(seen[2].contains("\"status\":503"));
}

#[test]
fn outputs_get_each_record_with_its_own_line_when_a_note_comes_first_in_a_group() {
    struct Pairs(Arc<Mutex<Vec<(String, String)>>>);
    impl Sink for Pairs {
        fn emit(&mut self, record: &Record, line: &str) {
            self.0.lock().unwrap().push((record.to_line(), line.to_owned()));
        }
    }
    let pairs = Arc::new(Mutex::new(Vec::new()));
    let (_tx, rx) = mpsc::channel(1);
    let mut commit = CommitLoop {
        store: None,
        sinks: vec![Box::new(Pairs(pairs.clone()))],
        dedup: DedupWindow::new(10),
        rx,
        bell: Default::default(),
        buf: Vec::new(),
        keys: Vec::new(),
        next_seq: 1,
        fill: Default::default(),
        publisher: None,
    };
    let note = Record::Rejected(RejectedRecord {
        source_name: None,
        received_at: now(),
        peer: "127.0.0.1:2".into(),
        via: None,
        status: 400,
        reason: "malformed".into(),
        method: None,
        path: None,
        count: None,
    });
    let mut jobs = vec![
        Job::Note { record: note, ack: oneshot::channel().0 },
        Job::Events { delivery: delivery("a"), ack: oneshot::channel().0 },
    ];
    commit.commit_group(&mut jobs);
    let pairs = pairs.lock().unwrap();
    assert_eq!(pairs.len(), 2);
    for (n, (record, line)) in pairs.iter().enumerate() {
        assert_eq!(crate::record::line_seq(line.as_bytes()), n as u64 + 1, "numbered in commit order: {line}");
        assert_eq!(&Record::from_line(line).unwrap().to_line(), record);
    }
}

struct EventFieldsId;
impl EventFieldsId {
    fn of(e: &EventRecord) -> String {
        crate::cloudevent::EventFields::from_raw(e.event.get()).id
    }
}

#[tokio::test]
async fn commits_wait_for_the_window_being_loaded_and_none_is_accepted_twice() {
    let store = Memory::default();
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let load = Box::new(move || {
        let _ = wait.recv();
        let mut w = DedupWindow::new(10);
        w.insert("s", "old");
        Some(w)
    });
    let (p, committer) = Pipeline::start_loading(Some(Box::new(store.clone())), Vec::new(), load, None);
    assert!(!p.is_ready());
    let held = tokio::spawn({
        let p = p.clone();
        async move { p.commit(delivery("old")).await }
    });
    // Nothing is written while the window loads.
    tokio::task::yield_now().await;
    assert!(store.written.lock().unwrap().is_empty() && !held.is_finished());
    release.send(()).unwrap();
    assert_eq!(held.await.unwrap().unwrap(), Committed { accepted: 0, duplicates: 1 }, "a re-delivery stays one");
    assert!(p.is_ready());
    assert_eq!(p.commit(delivery("new")).await.unwrap(), Committed { accepted: 1, duplicates: 0 });
    drop(p);
    committer.join();
}

#[tokio::test]
async fn a_window_that_cannot_be_read_refuses_every_commit() {
    let (p, committer) = Pipeline::start_loading(None, Vec::new(), Box::new(|| None), None);
    assert!(matches!(p.commit(delivery("a")).await, Err(CommitError::Closed)));
    drop(p);
    committer.join();
}

/// Holds each (source, id) once, like JetStream's message ids; fails while `down`.
#[derive(Clone, Default)]
struct Broker {
    stored: Arc<Mutex<Vec<String>>>,
    down: Arc<std::sync::atomic::AtomicBool>,
}

impl Publisher for Broker {
    fn publish(&mut self, events: &[Outgoing<'_>]) -> Result<Vec<bool>, String> {
        if self.down.load(Ordering::SeqCst) {
            return Err("not connected".into());
        }
        assert!(events.iter().all(|e| !e.line.ends_with(b"\n") && e.line.starts_with(b"{\"seq\":")));
        let mut stored = self.stored.lock().unwrap();
        let mut held = Vec::new();
        for key in events.iter().map(|e| format!("{}/{}", e.source, e.id)) {
            held.push(stored.contains(&key));
            if !stored.contains(&key) {
                stored.push(key);
            }
        }
        Ok(held)
    }
}

#[tokio::test]
async fn the_broker_acknowledges_after_the_journal_and_its_verdict_on_duplicates_wins() {
    let store = Memory::default();
    // Another receiver already published "held"; "replayed" is in this receiver's window (from its journal) but
    // was answered 503 before a restart, so the broker never got it.
    let broker = Broker { stored: Arc::new(Mutex::new(vec!["s/held".into()])), ..Default::default() };
    let mut window = DedupWindow::new(10);
    window.insert("s", "replayed");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (p, committer) = Pipeline::start_publishing(
        Some(Box::new(store.clone())),
        vec![Box::new(Collect(lines.clone()))],
        window,
        Some(Box::new(broker.clone())),
    );
    assert_eq!(p.commit(delivery("a")).await.unwrap(), Committed { accepted: 1, duplicates: 0 });
    assert_eq!(p.commit(delivery("held")).await.unwrap(), Committed { accepted: 0, duplicates: 1 });
    assert_eq!(p.commit(delivery("a")).await.unwrap(), Committed { accepted: 0, duplicates: 1 });
    assert_eq!(p.commit(delivery("replayed")).await.unwrap(), Committed { accepted: 1, duplicates: 0 });
    broker.down.store(true, Ordering::SeqCst);
    assert!(matches!(p.commit(delivery("b")).await, Err(CommitError::Broker(_))));
    // A re-delivery is not acknowledged either while the broker cannot say it holds it.
    assert!(matches!(p.commit(delivery("a")).await, Err(CommitError::Broker(_))));
    broker.down.store(false, Ordering::SeqCst);
    // Never acknowledged, so its retry is sent again and accepted.
    assert_eq!(p.commit(delivery("b")).await.unwrap(), Committed { accepted: 1, duplicates: 0 });
    drop(p);
    committer.join();
    assert_eq!(*broker.stored.lock().unwrap(), ["s/held", "s/a", "s/replayed", "s/b"]);
    let seen = lines.lock().unwrap();
    let shown = |id: &str| seen.iter().filter(|l| l.contains(&format!("\"id\":\"{id}\""))).cloned().collect::<Vec<_>>();
    assert!(
        shown("held")[0].contains("\"duplicate\":true") && crate::record::line_seq(shown("held")[0].as_bytes()) > 0
    );
    assert!(shown("replayed")[0].contains("\"duplicate\":false"), "{:?}", shown("replayed"));
    assert!(seen.iter().any(|l| l.contains("\"status\":503") && l.contains("NATS: not connected")), "{seen:?}");
    // The journal was written first: it holds the refused group's line too.
    let journal = String::from_utf8(store.written.lock().unwrap().clone()).unwrap();
    assert_eq!(journal.lines().filter(|l| l.contains("\"id\":\"b\"")).count(), 2);
}

#[test]
fn a_commit_from_a_worker_that_never_goes_idle_is_still_written() {
    // A runtime whose worker leaves the committer's wake to its park hook, then keeps its thread busy without ever
    // parking: the committer must find the job on its own.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().on_thread_park(before_park).build().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (p, committer) = Pipeline::start(None, vec![Box::new(Collect(lines.clone()))], DedupWindow::new(10));
    // Ready before the commit starts: a commit that had to wait for the window would need this thread, which the
    // loop below keeps busy, to poll it again.
    while !p.is_ready() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    rt.block_on(async {
        // One park first, so this thread counts as hooked.
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        let task = tokio::spawn({
            let p = p.clone();
            async move { p.commit(delivery("busy")).await }
        });
        tokio::task::yield_now().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while lines.lock().unwrap().is_empty() {
            assert!(std::time::Instant::now() < deadline, "the committer never took the queued job");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(task.await.unwrap().unwrap(), Committed { accepted: 1, duplicates: 0 });
    });
    drop(p);
    committer.join();
}

#[test]
fn many_concurrent_commits_from_hooked_workers_are_each_answered_once() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_park(before_park)
        .build()
        .unwrap();
    let store = Memory::default();
    let (p, committer) = Pipeline::start(Some(Box::new(store.clone())), vec![], DedupWindow::new(1000));
    let answers = rt.block_on(async {
        let tasks: Vec<_> = (0..500)
            .map(|i| {
                let p = p.clone();
                tokio::spawn(async move { p.commit(delivery(&format!("e{}", i % 400))).await.unwrap() })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.unwrap());
        }
        answers
    });
    drop(p);
    committer.join();
    let accepted: usize = answers.iter().map(|c| c.accepted).sum();
    let duplicates: usize = answers.iter().map(|c| c.duplicates).sum();
    assert_eq!((accepted, duplicates), (400, 100));
    assert_eq!(String::from_utf8(store.written.lock().unwrap().clone()).unwrap().lines().count(), 500);
}
