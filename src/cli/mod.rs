//! The command line, on the binary side only: flags with their help and `GLWATCH_*` environment twins, turned
//! into the library's option structs, and the start-up of each command.

pub mod attach;
pub mod demo;
pub mod export;
pub mod logging;
pub mod nats;
pub mod routes;
pub mod run;
pub mod send;
pub mod send_args;
pub mod tail;
pub mod target;
pub mod window;

use clap::{Args, Parser, Subcommand, ValueEnum};
use glwatch::config::ReceiverOptions;
use glwatch::export::Format;
use glwatch::journal::{Durability, JournalOptions, MAX_LINE};
use glwatch::server::acme::{self, AcmeOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use time::OffsetDateTime;

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
pub enum Command {
    /// Try glwatch with nothing to set up: a receiver on loopback with a throwaway secret and certificate,
    /// simulated GreenLake traffic sent to it, and the dashboard on top. Keeps nothing. Needs a terminal.
    Demo(DemoArgs),
    /// Act as GreenLake: verify a webhook handler with the challenge, then deliver signed events to it.
    Send(send_args::SendArgs),
    /// Export the journal's accepted events as CSV (for a spreadsheet) or JSONL. Safe while glwatch is running.
    Export(ExportArgs),
    /// Print a running glwatch's records as NDJSON, exactly as journaled (with seq); -f keeps following.
    Tail(TailArgs),
    /// The dashboard over a running glwatch (its watch socket, or its --watch-listen with a token): history, then
    /// live records, reconnecting when it restarts. Quitting leaves the receiver running. Needs a terminal.
    Attach(AttachArgs),
    /// Show each route's state (cursor, backlog, delivered, failures, dead letters, last error), or redeliver.
    Routes(RoutesArgs),
}

/// The running receiver `tail`, `attach` and `routes` read, and how to reach it: one set of flags and
/// environment names for the three, turned into a client by [`TargetArgs::client`] (src/cli/target.rs).
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The running receiver to read: `unix:PATH` or a socket path (default: glwatch.sock in --data-dir),
    /// `https://HOST:PORT` of its --watch-listen with --token or --token-file, or `nats://HOST:PORT` of the
    /// NATS JetStream its receivers publish to.
    #[arg(env = "GLWATCH_TARGET", value_name = "TARGET")]
    pub target: Option<String>,

    /// The data directory of the running receiver (its --data-dir): glwatch.sock in it is the default target.
    #[arg(long, env = "GLWATCH_DATA_DIR", value_name = "DIR", default_value = glwatch::data_dir::DEFAULT)]
    pub data_dir: PathBuf,

    /// The watch token of an https:// target.
    #[arg(long, env = "GLWATCH_WATCH_TOKEN", hide_env_values = true, conflicts_with = "token_file")]
    pub token: Option<String>,

    /// Read the watch token from this file.
    #[arg(long, env = "GLWATCH_WATCH_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// Trust this certificate (PEM) for an https:// target, e.g. glwatch's self-signed certs/glwatch-cert.pem.
    #[arg(long, env = "GLWATCH_WATCH_CA", value_name = "PEM", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,

    /// Accept any certificate from an https:// target (testing only).
    #[arg(long, env = "GLWATCH_WATCH_INSECURE")]
    pub insecure: bool,
}

/// Flags of `glwatch attach`.
#[derive(Debug, Clone, Args)]
pub struct AttachArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Records loaded as history when attaching, and events kept on screen; older ones fall off.
    #[arg(long, env = "GLWATCH_RETAIN", default_value_t = 100_000)]
    pub retain: usize,

    /// Where `e` writes its CSV and JSONL files.
    #[arg(long, env = "GLWATCH_EXPORT_DIR", value_name = "DIR", default_value = ".")]
    pub export_dir: PathBuf,

    #[command(flatten)]
    pub nats: NatsReadArgs,
}

/// Flags of `glwatch routes`.
#[derive(Debug, Clone, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    // `routes` reads no NATS, falls back to the route files, and `routes redeliver` takes --data-dir too.
    mut_arg("target", |a| a.help(
        "The running receiver whose routes to show: `unix:PATH` or a socket path (default: glwatch.sock in \
         --data-dir), or `https://HOST:PORT` of its --watch-listen with --token or --token-file. When nothing \
         answers on the default socket, the routes' last saved state is read from --data-dir instead"
    )),
    mut_arg("data_dir", |a| a.global(true).help(
        "The data directory of the receiver whose routes to show: it holds glwatch.sock, routes/ and journal.jsonl"
    )),
)]
pub struct RoutesArgs {
    #[command(subcommand)]
    pub action: Option<RoutesAction>,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum RoutesAction {
    /// Deliver a route's dead letters again (--dead), or replay the journal from a seq (--from). A running
    /// glwatch takes the request up within a second; a stopped one at its next start.
    Redeliver(RedeliverArgs),
}

/// Flags of `glwatch routes redeliver`.
#[derive(Debug, Clone, Args)]
pub struct RedeliverArgs {
    /// The route's name.
    pub name: String,

