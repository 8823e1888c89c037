//! The event table: one line per listed event, newest at the bottom. Only the rows in the window are built, so
//! drawing costs the same with ten events or a million.

use super::{alert, dim, hms, local, type_color};
use crate::record::VerifiedBy;
use crate::tui::app::{App, Focus};
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

/// Lines above the rows: the column titles.
pub const HEADER_ROWS: u16 = 1;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Time,
    Source,
    Type,
    User,
    Category,
    Summary,
    Verified,
}

/// The columns for a table `width` wide; `source` is the Source column's width, 0 without `--sources`.
fn columns(width: u16, source: u16) -> Vec<(Col, Constraint)> {
    let mut cols = by_width(width);
    if source == 0 || width < 80 {
        return cols;
    }
    // The source goes beside the time; below 120 columns the user and the source give up some width so the
    // summary keeps about 20.
    let narrow = width < 120;
    cols.insert(1, (Col::Source, Constraint::Length(if narrow { source.min(12) } else { source })));
    if narrow {
        for (col, w) in &mut cols {
            if *col == Col::User {
                *w = Constraint::Length(12);
            }
        }
    }
    cols
}

fn by_width(width: u16) -> Vec<(Col, Constraint)> {
    use Col::*;
    let c = Constraint::Length;
    let fill = Constraint::Fill(1);
    // The summary keeps at least about 26 columns; the others go, least useful first, as width shrinks.
    match width {
        120.. => vec![(Time, c(8)), (Type, c(25)), (User, c(20)), (Category, c(15)), (Summary, fill), (Verified, c(9))],
        100..=119 => vec![(Time, c(8)), (Type, c(25)), (User, c(18)), (Summary, fill), (Verified, c(9))],
        // Verification then shows as a marker in the summary, only when it is missing.
        80..=99 => vec![(Time, c(8)), (Type, c(25)), (User, c(18)), (Summary, fill)],
        50..=79 => vec![(Time, c(8)), (Type, c(20)), (Summary, fill)],
        _ => vec![(Time, c(8)), (Summary, fill)],
    }
}

fn title(col: Col) -> &'static str {
    match col {
        Col::Time => "Time",
        Col::Source => "Source",
        Col::Type => "Type",
        Col::User => "User",
        Col::Category => "Category",
        Col::Summary => "Summary",
        Col::Verified => "Verified",
    }
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    if app.view_len() == 0 {
        let text = if app.history().is_empty() {
            vec![
                Line::styled("Waiting for events…", Style::new().add_modifier(Modifier::BOLD)),
                Line::from(format!(
                    "GreenLake delivers to {} once a webhook with this URL is registered and its challenge \
                     answered.",
                    app.info.listen_url
                )),
            ]
        } else {
            vec![Line::from(format!("No event matches the filter ({} retained). Esc clears it.", app.history().len()))]
        };
        frame.render_widget(Paragraph::new(text).style(dim()).wrap(Wrap { trim: true }), area);
        return;
    }
    let rows_h = usize::from(area.height.saturating_sub(HEADER_ROWS));
    let window = app.table_window(rows_h);
    let cols = columns(area.width, source_width(app));
    let has_verified = cols.iter().any(|(c, _)| *c == Col::Verified);
    let selected = app.selected();
    let focused = app.focus() == Focus::Table;
    let rows = app.rows_in(window).map(|(seq, r)| {
        let ty = app.type_name(r);
        let cells = cols.iter().map(|(col, _)| match col {
            Col::Time => Cell::from(hms(local(app, r.received_at()))),
            Col::Source => Cell::from(app.history().source_name(r).unwrap_or("").to_owned()),
            Col::Type => Cell::from(Span::styled(app.short_type_name(r).to_owned(), Style::new().fg(type_color(ty)))),
            Col::User => Cell::from(app.history().user_name(r).unwrap_or("").to_owned()),
            Col::Category => Cell::from(app.history().category_name(r).unwrap_or("").to_owned()),
            Col::Summary => {
                let mut spans = Vec::with_capacity(3);
                if !has_verified && r.verified_by == VerifiedBy::Unsigned {
                    spans.push(Span::styled("UNSIGNED ", alert()));
                }
                if r.duplicates > 0 {
                    spans.push(Span::styled(format!("×{} ", r.duplicates + 1), dim()));
                }
                spans.push(Span::raw(app.history().summary(r).to_owned()));
                Cell::from(Line::from(spans))
            }
            Col::Verified => match r.verified_by {
                VerifiedBy::Unsigned => Cell::from(Span::styled("UNSIGNED", alert())),
                v => Cell::from(v.as_str()),
            },
        });
        let mut row = Row::new(cells);
        if Some(seq) == selected {
            row = row.style(if focused {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new().bg(Color::DarkGray)
            });
        }
        row
    });
    let header = Row::new(cols.iter().map(|(c, _)| Cell::from(title(*c))))
        .style(Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED));
    let table = Table::new(rows, cols.iter().map(|(_, w)| *w)).header(header).column_spacing(1);
    frame.render_widget(table, area);
}

/// The Source column's width: the longest retained source name, between the title's width and 16; 0 when no
/// retained event came through a configured source.
fn source_width(app: &App) -> u16 {
    let sources = &app.history().sources;
    if sources.is_empty() {
        return 0;
    }
    let longest = sources.iter().map(|(_, name, _)| name.chars().count()).max().unwrap_or(0);
    longest.clamp(title(Col::Source).len(), 16) as u16
}
