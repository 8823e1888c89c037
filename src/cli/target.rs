//! The running receiver that `tail`, `attach` and `routes` read: its target flags turned into a watch client.

use super::run::{read_token, WATCH_SOCKET};
use super::TargetArgs;
use glwatch::send::client::Trust;
use glwatch::watch::client::{Target, WatchClient};

impl TargetArgs {
    /// The target when it is a NATS JetStream (`nats://`), read by its own reader rather than a watch client.
    pub fn nats(&self) -> Option<&str> {
        self.target.as_deref().filter(|t| glwatch::watch::nats::is_nats_target(t))
    }

    /// The client for the target: the local socket in the data directory by default; a token and trust for an
    /// https:// one. The error is one line naming the flag.
    pub fn client(&self) -> Result<WatchClient, String> {
        let default = || format!("unix:{}", self.data_dir.join(WATCH_SOCKET).display());
        let target = Target::parse(&self.target.clone().unwrap_or_else(default)).map_err(|e| e.to_string())?;
        let token = read_token("--token-file", &self.token, &self.token_file)?;
        let trust = match (&self.ca, self.insecure) {
            (Some(ca), _) => Trust::from_pem_file(ca).map_err(|e| format!("--ca: {e:#}"))?,
            (None, true) => Trust::Insecure,
            (None, false) => Trust::Platform,
        };
        WatchClient::new(target, &trust, token.as_deref()).map_err(|e| e.to_string())
    }
}
