//! The dashboard's name for the one terminal-text escaper, [`crate::text::escape`].

pub use crate::text::{escape as sanitize, is_unsafe};
