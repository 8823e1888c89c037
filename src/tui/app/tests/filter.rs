//! The text filter and the pickers narrowing the table, live as keys arrive, and the selection surviving them.

use super::*;

#[test]
fn text_filter_is_live_and_esc_clears_it() {
    let mut app = app_with(12);
    type_text(&mut app, "number 1");
    assert_eq!(app.key_context(), KeyContext::FilterInput);
    assert_eq!(shown_ids(&app), ["id-1", "id-10", "id-11"]);
    app.update(Action::FilterChar('1'));
    assert_eq!(shown_ids(&app), ["id-11"]);
    app.update(Action::FilterBackspace);
    app.update(Action::FilterBackspace);
    assert_eq!(app.view_len(), 12, "\"number \" matches all");
    app.update(Action::FilterChar('1'));
    app.update(Action::FilterAccept);
    assert_eq!(app.key_context(), KeyContext::Table);
    assert_eq!(app.filter().text, "number 1");
    assert_eq!(app.view_len(), 3);
    // Text matches id, type and user too.
    app.update(Action::ClearFilters);
    type_text(&mut app, "ID-7");
    assert_eq!(shown_ids(&app), ["id-7"]);
    app.update(Action::FilterCancel);
    assert_eq!(app.view_len(), 12);
    assert!(app.filter().is_empty());
    type_text(&mut app, "expiring");
    assert_eq!(shown_ids(&app), ["id-2", "id-5", "id-8", "id-11"]);
    app.update(Action::FilterCancel);
    type_text(&mut app, "BOB");
    assert_eq!(shown_ids(&app), ["id-1", "id-3", "id-7", "id-9"]);
}

/// The ids a filter on `text` shows when set at once, as [`Filter::matches`] decides one event at a time.
fn expected_ids(app: &App, text: &str) -> Vec<String> {
    let f = Filter { text: text.into(), ..Filter::default() };
    let h = app.history();
    h.iter()
        .filter(|(_, r)| {
            f.matches(&crate::cloudevent::EventFields {
                id: h.id(r).into(),
                source: String::new(),
                ty: h.types.name(r.ty).into(),
                time: None,
                user: h.user_name(r).map(Into::into),
                category: None,
                summary: h.summary(r).into(),
                source_name: None,
            })
        })
        .map(|(_, r)| h.id(r).to_string())
        .collect()
}

#[test]
fn text_filter_refined_and_widened_key_by_key_agrees_with_matching_each_event() {
    let mut app = App::new(info(), 1000);
    let summaries = ["User Alice logged in", "user bob LOGGED OUT", "Subscription added", "logged", "in"];
    for i in 0..300 {
        let (ty, user) = if i % 3 == 2 { (SUBS, "acme") } else { (AUDIT, if i % 2 == 0 { "alice" } else { "bob" }) };
        let summary = summaries[(i * 7 / 3) % summaries.len()];
        app.update(Action::Record(Record::Event(event(&format!("ev{i}-LoG"), ty, Some(user), summary))));
    }
    let query = "logged in";
    app.update(Action::OpenTextFilter);
    for (i, c) in query.char_indices() {
        app.update(Action::FilterChar(c));
        let typed = &query[..i + c.len_utf8()];
        assert_eq!(shown_ids(&app), expected_ids(&app, typed), "refined to {typed:?}");
    }
    assert!(!shown_ids(&app).is_empty());
    for end in (1..query.len()).rev() {
        app.update(Action::FilterBackspace);
        assert_eq!(shown_ids(&app), expected_ids(&app, &query[..end]), "widened to {:?}", &query[..end]);
    }
    // A needle that runs from an id into its summary, or from one event into the next, matches neither.
    app.update(Action::FilterCancel);
    type_text(&mut app, "-logUser");
    assert_eq!(shown_ids(&app), Vec::<String>::new());
    app.update(Action::FilterCancel);
    type_text(&mut app, "addedev");
    assert_eq!(shown_ids(&app), Vec::<String>::new());
}

#[test]
fn new_events_join_the_filtered_view_only_when_they_match() {
    let mut app = app_with(3);
    type_text(&mut app, "alice");
    app.update(Action::FilterAccept);
    assert_eq!(shown_ids(&app), ["id-0"]);
    app.update(Action::Record(Record::Event(event("n1", AUDIT, Some("bob"), "x"))));
    app.update(Action::Record(Record::Event(event("n2", AUDIT, Some("alice"), "x"))));
    // A user never seen before the filter was set.
    app.update(Action::Record(Record::Event(event("n3", SUBS, Some("Alice Corp"), "x"))));
    assert_eq!(shown_ids(&app), ["id-0", "n2", "n3"]);
    assert_eq!(selected_id(&app).as_deref(), Some("n3"));
}

