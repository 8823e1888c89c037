//! glwatch: receive, verify and watch HPE GreenLake cloud webhook events.

pub mod cloudevent;
pub mod export;
pub mod greenlake;
pub mod record;
pub mod tui;
