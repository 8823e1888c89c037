//! The flags of `glwatch send` and the [`SendOptions`] they make. Kept free of the rest of the binary so the
//! simulator's integration tests parse the same flags.

use clap::{Args, ValueEnum};
use glwatch::greenlake::Secret;
use glwatch::send::{Credential, SendOptions, SignWith};
use std::path::PathBuf;
use std::time::Duration;

/// Which secret signs deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignWithFlag {
    Primary,
    Secondary,
}

impl From<SignWithFlag> for SignWith {
    fn from(flag: SignWithFlag) -> SignWith {
        match flag {
            SignWithFlag::Primary => SignWith::Primary,
            SignWithFlag::Secondary => SignWith::Secondary,
        }
    }
}

fn parse_secret(s: &str) -> Result<Secret, String> {
    Secret::new(s).map_err(|e| e.to_string())
}

fn parse_credential(s: &str) -> Result<Credential, String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    Ok(Credential(s.to_owned()))
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
    #[arg(long, value_enum, default_value_t = SignWithFlag::Primary)]
    pub sign_with: SignWithFlag,

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
    #[arg(long, value_name = "PER_SECOND", default_value_t = 0.0, value_parser = glwatch::units::parse_rate_or_unlimited)]
    pub rate: f64,

    /// Stop sending after this long (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = glwatch::units::parse_duration)]
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
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = glwatch::units::parse_duration)]
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

impl SendArgs {
    pub fn options(self) -> SendOptions {
        SendOptions {
            url: self.url,
            secret: self.secret,
            secondary_secret: self.secondary_secret,
            sign_with: self.sign_with.into(),
            ca: self.ca,
            insecure: self.insecure,
            challenge_only: self.challenge_only,
            no_challenge: self.no_challenge,
            types: self.types,
            file: self.file,
            batch: self.batch,
            count: self.count,
            rate: self.rate,
            duration: self.duration,
            concurrency: self.concurrency,
            retries: self.retries,
            retry_base_ms: self.retry_base_ms,
            timeout: self.timeout,
            api_key: self.api_key,
            bearer: self.bearer,
            json: self.json,
            quiet: self.quiet,
            seed: self.seed,
        }
    }
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
        assert_eq!(a.sign_with, SignWithFlag::Primary);
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
        assert_eq!(a.sign_with, SignWithFlag::Secondary);
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

    #[tokio::test]
    async fn secondary_signing_needs_the_secondary_secret() {
        let a = parse(&["https://127.0.0.1:9/", "--secret", "abcd", "--sign-with", "secondary"]).unwrap();
        let e = glwatch::send::execute(a.options(), |_| ()).await.unwrap_err().to_string();
        assert!(e.contains("--sign-with secondary needs --secondary-secret"), "{e}");
    }

    #[test]
    fn durations_and_rates_use_the_shared_grammar() {
        let a = parse(&[
            "https://127.0.0.1:9/",
            "--secret",
            "abcd",
            "--duration",
            "1.5m",
            "--timeout",
            "2",
            "--rate",
            "0.5",
        ])
        .unwrap();
        assert_eq!((a.duration, a.timeout, a.rate), (Some(Duration::from_secs(90)), Duration::from_secs(2), 0.5));
        let a = parse(&[
            "https://127.0.0.1:9/",
            "--secret",
            "abcd",
            "--duration",
            "1d",
            "--timeout",
            "1.5s",
            "--rate",
            "0",
        ])
        .unwrap();
        assert_eq!(
            (a.duration, a.timeout, a.rate),
            (Some(Duration::from_secs(86_400)), Duration::from_millis(1500), 0.0)
        );
        // Once a panic in the scheduler: now refused up front, saying what is accepted.
        let e = parse(&["https://127.0.0.1:9/", "--secret", "abcd", "--rate", "1e-20"]).unwrap_err().to_string();
        assert!(e.contains("between one event a day"), "{e}");
        for bad in [["--rate", "-1"], ["--rate", "inf"], ["--duration", "3 parsecs"], ["--timeout", "s"]] {
            let flag = format!("{}={}", bad[0], bad[1]);
            let e = parse(&["https://127.0.0.1:9/", "--secret", "abcd", &flag]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad:?}: {e}");
        }
    }
}
