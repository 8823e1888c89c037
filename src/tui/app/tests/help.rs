//! The help overlay scrolled by keys: every key goes through the keymap's help context to a help action, and the
//! scroll stays within what the last viewport reported.

use super::*;
use crate::tui::keymap::action_for_key;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn press(app: &mut App, code: KeyCode) {
    let ev = KeyEvent::new(code, KeyModifiers::NONE);
    let action = action_for_key(app.key_context(), &ev).expect("the key is bound in this context");
    app.update(action);
}

/// An app with the help open, on a screen that shows `rows` lines of it and scrolls at most `max`.
fn help_open(rows: u16, max: u16) -> App {
    let mut app = app_with(20);
    app.update(Action::Viewport { table_rows: 5, detail_rows: 5, help_rows: rows, help_max_scroll: max });
    press(&mut app, KeyCode::Char('?'));
    assert_eq!(app.key_context(), KeyContext::Help);
    app
}

#[test]
fn page_keys_scroll_the_help_by_its_own_height_within_bounds() {
    let mut app = help_open(8, 30);
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.help_scroll(), 7, "a page is the visible lines less one, kept for context");
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.help_scroll(), 14);
    for _ in 0..10 {
        press(&mut app, KeyCode::PageDown);
    }
    assert_eq!(app.help_scroll(), 30, "stops where the last line reaches the bottom");
    press(&mut app, KeyCode::PageUp);
    assert_eq!(app.help_scroll(), 23, "the first PgUp after the end moves at once");
    for _ in 0..10 {
        press(&mut app, KeyCode::PageUp);
    }
    assert_eq!(app.help_scroll(), 0);
}

#[test]
fn line_keys_scroll_the_help_and_leave_the_table_alone() {
    let mut app = help_open(8, 3);
    let selected = app.selected();
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Down);
    assert_eq!(app.help_scroll(), 2);
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(app.help_scroll(), 3);
    press(&mut app, KeyCode::Char('k'));
    press(&mut app, KeyCode::Up);
    assert_eq!(app.help_scroll(), 1);
    assert_eq!(app.selected(), selected, "scrolling the help does not move the selection");
    assert!(app.following());
}

#[test]
fn the_help_reopens_at_the_top_and_a_smaller_screen_pulls_the_scroll_back() {
    let mut app = help_open(8, 30);
    press(&mut app, KeyCode::PageDown);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.key_context(), KeyContext::Table);
    press(&mut app, KeyCode::Char('?'));
    assert_eq!(app.help_scroll(), 0);
    press(&mut app, KeyCode::PageDown);
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.help_scroll(), 14);
    app.update(Action::Viewport { table_rows: 5, detail_rows: 5, help_rows: 40, help_max_scroll: 0 });
    assert_eq!(app.help_scroll(), 0, "the whole help fits now");
    press(&mut app, KeyCode::PageDown);
    assert_eq!(app.help_scroll(), 0);
}