    /// Re-queue the route's dead letters, delivered again (in order) before it goes on.
    #[arg(long, env = "GLWATCH_REDELIVER_DEAD", conflicts_with = "from", required_unless_present = "from")]
    pub dead: bool,

    /// Move the route's cursor back so that it delivers again from this seq on.
    #[arg(long, env = "GLWATCH_REDELIVER_FROM", value_name = "SEQ", value_parser = clap::value_parser!(u64).range(1..))]
    pub from: Option<u64>,
}

/// Flags of `glwatch tail`.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// Start after this seq (records are numbered from 1; from a nats:// target, seq is the stream sequence).
    #[arg(long, env = "GLWATCH_TAIL_AFTER", value_name = "SEQ", conflicts_with_all = ["since", "last"])]
    pub after: Option<u64>,

    /// Only records received at or after TIME: RFC 3339, a date (UTC) or a duration before now (30m, 1h, 7d).
    #[arg(long, env = "GLWATCH_TAIL_SINCE", value_name = "TIME", value_parser = glwatch::export::parse_time, conflicts_with = "last")]
    pub since: Option<OffsetDateTime>,

    /// Start with the last N records stored (counted before --type, --user and --kind).
    #[arg(long, env = "GLWATCH_TAIL_LAST", value_name = "N")]
    pub last: Option<u64>,

    /// Keep following new records; reconnect and resume, without gap or repeat, when glwatch restarts.
    #[arg(short = 'f', long, env = "GLWATCH_TAIL_FOLLOW")]
    pub follow: bool,

    /// Only events of this type (full or short form). Repeat to allow several.
    #[arg(long = "type", env = "GLWATCH_TAIL_TYPE", value_name = "TYPE", value_delimiter = ',')]
    pub types: Vec<String>,

    /// Only events by this user. Repeat to allow several.
    #[arg(long = "user", env = "GLWATCH_TAIL_USER", value_name = "USER", value_delimiter = ',')]
    pub users: Vec<String>,

    /// Only events received by this configured source (its name in `--sources`). Repeat to allow several.
    #[arg(long = "source", env = "GLWATCH_TAIL_SOURCE", value_name = "NAME", value_delimiter = ',')]
    pub sources: Vec<String>,

    /// Only records of this kind. Repeat to allow several.
    #[arg(long = "kind", env = "GLWATCH_TAIL_KIND", value_enum, value_delimiter = ',')]
    pub kinds: Vec<RecordKind>,

    #[command(flatten)]
    pub nats: NatsReadArgs,
}

/// The kinds of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordKind {
    Event,
    Challenge,
    Rejected,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Event => "event",
            RecordKind::Challenge => "challenge",
            RecordKind::Rejected => "rejected",
        }
    }
}

/// Flags of `glwatch demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Simulated events per second, on average (bursts and batches come on top).
    #[arg(long, default_value_t = 3.0, value_name = "R", value_parser = glwatch::units::parse_rate)]
    pub rate: f64,

    /// Keep the logs in this file. By default they go to the demo's temporary directory, removed on quit.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Serve the watch socket (`glwatch tail -f unix:PATH`, `glwatch attach unix:PATH`) here. By default it is
    /// in the demo's temporary directory, named in the dashboard's header.
    #[arg(long, env = "GLWATCH_DEMO_WATCH_SOCKET", value_name = "PATH")]
    pub watch_socket: Option<PathBuf>,
}

/// `--format` of `glwatch export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatFlag {
    /// RFC 4180 with a header row, CRLF line ends, formula-like cells neutralised.
    Csv,
    /// The journal's records, one JSON object per line, unchanged.
    Jsonl,
}

impl From<FormatFlag> for Format {
    fn from(flag: FormatFlag) -> Format {
        match flag {
            FormatFlag::Csv => Format::Csv,
            FormatFlag::Jsonl => Format::Jsonl,
        }
    }
}

/// `--durability` of the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityFlag {
    /// Flushed to the disk (`fsync`) before the event is acknowledged; survives a power cut.
    Fsync,
    /// Handed to the operating system only: survives a crash of glwatch, not of the machine.
    Os,
}

impl From<DurabilityFlag> for Durability {
    fn from(flag: DurabilityFlag) -> Durability {
        match flag {
            DurabilityFlag::Fsync => Durability::Fsync,
            DurabilityFlag::Os => Durability::Os,
        }
    }
}

