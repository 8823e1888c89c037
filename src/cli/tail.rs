//! `glwatch tail`: the command line turned into tail options, run until done or interrupted.

use super::run::{fail, read_token, wait_for_signal, WATCH_SOCKET};
use super::TailArgs;
use glwatch::watch::client::{Target, WatchClient};
use glwatch::watch::tail::{Select, Start, TailOptions};
use std::process::ExitCode;

/// `glwatch tail`: a running glwatch's records on stdout.
pub async fn run(args: TailArgs) -> ExitCode {
    let target = args.target.clone().unwrap_or_else(|| format!("unix:{}", args.data_dir.join(WATCH_SOCKET).display()));
    let target = match Target::parse(&target) {
        Ok(t) => t,
        Err(e) => return fail(&e.to_string()),
    };
    let token = match read_token("--token-file", &args.token, &args.token_file) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let trust = match (&args.ca, args.insecure) {
        (Some(ca), _) => match glwatch::send::client::Trust::from_pem_file(ca) {
            Ok(t) => t,
            Err(e) => return fail(&format!("--ca: {e:#}")),
        },
        (None, true) => glwatch::send::client::Trust::Insecure,
        (None, false) => glwatch::send::client::Trust::Platform,
    };
    let client = match WatchClient::new(target, &trust, token.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let start = match (args.after, args.since, args.last) {
        (Some(a), _, _) => Start::After(a),
        (_, Some(t), _) => Start::Since(t),
        (_, _, Some(n)) => Start::Last(n),
        _ => Start::Beginning,
    };
    let select = Select {
        filter: glwatch::filter::Filter {
            types: args.types.into_iter().collect(),
            users: args.users.into_iter().collect(),
            ..Default::default()
        },
        kinds: args.kinds.iter().map(|k| k.as_str().to_owned()).collect(),
    };
    let options = TailOptions { client, start, follow: args.follow, select };
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    match glwatch::watch::tail::run(options, &mut out, wait_for_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}
