//! Render tests: the dashboard drawn on ratatui's `TestBackend`, checked for what the operator would read.
//!
//! Over 400 lines: one render harness and its scenarios; splitting would scatter the shared screen helpers.

use crate::record::{ChallengeRecord, EventRecord, Record, RejectedRecord, VerifiedBy};
use crate::tui::action::Action;
use crate::tui::app::{App, Info};
use crate::tui::draw_frame;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;
use serde_json::value::RawValue;
use std::path::PathBuf;
use time::macros::datetime;
use time::{OffsetDateTime, UtcOffset};

pub const NOW: OffsetDateTime = datetime!(2024-12-20 12:35:30 UTC);
pub const FINGERPRINT: &str =
    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:99:88";

pub fn info() -> Info {
    Info {
        listen_url: "https://127.0.0.1:8443/".into(),
        fingerprint: FINGERPRINT.into(),
        cert: None,
        secret_state: "primary".into(),
        log_path: Some(PathBuf::from("/var/log/glwatch.log")),
        export_dir: PathBuf::from("/tmp/exports"),
        utc_offset: UtcOffset::UTC,
        banner: None,
        attached: None,
        nats: None,
    }
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

pub fn event_record(json: &str, at: OffsetDateTime, duplicate: bool) -> Record {
    Record::Event(EventRecord {
        source_name: None,
        attributes: None,
        received_at: at,
        peer: "203.0.113.7:51234".into(),
        via: None,
        verified_by: VerifiedBy::Primary,
        duplicate,
        event: RawValue::from_string(crate::cloudevent::minify(json).into_owned()).unwrap(),
    })
}

/// What the receiver would have produced for the samples: a single audit event, the expiring-subscriptions event,
/// then the batch (whose second element re-delivers the expiring event), a challenge and two kinds of refusal.
pub fn sample_records() -> Vec<Record> {
    let mut out = vec![
        event_record(&fixture("audit-log-created.json"), datetime!(2024-12-20 12:34:55 UTC), false),
        event_record(&fixture("expiring-subscriptions.json"), datetime!(2024-12-20 12:35:01 UTC), false),
    ];
    let batch = fixture("batch.json");
    let batch: Vec<&RawValue> = serde_json::from_str(&batch).unwrap();
    out.push(event_record(batch[0].get(), datetime!(2024-12-20 12:35:10 UTC), false));
    out.push(event_record(batch[1].get(), datetime!(2024-12-20 12:35:10 UTC), true));
    let challenge: serde_json::Value = serde_json::from_str(&fixture("challenge.json")).unwrap();
    out.insert(
        0,
        Record::Challenge(ChallengeRecord {
            source_name: None,
            received_at: datetime!(2024-12-20 12:30:00 UTC),
            peer: "16.0.0.1:443".into(),
            via: None,
            challenge_request: challenge["data"]["challengeRequest"].as_str().unwrap().into(),
            answered: true,
            reason: None,
            verification: Some("5b8f2c0e9d3a7f41b6c2d8e0a9f3b7c15d2e8a4f6b0c9d3e7a1f5b8c2d6e0a9f".into()),
            answer_micros: Some(42),
        }),
    );
    out.push(Record::Rejected(RejectedRecord {
        source_name: None,
        received_at: datetime!(2024-12-20 12:35:20 UTC),
        peer: "198.51.100.9:40000".into(),
        via: None,
        status: 401,
        reason: "bad signature".into(),
        method: Some("POST".into()),
        path: Some("/".into()),
        count: Some(1000),
    }));
    out.push(Record::Rejected(RejectedRecord {
        source_name: None,
        received_at: datetime!(2024-12-20 12:35:21 UTC),
        peer: "198.51.100.10:40001".into(),
        via: None,
        status: 400,
        reason: "refused challenge: not a UUID".into(),
        method: Some("POST".into()),
        path: Some("/".into()),
        count: None,
    }));
    out
}

pub fn sample_app() -> App {
    let mut app = App::new(info(), 100_000);
    for r in sample_records() {
        app.update(Action::Record(r));
    }
    app
}

pub fn render_buffer(app: &mut App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let dropped = app.screen_dropped();
    draw_frame(&mut term, app, NOW, dropped).unwrap();
    term.backend().buffer().clone()
}

pub fn lines(buf: &Buffer) -> Vec<String> {
    let a = buf.area;
    (a.y..a.y + a.height).map(|y| (a.x..a.x + a.width).map(|x| buf[(x, y)].symbol()).collect()).collect()
}

pub fn render(app: &mut App, w: u16, h: u16) -> Vec<String> {
    lines(&render_buffer(app, w, h))
}

fn screen(lines: &[String]) -> String {
    lines.join("\n")
}

#[track_caller]
fn assert_shows(lines: &[String], text: &str) {
    assert!(lines.iter().any(|l| l.contains(text)), "screen does not show {text:?}:\n{}", screen(lines));
}

#[track_caller]
fn assert_hides(lines: &[String], text: &str) {
    assert!(!lines.iter().any(|l| l.contains(text)), "screen shows {text:?}:\n{}", screen(lines));
}

fn row_of<'a>(lines: &'a [String], text: &str) -> &'a str {
    lines.iter().find(|l| l.contains(text)).unwrap_or_else(|| panic!("no line with {text:?}:\n{}", screen(lines)))
}

