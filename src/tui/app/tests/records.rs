//! Records other than plain events (duplicates, challenges, refusals), the rate, the detail pane and effects.

use super::*;

#[test]
fn duplicates_count_on_the_event_and_in_total_without_adding_rows() {
    let mut app = app_with(3);
    let mut again = event("id-1", AUDIT, Some("bob"), "event number 1");
    again.duplicate = true;
    again.verified_by = VerifiedBy::Secondary;
    app.update(Action::Record(Record::Event(again.clone())));
    app.update(Action::Record(Record::Event(again)));
    assert_eq!(app.view_len(), 3);
    assert_eq!(app.events_total(), 3);
    assert_eq!(app.duplicates(), 2);
    let row = app.rows_in(1..2).next().unwrap().1;
    assert_eq!(row.duplicates, 2);
    assert_eq!(row.verified_by, VerifiedBy::Primary, "the original is kept");
}

#[test]
fn challenges_and_rejections_are_kept_and_floods_aggregated() {
    let mut app = App::new(info(), 10);
    let t = time::macros::datetime!(2024-12-20 12:00:00 UTC);
    app.update(Action::Record(Record::Challenge(ChallengeRecord {
        source_name: None,
        received_at: t,
        peer: "1.2.3.4:5".into(),
        via: None,
        challenge_request: "8cbecfea-d708-4706-bba3-669225084a10".into(),
        answered: true,
        reason: None,
        verification: Some("ab".repeat(32)),
        answer_micros: Some(42),
    })));
    assert_eq!(app.challenges_total(), 1);
    assert_eq!(app.view_len(), 0, "challenges are not events");
    for i in 0..1000u64 {
        app.update(Action::Record(Record::Rejected(RejectedRecord {
            source_name: None,
            received_at: t + time::Duration::milliseconds(i as i64),
            peer: format!("9.9.9.9:{}", 1000 + i),
            via: None,
            status: 401,
            reason: "bad signature".into(),
            method: Some("POST".into()),
            path: Some("/".into()),
            count: None,
        })));
    }
    app.update(Action::Record(Record::Rejected(RejectedRecord {
        source_name: None,
        received_at: t,
        peer: "8.8.8.8:1".into(),
        via: None,
        status: 413,
        reason: "too large".into(),
        method: None,
        path: None,
        count: Some(7),
    })));
    assert_eq!(app.rejected_total(), 1007);
    let r = app.rejected_recent();
    assert_eq!(r.len(), 2);
    assert_eq!((r[0].count, r[0].peer.as_str()), (1000, "9.9.9.9:1999"));
    assert_eq!((r[1].count, r[1].status), (7, 413));
}

/// A refusal of a malformed request from `peer`.
fn malformed(at: OffsetDateTime, peer: String) -> Action {
    Action::Record(Record::Rejected(RejectedRecord {
        source_name: None,
        received_at: at,
        peer,
        via: None,
        status: 400,
        reason: "malformed".into(),
        method: None,
        path: None,
        count: None,
    }))
}

#[test]
fn rejection_kinds_are_bounded() {
    let mut app = App::new(info(), 10);
    let t = time::macros::datetime!(2024-12-20 12:00:00 UTC);
    for i in 0..(REJECTED_KINDS_KEPT as i64 + 10) {
        app.update(malformed(t + time::Duration::seconds(i), format!("10.0.{}.{}:1", i / 256, i % 256)));
    }
    let r = app.rejected_recent();
    assert_eq!(r.len(), REJECTED_KINDS_KEPT);
    assert_eq!(r[0].peer, "10.0.1.253:1");
    assert_eq!(r.last().unwrap().peer, "10.0.0.10:1", "oldest kinds went first");
    assert_eq!(app.rejected_total(), REJECTED_KINDS_KEPT as u64 + 10);
    // The index still points at the right entries after evictions.
    app.update(malformed(t + time::Duration::hours(1), "10.0.0.10:2".into()));
    let r = app.rejected_recent();
    assert_eq!((r[0].peer.as_str(), r[0].count), ("10.0.0.10:2", 2));
    assert_eq!(r.len(), REJECTED_KINDS_KEPT);
}

