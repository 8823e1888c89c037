//! Keys to actions: one table, each binding tagged with the contexts it works in. The `?` help overlay is
//! generated from this same table, so it cannot drift from what the keys do.

use crate::tui::action::Action;
use crate::tui::app::KeyContext;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};

/// What a binding matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Key(KeyCode, KeyModifiers),
    /// Any printable character typed without Ctrl or Alt.
    AnyChar,
    /// Any key at all (bindings before it in the table still win, e.g. Ctrl-C).
    AnyKey,
}

#[derive(Clone, Copy)]
pub enum Act {
    Fixed(fn() -> Action),
    Char(fn(char) -> Action),
}

pub struct Binding {
    pub contexts: &'static [KeyContext],
    pub keys: &'static [Pattern],
    pub act: Act,
    pub help: &'static str,
}

const fn key(c: char) -> Pattern {
    Pattern::Key(KeyCode::Char(c), KeyModifiers::NONE)
}
const fn code(c: KeyCode) -> Pattern {
    Pattern::Key(c, KeyModifiers::NONE)
}
const fn ctrl(c: char) -> Pattern {
    Pattern::Key(KeyCode::Char(c), KeyModifiers::CONTROL)
}

use KeyContext::{Detail, FilterInput, Help, Picker, Secret, Table};
const ALL: &[KeyContext] = &[Table, Detail, FilterInput, Picker, Help, Secret];
const MAIN: &[KeyContext] = &[Table, Detail];

