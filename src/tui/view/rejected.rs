//! The rejected view: refused requests grouped by kind (peer address, status, reason, method, path), most recent
//! first, with counts, so a flood is one line and never pushes events off the screen.

use super::{alert, dim, hms, local, title_style};
use crate::tui::app::App;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use ratatui::Frame;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let total = app.rejected_total();
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(dim())
        .title(Span::styled(format!(" Rejected requests ({total}) "), if total > 0 { alert() } else { title_style() }))
        .title(Span::styled(" r hides ", dim()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let recent = app.rejected_recent();
    if recent.is_empty() {
        frame.render_widget(Paragraph::new("No request refused.").style(dim()), inner);
        return;
    }
    // The method and path matter least; they go first on a narrow screen.
    let wide = inner.width >= 110;
    let rows = recent.iter().take(usize::from(inner.height)).map(|r| {
        let mut cells = vec![
            Cell::from(hms(local(app, r.last))),
            Cell::from(r.peer.clone()),
            Cell::from(Span::styled(r.status.to_string(), alert())),
            Cell::from(r.reason.clone()),
        ];
        if wide {
            cells.push(Cell::from(match (&r.method, &r.path) {
                (Some(m), Some(p)) => format!("{m} {p}"),
                (Some(m), None) => m.clone(),
                (None, Some(p)) => p.clone(),
                (None, None) => String::new(),
            }));
        }
        cells.push(Cell::from(if r.count > 1 { format!("×{}", r.count) } else { String::new() }));
        Row::new(cells)
    });
    let mut widths = vec![Constraint::Length(8), Constraint::Length(22), Constraint::Length(3), Constraint::Fill(2)];
    if wide {
        widths.push(Constraint::Fill(1));
    }
    widths.push(Constraint::Length(9));
    frame.render_widget(Table::new(rows, widths).column_spacing(1), inner);
}
