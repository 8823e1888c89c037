//! The status line: the text filter being typed, the outcome of the last export or copy, or the main keys.

use super::dim;
use crate::tui::app::{App, Mode};
use crate::tui::sanitize::sanitize;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub const HINTS: &str =
    " ? help  / filter  t types  u users  f follow  c challenges  r rejected  o routes  e export  y copy  q quit";

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    if area.height == 0 {
        return;
    }
    let line = match app.mode() {
        Mode::FilterInput => Line::from(vec![
            Span::styled(" / ", Style::new().fg(Color::Black).bg(Color::Yellow)),
            Span::raw(" "),
            Span::styled(sanitize(&app.filter().text).into_owned(), Style::new().add_modifier(Modifier::BOLD)),
            Span::styled("▏", Style::new().fg(Color::Yellow)),
            Span::styled("  Enter keeps · Esc clears", dim()),
        ]),
        _ => match app.status() {
            Some(s) => Line::from(Span::styled(format!(" {s}"), Style::new().fg(Color::Cyan))),
            None => Line::styled(HINTS, dim()),
        },
    };
    frame.render_widget(Paragraph::new(line), area);
}
