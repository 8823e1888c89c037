//! The routes panel's state: whether it is open, and where routes' state is read from when it is drawn: the
//! routes of this process, read live, or the last answer of the attached endpoint, polled by another task while
//! the panel is open (drawing never waits on the network).

use super::App;
use crate::routes::{RouteReport, RouteStatus};
use crate::tui::action::Action;
use crate::tui::sanitize::sanitize;
use std::sync::Arc;
use tokio::sync::watch;

/// What the attached endpoint last said about its routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteRoutes {
    /// The last good answer; `None` until one came.
    pub reports: Option<Vec<RouteReport>>,
    /// Why the last request failed, if it did.
    pub error: Option<String>,
}

/// Where the panel reads routes' state.
#[derive(Debug)]
pub enum RouteSource {
    /// Routes running in this process (none when it forwards nothing).
    Local(Vec<Arc<RouteStatus>>),
    /// The attached endpoint's, polled by the other side of [`RouteSource::remote`].
    Remote { wanted: watch::Sender<bool>, latest: watch::Receiver<RemoteRoutes> },
}

/// The poller's side of a [`RouteSource::Remote`]: it asks while `wanted` is true and publishes in `latest`.
#[derive(Debug)]
pub struct RoutePoll {
    pub wanted: watch::Receiver<bool>,
    pub latest: watch::Sender<RemoteRoutes>,
}

impl RouteSource {
    pub fn remote() -> (RouteSource, RoutePoll) {
        let (wanted, wanted_rx) = watch::channel(false);
        let (latest_tx, latest) = watch::channel(RemoteRoutes::default());
        (RouteSource::Remote { wanted, latest }, RoutePoll { wanted: wanted_rx, latest: latest_tx })
    }
}

impl Default for RouteSource {
    fn default() -> RouteSource {
        RouteSource::Local(Vec::new())
    }
}

/// What the panel shows now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutesNow {
    /// Reports, sanitised for the terminal, and the last error reading them (attached only).
    Reports(Vec<RouteReport>, Option<String>),
    /// Attached, and no answer yet: still asking, or the error.
    Unknown(Option<String>),
}

#[derive(Debug, Default)]
pub(super) struct RoutesPanel {
    pub(super) shown: bool,
    pub(super) source: RouteSource,
}

impl RoutesPanel {
    /// The panel's own actions: opening or closing it, and where it reads from.
    pub(super) fn update(&mut self, action: Action) {
        match action {
            Action::ToggleRoutes => self.shown = !self.shown,
            Action::RouteSource(source) => self.source = source,
            _ => return,
        }
        self.tell_poller();
    }

    fn tell_poller(&self) {
        if let RouteSource::Remote { wanted, .. } = &self.source {
            wanted.send_replace(self.shown);
        }
    }
}

fn clean(mut r: RouteReport) -> RouteReport {
    r.name = sanitize(&r.name).into_owned();
    r.state = sanitize(&r.state).into_owned();
    r.last_error = r.last_error.map(|e| sanitize(&e).into_owned());
    r
}

impl App {
    pub fn show_routes(&self) -> bool {
        self.routes.shown
    }

    /// Routes' state as it is now; cheap enough for every frame (a few atomics per route, or a clone of the
    /// last answer).
    pub fn routes_now(&self) -> RoutesNow {
        match &self.routes.source {
            RouteSource::Local(statuses) => {
                RoutesNow::Reports(statuses.iter().map(|s| clean(s.report())).collect(), None)
            }
            RouteSource::Remote { latest, .. } => {
                let got = latest.borrow();
                let error = got.error.as_deref().map(|e| sanitize(e).into_owned());
                match &got.reports {
                    Some(r) => RoutesNow::Reports(r.iter().cloned().map(clean).collect(), error),
                    None => RoutesNow::Unknown(error),
                }
            }
        }
    }
}
