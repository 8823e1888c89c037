//! The challenge panel: every verification challenge, newest first, with who sent it, what was asked, whether it
//! was answered (or refused and why) and how long the answer took.

use super::{alert, dim, ellipsize, hms, local, title_style};
use crate::tui::app::App;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use ratatui::Frame;

pub fn answer_time(micros: u64) -> String {
    if micros < 1000 {
        format!("{micros} µs")
    } else {
        format!("{:.1} ms", micros as f64 / 1000.0)
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let block = Block::new()
        .borders(Borders::TOP)
        .border_style(dim())
        .title(Span::styled(format!(" Challenges ({}) ", app.challenges_total()), title_style()))
        .title(Span::styled(" c hides ", dim()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if app.challenges().is_empty() {
        frame.render_widget(
            Paragraph::new("No verification challenge yet: GreenLake sends one when the webhook is registered.")
                .style(dim()),
            inner,
        );
        return;
    }
    // Narrow screens keep what says whether GreenLake was answered: time, request, outcome, duration.
    let wide = inner.width >= 110;
    let narrow = inner.width < 70;
    let rows = app.challenges().iter().rev().take(usize::from(inner.height)).map(|c| {
        let outcome = if c.answered {
            Cell::from(Span::styled("answered", Style::new().fg(Color::Green)))
        } else {
            Cell::from(Span::styled(format!("refused: {}", c.reason.as_deref().unwrap_or("no reason given")), alert()))
        };
        let mut cells = vec![Cell::from(hms(local(app, c.received_at)))];
        if wide {
            cells.push(Cell::from(c.peer.clone()));
        }
        if !narrow {
            cells.push(Cell::from(c.challenge_request.clone()));
        }
        if wide {
            cells.push(Cell::from(match &c.verification {
                Some(v) => format!("→ {}", ellipsize(v, 13)),
                None => "→ (none)".into(),
            }));
        }
        cells.push(outcome);
        cells.push(Cell::from(c.answer_micros.map(answer_time).unwrap_or_default()));
        Row::new(cells)
    });
    let mut widths = vec![Constraint::Length(8)];
    if wide {
        widths.push(Constraint::Length(22));
    }
    if !narrow {
        widths.push(Constraint::Length(36));
    }
    if wide {
        widths.push(Constraint::Length(15));
    }
    widths.extend([Constraint::Fill(1), Constraint::Length(9)]);
    frame.render_widget(Table::new(rows, widths).column_spacing(1), inner);
}
