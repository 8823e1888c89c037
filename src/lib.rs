//! glwatch: receive, verify and watch HPE GreenLake cloud webhook events.

pub mod cli;
pub mod cloudevent;
pub mod config;
pub mod demo;
pub mod export;
pub mod greenlake;
pub mod journal;
pub mod pipeline;
pub mod record;
pub mod run;
pub mod send;
pub mod server;
pub mod sources;
pub mod tui;