#[test]
fn detail_is_prepared_for_the_selection_and_scrolls_when_focused() {
    let mut app = app_with(2);
    let now = time::macros::datetime!(2024-12-20 12:35:00 UTC);
    app.update(Action::Frame { now, screen_dropped: 3 });
    assert_eq!(app.screen_dropped(), 3);
    let d = app.detail().unwrap();
    assert_eq!(d.lines[0], "{");
    assert!(d.lines.iter().any(|l| l.contains(r#""id": "id-1""#)));
    assert_eq!(d.event_time, Some(time::macros::datetime!(2024-12-20 12:34:53.161 UTC)));
    let n = d.lines.len();
    app.update(Action::ToggleFocus);
    assert_eq!(app.key_context(), KeyContext::Detail);
    app.update(Action::Down);
    app.update(Action::Down);
    assert_eq!(app.detail_scroll(), 2);
    assert_eq!(selected_id(&app).as_deref(), Some("id-1"), "table selection unchanged");
    app.update(Action::Bottom);
    assert_eq!(app.detail_scroll(), n - 1);
    app.update(Action::Top);
    assert_eq!(app.detail_scroll(), 0);
    app.update(Action::ToggleFocus);
    app.update(Action::Up);
    assert!(app.detail().is_none(), "stale until the next frame");
    app.update(Action::Frame { now, screen_dropped: 3 });
    assert!(app.detail().unwrap().lines.iter().any(|l| l.contains("id-0")));
}

#[test]
fn copy_and_export_are_effects() {
    let mut app = app_with(2);
    let Some(Effect::Copy(json)) = app.update(Action::Copy) else {
        panic!("copy effect");
    };
    assert!(json.starts_with('{') && json.contains("\"id-1\""));
    assert!(app.status().unwrap().contains("copied event id-1"));
    assert_eq!(app.update(Action::Export), Some(Effect::Export));
    assert_eq!(app.update(Action::Quit), Some(Effect::Quit));
    assert_eq!(app.update(Action::Record(Record::Event(event("x", AUDIT, None, "y")))), None);
}

#[test]
fn rate_counts_events_per_minute() {
    let mut app = App::new(info(), 10);
    let t = time::macros::datetime!(2024-12-20 12:00:10 UTC);
    for (i, secs) in [0i64, 5, 70, 75, 80, 200].into_iter().enumerate() {
        let mut e = event(&i.to_string(), AUDIT, None, "");
        e.received_at = t + time::Duration::seconds(secs);
        app.update(Action::Record(Record::Event(e)));
    }
    app.update(Action::Frame { now: t + time::Duration::seconds(200), screen_dropped: 0 });
    assert_eq!(app.rate(5), [0, 2, 3, 0, 1]);
}

#[test]
fn history_counts_in_the_rate_by_when_it_arrived_not_when_it_was_read() {
    let mut app = App::new(info(), 100);
    let t = time::macros::datetime!(2024-12-20 12:00:10 UTC);
    // A restart reads a large history at once: older events must not pile up in the current minute.
    for (i, secs) in [-7200i64, -3600, -120, -60, -55, 0].into_iter().enumerate() {
        let mut e = event(&format!("h{i}"), AUDIT, None, "");
        e.received_at = t + time::Duration::seconds(secs);
        app.update(Action::History(Record::Event(e)));
    }
    let mut live = event("live", AUDIT, None, "");
    live.received_at = t;
    app.update(Action::Record(Record::Event(live)));
    app.update(Action::Frame { now: t, screen_dropped: 0 });
    assert_eq!(app.rate(4), [0, 1, 2, 2]);
}
