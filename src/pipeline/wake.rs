//! Waking the committer thread: at once, or, from a runtime worker, only when that worker runs out of work.
//!
//! A request's records reach the committer through a queue; waking the committer costs a `futex` call and, when
//! the worker and the committer share a CPU, a context switch each way. Waking it for every request made groups of
//! about one request under load: the committer preempted the worker as soon as the first request was queued. A
//! worker that queues a job instead leaves the wake for the moment it goes idle (the runtime's park hook, see
//! [`before_park`]), by which time it has read every request that was ready, so the committer takes them as one
//! group: one write, one wake-up each way.
//!
//! Nothing waits long for that moment. The committer looks at its queue every [`POLL`] while it is busy, so a
//! worker kept busy by other work (a handshake flood, a follower) delays a commit by at most that; after [`ACTIVE`]
//! without work it sleeps until woken, and says so, so the next job wakes it at once. A worker that queued
//! [`LIMIT`] jobs without a wake rings at once. Threads without the hook (tests, blocking threads) always ring.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// While busy, the committer checks for jobs queued without a wake this often: the longest a worker that never
/// goes idle can delay a commit.
const POLL: Duration = Duration::from_millis(2);
/// After this long without a job the committer sleeps until woken, so an idle receiver does not poll.
const ACTIVE: Duration = Duration::from_millis(50);
/// Jobs a worker queues without waking the committer before it wakes it anyway.
const LIMIT: usize = 128;

thread_local! {
    /// Set on a thread once the runtime's park hook has run on it: its wakes can wait for [`before_park`].
    static HOOKED: Cell<bool> = const { Cell::new(false) };
    /// The committers this thread queued jobs for without waking them.
    static OWED: RefCell<Vec<Arc<Bell>>> = const { RefCell::new(Vec::new()) };
}

/// The runtime's `on_thread_park` hook: a worker about to go idle wakes every committer it queued jobs for.
pub fn before_park() {
    HOOKED.with(|h| h.set(true));
    let owed = OWED.with(|o| std::mem::take(&mut *o.borrow_mut()));
    for bell in owed {
        bell.ring();
    }
}

/// How requests wake the committer thread.
#[derive(Default)]
pub(super) struct Bell {
    thread: OnceLock<Thread>,
    /// The committer sleeps without a timeout: the next job must wake it.
    asleep: AtomicBool,
    /// Jobs queued since the committer was last woken, and not woken for.
    owed: AtomicUsize,
}

impl Bell {
    /// Called on the committer thread before it first waits.
    pub(super) fn attach(&self) {
        let _ = self.thread.set(std::thread::current());
    }

    /// A job was queued: wake the committer now, or leave it to this worker's park hook.
    pub(super) fn queued(self: &Arc<Self>) {
        // Pairs with the fence in `sleep`: either the committer sees the job, or this sees it asleep.
        fence(Ordering::SeqCst);
        if !HOOKED.with(Cell::get) || self.asleep.load(Ordering::Relaxed) {
            return self.ring();
        }
        if self.owed.fetch_add(1, Ordering::Relaxed) + 1 >= LIMIT {
            return self.ring();
        }
        OWED.with(|o| {
            let mut o = o.borrow_mut();
            if !o.iter().any(|b| Arc::ptr_eq(b, self)) {
                o.push(self.clone());
            }
        });
    }

    pub(super) fn ring(&self) {
        self.owed.store(0, Ordering::Relaxed);
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    /// The committer found its queue empty: waits for a job, polling while recently busy. `empty` looks again
    /// after the committer has said it is asleep, so that a job queued meanwhile is not left unseen.
    pub(super) fn sleep(&self, last_job: Instant, empty: impl FnOnce() -> bool) {
        if last_job.elapsed() < ACTIVE {
            std::thread::park_timeout(POLL);
            return;
        }
        self.asleep.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if empty() {
            std::thread::park();
        }
        self.asleep.store(false, Ordering::Relaxed);
    }
}

/// Held by every request handle: when the last one goes, the committer is woken to see its queue closed.
pub(super) struct CloseBell(pub(super) Arc<Bell>);

impl Drop for CloseBell {
    fn drop(&mut self) {
        self.0.ring();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owed_here(bell: &Arc<Bell>) -> bool {
        OWED.with(|o| o.borrow().iter().any(|b| Arc::ptr_eq(b, bell)))
    }

    #[test]
    fn a_thread_without_the_park_hook_rings_at_once() {
        let bell = Arc::new(Bell::default());
        bell.queued();
        assert!(!owed_here(&bell));
        assert_eq!(bell.owed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_hooked_worker_leaves_the_wake_to_its_park_hook_up_to_the_limit() {
        before_park();
        let bell = Arc::new(Bell::default());
        bell.queued();
        bell.queued();
        assert!(owed_here(&bell), "the worker owes the committer a wake");
        assert_eq!(bell.owed.load(Ordering::Relaxed), 2);
        before_park();
        assert!(!owed_here(&bell));
        assert_eq!(bell.owed.load(Ordering::Relaxed), 0, "rung when the worker went idle");
        for _ in 0..LIMIT {
            bell.queued();
        }
        assert_eq!(bell.owed.load(Ordering::Relaxed), 0, "rung at the limit without waiting for idle");
        before_park();
    }

    #[test]
    fn a_sleeping_committer_is_woken_by_the_next_job_even_from_a_hooked_worker() {
        before_park();
        let bell = Arc::new(Bell::default());
        bell.asleep.store(true, Ordering::Relaxed);
        bell.queued();
        assert!(!owed_here(&bell));
        assert_eq!(bell.owed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn an_idle_committer_sleeps_until_rung() {
        let bell = Arc::new(Bell::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let sleeper = bell.clone();
        let t = std::thread::spawn(move || {
            sleeper.attach();
            tx.send(()).unwrap();
            // Idle for longer than ACTIVE: no timeout, only a ring (or a spurious wake-up) ends the sleep.
            sleeper.sleep(Instant::now() - ACTIVE, || true);
        });
        rx.recv().unwrap();
        while !bell.asleep.load(Ordering::Relaxed) {
            std::thread::yield_now();
        }
        bell.ring();
        t.join().unwrap();
        assert!(!bell.asleep.load(Ordering::Relaxed));
    }
}
