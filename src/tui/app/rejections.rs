//! Refused requests for the rejected panel: aggregated by kind (peer host, status, reason, method, path) with a
//! count, and bounded so a flood of distinct kinds cannot grow memory.

use super::App;
use crate::record::RejectedRecord;
use crate::tui::sanitize::sanitize;
use std::collections::HashMap;
use time::OffsetDateTime;

/// Distinct rejection kinds kept; floods of one kind are one entry with a count.
pub const REJECTED_KINDS_KEPT: usize = 500;

/// One kind of refusal (same peer address, status, reason, method and path), with how often it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedEntry {
    pub first: OffsetDateTime,
    pub last: OffsetDateTime,
    /// The most recent peer (`ip:port`).
    pub peer: String,
    pub status: u16,
    pub reason: String,
    pub method: Option<String>,
    pub path: Option<String>,
    pub count: u64,
}

#[derive(Debug, Default)]
pub(super) struct Rejections {
    entries: Vec<RejectedEntry>,
    index: HashMap<String, usize>,
    total: u64,
}

impl Rejections {
    pub(super) fn add(&mut self, r: RejectedRecord) {
        let n = r.count.unwrap_or(1).max(1);
        self.total = self.total.saturating_add(n);
        let peer = sanitize(&r.peer).into_owned();
        // Aggregate by address without the port: a flood opens many connections from one host.
        let host = match peer.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => peer.as_str(),
        };
        let reason = sanitize(&r.reason).into_owned();
        let method = r.method.as_deref().map(|m| sanitize(m).into_owned());
        let path = r.path.as_deref().map(|p| sanitize(p).into_owned());
        let key = format!(
            "{host}\0{}\0{reason}\0{}\0{}",
            r.status,
            method.as_deref().unwrap_or(""),
            path.as_deref().unwrap_or("")
        );
        if let Some(&i) = self.index.get(&key) {
            let e = &mut self.entries[i];
            e.count = e.count.saturating_add(n);
            e.last = e.last.max(r.received_at);
            e.peer = peer;
            return;
        }
        if self.entries.len() >= REJECTED_KINDS_KEPT {
            self.evict_oldest();
        }
        self.index.insert(key, self.entries.len());
        self.entries.push(RejectedEntry {
            first: r.received_at,
            last: r.received_at,
            peer,
            status: r.status,
            reason,
            method,
            path,
            count: n,
        });
    }

    fn evict_oldest(&mut self) {
        let Some(oldest) = (0..self.entries.len()).min_by_key(|&i| self.entries[i].last) else {
            return;
        };
        self.entries.swap_remove(oldest);
        self.index.retain(|_, i| *i != oldest);
        // The former last entry now lives at `oldest`.
        let moved = self.entries.len();
        for i in self.index.values_mut() {
            if *i == moved {
                *i = oldest;
            }
        }
    }
}

impl App {
    /// Kinds of refusal, most recently seen first.
    pub fn rejected_recent(&self) -> Vec<&RejectedEntry> {
        let mut v: Vec<&RejectedEntry> = self.rejections.entries.iter().collect();
        v.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| b.count.cmp(&a.count)));
        v
    }

    /// Refused requests, counting each aggregated one as many times as it stands for.
    pub fn rejected_total(&self) -> u64 {
        self.rejections.total
    }

    /// Distinct kinds of refusal kept.
    pub fn rejected_kinds(&self) -> usize {
        self.rejections.entries.len()
    }
}
