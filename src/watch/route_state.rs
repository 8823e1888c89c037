//! Routes' live state on the watch endpoint: `GET /v1/routes` (JSON), the per-route metrics read at each scrape,
//! and the client side, fetched once by `glwatch routes` or polled for an attached dashboard's routes panel.

use super::client::{ClientError, WatchClient};
use super::routes::Body;
use crate::routes::{RouteReport, RouteStatus};
use crate::tui::app::routes::{RemoteRoutes, RoutePoll};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Path of the routes' state on the endpoint.
pub const PATH: &str = "/v1/routes";
/// The longest answer read: a route's report is small, and its last error is bounded.
const MAX_ANSWER: usize = 4 << 20;
/// How often an open routes panel asks, and how long one answer may take.
const POLL_EVERY: Duration = Duration::from_secs(1);
const POLL_TIMEOUT: Duration = Duration::from_secs(10);

/// The body of `GET /v1/routes`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoutesAnswer {
    pub routes: Vec<RouteReport>,
}

/// The routes running in this process, read live: by `/v1/routes` and as metrics at each scrape.
#[derive(Debug, Default)]
pub struct RouteCollector {
    statuses: Mutex<Vec<Arc<RouteStatus>>>,
}

/// A per-route metric: its name, help, type and value in a report.
type RouteMetric = (&'static str, &'static str, MetricType, fn(&RouteReport) -> u64);

/// Counters are named without `_total`: the OpenMetrics encoder adds it.
const METRICS: [RouteMetric; 4] = [
    ("glwatch_route_delivered", "Events a route delivered", MetricType::Counter, |r| r.delivered),
    (
        "glwatch_route_failures",
        "Failed delivery attempts of a route, retried ones included",
        MetricType::Counter,
        |r| r.failures,
    ),
    ("glwatch_route_backlog", "Records a route has still to go through", MetricType::Gauge, |r| r.backlog),
    ("glwatch_route_dead_letters", "Events in a route's dead-letter file", MetricType::Gauge, |r| r.dead_letters),
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

impl RouteCollector {
    pub fn watch(&self, statuses: Vec<Arc<RouteStatus>>) {
        *self.statuses.lock().unwrap_or_else(|p| p.into_inner()) = statuses;
    }

    pub fn reports(&self) -> Vec<RouteReport> {
        self.statuses.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|s| s.report()).collect()
    }
}

impl prometheus_client::collector::Collector for RouteCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let reports = self.reports();
        if reports.is_empty() {
            return Ok(());
        }
        for (name, help, kind, value) in METRICS {
            let mut family = encoder.encode_descriptor(name, help, None, kind)?;
            for r in &reports {
                let label = RouteLabel { route: r.name.clone() };
                let encoder = family.encode_family(&label)?;
                match kind {
                    MetricType::Counter => ConstCounter::new(value(r)).encode(encoder)?,
                    _ => ConstGauge::new(i64::try_from(value(r)).unwrap_or(i64::MAX)).encode(encoder)?,
                }
            }
        }
        Ok(())
    }
}

/// `GET /v1/routes`: every route's report, `{"routes": []}` when none is configured.
pub fn answer(collector: &RouteCollector) -> Response<Body> {
    let body = serde_json::to_vec(&RoutesAnswer { routes: collector.reports() }).unwrap_or_default();
    let mut response = Response::new(Full::new(bytes::Bytes::from(body)).boxed_unsync());
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The routes of the glwatch behind `client`.
pub async fn fetch(client: &WatchClient) -> Result<Vec<RouteReport>, ClientError> {
    let target = client.target().to_string();
    let response = client.get(PATH, &[]).await?;
    let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| ClientError::Broken { target: target.clone(), why: e.to_string() })?
        .to_bytes();
    let answer: RoutesAnswer = serde_json::from_slice(&body)
        .map_err(|e| ClientError::Broken { target, why: format!("{PATH} answered something else: {e}") })?;
    Ok(answer.routes)
}

/// Keeps an attached dashboard's routes panel fed while it is open: asks every second, never more than one
/// request at a time, and keeps the last good answer beside a failure. Returns once the dashboard is gone.
pub async fn poll(client: WatchClient, mut poll: RoutePoll) {
    let mut last: Option<Vec<RouteReport>> = None;
    loop {
        if poll.wanted.wait_for(|open| *open).await.is_err() {
            return;
        }
        let error = match tokio::time::timeout(POLL_TIMEOUT, fetch(&client)).await {
            Ok(Ok(reports)) => {
                last = Some(reports);
                None
            }
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("{}: no answer within {POLL_TIMEOUT:?}", client.target())),
        };
        if poll.latest.send(RemoteRoutes { reports: last.clone(), error }).is_err() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(POLL_EVERY) => {}
            () = poll.latest.closed() => return,
        }
    }
}
