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
    out
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let text = lines(app);
    let popup = centered(area, 80, (text.len() as u16).saturating_add(2));
    // Never scroll past the point where the last line reaches the bottom.
    let visible = popup.height.saturating_sub(2);
    let scroll = app.help_scroll().min((text.len() as u16).saturating_sub(visible));
    frame.render_widget(Clear, popup);
    let block = Block::new()
        .borders(Borders::ALL)
        .title(Span::styled(" Keys ", title_style()))
        .title_bottom(Span::styled(" j/k scroll · ? or Esc closes ", dim()));
    frame.render_widget(Paragraph::new(text).block(block).wrap(Wrap { trim: false }).scroll((scroll, 0)), popup);
}
