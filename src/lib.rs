//! glwatch: receive, verify and watch HPE GreenLake cloud webhook events.

#![forbid(unsafe_code)]

pub mod acme;
pub mod broker;
pub mod cloudevent;
pub mod config;
pub mod data_dir;
pub mod export;
pub mod feed;
pub mod filter;
pub mod greenlake;
pub mod journal;
pub mod pipeline;
pub mod proxy;
pub mod record;
pub mod routes;
pub mod send;
pub mod server;
pub mod sources;
pub mod text;
pub mod tui;
pub mod units;
pub mod watch;
