//! The `?` overlay: every key, generated from the keymap, plus where logs and exports go.

use super::{centered, dim, title_style};
use crate::tui::app::App;
use crate::tui::keymap::help_sections;
use crate::tui::sanitize::sanitize;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;
use std::sync::OnceLock;

/// Lines after the keys: a blank one, where logs go, where exports go.
const TRAILER_LINES: usize = 3;

pub fn lines(app: &App) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for (title, entries) in help_sections() {
        if entries.is_empty() {
            continue;
        }
        out.push(Line::styled(title, title_style()));
        for (keys, what) in entries {
            out.push(Line::from(vec![
                Span::styled(format!("  {keys:<16}"), Style::new().fg(Color::Cyan)),
                Span::raw(what),
            ]));
        }
    }
    out.push(Line::raw(""));
    let logs = match &app.info.log_path {
        Some(p) => sanitize(&p.display().to_string()).into_owned(),
        None => "not written".into(),
    };
    out.push(Line::from(vec![Span::styled("Logs go to ", dim()), Span::raw(logs)]));
    out.push(Line::from(vec![
        Span::styled("Exports go to ", dim()),
        Span::raw(sanitize(&app.info.export_dir.display().to_string()).into_owned()),
    ]));
    debug_assert_eq!(out.len(), line_count());
    out
}

/// How many lines [`lines`] gives; the keys are fixed, so they are counted once rather than on every frame.
fn line_count() -> usize {
    static KEY_LINES: OnceLock<usize> = OnceLock::new();
    let keys = *KEY_LINES
        .get_or_init(|| help_sections().iter().filter(|(_, e)| !e.is_empty()).map(|(_, e)| 1 + e.len()).sum());
    keys + TRAILER_LINES
}

fn popup(area: Rect, lines: usize) -> Rect {
    centered(area, 80, u16::try_from(lines).unwrap_or(u16::MAX).saturating_add(2))
}

/// Lines the overlay shows at once in `area`, and the scroll that brings its last line to the bottom (scrolling
/// further would only show blank lines); the model pages and clamps with these.
pub fn viewport(area: Rect) -> (u16, u16) {
    let lines = line_count();
    let visible = popup(area, lines).height.saturating_sub(2);
    (visible, u16::try_from(lines).unwrap_or(u16::MAX).saturating_sub(visible))
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let text = lines(app);
    let popup = popup(area, text.len());
    let (_, max_scroll) = viewport(area);
    let scroll = app.help_scroll().min(max_scroll);
    frame.render_widget(Clear, popup);
    let block = Block::new()
        .borders(Borders::ALL)
        .title(Span::styled(" Keys ", title_style()))
        .title_bottom(Span::styled(" j/k PgUp/PgDn scroll · ? or Esc closes ", dim()));
    frame.render_widget(Paragraph::new(text).block(block).wrap(Wrap { trim: false }).scroll((scroll, 0)), popup);
}