/// The key table, in the order the help shows it.
pub static BINDINGS: &[Binding] = &[
    Binding { contexts: ALL, keys: &[ctrl('c')], act: Act::Fixed(|| Action::Quit), help: "quit" },
    Binding { contexts: MAIN, keys: &[key('q')], act: Act::Fixed(|| Action::Quit), help: "quit" },
    Binding {
        contexts: MAIN,
        keys: &[key('j'), code(KeyCode::Down)],
        act: Act::Fixed(|| Action::Down),
        help: "next event (detail: scroll down)",
    },
    Binding {
        contexts: MAIN,
        keys: &[key('k'), code(KeyCode::Up)],
        act: Act::Fixed(|| Action::Up),
        help: "previous event (detail: scroll up)",
    },
    Binding {
        contexts: MAIN,
        keys: &[code(KeyCode::PageDown)],
        act: Act::Fixed(|| Action::PageDown),
        help: "page down",
    },
    Binding { contexts: MAIN, keys: &[code(KeyCode::PageUp)], act: Act::Fixed(|| Action::PageUp), help: "page up" },
    Binding {
        contexts: MAIN,
        keys: &[key('g'), code(KeyCode::Home)],
        act: Act::Fixed(|| Action::Top),
        help: "oldest event (detail: top)",
    },
    Binding {
        contexts: MAIN,
        keys: &[key('G'), code(KeyCode::End)],
        act: Act::Fixed(|| Action::Bottom),
        help: "newest event and follow (detail: bottom)",
    },
    Binding {
        contexts: &[Table],
        keys: &[code(KeyCode::Enter), code(KeyCode::Tab)],
        act: Act::Fixed(|| Action::ToggleFocus),
        help: "read the selected event in the detail pane",
    },
    Binding {
        contexts: &[Detail],
        keys: &[code(KeyCode::Enter), code(KeyCode::Tab), code(KeyCode::Esc)],
        act: Act::Fixed(|| Action::FocusTable),
        help: "back to the table",
    },
    Binding {
        contexts: MAIN,
        keys: &[key('/')],
        act: Act::Fixed(|| Action::OpenTextFilter),
        help: "filter by text in type, user, summary and id",
    },
    Binding {
        contexts: MAIN,
        keys: &[key('t')],
        act: Act::Fixed(|| Action::OpenTypePicker),
        help: "choose event types (with counts)",
    },
    Binding {
        contexts: MAIN,
        keys: &[key('u')],
        act: Act::Fixed(|| Action::OpenUserPicker),
        help: "choose users (with counts)",
    },
    Binding {
        contexts: MAIN,
        keys: &[key('s')],
        act: Act::Fixed(|| Action::OpenSourcePicker),
        help: "choose sources (--sources, with counts)",
    },
    Binding {
        contexts: &[Table],
        keys: &[code(KeyCode::Esc)],
        act: Act::Fixed(|| Action::ClearFilters),
        help: "clear all filters",
    },
    Binding {
        contexts: MAIN,
        keys: &[key('f')],
        act: Act::Fixed(|| Action::ToggleFollow),
        help: "follow the newest event, or pause",
    },
    Binding {
        contexts: MAIN,
        keys: &[key('c')],
        act: Act::Fixed(|| Action::ToggleChallenges),
        help: "show or hide the challenge panel",
    },
    Binding {
        contexts: MAIN,
        keys: &[key('r')],
        act: Act::Fixed(|| Action::ToggleRejected),
        help: "show or hide the rejected requests",
    },
    Binding {
        contexts: MAIN,
        keys: &[key('e')],
        act: Act::Fixed(|| Action::Export),
        help: "export the filtered events to CSV and JSONL",
    },
    Binding {
        contexts: MAIN,
        keys: &[key('y')],
        act: Act::Fixed(|| Action::Copy),
        help: "copy the selected event's JSON (OSC 52)",
    },
    Binding { contexts: MAIN, keys: &[key('?')], act: Act::Fixed(|| Action::ToggleHelp), help: "this help" },
    Binding {
        contexts: &[FilterInput],
        keys: &[Pattern::AnyChar],
        act: Act::Char(Action::FilterChar),
        help: "type the filter; the table follows as you type",
    },
    Binding {
        contexts: &[FilterInput],
        keys: &[code(KeyCode::Backspace)],
        act: Act::Fixed(|| Action::FilterBackspace),
        help: "delete a character",
    },
    Binding {
        contexts: &[FilterInput],
        keys: &[code(KeyCode::Enter)],
        act: Act::Fixed(|| Action::FilterAccept),
        help: "keep the filter",
    },
    Binding {
        contexts: &[FilterInput],
        keys: &[code(KeyCode::Esc)],
        act: Act::Fixed(|| Action::FilterCancel),
        help: "clear the text filter",
    },
    Binding {
        contexts: &[Picker],
        keys: &[key('j'), code(KeyCode::Down)],
        act: Act::Fixed(|| Action::PickerDown),
        help: "next value",
    },
    Binding {
        contexts: &[Picker],
        keys: &[key('k'), code(KeyCode::Up)],
        act: Act::Fixed(|| Action::PickerUp),
        help: "previous value",
    },
    Binding {
        contexts: &[Picker],
        keys: &[code(KeyCode::PageDown)],
        act: Act::Fixed(|| Action::PickerPageDown),
        help: "page down",
    },
    Binding {
        contexts: &[Picker],
        keys: &[code(KeyCode::PageUp)],
        act: Act::Fixed(|| Action::PickerPageUp),
        help: "page up",
    },
    Binding {
        contexts: &[Picker],
        keys: &[key(' ')],
        act: Act::Fixed(|| Action::PickerToggle),
        help: "mark or unmark a value (marked values combine)",
    },
    Binding {
        contexts: &[Picker],
        keys: &[code(KeyCode::Enter)],
        act: Act::Fixed(|| Action::PickerApply),
        help: "show the marked values, else the highlighted one",
    },
    Binding {
        contexts: &[Picker],
        keys: &[code(KeyCode::Esc), key('q')],
        act: Act::Fixed(|| Action::PickerCancel),
        help: "close without changing the filter",
    },
    Binding {
        contexts: &[Help],
        keys: &[key('j'), code(KeyCode::Down)],
        act: Act::Fixed(|| Action::HelpDown),
        help: "scroll the help down",
    },
    Binding {
        contexts: &[Help],
        keys: &[key('k'), code(KeyCode::Up)],
        act: Act::Fixed(|| Action::HelpUp),
        help: "scroll the help up",
    },
    Binding {
        contexts: &[Help],
        keys: &[code(KeyCode::PageDown)],
        act: Act::Fixed(|| Action::HelpPageDown),
        help: "page down",
    },
    Binding {
        contexts: &[Help],
        keys: &[code(KeyCode::PageUp)],
        act: Act::Fixed(|| Action::HelpPageUp),
        help: "page up",
    },
    Binding {
        contexts: &[Help],
        keys: &[key('?'), code(KeyCode::Esc), key('q')],
        act: Act::Fixed(|| Action::ToggleHelp),
        help: "close this help",
    },
    Binding {
        contexts: &[Secret],
        keys: &[Pattern::AnyKey],
        act: Act::Fixed(|| Action::DismissSecret),
        help: "close the generated secret's popup (it is not shown again)",
    },
];

