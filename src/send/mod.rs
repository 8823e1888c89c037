//! The GreenLake simulator: `glwatch send URL` verifies a webhook handler and loads it with signed CloudEvents
//! the way GreenLake delivers them; `demo_stream` feeds `glwatch demo` a lively mixed stream.

pub mod catalog;
pub mod client;
pub mod demo;
pub mod load;
pub mod payload;
pub mod progress;
pub mod stats;
pub mod verify;

pub use client::{Auth, Client, Target, Trust};
pub use demo::{demo_stream, DemoReport};
pub use stats::{State, Summary};

use crate::greenlake::{Secret, Signer};
use clap::{Args, ValueEnum};
use load::{Live, Plan, RetryPolicy, Source};
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Events sent when neither --count, --duration nor --file says how many.
pub const DEFAULT_COUNT: u64 = 10;

/// Which secret signs deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignWith {
    Primary,
    Secondary,
}

/// A credential from the command line; never shown by `Debug`.
#[derive(Clone)]
pub struct Credential(pub String);

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

fn parse_secret(s: &str) -> Result<Secret, String> {
    Secret::new(s)
}

fn parse_credential(s: &str) -> Result<Credential, String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(Credential(s.to_owned()))
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s.parse().map_err(|_| format!("{s:?} is not a number of events per second"))?;
    if !r.is_finite() || r < 0.0 {
        return Err("must be 0 (unlimited) or a positive number".into());
    }
    Ok(r)
}

/// Parses `500ms`, `10s`, `2m`, `1h`, or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a duration (e.g. 500ms, 10s, 2m, 1h)"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown unit {other:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?} is out of range"))
}

/// Verify a webhook handler the way GreenLake does, then deliver signed CloudEvents to it.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// The webhook handler's URL, as it would be registered in GreenLake (https://host[:port]/path).
    #[arg(value_name = "URL")]
    pub url: String,

    /// The webhook secret shared with the handler (4 to 100 characters).
    #[arg(long, env = "GLWATCH_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub secret: Secret,

    /// The webhook's secondary secret, for testing a handler during a secret rotation.
    #[arg(long, env = "GLWATCH_SECONDARY_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub secondary_secret: Option<Secret>,

    /// Which secret signs deliveries (the challenge is always answered with the primary).
    #[arg(long, value_enum, default_value_t = SignWith::Primary)]
    pub sign_with: SignWith,

    /// Trust this certificate (PEM) for the handler's TLS, e.g. glwatch-data/certs/glwatch-cert.pem. Default: the
    /// platform's root certificates.
    #[arg(long, env = "GLWATCH_CA", value_name = "PEM")]
    pub ca: Option<PathBuf>,

    /// Do not verify the handler's TLS certificate at all (a warning is printed).
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,

    /// Only run the verification challenge and report the webhook state.
    #[arg(long, conflicts_with_all = ["no_challenge", "file", "types", "count", "duration", "rate"])]
    pub challenge_only: bool,

    /// Skip the verification challenge (as for a webhook registered with the challenge switched off).
    #[arg(long)]
    pub no_challenge: bool,

    /// Event type to send: a full type or a part of it (audit-log, expiring-subscriptions, service-provision,
    /// provisioned, unprovision, onboarded, serviceofferregion.delete, all). Repeatable. Default: a mix of all,
    /// mostly audit logs.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,

    /// Send your own payloads from this file (one JSON object or array, or NDJSON), byte for byte, signed.
    /// Sent once through unless --count or --duration ask for more.
    #[arg(long, value_name = "PATH", conflicts_with = "types")]
    pub file: Option<PathBuf>,

    /// Group events into GreenLake-style batches: JSON arrays of up to N events per request.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub batch: u64,

    /// Number of events to send (default 10, or the file's, or unlimited with --duration).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Events per second; 0 sends as fast as the handler answers.
    #[arg(long, value_name = "PER_SECOND", default_value_t = 0.0, value_parser = parse_rate)]
    pub rate: f64,

    /// Stop sending after this long (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Keep-alive connections used in parallel.
    #[arg(long, value_name = "C", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub concurrency: u64,

    /// Attempts after the first for a delivery that fails (transport error, 5xx, 408, 429).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,

    /// Wait before the first retry, in milliseconds; each further retry waits twice as long (up to 30 s).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    pub retry_base_ms: u64,

    /// Time allowed for connecting, the TLS handshake, and each answer.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Send `Authorization: KEY` (GreenLake's APIKey authentication).
    #[arg(long, env = "GLWATCH_API_KEY", hide_env_values = true, value_name = "KEY", value_parser = parse_credential, conflicts_with = "bearer")]
    pub api_key: Option<Credential>,

    /// Send `Authorization: Bearer TOKEN` (GreenLake's OAuth authentication).
    #[arg(long, env = "GLWATCH_BEARER", hide_env_values = true, value_name = "TOKEN", value_parser = parse_credential)]
    pub bearer: Option<Credential>,

    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,

    /// No progress display on stderr.
    #[arg(long)]
    pub quiet: bool,

    /// Seed for the generated content, to make a run's events reproducible.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// Runs `glwatch send`: prints warnings and progress on stderr and the summary on stdout. Exits non-zero when
