//! The dashboard's view of the one event filter, [`crate::filter`], which the export shares.

pub use crate::filter::{Filter, FilterMatcher, TextMatcher};
