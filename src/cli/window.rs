//! Reading the duplicate window and the dashboard's history after the port is open, on the committer's thread,
//! and saying what was read where the operator looks.

/// What the committer runs first: the duplicate window and the dashboard's history read from the newest journal
/// segments, while the port is already open (commits wait for it). The history goes to `screen` ahead of any live
/// record; what the reading found goes on stderr when headless, else to the log and the status bar. A journal that
/// cannot be read stops a headless receiver with one line; under the dashboard, deliveries are refused from then on.
pub fn loader(
    pending: glwatch::journal::Pending,
    screen: Option<tokio::sync::mpsc::Sender<glwatch::feed::Feed>>,
    after_banner: Option<std::sync::mpsc::Receiver<()>>,
) -> Box<dyn FnOnce() -> Option<glwatch::pipeline::DedupWindow> + Send> {
    use glwatch::feed::Feed;
    Box::new(move || {
        let loaded = pending.load(|record| {
            if let Some(tx) = &screen {
                // Waits for the screen: nothing live is emitted before the history is through.
                let _ = tx.blocking_send(Feed::History(record));
            }
        });
        let (notices, dedup) = match loaded {
            Ok(l) => (l.notices, Some(l.dedup)),
            Err(e) if screen.is_none() => {
                eprintln!("glwatch: error: {e}");
                std::process::exit(1);
            }
            Err(e) => (vec![format!("{e}; deliveries are refused until glwatch is restarted")], None),
        };
        // Told once the start-up lines are out; a start that failed drops the sender instead, and its one error
        // line stays the only one.
        let started = after_banner.is_none_or(|banner| banner.recv().is_ok());
        for notice in notices.into_iter().filter(|_| started) {
            match &screen {
                None => eprintln!("glwatch: {notice}"),
                Some(tx) => {
                    tracing::info!("{notice}");
                    let _ = tx.blocking_send(Feed::Notice(notice));
                }
            }
        }
        dedup
    })
}
