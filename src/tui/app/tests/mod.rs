//! State tests of [`App::update`]: actions in, state out, no terminal. Filtering, the records panels and the
//! help overlay have their own files.

mod filter;
mod help;
mod records;
mod sources;

use super::*;
use crate::record::VerifiedBy;
use crate::record::{ChallengeRecord, RejectedRecord};
use crate::tui::history::tests::event;

const AUDIT: &str = "com.hpe.greenlake.audit-log.v1.logs.created";
const SUBS: &str = "com.hpe.greenlake.subscriptions.v1.expiring-subscriptions";

pub(crate) fn info() -> Info {
    Info {
        listen_url: "https://127.0.0.1:8443/".into(),
        fingerprint: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
            .into(),
        cert: None,
        secret_state: "primary".into(),
        log_path: None,
        export_dir: PathBuf::from("/tmp"),
        utc_offset: UtcOffset::UTC,
        banner: None,
        attached: None,
        nats: None,
    }
}

fn app_with(n: usize) -> App {
    let mut app = App::new(info(), 100);
    app.update(Action::Viewport { table_rows: 5, detail_rows: 5, help_rows: 5, help_max_scroll: 30 });
    for i in 0..n {
        let (ty, user) = if i % 3 == 2 { (SUBS, "acme") } else { (AUDIT, if i % 2 == 0 { "alice" } else { "bob" }) };
        app.update(Action::Record(Record::Event(event(
            &format!("id-{i}"),
            ty,
            Some(user),
            &format!("event number {i}"),
        ))));
    }
    app
}

fn shown_ids(app: &App) -> Vec<String> {
    app.rows_in(0..app.view_len()).map(|(_, r)| app.history().id(r).to_string()).collect()
}

fn selected_id(app: &App) -> Option<String> {
    app.selected_row().map(|r| app.history().id(r).to_string())
}

fn type_text(app: &mut App, s: &str) {
    app.update(Action::OpenTextFilter);
    for c in s.chars() {
        app.update(Action::FilterChar(c));
    }
}

#[test]
fn following_keeps_the_newest_selected_until_moving_by_hand() {
    let mut app = app_with(3);
    assert!(app.following());
    assert_eq!(selected_id(&app).as_deref(), Some("id-2"));
    app.update(Action::Up);
    assert!(!app.following(), "moving by hand pauses following");
    assert_eq!(selected_id(&app).as_deref(), Some("id-1"));
    app.update(Action::Record(Record::Event(event("id-3", AUDIT, None, "x"))));
    assert_eq!(selected_id(&app).as_deref(), Some("id-1"), "paused: stays put");
    app.update(Action::ToggleFollow);
    assert!(app.following());
    assert_eq!(selected_id(&app).as_deref(), Some("id-3"));
    app.update(Action::Record(Record::Event(event("id-4", AUDIT, None, "x"))));
    assert_eq!(selected_id(&app).as_deref(), Some("id-4"));
    app.update(Action::Top);
    assert!(!app.following());
    assert_eq!(selected_id(&app).as_deref(), Some("id-0"));
    app.update(Action::Bottom);
    assert!(app.following(), "going to the newest resumes following");
    app.update(Action::Scroll(-2));
    assert!(!app.following());
    assert_eq!(selected_id(&app).as_deref(), Some("id-2"));
}

#[test]
fn selection_and_window_stay_in_bounds() {
    let mut app = app_with(20);
    app.update(Action::Top);
    assert_eq!(app.table_window(5), 0..5);
    app.update(Action::PageDown);
    assert_eq!(selected_id(&app).as_deref(), Some("id-4"));
    app.update(Action::PageDown);
    assert_eq!(selected_id(&app).as_deref(), Some("id-8"));
    assert_eq!(app.table_window(5), 4..9);
    for _ in 0..10 {
        app.update(Action::PageDown);
    }
    assert_eq!(selected_id(&app).as_deref(), Some("id-19"));
    assert_eq!(app.table_window(5), 15..20);
    app.update(Action::Up);
    assert_eq!(app.table_window(5), 15..20, "no needless scrolling");
    for _ in 0..30 {
        app.update(Action::Up);
    }
    assert_eq!(selected_id(&app).as_deref(), Some("id-0"));
    assert_eq!(app.table_window(5), 0..5);
    assert_eq!(app.table_window(100), 0..20);
}