#[test]
fn pickers_list_values_with_counts_and_combine_with_text() {
    let mut app = app_with(9);
    app.update(Action::OpenTypePicker);
    let Mode::Picker(p) = app.mode() else {
        panic!("picker open");
    };
    assert_eq!(p.entries, [(AUDIT.to_owned(), 6), (SUBS.to_owned(), 3)], "most frequent first");
    assert_eq!(p.cursor, 0);
    app.update(Action::PickerDown);
    app.update(Action::PickerDown);
    app.update(Action::PickerApply);
    assert_eq!(app.key_context(), KeyContext::Table);
    assert_eq!(shown_ids(&app), ["id-2", "id-5", "id-8"]);
    app.update(Action::OpenUserPicker);
    let Mode::Picker(p) = app.mode() else {
        panic!("picker open");
    };
    assert_eq!(p.entries, [("acme".into(), 3), ("alice".into(), 3), ("bob".into(), 3)]);
    app.update(Action::PickerCancel);
    assert_eq!(app.view_len(), 3, "cancel leaves the filter alone");

    // Space marks several; Enter applies the marks.
    app.update(Action::OpenTypePicker);
    if let Mode::Picker(p) = app.mode() {
        assert_eq!(p.cursor, 2, "opens on the current choice");
    }
    app.update(Action::PickerUp);
    app.update(Action::PickerToggle);
    app.update(Action::PickerApply);
    assert_eq!(app.filter().types.len(), 2);
    assert_eq!(app.view_len(), 9);
    app.update(Action::OpenUserPicker);
    app.update(Action::PickerDown);
    app.update(Action::PickerDown);
    app.update(Action::PickerApply);
    assert_eq!(app.filter().users.iter().collect::<Vec<_>>(), ["alice"]);
    assert_eq!(shown_ids(&app), ["id-0", "id-4", "id-6"]);
    type_text(&mut app, "number 6");
    assert_eq!(shown_ids(&app), ["id-6"]);
    app.update(Action::FilterAccept);
    assert_eq!(app.filter().describe(), "/number 6 type=2 chosen user=alice");
    // "all" clears that picker's choice only.
    app.update(Action::OpenUserPicker);
    for _ in 0..5 {
        app.update(Action::PickerUp);
    }
    app.update(Action::PickerApply);
    assert!(app.filter().users.is_empty());
    assert_eq!(shown_ids(&app), ["id-6"]);
    app.update(Action::ClearFilters);
    assert_eq!(app.view_len(), 9);
}

#[test]
fn selection_survives_filtering_when_it_can() {
    let mut app = app_with(9);
    app.update(Action::Top);
    app.update(Action::Down);
    assert_eq!(selected_id(&app).as_deref(), Some("id-1"));
    type_text(&mut app, "bob");
    assert_eq!(selected_id(&app).as_deref(), Some("id-1"));
    app.update(Action::FilterCancel);
    assert_eq!(selected_id(&app).as_deref(), Some("id-1"));
    type_text(&mut app, "acme");
    assert_eq!(selected_id(&app).as_deref(), Some("id-2"), "nearest later match");
    type_text(&mut app, "zzz");
    assert_eq!(app.selected(), None);
    assert_eq!(app.view_len(), 0);
    app.update(Action::Down);
    app.update(Action::ToggleFocus);
    assert_eq!(app.focus(), Focus::Table, "nothing to focus");
}

#[test]
fn retain_bound_drops_oldest_and_keeps_filtered_view_consistent() {
    let mut app = App::new(info(), 4);
    type_text(&mut app, "even");
    app.update(Action::FilterAccept);
    for i in 0..10 {
        let d = if i % 2 == 0 { "even" } else { "odd" };
        app.update(Action::Record(Record::Event(event(&format!("e{i}"), AUDIT, None, d))));
    }
    assert_eq!(app.history().len(), 4);
    assert_eq!(app.history().dropped(), 6);
    assert_eq!(app.events_total(), 10);
    assert_eq!(shown_ids(&app), ["e6", "e8"]);
    app.update(Action::ClearFilters);
    assert_eq!(shown_ids(&app), ["e6", "e7", "e8", "e9"]);
    app.update(Action::Top);
    assert_eq!(selected_id(&app).as_deref(), Some("e6"));
    app.update(Action::Record(Record::Event(event("e10", AUDIT, None, "x"))));
    assert_eq!(selected_id(&app).as_deref(), Some("e7"), "selection fell off: next oldest");
}
