//! `glwatch tail`: the command line turned into tail options, run until done or interrupted.

use super::run::{fail, read_token, wait_for_signal, WATCH_SOCKET};
use super::TailArgs;
use glwatch::watch::client::{Target, WatchClient};
use glwatch::watch::tail::{Select, Start, TailOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// The client for a watch target as `tail` and `attach` take it: the local socket in the data directory by
/// default; a token and trust for an https:// one. The error is one line naming the flag.
pub fn watch_client(
    target: Option<&str>,
    data_dir: &std::path::Path,
    token: &Option<String>,
    token_file: &Option<PathBuf>,
    ca: &Option<PathBuf>,
    insecure: bool,
) -> Result<WatchClient, String> {
    let target = target.map(str::to_owned).unwrap_or_else(|| format!("unix:{}", data_dir.join(WATCH_SOCKET).display()));
    let target = Target::parse(&target).map_err(|e| e.to_string())?;
    let token = read_token("--token-file", token, token_file)?;
    let trust = match (ca, insecure) {
        (Some(ca), _) => glwatch::send::client::Trust::from_pem_file(ca).map_err(|e| format!("--ca: {e:#}"))?,
        (None, true) => glwatch::send::client::Trust::Insecure,
        (None, false) => glwatch::send::client::Trust::Platform,
    };
    WatchClient::new(target, &trust, token.as_deref()).map_err(|e| e.to_string())
}

/// `glwatch tail`: a running glwatch's records on stdout.
pub async fn run(args: TailArgs) -> ExitCode {
    if let Some(target) = args.target.as_deref().filter(|t| glwatch::watch::nats::is_nats_target(t)) {
        return nats(target, &args).await;
    }
    let client = match watch_client(
        args.target.as_deref(),
        &args.data_dir,
        &args.token,
        &args.token_file,
        &args.ca,
        args.insecure,
    ) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let (start, select) = start_and_select(&args);
    let options = TailOptions { client, start, follow: args.follow, select };
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    match glwatch::watch::tail::run(options, &mut out, wait_for_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn start_and_select(args: &TailArgs) -> (Start, Select) {
    let start = match (args.after, args.since, args.last) {
        (Some(a), _, _) => Start::After(a),
        (_, Some(t), _) => Start::Since(t),
        (_, _, Some(n)) => Start::Last(n),
        _ => Start::Beginning,
    };
    let select = Select {
        filter: glwatch::filter::Filter {
            types: args.types.iter().cloned().collect(),
            users: args.users.iter().cloned().collect(),
            sources: args.sources.iter().cloned().collect(),
            ..Default::default()
        },
        kinds: args.kinds.iter().map(|k| k.as_str().to_owned()).collect(),
    };
    (start, select)
}

/// `glwatch tail nats://HOST:PORT`: the JetStream stream the receivers publish to.
async fn nats(target: &str, args: &TailArgs) -> ExitCode {
    let (start, select) = start_and_select(args);
    let options =
        glwatch::watch::nats::NatsTail { options: args.nats.options(target), start, follow: args.follow, select };
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    match glwatch::watch::nats::tail(options, &mut out, wait_for_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}
