//! Verification challenges for the challenge panel: the most recent ones, sanitised once on arrival, and how many
//! came in all.

use super::App;
use crate::record::ChallengeRecord;
use crate::tui::sanitize::sanitize;
use std::collections::VecDeque;

/// Challenges kept for the panel; GreenLake sends one per webhook registration or re-validation, so this is ample.
pub const CHALLENGES_KEPT: usize = 1000;

#[derive(Debug, Default)]
pub(super) struct Challenges {
    kept: VecDeque<ChallengeRecord>,
    total: u64,
}

impl Challenges {
    pub(super) fn add(&mut self, mut c: ChallengeRecord) {
        self.total += 1;
        c.peer = sanitize(&c.peer).into_owned();
        c.challenge_request = sanitize(&c.challenge_request).into_owned();
        c.reason = c.reason.map(|r| sanitize(&r).into_owned());
        c.verification = c.verification.map(|v| sanitize(&v).into_owned());
        if self.kept.len() >= CHALLENGES_KEPT {
            self.kept.pop_front();
        }
        self.kept.push_back(c);
    }
}

impl App {
    /// Challenges kept, oldest first.
    pub fn challenges(&self) -> &VecDeque<ChallengeRecord> {
        &self.challenges.kept
    }

    pub fn challenges_total(&self) -> u64 {
        self.challenges.total
    }
}
