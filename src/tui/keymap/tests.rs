//! Unit tests for `crate::tui::keymap`.

use super::*;
use crossterm::event::KeyEventState;

fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
    KeyEvent { code, modifiers: mods, kind: KeyEventKind::Press, state: KeyEventState::NONE }
}

fn act(ctx: KeyContext, code: KeyCode, mods: KeyModifiers) -> String {
    format!("{:?}", action_for_key(ctx, &press(code, mods)))
}

#[test]
fn keys_map_by_context() {
    let none = KeyModifiers::NONE;
    assert_eq!(act(Table, KeyCode::Char('j'), none), "Some(Down)");
    assert_eq!(act(Detail, KeyCode::Down, none), "Some(Down)");
    assert_eq!(act(Table, KeyCode::Char('G'), KeyModifiers::SHIFT), "Some(Bottom)");
    assert_eq!(act(Table, KeyCode::Char('q'), none), "Some(Quit)");
    assert_eq!(act(Table, KeyCode::Esc, none), "Some(ClearFilters)");
    assert_eq!(act(Detail, KeyCode::Esc, none), "Some(FocusTable)");
    assert_eq!(act(Table, KeyCode::Tab, none), "Some(ToggleFocus)");
    assert_eq!(act(FilterInput, KeyCode::Char('q'), none), "Some(FilterChar('q'))");
    assert_eq!(act(FilterInput, KeyCode::Char('Q'), KeyModifiers::SHIFT), "Some(FilterChar('Q'))");
    assert_eq!(act(FilterInput, KeyCode::Esc, none), "Some(FilterCancel)");
    assert_eq!(act(FilterInput, KeyCode::Char('c'), KeyModifiers::CONTROL), "Some(Quit)");
    assert_eq!(act(Picker, KeyCode::Char(' '), none), "Some(PickerToggle)");
    assert_eq!(act(Picker, KeyCode::Char('q'), none), "Some(PickerCancel)");
    assert_eq!(act(Help, KeyCode::Char('j'), none), "Some(HelpDown)");
    assert_eq!(act(Help, KeyCode::Up, none), "Some(HelpUp)");
    assert_eq!(act(Help, KeyCode::PageDown, none), "Some(HelpPageDown)");
    assert_eq!(act(Help, KeyCode::PageUp, none), "Some(HelpPageUp)");
    assert_eq!(act(Help, KeyCode::Char('t'), none), "None");
    assert_eq!(act(Help, KeyCode::Char('?'), none), "Some(ToggleHelp)");
    assert_eq!(act(Table, KeyCode::Char('x'), none), "None");
    assert_eq!(act(Table, KeyCode::Char('j'), KeyModifiers::CONTROL), "None");
    let mut release = press(KeyCode::Char('q'), none);
    release.kind = KeyEventKind::Release;
    assert!(action_for_key(Table, &release).is_none());
}

#[test]
fn every_binding_is_reachable_and_no_key_is_bound_twice_in_a_context() {
    for ctx in ALL {
        let mut seen = Vec::new();
        for b in BINDINGS.iter().filter(|b| b.contexts.contains(ctx)) {
            for k in b.keys {
                assert!(!seen.contains(k), "{k:?} bound twice in {ctx:?}");
                seen.push(*k);
            }
        }
    }
}

#[test]
fn help_is_generated_from_the_table() {
    let help = help_sections();
    let all: Vec<&(String, &str)> = help.iter().flat_map(|(_, e)| e).collect();
    assert_eq!(all.len(), BINDINGS.len());
    let table = &help[0].1;
    assert!(table.contains(&("j ↓".into(), "next event (detail: scroll down)")));
    assert!(table.contains(&("Ctrl-C".into(), "quit")));
    assert!(table.contains(&("/".into(), "filter by text in type, user, summary and id")));
    assert!(help[3].1.contains(&("Space".into(), "mark or unmark a value (marked values combine)")));
    let (title, keys) = &help[4];
    assert_eq!(*title, "Help");
    for k in ["j ↓", "k ↑", "PgDn", "PgUp", "? Esc q"] {
        assert!(keys.iter().any(|(l, _)| l == k), "the help lists {k:?} for itself");
    }
}

#[test]
fn wheel_scrolls_the_table_and_the_help() {
    let ev = |kind| MouseEvent { kind, column: 0, row: 0, modifiers: KeyModifiers::NONE };
    assert!(matches!(action_for_mouse(Table, &ev(MouseEventKind::ScrollDown)), Some(Action::Scroll(WHEEL_STEP))));
    assert!(matches!(
        action_for_mouse(Table, &ev(MouseEventKind::ScrollUp)),
        Some(Action::Scroll(n)) if n == -WHEEL_STEP
    ));
    assert!(action_for_mouse(Table, &ev(MouseEventKind::Moved)).is_none());
    assert!(matches!(action_for_mouse(Help, &ev(MouseEventKind::ScrollDown)), Some(Action::HelpDown)));
    assert!(matches!(action_for_mouse(Help, &ev(MouseEventKind::ScrollUp)), Some(Action::HelpUp)));
}
