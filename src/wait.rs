//! Blocking on grpcio's futures, deadlines, and the two ways a blocked call
//! is cut short: a [`CancelToken`] and the client being closed.
//!
//! grpcio completes calls on its completion-queue threads and wakes the
//! future's waker. The calling thread polls the future itself and parks
//! between polls, so a call costs one hand-off (the CQ thread's unpark) and
//! no extra thread. A thread's waker is built once and reused, so waiting
//! allocates nothing.
//!
//! Cancel tokens unpark the threads waiting on them at once. Closing the
//! client is noticed within [`CLOSE_POLL`]: waiters re-check the closed flag
//! whenever they wake, and park with that timeout, which spares every call
//! a registration in a shared list for the sake of a rare event.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::Error;

/// How often a blocked call looks at the client's closed flag.
pub(crate) const CLOSE_POLL: Duration = Duration::from_millis(25);

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    static WAKER: Waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
}

/// Cancels calls from another thread: the blocking counterpart of a
/// canceled `context.Context` in the Go client.
///
/// Pass it with [`Client::with_cancel`](crate::Client::with_cancel); every
/// call made through that handle, now or later, returns
/// [`Error::Canceled`](crate::Error::Canceled) once [`cancel`](Self::cancel)
/// is called, and a call in flight is canceled on the server too. What
/// outlives the call that made it ends the same way: a
/// [`Watcher`](crate::Watcher) and a [`KeepAlive`](crate::KeepAlive) made
/// through the handle deliver `Err(Error::Canceled)` as their last item
/// (a waiting `recv` wakes; the watch is canceled on the server, the lease
/// is no longer refreshed), a [`RangeIter`](crate::RangeIter) yields it
/// next, and an observation ([`Client::observe`](crate::Client::observe),
/// [`Observer`](crate::concurrency::Observer)) ends with it.
///
/// ```no_run
/// use std::time::Duration;
/// use etcd_blocking::{CancelToken, Error};
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let token = CancelToken::new();
/// let stoppable = client.with_cancel(&token).with_timeout(Duration::from_secs(3600));
/// let stopper = token.clone();
/// std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_secs(1));
///     stopper.cancel(); // e.g. on Ctrl-C
/// });
/// let watcher = stoppable.watch("jobs/next")?;
/// match watcher.recv() {
///     Err(Error::Canceled) => println!("stopped"),
///     other => println!("{other:?}"),
/// }
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct CancelToken(Arc<TokenInner>);

#[derive(Default)]
struct TokenInner {
    canceled: AtomicBool,
    waiters: Mutex<Vec<Thread>>,
    /// What the handles that outlive their call (watchers, keepalives) do
    /// when the token fires. Weak: a handle dropped first leaves nothing
    /// behind but a dead entry, pruned on the next registration.
    hooks: Mutex<Vec<Weak<dyn Fn() + Send + Sync>>>,
}

/// What a handle made through a cancelable client runs when its token
/// fires; the handle owns it, the token only refers to it.
pub(crate) type CancelHook = Arc<dyn Fn() + Send + Sync>;

impl CancelToken {
    /// A token that is not canceled yet.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels every call made with this token; calls in flight return
    /// promptly. Idempotent.
    pub fn cancel(&self) {
        self.0.canceled.store(true, Ordering::SeqCst);
        for t in self.0.waiters.lock().iter() {
            t.unpark();
        }
        // Run outside the lock: a hook may do anything but block.
        let hooks: Vec<CancelHook> = std::mem::take(&mut *self.0.hooks.lock())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for hook in hooks {
            hook();
        }
    }

    /// Runs `hook` when the token fires: at once if it already has (then
    /// possibly twice, if `cancel` runs meanwhile: hooks must not mind).
    /// The hook runs on the canceling thread, so it must not block.
    pub(crate) fn on_cancel(&self, hook: &CancelHook) {
        {
            let mut hooks = self.0.hooks.lock();
            hooks.retain(|h| h.strong_count() > 0);
            hooks.push(Arc::downgrade(hook));
        }
        if self.is_canceled() {
            hook();
        }
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_canceled(&self) -> bool {
        self.0.canceled.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("canceled", &self.is_canceled())
            .finish()
    }
}

/// When a call must be done by, and the timeout it was given (which
/// [`Error::DeadlineExceeded`] reports back).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    /// A deadline `timeout` from now. A timeout too long for the clock
    /// (`Duration::MAX`: wait as long as it takes) ends a century from now
    /// instead of overflowing.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: instant_after(timeout),
            timeout,
        }
    }

    /// A deadline `left` from now that reports `timeout`: a step of a
    /// longer wait, as `Client::within` makes.
    #[cfg(test)]
    pub fn ending_in(left: Duration, timeout: Duration) -> Deadline {
        Deadline {
            at: instant_after(left),
            timeout,
        }
    }

    /// This deadline, cut to `d` from now if that comes first; it still
    /// reports this deadline's timeout.
    pub fn cut(&self, d: Duration) -> Deadline {
        Deadline {
            at: self.at.min(instant_after(d)),
            timeout: self.timeout,
        }
    }

    /// The instant it passes.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// The timeout it was made from.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Time left, possibly zero.
    pub fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Time left, or [`Error::DeadlineExceeded`] once none is.
    pub fn remaining(&self) -> Result<Duration, Error> {
        let left = self.left();
        if left.is_zero() {
            Err(Error::DeadlineExceeded(self.timeout))
        } else {
            Ok(left)
        }
    }
}

/// What may cut a wait short.
pub(crate) struct Interrupt<'a> {
    pub closed: &'a AtomicBool,
    pub token: Option<&'a CancelToken>,
}

/// The closed flag of work that no client's close interrupts (logging in
/// at connect, a canceled call's drain, the pump's own calls).
static NEVER_CLOSED: AtomicBool = AtomicBool::new(false);

