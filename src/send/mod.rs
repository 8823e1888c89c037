//! The GreenLake simulator: [`execute`] (`glwatch send URL`) verifies a webhook handler and loads it with signed CloudEvents
//! the way GreenLake delivers them; `demo_stream` feeds `glwatch demo` a lively mixed stream.

pub mod catalog;
pub mod client;
pub mod demo;
pub mod load;
pub mod payload;
pub mod progress;
pub mod server_cert;
pub mod stats;
pub mod verify;

pub use client::{Auth, Client, Target, Trust};
pub use demo::{demo_stream, DemoReport};
pub use stats::{State, Summary};

use crate::greenlake::{Secret, Signer};
use load::{Live, Plan, RetryPolicy, Source};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Events sent when neither --count, --duration nor --file says how many.
pub const DEFAULT_COUNT: u64 = 10;

/// Which secret signs deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignWith {
    Primary,
    Secondary,
}

/// An API key or bearer token; never shown by `Debug`.
#[derive(Clone)]
pub struct Credential(pub String);

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

/// What `glwatch send` is asked to do: the handler, the secrets, what to send and how fast.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// The webhook handler's URL, as it would be registered in GreenLake (https://host[:port]/path).
    pub url: String,
    pub secret: Secret,
    pub secondary_secret: Option<Secret>,
    /// Which secret signs deliveries (the challenge is always answered with the primary).
    pub sign_with: SignWith,
    /// Trust this certificate (PEM) for the handler's TLS instead of the platform's roots.
    pub ca: Option<PathBuf>,
    /// Do not verify the handler's TLS certificate at all.
    pub insecure: bool,
    pub challenge_only: bool,
    pub no_challenge: bool,
    /// Event types, full or partial (see [`catalog::EventType::parse`]); empty for the default mix.
    pub types: Vec<String>,
    /// Payloads sent byte for byte instead of generated ones.
    pub file: Option<PathBuf>,
    /// Events per request (1 to 1000).
    pub batch: u64,
    pub count: Option<u64>,
    /// Events per second; 0 sends as fast as the handler answers.
    pub rate: f64,
    pub duration: Option<Duration>,
    /// Keep-alive connections used in parallel (at least 1).
    pub concurrency: u64,
    pub retries: u32,
    pub retry_base_ms: u64,
    pub timeout: Duration,
    pub api_key: Option<Credential>,
    pub bearer: Option<Credential>,
    /// Print the summary as one JSON object (read by the caller that prints it).
    pub json: bool,
    /// No progress display on stderr.
    pub quiet: bool,
    pub seed: Option<u64>,
}

/// Why `glwatch send` could not start sending. Each message is what the user reads after `glwatch: error: `.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("--sign-with secondary needs --secondary-secret (or GLWATCH_SECONDARY_SECRET)")]
    NoSecondarySecret,
    #[error(transparent)]
    Setup(#[from] client::SetupError),
    #[error(transparent)]
    Payload(#[from] payload::PayloadError),
    #[error(transparent)]
    EventType(#[from] catalog::UnknownEventType),
}

/// Does the whole run and returns its summary without printing it. When deliveries start (after the challenge),
/// `on_deliveries` gets the sender that stops them: setting it stops handing out work and lets deliveries in
/// flight finish, so the summary still accounts for every event sent. What it returns is dropped once they end.
pub async fn execute<G>(
    args: SendOptions,
    on_deliveries: impl FnOnce(watch::Sender<bool>) -> G,
) -> Result<Summary, SendError> {
    let signing = match args.sign_with {
        SignWith::Primary => args.secret.clone(),
        SignWith::Secondary => args.secondary_secret.clone().ok_or(SendError::NoSecondarySecret)?,
    };
    let trust = if args.insecure {
        eprintln!("warning: --insecure: the handler's TLS certificate is not verified");
        Trust::Insecure
    } else if let Some(ca) = &args.ca {
        Trust::from_pem_file(ca)?
    } else {
        Trust::Platform
    };
    let auth = match (&args.api_key, &args.bearer) {
        (Some(k), _) => Auth::api_key(&k.0)?,
        (None, Some(t)) => Auth::bearer(&t.0)?,
        (None, None) => Auth::default(),
    };
    let target = Target::parse(&args.url)?;
    if !target.tls {
        eprintln!("warning: {} is plain HTTP; GreenLake only delivers over HTTPS", args.url);
    }
    let source = if let Some(path) = &args.file {
        let loaded = payload::load_file(path, args.batch as usize)?;
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
        Source::Payloads(Arc::new(loaded.payloads))
    } else {
        let mut types = Vec::new();
        for t in &args.types {
            types.extend(catalog::EventType::parse(t)?);
        }
        Source::Generated { generator: catalog::Generator::new(&types, args.seed), batch: args.batch }
    };
    let client = Client::new(target, &trust, auth, args.timeout)?;
    let retry = RetryPolicy {
        retries: args.retries,
        base: Duration::from_millis(args.retry_base_ms),
        ..RetryPolicy::default()
    };

    let (mut state, mut reason, mut detail, mut challenge_ms) = (State::Active, None, None, None);
    if !args.no_challenge {
        let v = verify::verify(&client, &Signer::new(&args.secret), &retry).await;
        (state, reason, detail) = (v.state, v.reason, v.detail);
        challenge_ms = v.latency.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3);
    }
    if state != State::Active || args.challenge_only {
        let mut s = Summary::new(&stats::EventOutcomes::default(), Duration::ZERO, state, reason, detail);
        s.challenge_ms = challenge_ms;
        return Ok(s);
    }

    let count = match (&source, args.count, args.duration) {
        (_, Some(n), _) => Some(n),
        (Source::Payloads(_), None, _) | (_, None, Some(_)) => None,
        (Source::Generated { .. }, None, None) => Some(DEFAULT_COUNT),
    };
    let plan = Plan {
        source,
        count,
        duration: args.duration,
        rate: (args.rate > 0.0).then_some(args.rate),
        concurrency: args.concurrency as usize,
        retry,
    };
    // The library keeps a sender of its own: a closed channel would stop the run at once.
    let (stop_tx, stop) = watch::channel(false);
    let interrupts = on_deliveries(stop_tx.clone());
    let live = Arc::new(Live::default());
    let (done_tx, done_rx) = watch::channel(false);
    let progress = (!args.quiet).then(|| tokio::spawn(progress::show(live.clone(), done_rx)));
    let (tally, elapsed) = load::run(client, Signer::new(&signing), plan, live, stop).await;
    let _ = done_tx.send(true);
    if let Some(p) = progress {
        let _ = p.await;
    }
    drop((interrupts, stop_tx));
    let mut s = Summary::new(&tally, elapsed, state, reason, detail);
    s.challenge_ms = challenge_ms;
    Ok(s)
}