fn matches(p: &Pattern, ev: &KeyEvent) -> bool {
    // Terminals report an upper-case letter with or without SHIFT; the character already says it.
    let mods = match ev.code {
        KeyCode::Char(_) => ev.modifiers - KeyModifiers::SHIFT,
        _ => ev.modifiers,
    };
    match *p {
        Pattern::Key(code, want) => code == ev.code && want == mods,
        Pattern::AnyChar => {
            matches!(ev.code, KeyCode::Char(c) if !c.is_control())
                && !mods.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        }
        Pattern::AnyKey => true,
    }
}

/// The action for a key press in a context, if the key is bound there.
pub fn action_for_key(ctx: KeyContext, ev: &KeyEvent) -> Option<Action> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    let b = BINDINGS.iter().filter(|b| b.contexts.contains(&ctx)).find(|b| b.keys.iter().any(|p| matches(p, ev)))?;
    Some(match b.act {
        Act::Fixed(f) => f(),
        Act::Char(f) => match ev.code {
            KeyCode::Char(c) => f(c),
            _ => return None,
        },
    })
}

/// Lines scrolled per wheel notch.
pub const WHEEL_STEP: i32 = 3;

/// The mouse wheel scrolls the table, or the picker or the help when one is open.
pub fn action_for_mouse(ctx: KeyContext, ev: &MouseEvent) -> Option<Action> {
    let down = match ev.kind {
        MouseEventKind::ScrollDown => true,
        MouseEventKind::ScrollUp => false,
        _ => return None,
    };
    match ctx {
        KeyContext::Table | KeyContext::Detail => Some(Action::Scroll(if down { WHEEL_STEP } else { -WHEEL_STEP })),
        KeyContext::Picker => Some(if down { Action::PickerDown } else { Action::PickerUp }),
        KeyContext::Help => Some(if down { Action::HelpDown } else { Action::HelpUp }),
        KeyContext::FilterInput | KeyContext::Secret => None,
    }
}

/// How a key is written in the help.
pub fn label(p: &Pattern) -> String {
    let (code, mods) = match p {
        Pattern::Key(code, mods) => (code, mods),
        Pattern::AnyChar => return "any character".into(),
        Pattern::AnyKey => return "any key".into(),
    };
    let name = match code {
        KeyCode::Char(' ') => "Space".into(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Backspace => "Backspace".into(),
        other => format!("{other:?}"),
    };
    if mods.contains(KeyModifiers::CONTROL) {
        format!("Ctrl-{}", name.to_uppercase())
    } else {
        name
    }
}

/// The help overlay's content: sections of (keys, what they do), generated from [`BINDINGS`]. A binding appears
/// in the section of the first context it works in.
pub fn help_sections() -> Vec<(&'static str, Vec<(String, &'static str)>)> {
    let sections = [
        (Table, "Table (and detail pane)"),
        (Detail, "Detail pane"),
        (FilterInput, "Text filter (/)"),
        (Picker, "Type, user and source pickers (t, u, s)"),
        (Help, "Help"),
        (Secret, "Generated secret (shown once at start)"),
    ];
    sections
        .iter()
        .map(|&(ctx, title)| {
            let entries = BINDINGS
                .iter()
                .filter(|b| b.contexts.first() == Some(&ctx))
                .map(|b| {
                    let keys: Vec<String> = b.keys.iter().map(label).collect();
                    (keys.join(" "), b.help)
                })
                .collect();
            (title, entries)
        })
        .collect()
}

#[cfg(test)]
mod tests;