/// verification failed or any event stayed unacknowledged.
pub async fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let json = args.json;
    let summary = execute(args).await?;
    if json {
        println!("{}", summary.to_json());
    } else {
        println!("{summary}");
    }
    Ok(if summary.ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Does the whole run and returns its summary without printing it.
pub async fn execute(args: SendArgs) -> anyhow::Result<Summary> {
    let signing = match args.sign_with {
        SignWith::Primary => args.secret.clone(),
        SignWith::Secondary => args.secondary_secret.clone().ok_or_else(|| {
            anyhow::anyhow!("--sign-with secondary needs --secondary-secret (or GLWATCH_SECONDARY_SECRET)")
        })?,
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
            types.extend(catalog::EventType::parse(t).map_err(anyhow::Error::msg)?);
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
        let mut s = Summary::new(&stats::Tally::default(), Duration::ZERO, state, reason, detail);
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
    let (stop_tx, stop_rx) = watch::channel(false);
    // The first Ctrl-C stops handing out work and lets deliveries in flight finish, so the summary still
    // accounts for every event sent; a second one exits at once.
    let interrupt = tokio::spawn({
        let stop_tx = stop_tx.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = stop_tx.send(true);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        }
    });
    let live = Arc::new(Live::default());
    let (done_tx, done_rx) = watch::channel(false);
    let progress = (!args.quiet).then(|| tokio::spawn(progress::show(live.clone(), done_rx)));
    let (tally, elapsed) = load::run(client, Signer::new(&signing), plan, live, stop_rx).await;
    let _ = done_tx.send(true);
    if let Some(p) = progress {
        let _ = p.await;
    }
    interrupt.abort();
    let mut s = Summary::new(&tally, elapsed, state, reason, detail);
    s.challenge_ms = challenge_ms;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        send: SendArgs,
    }

    fn parse(args: &[&str]) -> Result<SendArgs, clap::Error> {
        let mut v = vec!["send"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).map(|c| c.send)
    }

    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_and_flags() {
        let a = parse(&["https://h/", "--secret", "abcd"]).unwrap();
        assert_eq!(a.batch, 1);
        assert_eq!(a.concurrency, 1);
        assert_eq!(a.retries, 3);
        assert_eq!(a.timeout, Duration::from_secs(10));
        assert_eq!(a.sign_with, SignWith::Primary);
        assert_eq!(a.rate, 0.0);
        let a = parse(&[
            "https://h/",
            "--secret",
            "abcd",
            "--type",
            "audit-log",
            "--type",
            "onboarded",
            "--batch",
            "10",
            "--rate",
            "2.5",
            "--duration",
            "2m",
            "--sign-with",
            "secondary",
            "--bearer",
            "t",
        ])
        .unwrap();
        assert_eq!(a.types, vec!["audit-log", "onboarded"]);
        assert_eq!(a.duration, Some(Duration::from_secs(120)));
        assert_eq!(a.sign_with, SignWith::Secondary);
        assert!(!format!("{a:?}").contains("abcd"));
    }

    #[test]
    fn conflicting_or_invalid_flags_are_refused() {
        let bad: &[&[&str]] = &[
            &["https://h/", "--secret", "abc"],
            &["https://h/", "--secret", "abcd", "--insecure", "--ca", "x.pem"],
            &["https://h/", "--secret", "abcd", "--file", "f", "--type", "audit-log"],
            &["https://h/", "--secret", "abcd", "--challenge-only", "--no-challenge"],
            &["https://h/", "--secret", "abcd", "--batch", "0"],
            &["https://h/", "--secret", "abcd", "--rate", "-1"],
            &["https://h/", "--secret", "abcd", "--api-key", "k", "--bearer", "t"],
            &["https://h/", "--secret", "abcd", "--duration", "10x"],
        ];
        for args in bad {
            assert!(parse(args).is_err(), "{args:?} accepted");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("3d").is_err());
    }

    #[tokio::test]
    async fn secondary_signing_needs_the_secondary_secret() {
        let a = parse(&["https://127.0.0.1:9/", "--secret", "abcd", "--sign-with", "secondary"]).unwrap();
        let e = execute(a).await.unwrap_err().to_string();
        assert!(e.contains("--sign-with secondary needs --secondary-secret"), "{e}");
    }
}
