//! The header: where the receiver listens and with which certificate and secret, what has arrived, the event
//! rate, and what the table is showing (filters, "N of M", following or paused).

use super::{alert, dim, title_style};
use crate::server::certs::{day, CertStatus, Urgency};
use crate::tui::app::App;
use crate::tui::feed::LinkState;
use crate::tui::sanitize::sanitize;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

const SPARK: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const SPARK_MINUTES: usize = 30;

/// `AB:CD:EF:01…89:AB`: enough to compare with what a client shows, short enough for the header.
pub fn short_fingerprint(fp: &str) -> String {
    let groups: Vec<&str> = fp.split(':').collect();
    if groups.len() <= 6 {
        return fp.to_owned();
    }
    format!("{}…{}", groups[..4].join(":"), groups[groups.len() - 2..].join(":"))
}

pub fn sparkline(counts: &[u64]) -> String {
    let max = counts.iter().copied().max().unwrap_or(0);
    counts
        .iter()
        .map(|&n| {
            if n == 0 || max == 0 {
                SPARK[0]
            } else {
                // Any non-zero minute shows at least the lowest bar.
                SPARK[1 + ((n * 7) / max) as usize]
            }
        })
        .collect()
}

fn counts(app: &App) -> Line<'static> {
    let h = app.history();
    let mut spans = vec![Span::raw(" events "), Span::styled(app.events_total().to_string(), title_style())];
    if h.dropped() > 0 {
        spans.push(Span::styled(
            format!(" ({} dropped, --retain {})", h.dropped(), h.retain()),
            Style::new().fg(Color::Yellow),
        ));
    }
    spans.push(Span::raw("  challenges "));
    spans.push(Span::styled(app.challenges_total().to_string(), title_style()));
    spans.push(Span::raw("  rejected "));
    let rejected = app.rejected_total();
    spans.push(Span::styled(rejected.to_string(), if rejected > 0 { alert() } else { title_style() }));
    spans.push(Span::raw("  duplicates "));
    spans.push(Span::styled(app.duplicates().to_string(), title_style()));
    if app.screen_dropped() > 0 {
        spans.push(Span::styled(format!("  {} not shown (screen too slow)", app.screen_dropped()), alert()));
    }
    let rate = app.rate(SPARK_MINUTES);
    spans.push(Span::raw("  rate "));
    spans.push(Span::styled(sparkline(&rate), Style::new().fg(Color::Cyan)));
    spans.push(Span::raw(format!(" {}/min", rate.last().copied().unwrap_or(0))));
    Line::from(spans)
}

/// The serving certificate's fingerprint (it can change on reload) and its end date: yellow under two weeks
/// left, red under three days or once expired.
fn cert_spans(cert: &CertStatus, now: time::OffsetDateTime) -> Vec<Span<'static>> {
    let mut spans = vec![Span::raw(short_fingerprint(&cert.fingerprint()))];
    let Some(until) = cert.not_after() else { return spans };
    let (text, style) = match cert.urgency(now) {
        Urgency::Fine => (format!(" until {}", day(until)), dim()),
        Urgency::Soon => (format!(" expires {}", day(until)), Style::new().fg(Color::Yellow)),
        Urgency::Imminent => (format!(" expires {}", day(until)), alert()),
        Urgency::Expired => (format!(" EXPIRED {}", day(until)), alert()),
    };
    spans.push(Span::styled(text, style));
    spans
}

fn follow_span(app: &App) -> Span<'static> {
    if app.following() {
        Span::styled("● following", Style::new().fg(Color::Green))
    } else {
        Span::styled("‖ paused (f follows)", Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD))
    }
}

/// The attached dashboard's connection: green when records flow, yellow while it waits, red when it gave up.
fn link_span(state: Option<&LinkState>) -> Span<'static> {
    let state = state.cloned().unwrap_or(LinkState::Connecting);
    let color = match state {
        LinkState::Connected => Color::Green,
        LinkState::Failed(_) => Color::Red,
        _ => Color::Yellow,
    };
    Span::styled(format!("● {}", sanitize(&state.label())), Style::new().fg(color).add_modifier(Modifier::BOLD))
}

