//! The popup that shows a generated webhook secret once at start: the operator must enter it in GreenLake's
//! "Register webhook" form, and while the dashboard owns the screen nothing else can show it.

use super::{centered, dim, title_style};
use crate::greenlake::Secret;
use crate::tui::sanitize::sanitize;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(frame: &mut Frame, area: Rect, secret: &Secret) {
    // Generated secrets are plain letters and digits; sanitising anyway keeps the rule that nothing reaches the
    // terminal unescaped.
    let value = sanitize(secret.expose()).into_owned();
    let text = vec![
        Line::raw("Generated webhook secret — enter it in GreenLake's Register webhook form:"),
        Line::raw(""),
        Line::styled(value, Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)),
        Line::raw(""),
        Line::styled("(it is not shown again; press any key)", dim()),
    ];
    let popup = centered(area, 80, 7);
    frame.render_widget(Clear, popup);
    let block = Block::new().borders(Borders::ALL).title(Span::styled(" Webhook secret ", title_style()));
    frame.render_widget(
        Paragraph::new(text).block(block).alignment(Alignment::Center).wrap(Wrap { trim: false }),
        popup,
    );
}
