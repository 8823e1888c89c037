//! The routes panel (`o`): per route what it delivered, its backlog, its state (ok, retrying, failing, dead
//! letters) and its last error, read live from this process's routes or from the attached endpoint's last answer.

use super::{alert, dim, ellipsize, title_style};
use crate::routes::RouteReport;
use crate::tui::app::routes::RoutesNow;
use crate::tui::app::App;
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

#[cfg(test)]
mod tests {
    use crate::routes::RouteReport;
    use crate::tui::action::Action;
    use crate::tui::app::routes::{RemoteRoutes, RouteSource};
    use crate::tui::view::tests::{render, sample_app};

    fn report(name: &str, state: &str, error: Option<&str>) -> RouteReport {
        RouteReport {
            name: name.into(),
            state: state.into(),
            cursor: 7,
            backlog: 5,
            delivered: 42,
            failures: 3,
            dead_letters: 1,
            last_error: error.map(str::to_owned),
        }
    }

    fn shows(lines: &[String], text: &str) -> bool {
        lines.iter().any(|l| l.contains(text))
    }

    #[test]
    fn the_attached_panel_asks_only_while_open_and_shows_the_last_answer_sanitised() {
        let mut app = sample_app();
        let (source, mut poll) = RouteSource::remote();
        app.update(Action::RouteSource(source));
        assert!(!*poll.wanted.borrow_and_update());
        assert!(!shows(&render(&mut app, 200, 50), "Routes ("));
        app.update(Action::ToggleRoutes);
        assert!(*poll.wanted.borrow_and_update(), "opening the panel starts the polling");
        assert!(shows(&render(&mut app, 200, 50), "Asking the receiver for its routes…"));

        let hostile = report("sheet\u{1b}[2J", "failing", Some("HTTP 503: \u{1b}]52;c;x\u{7}down"));
        poll.latest
            .send_replace(RemoteRoutes { reports: Some(vec![hostile, report("chat", "ok", None)]), error: None });
        let s = render(&mut app, 200, 50);
        assert!(shows(&s, "Routes (2)"), "{s:#?}");
        let row = s.iter().find(|l| l.starts_with("sheet")).expect("the route's row");
        assert!(row.contains("failing") && row.contains("42") && row.contains("HTTP 503"), "{row}");
        assert!(!s.iter().any(|l| l.contains('\u{1b}') || l.contains('\u{7}')), "{s:#?}");

        poll.latest.send_replace(RemoteRoutes {
            reports: Some(vec![report("chat", "ok", None)]),
            error: Some("cannot connect".into()),
        });
        assert!(shows(&render(&mut app, 200, 50), "not updated: cannot connect"));
        // Small terminals lose the panel rather than the events, and nothing panics.
        for (w, h) in [(20, 6), (80, 12), (1, 1)] {
            render(&mut app, w, h);
        }
        app.update(Action::ToggleRoutes);
        assert!(!*poll.wanted.borrow_and_update(), "closing it stops the polling");
    }

    #[test]
    fn without_routes_the_panel_says_how_to_forward() {
        let mut app = sample_app();
        app.update(Action::ToggleRoutes);
        assert!(shows(&render(&mut app, 200, 50), "No routes: glwatch forwards events with --routes FILE"));
    }
}