/// Flags of `glwatch export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The data directory whose journal is read (as the receiver's --data-dir).
    #[arg(long, env = "GLWATCH_DATA_DIR", value_name = "DIR", default_value = glwatch::data_dir::DEFAULT)]
    pub data_dir: PathBuf,

    /// The journal to read (its first segment; numbered segments next to it are read too, in order).
    /// Default: DIR/journal.jsonl of --data-dir.
    #[arg(long, env = "GLWATCH_JOURNAL", value_name = "PATH")]
    pub journal: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatFlag::Csv)]
    pub format: FormatFlag,

    /// Only events of this type: the full type or its short form without `com.hpe.greenlake.`
    /// (e.g. audit-log.v1.logs.created). Repeat to allow several.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,

    /// Only events by this user (exactly as shown in the user column). Repeat to allow several.
    #[arg(long = "user", value_name = "USER")]
    pub users: Vec<String>,

    /// Only events received by this configured source (its name in `--sources`). Repeat to allow several.
    #[arg(long = "source", env = "GLWATCH_EXPORT_SOURCE", value_name = "NAME", value_delimiter = ',')]
    pub sources: Vec<String>,

    /// Only events received at or after TIME: RFC 3339 (2024-12-20T12:34:53Z), a date (2024-12-20, UTC) or a
    /// duration before now (30m, 1h, 7d).
    #[arg(long, value_name = "TIME", value_parser = glwatch::export::parse_time)]
    pub since: Option<OffsetDateTime>,

    /// Only events received before TIME (same forms as --since).
    #[arg(long, value_name = "TIME", value_parser = glwatch::export::parse_time)]
    pub until: Option<OffsetDateTime>,

    /// Write to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

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

    /// Where glwatch keeps its files: the journal, the log file, exports, the generated certificate (certs/) and
    /// the ACME cache (acme/). Flags naming a file win over it.
    #[arg(long, env = "GLWATCH_DATA_DIR", value_name = "DIR", default_value = glwatch::data_dir::DEFAULT)]
    pub data_dir: PathBuf,

    /// TLS certificate chain (PEM). Default: DIR/certs/glwatch-cert.pem of --data-dir, generated self-signed on
    /// first start (certs/glwatch-cert.pem in the working directory is still used if only it exists).
    #[arg(long, env = "GLWATCH_CERT", value_name = "PEM", requires = "key")]
    pub cert: Option<PathBuf>,

    /// TLS private key (PEM) for --cert. Default: DIR/certs/glwatch-key.pem of --data-dir.
    #[arg(long, env = "GLWATCH_KEY", value_name = "PEM", requires = "cert")]
    pub key: Option<PathBuf>,

    /// Connections from this address or network (CIDR, e.g. 10.0.0.0/8; a bare address is one host) are a
    /// TLS-terminating proxy's: the client address is taken from their Forwarded or X-Forwarded-For header and
    /// records show the proxy as `via`. Repeat for several (comma-separated in the environment).
    #[arg(long = "trusted-proxy", env = "GLWATCH_TRUSTED_PROXY", value_name = "CIDR", value_delimiter = ',')]
    pub trusted_proxies: Vec<glwatch::proxy::Cidr>,

    /// Serve plain HTTP/1.1 and h2c instead of HTTPS, for running behind a TLS-terminating proxy. Only on a
    /// loopback address, unless --trusted-proxy is given: then only those addresses are served.
    #[arg(long, env = "GLWATCH_PLAIN_HTTP", conflicts_with_all = ["cert", "key"])]
    pub plain_http: bool,

    /// Get the certificate for DOMAIN from an ACME CA (Let's Encrypt by default) and renew it, like Caddy. The
    /// CA validates with TLS-ALPN-01 on port 443, which must reach --listen. Repeat (or separate with commas)
    /// for several names on one certificate. Instead of --cert/--key.
    #[arg(long = "acme", env = "GLWATCH_ACME", value_name = "DOMAIN", value_delimiter = ',', conflicts_with_all = ["cert", "key", "plain_http"])]
    pub acme: Vec<String>,

    /// Contact address given to the ACME CA (expiry notices).
    #[arg(long, env = "GLWATCH_ACME_EMAIL", value_name = "EMAIL", requires = "acme")]
    pub acme_email: Option<String>,

    /// The ACME CA's directory URL. Default: Let's Encrypt.
    #[arg(
        long,
        env = "GLWATCH_ACME_DIRECTORY",
        value_name = "URL",
        requires = "acme",
        conflicts_with = "acme_staging"
    )]
    pub acme_directory: Option<String>,

    /// Use Let's Encrypt's staging CA (untrusted certificates, generous rate limits) to try a setup.
    #[arg(long, env = "GLWATCH_ACME_STAGING", requires = "acme")]
    pub acme_staging: bool,

    /// Also trust this CA (PEM) for the ACME CA's own HTTPS, e.g. a private step-ca.
    #[arg(long, env = "GLWATCH_ACME_CA", value_name = "PEM", requires = "acme")]
    pub acme_ca: Option<PathBuf>,

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
    #[arg(long, env = "GLWATCH_HANDSHAKE_TIMEOUT", default_value_t = 10.0, value_name = "SECONDS", value_parser = glwatch::units::parse_seconds)]
    pub handshake_timeout: f64,

    /// Time allowed to send a request's headers, in seconds.
    #[arg(long, env = "GLWATCH_HEADER_TIMEOUT", default_value_t = 10.0, value_name = "SECONDS", value_parser = glwatch::units::parse_seconds)]
    pub header_timeout: f64,

    /// Time allowed to send a request's body, in seconds.
    #[arg(long, env = "GLWATCH_BODY_TIMEOUT", default_value_t = 30.0, value_name = "SECONDS", value_parser = glwatch::units::parse_seconds)]
    pub body_timeout: f64,

    /// A connection with no request in flight for this long is closed, in seconds.
    #[arg(long, env = "GLWATCH_IDLE_TIMEOUT", default_value_t = 60.0, value_name = "SECONDS", value_parser = glwatch::units::parse_seconds)]
    pub idle_timeout: f64,

    /// On SIGINT or SIGTERM, time given to requests in flight before exiting, in seconds.
    #[arg(long, env = "GLWATCH_SHUTDOWN_TIMEOUT", default_value_t = 10.0, value_name = "SECONDS", value_parser = glwatch::units::parse_seconds)]
    pub shutdown_timeout: f64,

    /// How many (source, id) pairs are remembered to recognise re-deliveries as duplicates.
    #[arg(long, env = "GLWATCH_DEDUP_WINDOW", default_value_t = 1_000_000)]
    pub dedup_window: usize,

    /// Events kept in the dashboard's history; older ones fall off (and are counted).
    #[arg(long, env = "GLWATCH_RETAIN", default_value_t = 100_000)]
    pub retain: usize,

    /// The journal: every record is appended here and replayed at start. Later segments are numbered next to it
    /// (journal.000001.jsonl, journal.000002.jsonl, ...).
    /// Default: DIR/journal.jsonl of --data-dir.
    #[arg(long, env = "GLWATCH_JOURNAL", value_name = "PATH")]
    pub journal: Option<PathBuf>,

    /// Run without a journal: events are acknowledged without being written to disk and nothing is replayed.
    #[arg(long, env = "GLWATCH_NO_JOURNAL")]
    pub no_journal: bool,

    /// When an event counts as written: `fsync` (on disk before it is acknowledged; concurrent deliveries share
    /// one fsync) or `os` (handed to the operating system; a power cut can lose acknowledged events).
    #[arg(long, env = "GLWATCH_DURABILITY", value_enum, default_value_t = DurabilityFlag::Fsync)]
    pub durability: DurabilityFlag,

    /// Size at which the journal starts a new segment (bytes; K, M, G suffixes allowed).
    #[arg(long, env = "GLWATCH_JOURNAL_SEGMENT_SIZE", value_name = "BYTES", default_value = "64M", value_parser = glwatch::units::parse_size)]
    pub journal_segment_size: u64,

    /// Delete whole journal segments whose newest record is older than this (e.g. 30d, 12h); checked at start,
    /// at each new segment and every minute. The segment being written is never deleted, nor records a route has
    /// yet to deliver or a watcher has yet to read.
    #[arg(long, env = "GLWATCH_JOURNAL_KEEP", value_name = "DURATION", value_parser = glwatch::units::parse_span)]
    pub journal_keep: Option<std::time::Duration>,

    /// Delete the oldest journal segments while the journal is larger than this (bytes; K, M, G suffixes).
    #[arg(long, env = "GLWATCH_JOURNAL_MAX_SIZE", value_name = "BYTES", value_parser = glwatch::units::parse_size)]
    pub journal_max_size: Option<u64>,

    /// How often a running receiver applies --journal-keep and --journal-max-size between segment rolls (tests).
    #[arg(long, env = "GLWATCH_JOURNAL_CHECK_EVERY", hide = true, value_name = "DURATION", value_parser = glwatch::units::parse_duration)]
    pub journal_check_every: Option<std::time::Duration>,

    /// The local watch socket (`glwatch tail`, dashboards, metrics without a token), created mode 0600.
    /// Default: DIR/glwatch.sock of --data-dir.
    #[arg(long, env = "GLWATCH_WATCH_SOCKET", value_name = "PATH")]
    pub watch_socket: Option<PathBuf>,

    /// Serve no local watch socket.
    #[arg(long, env = "GLWATCH_NO_WATCH_SOCKET", conflicts_with = "watch_socket")]
    pub no_watch_socket: bool,

    /// Also serve the watch endpoint over HTTPS on this address, with the receiver's certificate, for remote
    /// watchers; needs --watch-token or --watch-token-file.
    #[arg(long, env = "GLWATCH_WATCH_LISTEN", value_name = "ADDR")]
    pub watch_listen: Option<SocketAddr>,

    /// The token remote watchers send as `Authorization: Bearer TOKEN`.
    #[arg(long, env = "GLWATCH_WATCH_TOKEN", hide_env_values = true, conflicts_with = "watch_token_file")]
    pub watch_token: Option<String>,

    /// Read the watch token from this file (surrounding whitespace is ignored).
    #[arg(long, env = "GLWATCH_WATCH_TOKEN_FILE", value_name = "PATH")]
    pub watch_token_file: Option<PathBuf>,

    /// Serve several webhook sources (GreenLake, GitHub, Standard Webhooks, Stripe), each on its own path with
    /// its own scheme and secrets, from this TOML file (see the README). Without it one GreenLake source, with the
    /// secret flags above, answers on every path.
    #[arg(long, env = "GLWATCH_SOURCES", value_name = "FILE")]
    pub sources: Option<PathBuf>,

    /// Forward events onward as the routes in this TOML file say (see the README, "Forwarding"). Needs the
    /// journal: each route reads it from its own cursor in DIR/routes/ of --data-dir.
    #[arg(long, env = "GLWATCH_ROUTES", value_name = "FILE", conflicts_with_all = ["forward", "no_journal"])]
    pub routes: Option<PathBuf>,

    /// Forward every accepted event, as received, to this URL: one route named `forward`. Needs the journal.
    #[arg(long, env = "GLWATCH_FORWARD", value_name = "URL", conflicts_with = "no_journal")]
    pub forward: Option<String>,

    /// The first retry delay of routes, doubled per attempt up to 5 minutes (default 1s); for tests.
    #[arg(long, env = "GLWATCH_ROUTE_BACKOFF_BASE", hide = true, value_name = "DURATION", value_parser = glwatch::units::parse_duration)]
    pub route_backoff_base: Option<std::time::Duration>,

    /// Where logs go while the dashboard is on screen. Default: DIR/glwatch.log of --data-dir.
    #[arg(long, env = "GLWATCH_LOG_FILE", value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Publish accepted events into NATS JetStream (see the README, "Several receivers").
    #[command(flatten)]
    pub nats: NatsArgs,
}

