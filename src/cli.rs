//! The command line: flags with their help and `GLWATCH_*` environment twins.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Watch HPE GreenLake cloud webhook events live.
///
/// Runs an HTTPS webhook receiver that answers GreenLake's verification challenge, verifies every delivery's
/// Hpe-Webhook-Signature and shows the events on a live dashboard (or as NDJSON on stdout with --headless).
#[derive(Debug, Parser)]
#[command(name = "glwatch", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {}

/// Flags of the receiver (`glwatch` with no subcommand).
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Address to listen on for HTTPS.
    #[arg(long, env = "GLWATCH_LISTEN", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,

    /// The webhook secret registered in GreenLake (4 to 100 characters). Without --secret or --secret-file a
    /// strong one is generated and printed once at start.
    #[arg(long, env = "GLWATCH_SECRET", hide_env_values = true, conflicts_with = "secret_file")]
    pub secret: Option<String>,

    /// Read the webhook secret from this file (surrounding whitespace is ignored).
    #[arg(long, env = "GLWATCH_SECRET_FILE", value_name = "PATH")]
    pub secret_file: Option<PathBuf>,

    /// A second accepted secret, for rotating secrets without losing deliveries.
    #[arg(long, env = "GLWATCH_SECONDARY_SECRET", hide_env_values = true)]
    pub secondary_secret: Option<String>,

    /// TLS certificate chain (PEM). Default: certs/glwatch-cert.pem, generated self-signed on first start.
    #[arg(long, env = "GLWATCH_CERT", value_name = "PEM", requires = "key")]
    pub cert: Option<PathBuf>,

    /// TLS private key (PEM) for --cert. Default: certs/glwatch-key.pem.
    #[arg(long, env = "GLWATCH_KEY", value_name = "PEM", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Also require `Authorization: KEY` or `Authorization: Bearer KEY` (GreenLake's APIKey and OAuth auth types).
    #[arg(long, env = "GLWATCH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// Accept deliveries without a Hpe-Webhook-Signature header, marked "unsigned". A wrong signature is
    /// still refused.
    #[arg(long, env = "GLWATCH_ALLOW_UNSIGNED")]
    pub allow_unsigned: bool,

    /// Value of WebHook-Allowed-Rate sent in answer to OPTIONS (requests per minute, or *).
    #[arg(long, env = "GLWATCH_ALLOWED_RATE", default_value = "*")]
    pub allowed_rate: String,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "GLWATCH_MAX_BODY", default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub max_body: usize,

    /// No dashboard: records go to stdout as NDJSON, logs to stderr.
    #[arg(long, env = "GLWATCH_HEADLESS")]
    pub headless: bool,

    /// Most connections served at once; more are closed on accept.
    #[arg(long, env = "GLWATCH_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Most connections served at once from one IP address.
    #[arg(long, env = "GLWATCH_MAX_CONNECTIONS_PER_IP", default_value_t = 512)]
    pub max_connections_per_ip: usize,

    /// Time allowed for the TLS handshake, in seconds.
    #[arg(long, env = "GLWATCH_HANDSHAKE_TIMEOUT", default_value_t = 10.0, value_name = "SECONDS")]
    pub handshake_timeout: f64,

    /// Time allowed to send a request's headers, in seconds.
    #[arg(long, env = "GLWATCH_HEADER_TIMEOUT", default_value_t = 10.0, value_name = "SECONDS")]
    pub header_timeout: f64,

    /// Time allowed to send a request's body, in seconds.
    #[arg(long, env = "GLWATCH_BODY_TIMEOUT", default_value_t = 30.0, value_name = "SECONDS")]
    pub body_timeout: f64,

    /// A connection with no traffic for this long is closed, in seconds.
    #[arg(long, env = "GLWATCH_IDLE_TIMEOUT", default_value_t = 60.0, value_name = "SECONDS")]
    pub idle_timeout: f64,

    /// On SIGINT or SIGTERM, time given to requests in flight before exiting, in seconds.
    #[arg(long, env = "GLWATCH_SHUTDOWN_TIMEOUT", default_value_t = 10.0, value_name = "SECONDS")]
    pub shutdown_timeout: f64,

    /// How many (source, id) pairs are remembered to recognise re-deliveries as duplicates.
    #[arg(long, env = "GLWATCH_DEDUP_WINDOW", default_value_t = 1_000_000)]
    pub dedup_window: usize,

    /// Events kept in the dashboard's history; older ones fall off (and are counted).
    #[arg(long, env = "GLWATCH_RETAIN", default_value_t = 100_000)]
    pub retain: usize,

    /// Where logs go while the dashboard is on screen.
    #[arg(long, env = "GLWATCH_LOG_FILE", value_name = "PATH", default_value = "glwatch-data/glwatch.log")]
    pub log_file: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_match_the_contract() {
        let cli = Cli::try_parse_from(["glwatch"]).unwrap();
        assert_eq!(cli.run.listen, "0.0.0.0:8443".parse().unwrap());
        assert_eq!(cli.run.max_body, 1_048_576);
        assert_eq!(cli.run.allowed_rate, "*");
        assert!(!cli.run.headless && !cli.run.allow_unsigned);
    }

    #[test]
    fn secret_and_secret_file_conflict_and_cert_needs_key() {
        assert!(Cli::try_parse_from(["glwatch", "--secret", "abcd", "--secret-file", "x"]).is_err());
        assert!(Cli::try_parse_from(["glwatch", "--cert", "c.pem"]).is_err());
        assert!(Cli::try_parse_from(["glwatch", "--cert", "c.pem", "--key", "k.pem"]).is_ok());
    }
}
