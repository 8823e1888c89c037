//! Holding commits while the duplicate window is still being read from the journal, so that no re-delivery can
//! be accepted twice during start-up; every wait is bounded.

use super::CommitError;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

/// Longest a request waits for the window before it is refused with 503 (GreenLake retries): below the
/// handler's own commit deadline, so the answer says why.
const LOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(25);

/// Whether the committer has its duplicate window; shared by the committer thread and every [`super::Pipeline`].
pub(super) struct Ready {
    /// Checked first, so that once loaded a commit costs one atomic load.
    done: AtomicBool,
    tx: watch::Sender<bool>,
}

impl Ready {
    pub(super) fn new(done: bool) -> Ready {
        Ready { done: AtomicBool::new(done), tx: watch::channel(done).0 }
    }

    pub(super) fn set(&self) {
        self.done.store(true, Ordering::Release);
        self.tx.send_replace(true);
    }

    pub(super) fn is_set(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Waits until the window is loaded, at most [`LOAD_WAIT`].
    pub(super) async fn wait(&self) -> Result<(), CommitError> {
        if self.is_set() {
            return Ok(());
        }
        let mut rx = self.tx.subscribe();
        let waited = tokio::time::timeout(LOAD_WAIT, rx.wait_for(|r| *r)).await.map(|r| r.is_ok());
        match waited {
            Ok(true) => Ok(()),
            Ok(false) => Err(CommitError::Closed),
            Err(_) => Err(CommitError::Loading),
        }
    }
}