impl ExportArgs {
    pub fn journal_path(&self) -> PathBuf {
        self.journal.clone().unwrap_or_else(|| glwatch::data_dir::journal(&self.data_dir))
    }
}

impl RunArgs {
    pub fn journal_path(&self) -> PathBuf {
        self.journal.clone().unwrap_or_else(|| glwatch::data_dir::journal(&self.data_dir))
    }

    pub fn log_path(&self) -> PathBuf {
        self.log_file.clone().unwrap_or_else(|| glwatch::data_dir::log_file(&self.data_dir))
    }

    /// `--acme` and its companions; `None` without `--acme`.
    pub fn acme_options(&self) -> Option<AcmeOptions> {
        if self.acme.is_empty() {
            return None;
        }
        let directory = match (&self.acme_directory, self.acme_staging) {
            (Some(url), _) => url.clone(),
            (None, true) => acme::LETS_ENCRYPT_STAGING.to_owned(),
            (None, false) => acme::LETS_ENCRYPT.to_owned(),
        };
        Some(AcmeOptions {
            domains: self.acme.clone(),
            email: self.acme_email.clone(),
            directory,
            ca: self.acme_ca.clone(),
            cache_dir: glwatch::data_dir::acme_cache(&self.data_dir),
        })
    }

    /// The receiver's settings as given; [`glwatch::config::ReceiverConfig::from_options`] checks them.
    pub fn receiver_options(&self) -> ReceiverOptions {
        ReceiverOptions {
            listen: self.listen,
            secret: self.secret.clone(),
            secret_file: self.secret_file.clone(),
            secondary_secret: self.secondary_secret.clone(),
            cert: self.cert.clone().zip(self.key.clone()),
            acme: self.acme_options(),
            data_dir: self.data_dir.clone(),
            api_key: self.api_key.clone(),
            allow_unsigned: self.allow_unsigned,
            allowed_rate: self.allowed_rate.clone(),
            max_body: self.max_body,
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            handshake_timeout: self.handshake_timeout,
            header_timeout: self.header_timeout,
            body_timeout: self.body_timeout,
            idle_timeout: self.idle_timeout,
            shutdown_timeout: self.shutdown_timeout,
            dedup_window: self.dedup_window,
            sources_file: self.sources.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            plain_http: self.plain_http,
        }
    }

