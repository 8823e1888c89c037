//! The dashboard at scale: what a retained event costs in memory. The times (ingest, frames, filters, live ingest
//! while drawing) with a million events are a benchmark, not a test: `cargo bench --bench dashboard`.

use glwatch::record::Record;
use glwatch::tui::action::Action;
use glwatch::tui::app::{App, Info};
use std::sync::atomic::Ordering;

mod common;
#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{BLOCKS, BLOCK_OVERHEAD, BYTES};

fn info() -> Info {
    Info {
        listen_url: "https://127.0.0.1:8443/".into(),
        fingerprint: "AB:CD".into(),
        cert: None,
        secret_state: "primary".into(),
        log_path: None,
        export_dir: std::env::temp_dir(),
        utc_offset: time::UtcOffset::UTC,
        banner: None,
        attached: None,
        nats: None,
    }
}

const TYPES: [&str; 4] = [
    "com.hpe.greenlake.audit-log.v1.logs.created",
    "com.hpe.greenlake.subscriptions.v1.expiring-subscriptions",
    "com.hpe.greenlake.service-provision.v1.serviceprovision.provisioned",
    "com.hpe.greenlake.service-registry.v1.serviceoffer.onboarded",
];

/// An audit-log-shaped event, like the sample, with a unique id and one of 1000 users.
fn event(i: usize) -> Record {
    let user = format!("user{}@example.com", i % 1000);
    let json = format!(
        r#"{{"specversion":"1.0","id":"ev-{i:08}","source":"//global.api.greenlake.hpe.com/audit-log","type":"{ty}","datacontenttype":"application/json","time":"2024-12-20T12:34:53.161Z","data":{{"id":"ev-{i:08}","user":{{"username":"{user}"}},"workspace":{{"id":"3009de2825f211ec8a84fedebcb4a754","workspace_name":null,"workspace_type":null}},"application":{{"id":"00000000-0000-0000-0000-000000000000"}},"category":"user_management","description":"User {user} logged {what} (session {i})","created_at":1734698093161,"updated_at":1734698093161,"additional_info":{{"ip_address":"194.9.99.5","account_name":"HPEDEV -GLCP- Hackshack"}},"has_details":false}}}}"#,
        ty = TYPES[i % TYPES.len()],
        what = if i % 2 == 0 { "in" } else { "out" },
    );
    let at = time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_734_698_093 + (i / 100) as i64);
    common::event_record(json, at, &format!("10.0.{}.{}:443", (i / 256) % 4, i % 256))
}

fn json_len(r: &Record) -> usize {
    match r {
        Record::Event(e) => e.event.get().len(),
        _ => 0,
    }
}

fn fill(app: &mut App, n: usize) -> usize {
    let mut json = 0;
    for i in 0..n {
        let r = event(i);
        json += json_len(&r);
        app.update(Action::Record(r));
    }
    json
}

#[test]
fn a_retained_event_costs_its_json_plus_less_than_256_bytes() {
    const N: usize = 50_000;
    let mut app = App::new(info(), N);
    let (bytes0, blocks0) = (BYTES.load(Ordering::Relaxed), BLOCKS.load(Ordering::Relaxed));
    let json = fill(&mut app, N) as isize;
    let bytes = BYTES.load(Ordering::Relaxed) - bytes0;
    let blocks = BLOCKS.load(Ordering::Relaxed) - blocks0;
    let overhead = (bytes + blocks * BLOCK_OVERHEAD - json) / N as isize;
    eprintln!(
        "{N} events: json {} B/event, held {} B/event in {:.2} blocks/event, overhead {overhead} B/event",
        json / N as isize,
        bytes / N as isize,
        blocks as f64 / N as f64
    );
    assert_eq!(app.view_len(), N);
    assert!(overhead < 256, "overhead {overhead} B per event");
    // A filter adds its list of matches, 8 bytes each, and no more.
    let before = BYTES.load(Ordering::Relaxed);
    app.update(Action::OpenTextFilter);
    app.update(Action::FilterChar('i'));
    app.update(Action::FilterChar('n'));
    app.update(Action::FilterChar(' '));
    let filtered = BYTES.load(Ordering::Relaxed) - before;
    assert_eq!(app.view_len(), N / 2);
    assert!(filtered < (N as isize / 2) * 8 * 2 + 64 * 1024, "{filtered} bytes for the filtered view");
}