impl Interrupt<'static> {
    /// An interrupt that never fires.
    pub fn never() -> Interrupt<'static> {
        Interrupt {
            closed: &NEVER_CLOSED,
            token: None,
        }
    }
}

impl Interrupt<'_> {
    /// The error to return if the wait must stop now.
    pub fn check(&self) -> Option<Error> {
        if self.closed.load(Ordering::Acquire) {
            return Some(Error::ClientClosed);
        }
        if self.token.is_some_and(CancelToken::is_canceled) {
            return Some(Error::Canceled);
        }
        None
    }
}

/// Registers the current thread with a token for the length of a wait.
struct Registration<'a>(Option<&'a CancelToken>);

impl<'a> Registration<'a> {
    fn new(token: Option<&'a CancelToken>) -> Self {
        if let Some(t) = token {
            t.0.waiters.lock().push(thread::current());
        }
        Registration(token)
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            let me = thread::current().id();
            let mut w = t.0.waiters.lock();
            if let Some(i) = w.iter().position(|t| t.id() == me) {
                w.swap_remove(i);
            }
        }
    }
}

/// Polls `fut` on this thread until it completes, `intr` fires, or
/// `deadline` passes. `Err(None)` means the deadline passed; `Err(Some(e))`
/// that the wait was interrupted with `e`. The future is left as it was, so
/// the caller can cancel the underlying call and drain it.
pub(crate) fn block_on<F: Future + Unpin>(
    fut: &mut F,
    intr: &Interrupt<'_>,
    deadline: Option<Instant>,
) -> Result<F::Output, Option<Error>> {
    let _reg = Registration::new(intr.token);
    WAKER.with(|waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(v) = Pin::new(&mut *fut).poll(&mut cx) {
                return Ok(v);
            }
            if let Some(e) = intr.check() {
                return Err(Some(e));
            }
            let mut nap = CLOSE_POLL;
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(None);
                }
                nap = nap.min(left);
            }
            thread::park_timeout(nap);
        }
    })
}

/// The instant `d` from now; a duration too long for the clock
/// (`Duration::MAX`: as long as it takes) gives a century from now instead
/// of overflowing, which `Instant + Duration` would panic on.
pub(crate) fn instant_after(d: Duration) -> Instant {
    later(Instant::now(), d)
}

/// `at + d`, or a century after `at` when that would overflow (a TTL or
/// duration from the server or the user can be anything).
pub(crate) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Sleeps for `d`, or less if `intr` fires (then its error is returned).
pub(crate) fn sleep(intr: &Interrupt<'_>, d: Duration) -> Result<(), Error> {
    match block_on(
        &mut std::future::pending::<()>(),
        intr,
        Some(instant_after(d)),
    ) {
        Err(Some(e)) => Err(e),
        _ => Ok(()),
    }
}

/// Polls `fut` until it completes or `limit` passes, ignoring interrupts:
/// used to drain a call that was just canceled.
pub(crate) fn drain<F: Future + Unpin>(fut: &mut F, limit: Duration) -> Option<F::Output> {
    block_on(fut, &Interrupt::never(), Some(instant_after(limit))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Poll;

    /// A future that completes once its flag is set, waking whoever polled.
    struct Flag(Arc<(AtomicBool, Mutex<Option<Waker>>)>);

    impl Future for Flag {
        type Output = u8;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u8> {
            *self.0 .1.lock() = Some(cx.waker().clone());
            if self.0 .0.load(Ordering::SeqCst) {
                Poll::Ready(7)
            } else {
                Poll::Pending
            }
        }
    }

    #[test]
    fn completes_when_woken_from_another_thread() {
        let shared = Arc::new((AtomicBool::new(false), Mutex::new(None::<Waker>)));
        let s2 = shared.clone();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            s2.0.store(true, Ordering::SeqCst);
            if let Some(w) = s2.1.lock().take() {
                w.wake();
            }
        });
        assert_eq!(
            block_on(&mut Flag(shared), &Interrupt::never(), None).ok(),
            Some(7)
        );
        t.join().unwrap();
    }

    #[test]
    fn cancel_token_interrupts_promptly() {
        let shared = Arc::new((AtomicBool::new(false), Mutex::new(None::<Waker>)));
        let token = CancelToken::new();
        let t2 = token.clone();
        let started = Instant::now();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            t2.cancel();
        });
        let closed = AtomicBool::new(false);
        let intr = Interrupt {
            closed: &closed,
            token: Some(&token),
        };
        let r = block_on(&mut Flag(shared), &intr, None);
        assert!(matches!(r, Err(Some(Error::Canceled))));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(token.0.waiters.lock().is_empty());
        t.join().unwrap();
    }

    #[test]
    fn deadline_reports_its_timeout_once_passed() {
        let d = Deadline::after(Duration::from_millis(20));
        assert!(d.remaining().unwrap() <= Duration::from_millis(20));
        thread::sleep(Duration::from_millis(25));
        assert!(d.left().is_zero());
        assert!(
            matches!(d.remaining(), Err(Error::DeadlineExceeded(t)) if t == Duration::from_millis(20))
        );
    }

    #[test]
    fn a_deadline_too_far_for_the_clock_does_not_overflow() {
        let d = Deadline::after(Duration::MAX);
        assert!(d.at() > Instant::now() + Duration::from_secs(3600));
        assert_eq!(d.timeout(), Duration::MAX);
    }

    #[test]
    fn deadline_ends_the_wait() {
        let shared = Arc::new((AtomicBool::new(false), Mutex::new(None::<Waker>)));
        let r = drain(&mut Flag(shared), Duration::from_millis(10));
        assert_eq!(r, None);
    }
}
