//! Events from several configured sources (`--sources`): the source picker narrows the table, new sources join
//! a chosen filter correctly, a re-delivery counts against the row of its own source, and the export keeps the
//! source and the scheme's attributes.

use super::*;
use crate::record::Attributes;

fn from(source: &str, id: &str) -> Record {
    let mut e = event(id, AUDIT, Some("alice"), "same id, other source");
    e.source_name = Some(source.to_owned());
    Record::Event(e)
}

fn github(id: &str) -> EventRecord {
    let mut e = event("ignored", "ignored", None, "a push");
    e.source_name = Some("github".into());
    e.event = serde_json::value::RawValue::from_string(r#"{"ref":"refs/heads/main"}"#.into()).unwrap();
    e.attributes = Some(Attributes {
        id: id.into(),
        ty: "github.push".into(),
        source: "https://github.com/o/r".into(),
        user: Some("octocat".into()),
    });
    e
}

#[test]
fn the_source_picker_filters_and_new_sources_are_judged_as_they_arrive() {
    let mut app = app_with(0);
    app.update(Action::Record(from("greenlake", "a")));
    app.update(Action::Record(Record::Event(github("b"))));
    app.update(Action::Record(from("greenlake", "c")));
    app.update(Action::OpenSourcePicker);
    let Mode::Picker(p) = app.mode() else { panic!("the picker is open") };
    assert_eq!(p.kind, PickerKind::Source);
    assert_eq!(p.entries, [("greenlake".to_owned(), 2), ("github".to_owned(), 1)]);
    app.update(Action::PickerDown);
    app.update(Action::PickerDown);
    app.update(Action::PickerApply);
    assert_eq!(app.filter().sources, ["github".to_owned()].into());
    assert_eq!(shown_ids(&app), ["b"], "the GitHub row's id is the delivery id");
    assert_eq!(app.filter().describe(), "source=github");
    // A source first seen after the choice is judged against it, as is a known one.
    app.update(Action::Record(from("stripe", "d")));
    app.update(Action::Record(Record::Event(github("e"))));
    assert_eq!(shown_ids(&app), ["b", "e"]);
    // Events without a source name (no --sources) match no chosen source.
    app.update(Action::Record(Record::Event(event("f", AUDIT, None, "x"))));
    assert_eq!(shown_ids(&app), ["b", "e"]);
    app.update(Action::ClearFilters);
    assert_eq!(app.view_len(), 6);
}

#[test]
fn a_redelivery_counts_against_the_row_of_its_own_source() {
    let mut app = app_with(0);
    app.update(Action::Record(from("greenlake", "same")));
    app.update(Action::Record(from("other-greenlake", "same")));
    app.update(Action::Record(Record::Event(github("d-1"))));
    let mut again = match from("other-greenlake", "same") {
        Record::Event(e) => e,
        _ => unreachable!(),
    };
    again.duplicate = true;
    app.update(Action::Record(Record::Event(again)));
    let mut push = github("d-1");
    push.duplicate = true;
    app.update(Action::Record(Record::Event(push)));
    let dups: Vec<(Option<&str>, u32)> =
        app.rows_in(0..app.view_len()).map(|(_, r)| (app.history().source_name(r), r.duplicates)).collect();
    assert_eq!(dups, [(Some("greenlake"), 0), (Some("other-greenlake"), 1), (Some("github"), 1)]);
    assert_eq!(app.duplicates(), 2);
}

#[test]
fn the_export_keeps_the_source_and_the_attributes() {
    let mut app = app_with(0);
    app.update(Action::Record(Record::Event(github("d-9"))));
    let records = app.export_records();
    let Some(Record::Event(e)) = records.first() else { panic!("one event") };
    assert_eq!(e.source_name.as_deref(), Some("github"));
    assert_eq!(e.attributes.as_ref().map(|a| a.id.as_str()), Some("d-9"));
    assert_eq!(crate::cloudevent::EventFields::of(e).ty, "github.push");
}

#[test]
fn the_table_has_a_source_column_once_an_event_names_its_source() {
    use crate::tui::view::tests::render;
    let has = |lines: &[String], text: &str| lines.iter().any(|l| l.contains(text));
    let mut app = app_with(2);
    let screen = render(&mut app, 160, 30);
    assert!(!has(&screen, "Source"), "no column without --sources:\n{}", screen.join("\n"));
    app.update(Action::Record(Record::Event(github("d-1"))));
    app.update(Action::Record(from("greenlake", "g-1")));
    let screen = render(&mut app, 160, 30);
    let header = screen.iter().find(|l| l.contains("Time") && l.contains("Type")).expect("the column titles");
    assert!(header.contains("Source"), "{}", screen.join("\n"));
    let row = screen.iter().find(|l| l.contains("github.push")).expect("the GitHub row");
    assert!(row.contains("github "), "{row}");
    assert!(screen.iter().any(|l| l.contains("greenlake ") && l.contains("audit-log")), "{}", screen.join("\n"));
    // The detail pane names the source of the selected event.
    assert!(has(&screen, "source greenlake"), "{}", screen.join("\n"));
}