fn shown(app: &App) -> String {
    format!("{} of {} events shown", app.view_len(), app.history().len())
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    if area.height == 0 {
        return;
    }
    let info = &app.info;
    let mut first = vec![Span::styled(" glwatch ", Style::new().fg(Color::Black).bg(Color::Cyan)), Span::raw(" ")];
    match &info.attached {
        Some(target) => {
            first.push(Span::styled("attached to ", dim()));
            first.push(Span::styled(target.clone(), title_style()));
            first.push(Span::raw("  "));
            first.push(link_span(app.link()));
        }
        None => first.push(Span::styled(info.listen_url.clone(), title_style())),
    }
    if app.receiver_closed() {
        first.push(Span::styled("  receiver stopped", alert()));
    }
    if area.height < 3 {
        // One line: the essentials only.
        first.push(Span::raw(format!("  {}  ", shown(app))));
        first.push(follow_span(app));
        if app.rejected_total() > 0 {
            first.push(Span::styled(format!("  rejected {}", app.rejected_total()), alert()));
        }
        frame.render_widget(Paragraph::new(Line::from(first)), area);
        return;
    }
    if info.attached.is_none() {
        first.push(Span::styled("  cert ", dim()));
        match &info.cert {
            Some(cert) => first.extend(cert_spans(cert, time::OffsetDateTime::now_utc())),
            None => first.push(Span::raw(short_fingerprint(&info.fingerprint))),
        }
        first.push(Span::styled("  secret ", dim()));
        first.push(Span::raw(info.secret_state.clone()));
        if let Some(nats) = &info.nats {
            first.push(Span::styled("  nats ", dim()));
            let color = if nats.ready() { Color::Green } else { Color::Red };
            first
                .push(Span::styled(format!("● {}", nats.state()), Style::new().fg(color).add_modifier(Modifier::BOLD)));
        }
    }
    if let Some(banner) = &info.banner {
        first.push(Span::raw("  "));
        first.push(Span::styled(banner.clone(), Style::new().fg(Color::Black).bg(Color::Yellow)));
    }

    let mut third = vec![Span::raw(" ")];
    if !app.filter().is_empty() {
        third.push(Span::styled("filter ", dim()));
        third.push(Span::styled(app.filter().describe(), Style::new().fg(Color::Yellow)));
        third.push(Span::raw("  "));
    }
    third.push(Span::styled(shown(app), title_style()));
    third.push(Span::raw("  "));
    third.push(follow_span(app));

    let text = vec![Line::from(first), counts(app), Line::from(third)];
    frame.render_widget(Paragraph::new(text), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_shortened() {
        let fp = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:99:88";
        assert_eq!(short_fingerprint(fp), "AB:CD:EF:01…99:88");
        assert_eq!(short_fingerprint("AB:CD"), "AB:CD");
    }

    #[test]
    fn certificate_end_date_is_coloured_by_how_close_it_is() {
        let now = time::macros::datetime!(2026-11-30 8:00 UTC);
        let cert = CertStatus::default();
        let fp = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:99:88";
        let shown = |days: i64| {
            cert.set(fp.into(), Some(now + time::Duration::days(days)));
            let spans = cert_spans(&cert, now);
            assert_eq!(spans[0].content, "AB:CD:EF:01…99:88");
            (spans[1].content.to_string(), spans[1].style.fg)
        };
        assert_eq!(shown(200), (" until 2027-06-18".into(), dim().fg));
        assert_eq!(shown(10), (" expires 2026-12-10".into(), Some(Color::Yellow)));
        assert_eq!(shown(2), (" expires 2026-12-02".into(), alert().fg));
        assert_eq!(shown(-1), (" EXPIRED 2026-11-29".into(), alert().fg));
        cert.set(fp.into(), None);
        assert_eq!(cert_spans(&cert, now).len(), 1, "no date when it could not be read");
    }

    #[test]
    fn sparkline_scales_to_the_busiest_minute() {
        assert_eq!(sparkline(&[0, 1, 7, 14]), " ▁▄█");
        assert_eq!(sparkline(&[0, 0]), "  ");
    }

    #[tokio::test]
    async fn the_nats_link_is_shown_live() {
        // Nothing listens on the discard port: the link stays down.
        let options = crate::broker::NatsOptions { servers: vec!["nats://127.0.0.1:9".into()], ..Default::default() };
        let client = async_nats::ConnectOptions::new().retry_on_initial_connect().connect("127.0.0.1:9").await.unwrap();
        let mut info = crate::tui::view::tests::info();
        info.nats = Some(std::sync::Arc::new(crate::broker::NatsStatus::new(client, &options)));
        let mut app = App::new(info, 10);
        let screen = crate::tui::view::tests::render(&mut app, 120, 24);
        assert!(screen[0].contains("secret primary  nats ● disconnected"), "{}", screen[0]);
    }
}