fn key(app: &mut App, c: char) {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let code = match c {
        '\n' => KeyCode::Enter,
        '\x1b' => KeyCode::Esc,
        '\t' => KeyCode::Tab,
        c => KeyCode::Char(c),
    };
    let ev = KeyEvent::new(code, KeyModifiers::NONE);
    if let Some(a) = crate::tui::keymap::action_for_key(app.key_context(), &ev) {
        app.update(a);
    }
}

fn keys(app: &mut App, s: &str) {
    s.chars().for_each(|c| key(app, c));
}

#[test]
fn at_80x24_the_header_rows_detail_and_panels_are_all_there() {
    let mut app = sample_app();
    let s = render(&mut app, 80, 24);
    assert_shows(&s, "https://127.0.0.1:8443/");
    assert_shows(&s, "cert AB:CD:EF:01…99:88");
    assert_shows(&s, "secret primary");
    assert_shows(&s, " events 3  challenges 1  rejected 1001  duplicates 1");
    assert_shows(&s, "3 of 3 events shown  ● following");
    // Rows, oldest first, with local time, short type, user and as much summary as fits.
    assert_shows(&s, "Time     Type                      User               Summary");
    assert_shows(&s, "12:34:55 audit-log.v1.logs.created john.doe@hpedev.io User john.doe@hpedev.io lo");
    assert_shows(&s, "12:35:01 subscriptions.v1.expiring John Doe Inc.      ×2 Compute Subscription EN");
    assert_shows(&s, "12:35:10 audit-log.v1.logs.created john.doe@hpedev.io User john.doe@hpedev.io lo");
    // The newest event is selected and shown in the detail pane.
    assert_shows(&s, "Event uJoQ5JMB_HAPiq2sSllu");
    assert_shows(&s, "received 2024-12-20 12:35:10.000 (+00:00:00)  from 203.0.113.7:51234");
    assert_shows(&s, "signature valid (primary secret)  duplicates 0  lag 16.8 s");
    assert_shows(&s, r#"  "id": "uJoQ5JMB_HAPiq2sSllu","#);
    // Panels.
    assert_shows(&s, "Challenges (1)");
    assert_shows(&s, "12:30:00 8cbecfea-d708-4706-bba3-669225084a10 answered");
    assert_shows(&s, "42 µs");
    assert_shows(&s, "Rejected requests (1001)");
    assert_shows(&s, "12:35:21 198.51.100.10:40001    400 refused challenge: not a UUID");
    assert_shows(&s, "12:35:20 198.51.100.9:40000     401 bad signature");
    assert_shows(&s, "×1000");
    assert_shows(&s, " ? help  / filter  t types");
    assert_eq!(s.len(), 24);
}

#[test]
fn at_200x50_every_column_and_the_whole_event_are_visible() {
    let mut app = sample_app();
    // Select the audit event that was delivered once and read it.
    keys(&mut app, "g");
    let s = render(&mut app, 200, 50);
    for title in ["Time", "Type", "User", "Category", "Summary", "Verified"] {
        assert!(s[3].contains(title), "column {title}: {}", s[3]);
    }
    let out = row_of(&s, "logged out");
    assert!(out.contains("user_management"), "{out}");
    assert!(out.contains("primary"), "{out}");
    assert_shows(&s, "‖ paused (f follows)");
    assert_shows(&s, "3 of 3 events shown");
    // The detail pane, beside the table, holds the whole event.
    for line in [
        r#""specversion": "1.0","#,
        r#""type": "com.hpe.greenlake.audit-log.v1.logs.created","#,
        r#""username": "john.doe@hpedev.io""#,
        r#""description": "User john.doe@hpedev.io logged out","#,
        r#""created_at": 1734698093161,"#,
        r#""workspace_name": null,"#,
        r#""has_details": false"#,
    ] {
        assert_shows(&s, line);
    }
    assert_shows(&s, "lag 1.8 s");
    let challenge = row_of(&s, "8cbecfea-d708-4706-bba3-669225084a10");
    for part in ["12:30:00", "16.0.0.1:443", "→ 5b8f2c0e9d3a…", "answered", "42 µs"] {
        assert!(challenge.contains(part), "{part}: {challenge}");
    }
    let flood = row_of(&s, "bad signature");
    assert!(flood.contains("198.51.100.9:40000") && flood.contains("401"), "{flood}");
    assert!(flood.contains("POST /") && flood.contains("×1000"), "{flood}");
    // The detail is beside the table, not below it.
    let desc = row_of(&s, "\"description\"");
    assert!(desc.find("\"description\"").unwrap() > 110, "{desc}");
}

#[test]
fn json_is_coloured_by_token() {
    let mut app = sample_app();
    let buf = render_buffer(&mut app, 200, 50);
    let s = lines(&buf);
    let y = s.iter().position(|l| l.contains("\"specversion\"")).unwrap();
    let x = s[y].find("\"specversion\"").unwrap();
    // Find the cell index for the byte offset (the line may hold multi-byte symbols before it).
    let col = s[y][..x].chars().count() as u16;
    assert_eq!(buf[(col, y as u16)].fg, Color::LightBlue, "keys");
    let vx = s[y][..s[y].find("\"1.0\"").unwrap()].chars().count() as u16;
    assert_eq!(buf[(vx, y as u16)].fg, Color::Green, "strings");
}

#[test]
fn a_text_filter_narrows_the_table_and_the_header_says_so() {
    let mut app = sample_app();
    keys(&mut app, "/logged OUT");
    let s = render(&mut app, 80, 24);
    assert_shows(&s, " /  logged OUT▏  Enter keeps · Esc clears");
    assert_shows(&s, "filter /logged OUT  1 of 3 events shown");
    assert_shows(&s, "12:34:55 audit-log.v1.logs.created");
    assert_hides(&s, "12:35:01");
    assert_hides(&s, "12:35:10 audit");
    key(&mut app, '\n');
    let s = render(&mut app, 80, 24);
    assert_shows(&s, " ? help");
    assert_shows(&s, "1 of 3 events shown");
    key(&mut app, '\x1b');
    let s = render(&mut app, 80, 24);
    assert_shows(&s, "3 of 3 events shown");
    keys(&mut app, "/nothing at all");
    let s = render(&mut app, 80, 24);
    assert_shows(&s, "No event matches the filter (3 retained). Esc clears it.");
    assert_shows(&s, "0 of 3 events shown");
}

#[test]
fn type_and_user_pickers_show_counts_and_filter() {
    let mut app = sample_app();
    key(&mut app, 't');
    let s = render(&mut app, 80, 24);
    assert_shows(&s, "Event types");
    assert_shows(&s, "(•) 3  all types");
    assert_shows(&s, "[ ] 2  audit-log.v1.logs.created");
    assert_shows(&s, "[ ] 1  subscriptions.v1.expiring-subscriptions");
    keys(&mut app, "jj\n");
    let s = render(&mut app, 200, 50);
    assert_shows(&s, "filter type=subscriptions.v1.expiring-subscriptions  1 of 3 events shown");
    key(&mut app, 'u');
    let s = render(&mut app, 80, 24);
    assert_shows(&s, "Users");
    assert_shows(&s, "[ ] 2  john.doe@hpedev.io");
    assert_shows(&s, "[ ] 1  John Doe Inc.");
    keys(&mut app, "j\n");
    let s = render(&mut app, 200, 50);
    assert_shows(&s, "user=john.doe@hpedev.io  0 of 3 events shown");
    key(&mut app, '\x1b');
    let s = render(&mut app, 80, 24);
    assert_shows(&s, "3 of 3 events shown");
}

#[test]
fn the_help_overlay_is_generated_from_the_keymap() {
    let mut app = sample_app();
    key(&mut app, '?');
    let s = render(&mut app, 200, 50);
    assert_shows(&s, "Keys");
    for (keys, what) in crate::tui::keymap::help_sections().into_iter().flat_map(|(_, e)| e) {
        assert_shows(&s, &format!("{keys:<16}{what}"));
    }
    assert_shows(&s, "Logs go to /var/log/glwatch.log");
    assert_shows(&s, "Exports go to /tmp/exports");
    // On a small screen the help scrolls.
    let s = render(&mut app, 80, 24);
    assert_shows(&s, "Table (and detail pane)");
    assert_hides(&s, "Logs go to");
    for _ in 0..40 {
        key(&mut app, 'j');
    }
    let s = render(&mut app, 80, 24);
    assert_shows(&s, "Logs go to /var/log/glwatch.log");
    key(&mut app, '?');
    let s = render(&mut app, 80, 24);
    assert_hides(&s, "Logs go to");
    // PgDn pages the help by its own height and stops at its end, so one PgUp leaves the end again.
    let page = |app: &mut App, code| {
        let ev = crossterm::event::KeyEvent::new(code, crossterm::event::KeyModifiers::NONE);
        let action = crate::tui::keymap::action_for_key(app.key_context(), &ev).expect("bound in the help");
        app.update(action);
    };
    key(&mut app, '?');
    for _ in 0..5 {
        page(&mut app, crossterm::event::KeyCode::PageDown);
    }
    let s = render(&mut app, 80, 24);
    assert_shows(&s, "Logs go to /var/log/glwatch.log");
    page(&mut app, crossterm::event::KeyCode::PageUp);
    let s = render(&mut app, 80, 24);
    assert_hides(&s, "Logs go to");
}

#[test]
fn a_hostile_event_is_rendered_harmless() {
    let mut app = sample_app();
    let hostile = serde_json::json!({
        "specversion": "1.0", "id": "evil\u{1b}[31m", "source": "//x",
        "type": "com.hpe.greenlake.audit-log.v1.logs.created",
        "time": "2024-12-20T12:35:00Z",
        "data": {
            "user": {"username": "mallory\u{9b}2J"},
            "description": "copy \u{1b}]52;c;SGVsbG8=\u{7} then \u{1b}[2J wipe \u{202e}txt.exe"
        }
    });
    app.update(Action::Record(event_record(&hostile.to_string(), datetime!(2024-12-20 12:35:29 UTC), false)));
    for (w, h) in [(80, 24), (200, 50)] {
        let buf = render_buffer(&mut app, w, h);
        for cell in buf.content() {
            assert!(
                !cell.symbol().chars().any(crate::tui::sanitize::is_unsafe),
                "raw control in cell {:?}",
                cell.symbol()
            );
        }
        let s = lines(&buf);
        // The operator sees that something odd was sent, spelled out.
        assert_shows(&s, "copy \\u{1b}]52;c;");
        assert_shows(&s, "Event evil\\u{1b}[31m");
        if w == 200 {
            assert_shows(&s, "copy \\u{1b}]52;c;SGVsbG8=\\u{7} then");
            assert_shows(&s, "mallory\\u{9b}2J");
            // The JSON keeps its own escapes, shown as text.
            assert_shows(&s, r#""description": "copy \u001b]52;c;SGVsbG8=\u0007 then \u001b[2J"#);
        }
    }
    // Filtering sees the text as shown.
    keys(&mut app, "/\\u{1b}]52");
    assert_eq!(app.view_len(), 1);
}

#[test]
fn tiny_and_narrow_terminals_degrade_without_panicking() {
    let mut app = sample_app();
    for (w, h) in [(1, 1), (2, 1), (1, 5), (20, 5), (10, 3), (40, 10), (60, 15), (119, 13), (0, 0)] {
        for setup in ["", "\t", "?", "t", "/x"] {
            let mut app = sample_app();
            keys(&mut app, setup);
            render(&mut app, w, h);
        }
    }
    let s = render(&mut app, 20, 5);
    assert_eq!(s.len(), 5);
    assert_shows(&s, " glwatch ");
    assert_shows(&s, "Time     Summary");
    assert_shows(&s, "12:35:10 User john.d");
    let s = render(&mut app, 1, 1);
    assert_eq!(s, [" "]);
    // With little height, the focused pane takes the space: the detail replaces the table.
    key(&mut app, '\t');
    let s = render(&mut app, 60, 12);
    assert_shows(&s, "Event uJoQ5JMB_HAPiq2sSllu");
    assert_hides(&s, "Summary");
    assert_hides(&s, "Challenges");
}

#[test]
fn unsigned_events_stand_out() {
    let mut app = App::new(info(), 10);
    let Record::Event(mut e) = event_record(&fixture("audit-log-created.json"), NOW, false) else { unreachable!() };
    e.verified_by = VerifiedBy::Unsigned;
    app.update(Action::Record(Record::Event(e)));
    let buf = render_buffer(&mut app, 200, 50);
    let s = lines(&buf);
    let y = s.iter().position(|l| l.contains("logged out")).unwrap();
    let x = s[y].find("UNSIGNED").expect("verified column says UNSIGNED");
    let col = s[y][..x].chars().count() as u16;
    assert_eq!(buf[(col, y as u16)].fg, Color::LightRed);
    assert_shows(&s, "UNSIGNED (accepted with --allow-unsigned)");
    let s = render(&mut app, 80, 24);
    assert_shows(&s, "john.doe@hpedev.io UNSIGNED User");
}

#[test]
fn empty_dashboard_says_where_to_send_events() {
    let mut app = App::new(info(), 10);
    let s = render(&mut app, 80, 24);
    assert_shows(&s, "Waiting for events…");
    assert_shows(&s, "GreenLake delivers to https://127.0.0.1:8443/");
    assert_shows(&s, "No verification challenge yet");
    assert_shows(&s, "No request refused.");
    assert_shows(&s, "0 of 0 events shown");
    assert_shows(&s, "No event selected.");
}

#[test]
fn overflow_counters_are_visible() {
    let mut app = App::new(info(), 2);
    for r in sample_records() {
        app.update(Action::Record(r));
    }
    app.update(Action::Frame { now: NOW, screen_dropped: 5 });
    let s = render(&mut app, 200, 50);
    assert_shows(&s, "events 3 (1 dropped, --retain 2)");
    assert_shows(&s, "2 of 2 events shown");
    // draw_frame passes the app's own value; a fresh frame from the loop would pass the receiver's counter.
    assert_shows(&s, "5 not shown (screen too slow)");
}

#[test]
fn the_rate_sparkline_shows_recent_minutes() {
    let mut app = sample_app();
    let s = render(&mut app, 200, 50);
    // 1 event at 12:34, 2 at 12:35 (now), the rest of the half hour empty.
    assert_shows(&s, &format!("rate {}▄█ 2/min", " ".repeat(28)));
}

#[test]
fn export_and_copy_messages_show_in_the_status_line() {
    let mut app = sample_app();
    app.update(Action::Exported(Ok(crate::export::ExportFiles {
        csv: "/tmp/exports/a.csv".into(),
        jsonl: "/tmp/exports/a.jsonl".into(),
        count: 3,
    })));
    let s = render(&mut app, 120, 30);
    assert_shows(&s, "exported 3 events to /tmp/exports/a.csv and /tmp/exports/a.jsonl");
}

const GENERATED: &str = "Q7eN2xVb9LmK4pRt8WcY3ZaH6dJfGs1U";

fn app_with_generated_secret() -> App {
    let mut app = sample_app();
    app.update(Action::ShowSecret(crate::greenlake::Secret::new(GENERATED).unwrap()));
    app
}

#[test]
fn a_generated_secret_shows_once_in_a_centred_popup_until_any_key() {
    let mut app = app_with_generated_secret();
    let s = render(&mut app, 200, 50);
    assert_shows(&s, " Webhook secret ");
    assert_shows(&s, "Generated webhook secret — enter it in GreenLake's Register webhook form:");
    assert_shows(&s, "(it is not shown again; press any key)");
    // Centred both ways, over the dashboard that keeps drawing underneath.
    let row = s.iter().position(|l| l.contains(GENERATED)).unwrap();
    assert!((23..=27).contains(&row), "row {row}");
    let col = s[row][..s[row].find(GENERATED).unwrap()].chars().count();
    assert!((84..=86).contains(&col), "column {col}");
    assert_shows(&s, "3 of 3 events shown");
    assert_eq!(app.key_context(), crate::tui::app::KeyContext::Secret);

    // Any key closes it, even one that would otherwise quit; it does nothing else.
    let before = render(&mut sample_app(), 200, 50);
    key(&mut app, 'q');
    assert!(app.secret_popup().is_none());
    assert_eq!(app.key_context(), crate::tui::app::KeyContext::Table);
    let s = render(&mut app, 200, 50);
    assert_hides(&s, GENERATED);
    assert_hides(&s, "Webhook secret");
    assert_eq!(s, before, "the dashboard is left as it was");

    // Nothing brings it back: keys, overlays, new records, other sizes.
    keys(&mut app, "?\x1bgjt\x1b/x\x1b");
    for r in sample_records() {
        app.update(Action::Record(r));
    }
    for (w, h) in [(200, 50), (80, 24), (40, 10)] {
        assert_hides(&render(&mut app, w, h), GENERATED);
    }
}

#[test]
fn every_kind_of_key_closes_the_secret_popup_and_ctrl_c_still_quits() {
    use crate::tui::action::Effect;
    use crate::tui::keymap::action_for_key;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    for (code, mods) in [
        (KeyCode::Enter, KeyModifiers::NONE),
        (KeyCode::Esc, KeyModifiers::NONE),
        (KeyCode::Char(' '), KeyModifiers::NONE),
        (KeyCode::Char('x'), KeyModifiers::ALT),
        (KeyCode::F(1), KeyModifiers::NONE),
        (KeyCode::Down, KeyModifiers::SHIFT),
    ] {
        let mut app = app_with_generated_secret();
        let action = action_for_key(app.key_context(), &KeyEvent::new(code, mods)).expect("bound");
        assert_eq!(app.update(action), None, "{code:?}");
        assert!(app.secret_popup().is_none(), "{code:?}");
        assert_hides(&render(&mut app, 80, 24), GENERATED);
    }
    let mut app = app_with_generated_secret();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    let action = action_for_key(app.key_context(), &ctrl_c).unwrap();
    assert_eq!(app.update(action), Some(Effect::Quit));
    // On a small terminal the popup still shows the secret whole.
    let mut app = app_with_generated_secret();
    assert_shows(&render(&mut app, 80, 24), GENERATED);
    assert_shows(&render(&mut app, 40, 12), GENERATED);
}
