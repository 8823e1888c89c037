//! The receiver's side of `--nats`: connecting and checking the stream before the pipeline starts, so that every
//! accepted event is published and acknowledged by JetStream before GreenLake is answered.

use super::RunArgs;
use glwatch::broker::publish::{self, Started};

/// Connects to NATS and creates or checks the stream when `--nats` is given. The error is one line naming the
/// flag or what differs; NATS that is not reachable yet is not an error (see [`publish::start`]).
pub async fn start(args: &RunArgs) -> Result<Option<Started>, String> {
    let options = args.nats.options();
    if options.servers.is_empty() {
        return Ok(None);
    }
    publish::start(&options).await.map(Some).map_err(|e| e.to_string())
}
