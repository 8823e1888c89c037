//! The routes panel (`o`): per route what it delivered, its backlog, its state (ok, retrying, failing, dead
//! letters) and its last error, read live from this process's routes or from the attached endpoint's last answer.

use super::{alert, dim, ellipsize, title_style};
use crate::routes::RouteReport;
use crate::tui::app::{App, RoutesNow};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use ratatui::Frame;

/// Rows the panel wants: its title, the column names and one per route (a message when there is none), at most
/// `max_rows` of routes.
pub fn rows(app: &App, max_rows: usize) -> u16 {
    match app.routes_now() {
        RoutesNow::Reports(r, _) if !r.is_empty() => 2 + r.len().clamp(1, max_rows) as u16,
        _ => 2,
    }
}

fn state_style(state: &str) -> Style {
    match state {
        "ok" => Style::new().fg(Color::Green),
        "retrying" | "dead letters" => Style::new().fg(Color::Yellow),
        _ => alert(),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let now = app.routes_now();
    let (reports, error) = match &now {
        RoutesNow::Reports(r, e) => (r.as_slice(), e.as_deref()),
        RoutesNow::Unknown(e) => (&[][..], e.as_deref()),
    };
    let troubled = reports.iter().any(|r| r.state != "ok");
    let mut block = Block::new()
        .borders(Borders::TOP)
        .border_style(dim())
        .title(Span::styled(format!(" Routes ({}) ", reports.len()), if troubled { alert() } else { title_style() }))
        .title(Span::styled(" o hides ", dim()));
    if let (Some(e), false) = (error, reports.is_empty()) {
        block = block.title(Span::styled(format!(" not updated: {} ", ellipsize(e, 80)), alert()));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if reports.is_empty() {
        let text = match (&now, error) {
            (RoutesNow::Unknown(_), Some(e)) => Line::styled(format!("Cannot read the routes: {e}"), alert()),
            (RoutesNow::Unknown(_), None) => Line::styled("Asking the receiver for its routes…", dim()),
            _ => Line::styled("No routes: glwatch forwards events with --routes FILE or --forward URL.", dim()),
        };
        frame.render_widget(Paragraph::new(text), inner);
        return;
    }
    let header = Row::new(["ROUTE", "STATE", "DELIVERED", "BACKLOG", "DEAD", "LAST ERROR"]).style(dim());
    let rows = reports.iter().take(usize::from(inner.height.saturating_sub(1))).map(|r: &RouteReport| {
        Row::new(vec![
            Cell::from(r.name.clone()),
            Cell::from(Span::styled(r.state.clone(), state_style(&r.state))),
            Cell::from(Line::from(r.delivered.to_string()).right_aligned()),
            Cell::from(Line::from(r.backlog.to_string()).right_aligned()),
            Cell::from(Line::from(r.dead_letters.to_string()).right_aligned()),
            Cell::from(r.last_error.clone().unwrap_or_default()),
        ])
    });
    let widths = [
        Constraint::Length(16),
        Constraint::Length(12),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).column_spacing(1), inner);
}