    /// The journal settings; `None` with `--no-journal`.
    pub fn journal_options(&self) -> Option<JournalOptions> {
        (!self.no_journal).then(|| JournalOptions {
            path: self.journal_path(),
            durability: self.durability.into(),
            segment_size: self.journal_segment_size,
            retain: self.retain,
            dedup_window: self.dedup_window.max(1),
            // Records are one event each, so a line is bounded by the body limit plus the record's own fields.
            max_line: MAX_LINE.max(self.max_body.saturating_add(64 * 1024)),
            retention: glwatch::journal::Retention {
                keep: self.journal_keep,
                max_size: self.journal_max_size,
                // With --nats the routes read the stream; their cursors are stream sequences, not the journal's.
                routes_dir: self.nats.nats.is_empty().then(|| self.data_dir.join("routes")),
                check_every: self.journal_check_every,
            },
        })
    }
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
        assert_eq!(cli.run.journal_path(), PathBuf::from("glwatch-data/journal.jsonl"));
        assert_eq!(cli.run.log_path(), PathBuf::from("glwatch-data/glwatch.log"));
        assert_eq!(cli.run.durability, DurabilityFlag::Fsync);
        assert_eq!(cli.run.journal_segment_size, 64 * 1024 * 1024);
        assert!(!cli.run.no_journal);
    }

    #[test]
    fn export_subcommand_parses_its_flags() {
        let cli = Cli::try_parse_from([
            "glwatch",
            "export",
            "--format",
            "jsonl",
            "--type",
            "a",
            "--type",
            "b",
            "--user",
            "u",
            "--since",
            "2024-12-20",
            "-o",
            "out.jsonl",
        ])
        .unwrap();
        let Some(Command::Export(e)) = cli.command else { panic!("not export") };
        assert_eq!(e.format, FormatFlag::Jsonl);
        assert_eq!(e.types, ["a", "b"]);
        assert_eq!(e.users, ["u"]);
        assert_eq!(e.since, Some(time::macros::datetime!(2024-12-20 0:00 UTC)));
        assert_eq!(e.output, Some(PathBuf::from("out.jsonl")));
        assert!(Cli::try_parse_from(["glwatch", "export", "--since", "soon"]).is_err());
    }

    #[test]
    fn demo_takes_a_positive_rate_and_no_receiver_flags() {
        let cli = Cli::try_parse_from(["glwatch", "demo"]).unwrap();
        let Some(Command::Demo(d)) = cli.command else { panic!("not demo") };
        assert_eq!(d.rate, 3.0);
        assert_eq!(d.log_file, None);
        let cli = Cli::try_parse_from(["glwatch", "demo", "--rate", "0.5"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Demo(DemoArgs { rate: 0.5, .. }))));
        for bad in ["0", "-1", "inf", "NaN", "fast"] {
            assert!(Cli::try_parse_from(["glwatch", "demo", "--rate", bad]).is_err(), "{bad}");
        }
        // The demo configures its own receiver.
        assert!(Cli::try_parse_from(["glwatch", "--secret", "abcd", "demo"]).is_err());
    }

    #[test]
    fn data_dir_moves_defaults_but_explicit_paths_win() {
        let cli = Cli::try_parse_from(["glwatch", "--data-dir", "/srv/gl"]).unwrap();
        assert_eq!(cli.run.journal_path(), PathBuf::from("/srv/gl/journal.jsonl"));
        assert_eq!(cli.run.log_path(), PathBuf::from("/srv/gl/glwatch.log"));
        let cli =
            Cli::try_parse_from(["glwatch", "--data-dir", "/srv/gl", "--journal", "j.jsonl", "--log-file", "l.log"])
                .unwrap();
        assert_eq!(cli.run.journal_path(), PathBuf::from("j.jsonl"));
        assert_eq!(cli.run.log_path(), PathBuf::from("l.log"));
        let cli = Cli::try_parse_from(["glwatch", "export", "--data-dir", "/srv/gl"]).unwrap();
        let Some(Command::Export(e)) = cli.command else { panic!("not export") };
        assert_eq!(e.journal_path(), PathBuf::from("/srv/gl/journal.jsonl"));
    }

    #[test]
    fn acme_excludes_cert_and_its_flags_need_it() {
        let cli = Cli::try_parse_from(["glwatch", "--acme", "a.example.com,b.example.com", "--acme", "c.example.com"])
            .unwrap();
        assert_eq!(cli.run.acme, ["a.example.com", "b.example.com", "c.example.com"]);
        assert!(Cli::try_parse_from(["glwatch", "--acme", "a.example.com", "--cert", "c", "--key", "k"]).is_err());
        assert!(Cli::try_parse_from(["glwatch", "--acme-email", "a@example.com"]).is_err());
        assert!(Cli::try_parse_from(["glwatch", "--acme", "a.example.com", "--plain-http"]).is_err());
        assert!(Cli::try_parse_from([
            "glwatch",
            "--acme",
            "a.example.com",
            "--acme-staging",
            "--acme-directory",
            "https://x/"
        ])
        .is_err());
    }

    #[test]
    fn trusted_proxies_repeat_and_plain_http_takes_no_certificate() {
        let cli = Cli::try_parse_from(["glwatch", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1"]).unwrap();
        assert_eq!(cli.run.trusted_proxies.len(), 2);
        assert!(Cli::try_parse_from(["glwatch", "--trusted-proxy", "10.0.0.1/8"]).is_err(), "host bits set");
        assert!(Cli::try_parse_from(["glwatch", "--plain-http", "--cert", "c", "--key", "k"]).is_err());
        assert!(Cli::try_parse_from(["glwatch", "--plain-http", "--listen", "127.0.0.1:8080"]).unwrap().run.plain_http);
    }

    #[test]
    fn secret_and_secret_file_conflict_and_cert_needs_key() {
        assert!(Cli::try_parse_from(["glwatch", "--secret", "abcd", "--secret-file", "x"]).is_err());
        assert!(Cli::try_parse_from(["glwatch", "--cert", "c.pem"]).is_err());
        assert!(Cli::try_parse_from(["glwatch", "--cert", "c.pem", "--key", "k.pem"]).is_ok());
    }

    #[test]
    fn tail_attach_and_routes_take_the_same_target_flags_and_environment_names() {
        for name in ["tail", "attach", "routes"] {
            let flags = ["https://h:9443", "--data-dir", "d", "--token-file", "t", "--ca", "c.pem"];
            let cli = Cli::try_parse_from([&["glwatch", name][..], &flags].concat()).unwrap();
            let target = match cli.command {
                Some(Command::Tail(a)) => a.target,
                Some(Command::Attach(a)) => a.target,
                Some(Command::Routes(a)) => a.target,
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(target.target.as_deref(), Some("https://h:9443"), "{name}");
            assert_eq!(
                (target.data_dir, target.token_file, target.ca, target.token, target.insecure),
                ("d".into(), Some("t".into()), Some("c.pem".into()), None, false),
                "{name}"
            );
            assert!(Cli::try_parse_from(["glwatch", name, "--ca", "c.pem", "--insecure"]).is_err(), "{name}");
            assert!(Cli::try_parse_from(["glwatch", name, "--token", "a", "--token-file", "t"]).is_err(), "{name}");
            let command = Cli::command();
            let sub = command.find_subcommand(name).unwrap();
            let env = |id: &str| {
                let arg = sub.get_arguments().find(|a| a.get_id() == id).unwrap();
                arg.get_env().unwrap().to_str().unwrap().to_owned()
            };
            assert_eq!(
                ["target", "token", "token_file", "ca", "insecure"].map(env),
                [
                    "GLWATCH_TARGET",
                    "GLWATCH_WATCH_TOKEN",
                    "GLWATCH_WATCH_TOKEN_FILE",
                    "GLWATCH_WATCH_CA",
                    "GLWATCH_WATCH_INSECURE"
                ],
                "{name}"
            );
        }
        // `routes redeliver` still takes --data-dir after its own flags.
        let cli = Cli::try_parse_from(["glwatch", "routes", "redeliver", "r", "--dead", "--data-dir", "d"]).unwrap();
        let Some(Command::Routes(r)) = cli.command else { panic!("not routes") };
        assert_eq!(r.target.data_dir, PathBuf::from("d"));
    }

    #[test]
    fn timeouts_take_the_shared_duration_grammar() {
        let e = Cli::try_parse_from(["glwatch", "--idle-timeout", "0"]).unwrap_err().to_string();
        assert!(e.contains("--idle-timeout") && e.contains("longer than zero"), "{e}");
        let cli = Cli::try_parse_from([
            "glwatch",
            "--idle-timeout",
            "2m",
            "--body-timeout",
            "1.5",
            "--header-timeout",
            "500ms",
        ])
        .unwrap();
        let c = glwatch::config::ReceiverConfig::from_options(&cli.run.receiver_options()).unwrap();
        assert_eq!(c.limits.idle_timeout, std::time::Duration::from_secs(120));
        assert_eq!(c.limits.body_timeout, std::time::Duration::from_millis(1500));
        assert_eq!(c.limits.header_timeout, std::time::Duration::from_millis(500));
        assert_eq!(c.limits.handshake_timeout, std::time::Duration::from_secs(10), "defaults still parse");
    }
}

/// The receiver's `--nats*` options (publishing).
#[derive(Args, Debug, Clone)]
pub struct NatsArgs {
    /// NATS server(s) to publish accepted events to (JetStream), repeatable or comma-separated seed list.
    #[arg(long = "nats", env = "GLWATCH_NATS", value_name = "URL", value_delimiter = ',')]
    pub nats: Vec<String>,

    #[command(flatten)]
    pub conn: NatsConnArgs,

    /// Stream replicas when glwatch creates the stream (3 on a three-node cluster).
    #[arg(long, env = "GLWATCH_NATS_REPLICAS", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=5))]
    pub nats_replicas: u64,

    /// JetStream's duplicate window (Nats-Msg-Id dedup), GreenLake's retry span by default.
    #[arg(long, env = "GLWATCH_NATS_DUPLICATE_WINDOW", value_name = "DURATION", default_value = "12h", value_parser = glwatch::units::parse_duration)]
    pub nats_duplicate_window: std::time::Duration,

    /// How long a delivery waits for JetStream's ack before it is answered 503.
    #[arg(long, env = "GLWATCH_NATS_TIMEOUT", value_name = "DURATION", default_value = "5s", value_parser = glwatch::units::parse_duration)]
    pub nats_timeout: std::time::Duration,
}

impl NatsArgs {
    pub fn options(&self) -> glwatch::broker::NatsOptions {
        glwatch::broker::NatsOptions {
            replicas: self.nats_replicas as usize,
            duplicate_window: self.nats_duplicate_window,
            timeout: self.nats_timeout,
            ..self.conn.options(self.nats.iter().map(String::as_str))
        }
    }
}

/// The `--nats*` options of every NATS user: authentication, TLS and where the records are.
#[derive(Args, Debug, Clone)]
pub struct NatsConnArgs {
    /// NATS credentials file (JWT and nkey seed).
    #[arg(long, env = "GLWATCH_NATS_CREDS", value_name = "FILE", conflicts_with = "nats_token")]
    pub nats_creds: Option<PathBuf>,

    /// NATS authentication token.
    #[arg(long, env = "GLWATCH_NATS_TOKEN", hide_env_values = true)]
    pub nats_token: Option<String>,

    /// CA certificate (PEM) that signed the NATS servers' certificates; turns TLS on.
    #[arg(long, env = "GLWATCH_NATS_CA", value_name = "PEM")]
    pub nats_ca: Option<PathBuf>,

    /// JetStream stream name.
    #[arg(long, env = "GLWATCH_NATS_STREAM", value_name = "NAME", default_value = "GLWATCH")]
    pub nats_stream: String,

    /// Subject prefix: PREFIX.event.<type>, PREFIX.challenge, PREFIX.rejected.
    #[arg(long, env = "GLWATCH_NATS_SUBJECT", value_name = "PREFIX", default_value = "glwatch")]
    pub nats_subject: String,
}

impl NatsConnArgs {
    /// The options for `servers` (blank ones left out), with the defaults for publishing.
    pub fn options<'a>(&self, servers: impl Iterator<Item = &'a str>) -> glwatch::broker::NatsOptions {
        glwatch::broker::NatsOptions {
            servers: servers.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            creds: self.nats_creds.clone(),
            token: self.nats_token.clone(),
            ca: self.nats_ca.clone(),
            stream: self.nats_stream.clone(),
            subject: self.nats_subject.clone(),
            ..Default::default()
        }
    }
}

/// The `--nats*` options of a reader (`tail`, `attach` of a nats:// target): the target names the server.
#[derive(Args, Debug, Clone)]
pub struct NatsReadArgs {
    /// More NATS servers of the same cluster to try besides a nats:// target (comma-separated).
    #[arg(long = "nats", env = "GLWATCH_NATS", value_name = "URL", value_delimiter = ',')]
    pub nats: Vec<String>,

    #[command(flatten)]
    pub conn: NatsConnArgs,
}

impl NatsReadArgs {
    /// The options for reading from `target` (tried first) and the extra --nats servers.
    pub fn options(&self, target: &str) -> glwatch::broker::NatsOptions {
        self.conn.options(std::iter::once(target).chain(self.nats.iter().map(String::as_str)))
    }
}
