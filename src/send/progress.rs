//! The progress shown on stderr while a run goes on: one line redrawn in place on a terminal, plain periodic
//! lines otherwise (logs and CI keep a readable record instead of carriage returns).

use super::load::Live;
use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Redraws until `done` turns true, then clears the line (terminal) so the summary starts clean.
pub async fn show(live: Arc<Live>, mut done: watch::Receiver<bool>) {
    let tty = std::io::stderr().is_terminal();
    let every = if tty { Duration::from_millis(200) } else { Duration::from_secs(2) };
    let start = Instant::now();
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let (mut last_acked, mut last_at) = (0u64, start);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = done.wait_for(|d| *d) => break,
        }
        let now = Instant::now();
        let acked = live.acknowledged.load(Ordering::Relaxed);
        let rate = (acked - last_acked) as f64 / (now - last_at).as_secs_f64().max(1e-3);
        (last_acked, last_at) = (acked, now);
        let line = line(&live, now - start, rate);
        let mut err = std::io::stderr().lock();
        let _ = if tty { write!(err, "\r\x1b[2K{line}") } else { writeln!(err, "{line}") };
        let _ = err.flush();
    }
    if tty {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

fn line(live: &Live, elapsed: Duration, rate: f64) -> String {
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    format!(
        "{:>6.1}s  sent {}  acknowledged {}  refused {}  failed {}  retries {}  {:.0} events/s",
        elapsed.as_secs_f64(),
        get(&live.sent),
        get(&live.acknowledged),
        get(&live.refused),
        get(&live.failed),
        get(&live.retries),
        rate
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_reads_the_counters() {
        let live = Live::default();
        live.sent.store(12, Ordering::Relaxed);
        live.acknowledged.store(10, Ordering::Relaxed);
        live.refused.store(2, Ordering::Relaxed);
        assert_eq!(
            line(&live, Duration::from_millis(2500), 99.6),
            "   2.5s  sent 12  acknowledged 10  refused 2  failed 0  retries 0  100 events/s"
        );
    }
}
