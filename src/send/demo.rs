//! The stream behind `glwatch demo`: a verification challenge, then a realistic mix of events a few a second,
//! with the things an operator must be able to spot: bursts, batches, a badly signed delivery, a re-delivered
//! duplicate, a repeated "Test" challenge and a challenge trying to use the receiver as a signing oracle.

use super::catalog::{self, Generator, Rng};
use super::client::{Auth, Client, Connection, Target, Trust};
use super::load::RetryPolicy;
use super::stats::State;
use super::verify;
use crate::greenlake::{Secret, Signer};
use bytes::Bytes;
use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

/// What the demo stream did, for the caller to show or log when it ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoReport {
    /// Deliveries posted (a batch is one).
    pub deliveries: u64,
    /// Events in deliveries answered 2xx.
    pub acknowledged: u64,
    /// Deliveries answered with a non-2xx status (the bad signatures should all be among them).
    pub refused: u64,
    pub bad_signatures: u64,
    pub duplicates: u64,
    /// Challenges after the first, including oracle probes.
    pub challenges: u64,
    /// Requests that got no HTTP answer.
    pub errors: u64,
}

/// Recently sent bodies, for re-sending one as a duplicate (GreenLake's delivery is at-least-once).
const REMEMBERED: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Event,
    Burst,
    BadSignature,
    Duplicate,
    Challenge,
    OracleProbe,
}

/// Which step comes `n`-th. The first steps show each kind early so every panel fills within seconds; then
/// chance decides.
fn step(n: u64, rng: &mut Rng) -> Step {
    match n {
        5 => return Step::Duplicate,
        8 => return Step::BadSignature,
        12 => return Step::Burst,
        20 => return Step::OracleProbe,
        30 => return Step::Challenge,
        _ if n < 40 => return Step::Event,
        _ => {}
    }
    match rng.below(1000) {
        0..=3 => Step::OracleProbe,
        4..=9 => Step::Challenge,
        10..=34 => Step::BadSignature,
        35..=74 => Step::Duplicate,
        75..=99 => Step::Burst,
        _ => Step::Event,
    }
}

