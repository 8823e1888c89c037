//! The detail pane: receipt facts for the selected event (received at, peer, signature verdict, duplicates,
//! delivery lag) and the whole CloudEvent, pretty-printed with its JSON coloured, scrolled by the operator.

use super::{alert, dim, local, title_style};
use crate::record::VerifiedBy;
use crate::tui::app::{App, Focus};
use crate::tui::json::{tokens, Token};
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;
use time::{Duration, OffsetDateTime};

/// Lines that are not JSON: the title border and two lines of facts.
pub const CHROME_ROWS: u16 = 3;

/// A delivery lag the way an operator reads it: `850 ms`, `4.2 s`, `3m 12s`, `5h 2m`, `12d 3h`.
pub fn lag(d: Duration) -> String {
    let sign = if d.is_negative() { "-" } else { "" };
    let d = d.abs();
    let ms = d.whole_milliseconds();
    let s = d.whole_seconds();
    let body = if ms < 1000 {
        format!("{ms} ms")
    } else if s < 60 {
        format!("{:.1} s", d.as_seconds_f64())
    } else if s < 3600 {
        format!("{}m {}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d {}h", s / 86_400, (s % 86_400) / 3600)
    };
    format!("{sign}{body}")
}

fn stamp(t: OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]");
    // Formatting these components of an OffsetDateTime into a String cannot fail; drawing must never panic.
    t.format(format).unwrap_or_default()
}

fn colour(line: &str) -> Line<'_> {
    Line::from(
        tokens(line)
            .into_iter()
            .map(|(kind, text)| {
                let style = match kind {
                    Token::Key => Style::new().fg(Color::LightBlue),
                    Token::String => Style::new().fg(Color::Green),
                    Token::Number => Style::new().fg(Color::Yellow),
                    Token::Literal => Style::new().fg(Color::Magenta),
                    Token::Indent | Token::Punct => Style::new(),
                };
                Span::styled(text, style)
            })
            .collect::<Vec<_>>(),
    )
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, beside_table: bool) {
    let focused = app.focus() == Focus::Detail;
    let row = app.selected_row();
    let title = match row {
        Some(r) => format!(" Event {} ", app.history().id(r)),
        None => " Event ".into(),
    };
    let borders = if beside_table { Borders::TOP | Borders::LEFT } else { Borders::TOP };
    let block = Block::new()
        .borders(borders)
        .title(Span::styled(title, title_style()))
        .title(Span::styled(if focused { " Enter/Esc: back to table " } else { " Enter: read " }, dim()))
        .border_style(if focused { Style::new().fg(Color::Cyan) } else { dim() });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(row) = row else {
        frame.render_widget(Paragraph::new("No event selected.").style(dim()), inner);
        return;
    };
    let detail = app.detail();
    let received = local(app, row.received_at());
    let mut facts = vec![
        Line::from(vec![
            Span::styled("received ", dim()),
            Span::raw(format!("{} ({})", stamp(received), received.offset())),
            Span::styled("  from ", dim()),
            Span::raw(app.history().peers.name(row.peer).to_owned()),
        ]),
        Line::from(vec![
            Span::styled("signature ", dim()),
            match row.verified_by {
                VerifiedBy::Primary => Span::raw("valid (primary secret)"),
                VerifiedBy::Secondary => Span::raw("valid (secondary secret)"),
                VerifiedBy::Unsigned => Span::styled("UNSIGNED (accepted with --allow-unsigned)", alert()),
            },
            Span::styled("  duplicates ", dim()),
            Span::raw(row.duplicates.to_string()),
            Span::styled("  lag ", dim()),
            Span::raw(
                detail
                    .and_then(|d| d.event_time)
                    .map_or_else(|| "unknown (no event time)".into(), |t| lag(row.received_at() - t)),
            ),
        ]),
    ];
    if let Some(name) = app.history().source_name(row) {
        facts.push(Line::from(vec![Span::styled("source ", dim()), Span::raw(name.to_owned())]));
    }
    let json_rows = usize::from(inner.height.saturating_sub(facts.len() as u16));
    match detail {
        Some(d) => facts.extend(d.lines.iter().skip(app.detail_scroll()).take(json_rows).map(|l| colour(l))),
        None => facts.push(Line::styled("…", dim())),
    }
    frame.render_widget(Paragraph::new(facts).wrap(Wrap { trim: false }), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_reads_naturally() {
        assert_eq!(lag(Duration::milliseconds(850)), "850 ms");
        assert_eq!(lag(Duration::milliseconds(4210)), "4.2 s");
        assert_eq!(lag(Duration::seconds(192)), "3m 12s");
        assert_eq!(lag(Duration::minutes(302)), "5h 2m");
        assert_eq!(lag(Duration::hours(291)), "12d 3h");
        assert_eq!(lag(Duration::milliseconds(-1500)), "-1.5 s");
    }
}
