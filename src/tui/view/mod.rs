//! Drawing the dashboard: free functions, one file per screen region, each reading the [`App`] and never
//! changing it.
//!
//! ```text
//! ┌ header: listen URL · certificate · secret │ counts · rate │ filters · N of M shown · following ┐ 3 lines
//! │ event table (only the visible rows are built)  │ detail pane: receipt facts + the whole event │ side by side
//! │                                                │ (pretty JSON, coloured, scrolls)             │ when wide,
//! │                                                │                                              │ stacked when not
//! ├ challenge panel (c) ──────────────────────────────────────────────────────────────────────────┤
//! ├ rejected requests (r) ────────────────────────────────────────────────────────────────────────┤
//! └ status line: filter input, messages, key hints ───────────────────────────────────────────────┘
//!   overlays: type / user / source picker (t, u, s), help (?), and once at start the generated secret
//! ```
//!
//! Small terminals lose regions in this order: panels, detail pane (shown instead of the table when focused),
//! the long header, the status line. Nothing here may panic whatever the size: every region is clipped to the
//! frame.

pub mod challenges;
pub mod detail;
pub mod header;
pub mod help;
pub mod picker;
pub mod rejected;
pub mod secret;
pub mod status;
pub mod table;

use crate::tui::app::{App, Focus, Mode};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::Frame;
use time::OffsetDateTime;

/// Where each region goes for a given terminal size and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Regions {
    pub header: Rect,
    pub table: Option<Rect>,
    pub detail: Option<Rect>,
    pub challenges: Option<Rect>,
    pub rejected: Option<Rect>,
    pub status: Rect,
}

/// Width from which the detail pane sits beside the table rather than under it.
pub const SIDE_BY_SIDE_WIDTH: u16 = 120;
/// Rows a bottom panel may take at least; on a tall terminal, up to a sixth of the height.
const PANEL_ROWS: usize = 4;

pub fn layout(area: Rect, app: &App) -> Regions {
    let h = area.height;
    let status_h = u16::from(h >= 5);
    let header_h = match h {
        0..=2 => 0,
        3..=15 => 1,
        _ => 3,
    };
    let [header, body, status] =
        Layout::vertical([Constraint::Length(header_h), Constraint::Fill(1), Constraint::Length(status_h)]).areas(area);

    // Bottom panels only when the events keep at least 10 lines.
    let panel_rows = PANEL_ROWS.max(usize::from(body.height / 6));
    let panel_h = |shown: bool, n: usize| -> u16 {
        if shown {
            1 + n.clamp(1, panel_rows) as u16
        } else {
            0
        }
    };
    let mut chal_h = panel_h(app.show_challenges(), app.challenges().len());
    let mut rej_h = panel_h(app.show_rejected(), app.rejected_kinds());
    if body.height < chal_h + rej_h + 10 {
        rej_h = 0;
    }
    if body.height < chal_h + rej_h + 10 {
        chal_h = 0;
    }
    let [main, chal, rej] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(chal_h), Constraint::Length(rej_h)]).areas(body);

    let (table, detail) = if main.width >= SIDE_BY_SIDE_WIDTH && main.height >= 3 {
        let [t, d] = Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(main);
        (Some(t), Some(d))
    } else if main.height >= 14 {
        let [t, d] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(main);
        (Some(t), Some(d))
    } else if app.focus() == Focus::Detail {
        (None, Some(main))
    } else {
        (Some(main), None)
    };
    let some = |r: Rect| (r.area() > 0).then_some(r);
    Regions {
        header,
        table: table.and_then(some),
        detail: detail.and_then(some),
        challenges: some(chal),
        rejected: some(rej),
        status,
    }
}

/// Table rows and detail-pane lines for this layout: what paging moves by.
pub fn viewport(regions: &Regions) -> (u16, u16) {
    let table = regions.table.map_or(0, |r| r.height.saturating_sub(table::HEADER_ROWS));
    let detail = regions.detail.map_or(0, |r| r.height.saturating_sub(detail::CHROME_ROWS));
    (table, detail)
}

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let r = layout(area, app);
    header::draw(frame, r.header, app);
    if let Some(t) = r.table {
        table::draw(frame, t, app);
    }
    if let Some(d) = r.detail {
        detail::draw(frame, d, app, r.table.is_some() && d.x > area.x);
    }
    if let Some(c) = r.challenges {
        challenges::draw(frame, c, app);
    }
    if let Some(j) = r.rejected {
        rejected::draw(frame, j, app);
    }
    status::draw(frame, r.status, app);
    match app.mode() {
        Mode::Picker(p) => picker::draw(frame, area, app, p),
        Mode::Help => help::draw(frame, area, app),
        Mode::Normal | Mode::FilterInput => {}
    }
    // Over everything, until the first key.
    if let Some(s) = app.secret_popup() {
        secret::draw(frame, area, s);
    }
}

/// A rectangle of at most `w` x `h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

pub fn local(app: &App, t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(app.info.utc_offset)
}

pub fn hms(t: OffsetDateTime) -> String {
    // Formatting these components of an OffsetDateTime into a String cannot fail; drawing must never panic.
    t.format(time::macros::format_description!("[hour]:[minute]:[second]")).unwrap_or_default()
}

/// A stable colour per event type, so a type keeps its colour as rows scroll.
pub fn type_color(ty: &str) -> Color {
    const PALETTE: [Color; 6] =
        [Color::Cyan, Color::Green, Color::Yellow, Color::Magenta, Color::LightBlue, Color::LightGreen];
    // FNV-1a: tiny and the same on every run.
    let h = ty.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    PALETTE[(h % PALETTE.len() as u64) as usize]
}

pub fn title_style() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

pub fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

pub fn alert() -> Style {
    Style::new().fg(Color::LightRed).add_modifier(Modifier::BOLD)
}

/// Shortens `s` to `max` characters with a trailing ellipsis.
pub fn ellipsize(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
pub(crate) mod tests;
