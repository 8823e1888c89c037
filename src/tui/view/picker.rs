//! The type, user and source pickers: the values seen, with how many retained events carry each, to mark and show.

use super::{centered, dim, title_style};
use crate::cloudevent::short_type;
use crate::tui::app::{App, Picker, PickerKind};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, p: &Picker) {
    let (title, all) = match p.kind {
        PickerKind::Type => (" Event types ", "all types"),
        PickerKind::User => (" Users ", "all users"),
        PickerKind::Source => (" Sources ", "all sources"),
    };
    let popup = centered(area, 72, (p.rows() as u16).saturating_add(3).max(6));
    frame.render_widget(Clear, popup);
    let block = Block::new()
        .borders(Borders::ALL)
        .title(Span::styled(title, title_style()))
        .title_bottom(Span::styled(" Space marks · Enter shows · Esc closes ", dim()));
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let height = usize::from(inner.height);
    if height == 0 {
        return;
    }
    let start = p.cursor.saturating_sub(height - 1);
    let count_w = p.entries.first().map_or(1, |(_, n)| n.to_string().len()).max(app.history().len().to_string().len());
    let lines: Vec<Line> = (start..p.rows().min(start + height))
        .map(|i| {
            let (mark, name, count) = if i == 0 {
                (if p.marked.is_empty() { "(•)" } else { "( )" }, all.to_owned(), app.history().len() as u64)
            } else {
                let (name, count) = &p.entries[i - 1];
                let shown = match p.kind {
                    PickerKind::Type => short_type(name),
                    PickerKind::User | PickerKind::Source => name.as_str(),
                };
                (if p.marked.contains(name) { "[x]" } else { "[ ]" }, shown.to_owned(), *count)
            };
            let style = if i == p.cursor { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new() };
            Line::styled(format!(" {mark} {count:>count_w$}  {name}"), style)
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
