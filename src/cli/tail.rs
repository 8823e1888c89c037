//! `glwatch tail`: the command line turned into tail options, run until done or interrupted.

use super::run::{fail, wait_for_signal};
use super::TailArgs;
use glwatch::watch::nats::NatsTail;
use glwatch::watch::tail::{Select, Start, TailOptions};
use std::process::ExitCode;

/// `glwatch tail`: a running glwatch's records on stdout, or those of the JetStream stream its receivers publish
/// to (`glwatch tail nats://HOST:PORT`).
pub async fn run(args: TailArgs) -> ExitCode {
    let (start, select) = start_and_select(&args);
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let outcome = match args.target.nats() {
        Some(target) => {
            let options = NatsTail { options: args.nats.options(target), start, follow: args.follow, select };
            glwatch::watch::nats::tail(options, &mut out, wait_for_signal()).await
        }
        None => {
            let client = match args.target.client() {
                Ok(c) => c,
                Err(e) => return fail(&e),
            };
            let options = TailOptions { client, start, follow: args.follow, select };
            glwatch::watch::tail::run(options, &mut out, wait_for_signal()).await
        }
    };
    match outcome {
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
