//! Scrolling the help overlay: how far down it is, and the bounds the last viewport reported, so that paging
//! moves by the overlay's own height and never runs past its last line.

/// Help lines scrolled until the first viewport says how long the help is.
const MAX_UNKNOWN: u16 = 200;

#[derive(Debug)]
pub(super) struct HelpScroll {
    pub(super) top: u16,
    /// Lines the overlay shows at once.
    rows: u16,
    /// The scroll that brings the last line to the bottom.
    max: u16,
}

impl Default for HelpScroll {
    fn default() -> HelpScroll {
        HelpScroll { top: 0, rows: 10, max: MAX_UNKNOWN }
    }
}

impl HelpScroll {
    pub(super) fn viewport(&mut self, rows: u16, max: u16) {
        self.rows = rows;
        self.max = max;
        self.top = self.top.min(max);
    }

    /// One line fewer than shown, so the line at the edge stays in view for context.
    pub(super) fn page(&self) -> i32 {
        i32::from(self.rows.max(2) - 1)
    }

    pub(super) fn by(&mut self, delta: i32) {
        self.top = (i32::from(self.top) + delta).clamp(0, i32::from(self.max)) as u16;
    }
}