/// The wait before the next step: exponential around `1 / rate`, as independent events arrive, kept between
/// 20 ms and 10 s.
fn gap(rng: &mut Rng, rate: f64) -> Duration {
    let u = ((rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    Duration::from_secs_f64((-u.ln() / rate).clamp(0.02, 10.0))
}

struct Demo {
    client: Client,
    signer: Signer,
    wrong: Signer,
    generator: Generator,
    rng: Rng,
    next_event: u64,
    recent: VecDeque<(Bytes, String)>,
    conn: Option<Connection>,
    report: DemoReport,
    rate: f64,
}

impl Demo {
    /// Posts one body; the status, or `None` when there was no answer (the connection is then renewed).
    async fn post(&mut self, body: Bytes, signature: Option<&str>) -> Option<hyper::StatusCode> {
        if self.conn.as_ref().is_none_or(Connection::is_closed) {
            match self.client.connect().await {
                Ok(c) => self.conn = Some(c),
                Err(_) => {
                    self.report.errors += 1;
                    return None;
                }
            }
        }
        let conn = self.conn.as_mut().expect("connected above");
        match self.client.post(conn, body, signature).await {
            Ok(a) => Some(a.status),
            Err(_) => {
                self.conn = None;
                self.report.errors += 1;
                None
            }
        }
    }

    async fn deliver(&mut self, body: Bytes, signature: String, events: u64) {
        self.report.deliveries += 1;
        match self.post(body.clone(), Some(&signature)).await {
            Some(s) if s.is_success() => self.report.acknowledged += events,
            Some(_) => self.report.refused += 1,
            None => {}
        }
        if self.recent.len() == REMEMBERED {
            self.recent.pop_front();
        }
        self.recent.push_back((body, signature));
    }

    fn next_body(&mut self, n: u64) -> Bytes {
        let now = time::OffsetDateTime::now_utc();
        let body = if n == 1 {
            self.generator.event(self.next_event, now)
        } else {
            self.generator.batch(self.next_event, n, now)
        };
        self.next_event += n;
        body.into()
    }

    async fn event(&mut self) {
        let body = self.next_body(1);
        let sig = self.signer.header(&body);
        self.deliver(body, sig, 1).await;
    }

    async fn one(&mut self, n: u64, rng_step: Step) {
        match rng_step {
            Step::Event => self.event().await,
            Step::Burst => {
                let size = 5 + self.rng.below(26) as u64;
                if self.rng.chance(1, 2) {
                    let mut left = size;
                    while left > 0 {
                        let k = left.min(10);
                        let body = self.next_body(k);
                        let sig = self.signer.header(&body);
                        self.deliver(body, sig, k).await;
                        left -= k;
                    }
                } else {
                    for _ in 0..size {
                        self.event().await;
                    }
                }
            }
            Step::BadSignature => {
                let body = self.next_body(1);
                let sig = self.wrong.header(&body);
                self.report.bad_signatures += 1;
                self.report.deliveries += 1;
                match self.post(body, Some(&sig)).await {
                    Some(s) if s.is_success() => self.report.acknowledged += 1,
                    Some(_) => self.report.refused += 1,
                    None => {}
                }
            }
            Step::Duplicate => match self.recent.get(self.rng.below(self.recent.len().max(1))) {
                Some((body, sig)) => {
                    let (body, sig) = (body.clone(), sig.clone());
                    self.report.duplicates += 1;
                    self.deliver(body, sig, 1).await;
                }
                None => self.event().await,
            },
            Step::Challenge => {
                let request = catalog::uuid_v4();
                self.challenge(&request).await;
            }
            Step::OracleProbe => {
                // The attack PROTOCOL.md warns about: a "challenge" whose challengeRequest is an event body, to
                // get it signed. A sound receiver refuses it and shows it.
                let forged = String::from_utf8(self.generator.event(u64::MAX - n, time::OffsetDateTime::now_utc()))
                    .expect("generated events are UTF-8");
                self.challenge(&forged).await;
            }
        }
    }

    async fn challenge(&mut self, request: &str) {
        self.report.challenges += 1;
        let body = catalog::challenge(request, verify::WORKSPACE_ID, time::OffsetDateTime::now_utc());
        self.post(body.into(), None).await;
    }
}

/// Why the demo stream stopped early.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Setup(#[from] super::client::SetupError),
    #[error("the receiver failed verification: {0}")]
    Verification(String),
}

/// Streams demo traffic to the receiver at `url` until `cancel` completes: first the verification challenge
/// (an error if the receiver does not pass it), then about `rate` events a second with the occasional burst,
/// batch, badly signed delivery, duplicate and extra challenge. Prints nothing: the dashboard owns the terminal.
/// `trust` is normally the receiver's own certificate (`Trust::from_pem`). Connection failures are counted in
/// the report and the stream carries on.
pub async fn demo_stream(
    url: &str,
    secret: &Secret,
    trust: Trust,
    rate: f64,
    cancel: impl Future<Output = ()>,
) -> Result<DemoReport, DemoError> {
    let client = Client::new(Target::parse(url)?, &trust, Auth::default(), Duration::from_secs(10))?;
    let mut rng = Rng::from_entropy();
    // A wrong key that no receiver holds, so the bad signature is really bad.
    let wrong = Secret::new(format!("not-the-secret-{:016x}", rng.next_u64())).expect("valid length");
    let mut demo = Demo {
        signer: Signer::new(secret),
        wrong: Signer::new(&wrong),
        generator: Generator::new(&[], Some(rng.next_u64())),
        client,
        rng,
        next_event: 0,
        recent: VecDeque::with_capacity(REMEMBERED),
        conn: None,
        report: DemoReport::default(),
        rate: if rate.is_finite() && rate > 0.0 { rate } else { 3.0 },
    };
    tokio::pin!(cancel);
    // The receiver may still be starting: the challenge is retried for a few seconds before giving up.
    let retry = RetryPolicy { retries: 10, base: Duration::from_millis(50), max: Duration::from_secs(1) };
    let verification = tokio::select! {
        v = verify::verify(&demo.client, &demo.signer, &retry) => v,
        _ = &mut cancel => return Ok(demo.report),
    };
    if verification.state != State::Active {
        return Err(DemoError::Verification(verification.reason.unwrap_or_default()));
    }
    let mut n = 0u64;
    loop {
        let wait = gap(&mut demo.rng, demo.rate);
        let next = step(n, &mut demo.rng);
        tokio::select! {
            _ = &mut cancel => break,
            _ = async {
                tokio::time::sleep(wait).await;
                demo.one(n, next).await;
                // After a lost connection, pause so a stopped receiver is not hammered.
                if demo.conn.is_none() {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            } => {}
        }
        n += 1;
    }
    Ok(demo.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_steps_show_every_kind_then_events_dominate() {
        let mut rng = Rng::new(1);
        let first: Vec<Step> = (0..40).map(|n| step(n, &mut rng)).collect();
        for s in [Step::Duplicate, Step::BadSignature, Step::Burst, Step::OracleProbe, Step::Challenge] {
            assert!(first.contains(&s), "{s:?}");
        }
        let later: Vec<Step> = (40..10_040).map(|n| step(n, &mut rng)).collect();
        let events = later.iter().filter(|s| **s == Step::Event).count();
        assert!((8_700..9_300).contains(&events), "{events}");
    }

    #[test]
    fn the_stream_can_run_on_its_own_task() {
        fn is_send<T: Send + 'static>(_: &T) {}
        let secret = Secret::new("abcd").unwrap();
        let stream = async move { demo_stream("https://localhost:1/", &secret, Trust::Insecure, 1.0, async {}).await };
        is_send(&stream);
    }

    #[test]
    fn gaps_average_the_rate() {
        let mut rng = Rng::new(2);
        let total: f64 = (0..10_000).map(|_| gap(&mut rng, 4.0).as_secs_f64()).sum();
        let mean = total / 10_000.0;
        assert!((0.23..0.28).contains(&mean), "{mean}");
    }
}
