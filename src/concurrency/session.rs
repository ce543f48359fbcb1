//! [`Session`]: the lease that a process's locks, leadership and
//! ephemeral recipe keys hang on, and the thread that tells its holder
//! when that lease is gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::{Client, Error, EtcdError, KeepAlive, LeaseState, Result};

use super::{uncancelable, Election, Mutex};
use crate::wait::Deadline;

/// Default TTL of a [`Session`]'s lease, in seconds, as in the Go client.
pub const DEFAULT_SESSION_TTL: i64 = 60;

/// What a session shares with the recipes built on it: whether its lease
/// ended under them.
#[derive(Debug, Default)]
pub(super) struct Liveness {
    /// Set once the lease is lost or the session closed it.
    ended: AtomicBool,
}

impl Liveness {
    /// The error a recipe of an ended session answers with.
    pub(super) fn check(&self) -> Result<()> {
        match self.ended() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// [`EtcdError::SessionExpired`] once the session ended, else `None`.
    pub(super) fn ended(&self) -> Option<Error> {
        self.ended
            .load(Ordering::SeqCst)
            .then_some(Error::Etcd(EtcdError::SessionExpired))
    }

    fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
    }
}

/// A lease kept alive in the background for as long as the session lives:
/// the liveness that [`Mutex`], [`Election`] and the ephemeral keys of the
/// [`recipes`](super::recipes) hang on (Go's `concurrency.Session`). If the
/// process dies, the lease runs out after its TTL and every key attached
/// to it is deleted, which releases locks and leadership.
///
/// Dropping the session (or [`close`](Self::close)) stops the keepalive
/// and revokes the lease, releasing everything at once.
/// [`orphan`](Self::orphan) stops the keepalive but leaves the lease to
/// run out on its own.
///
/// The lease can also be lost under the session: revoked by another
/// process, or not refreshed in time (the cluster unreachable for a TTL).
/// [`done`](Self::done) tells the holder, and every [`Mutex`] or
/// [`Election`] of the session answers its next call with
/// [`EtcdError::SessionExpired`]. A thread of the session
/// (`etcd-session`) follows the keepalive for that; it is joined when the
/// session ends.
///
/// ```no_run
/// use etcd_blocking::concurrency::Session;
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let session = Session::with_ttl(&client, 10)?;
/// let done = session.done();
/// let watchdog = std::thread::spawn(move || {
///     // Returns once the lease is lost or the session ends.
///     let _ = done.recv();
///     eprintln!("session over: stop working under its locks");
/// });
/// let mut lock = session.mutex("locks/job");
/// lock.lock()?;
/// // … work …
/// lock.unlock()?;
/// session.close()?; // fires `done` too
/// watchdog.join().unwrap();
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug)]
pub struct Session {
    client: Client,
    lease: i64,
    keep: Option<KeepAlive>,
    liveness: Arc<Liveness>,
    done: Receiver<()>,
    /// Dropped to stop the thread.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Session {
    /// Grants a lease of [`DEFAULT_SESSION_TTL`] seconds and keeps it alive.
    pub fn new(client: &Client) -> Result<Session> {
        Session::with_ttl(client, DEFAULT_SESSION_TTL)
    }

    /// Grants a lease of `ttl` seconds and keeps it alive. The grant and
    /// the first look at the lease share one deadline, the handle's; if
    /// the second fails, the lease is revoked with one more request within
    /// the handle's timeout.
    pub fn with_ttl(client: &Client, ttl: i64) -> Result<Session> {
        if ttl <= 0 {
            return Err(Error::InvalidRequest(format!(
                "session TTL must be positive, not {ttl}"
            )));
        }
        let deadline = client.deadline();
        let lease = client.within(&deadline)?.grant(ttl)?.id();
        Session::start(client, lease, &deadline).inspect_err(|_| {
            let _ = client.revoke(lease);
        })
    }

    /// A session on an existing lease, kept alive from now on (the Go
    /// client's `WithLease`). Fails if etcd does not know the lease.
    ///
    /// With [`orphan`](Self::orphan), a process can hand its session to
    /// the next one (a restart, an upgrade) without releasing its keys:
    ///
    /// ```no_run
    /// use etcd_blocking::{concurrency::Session, Error, EtcdError, LeaseState};
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// # let saved: Option<i64> = None;
    /// // `saved`: the lease id the previous process left, if any.
    /// let session = match saved {
    ///     Some(id) => match Session::with_lease(&client, id) {
    ///         Ok(s) => s,
    ///         // Too late: its TTL ran out. Start afresh.
    ///         Err(Error::LeaseNotFound { .. }) => Session::with_ttl(&client, 30)?,
    ///         Err(e) => return Err(e),
    ///     },
    ///     None => Session::with_ttl(&client, 30)?,
    /// };
    /// if let LeaseState::Alive { ttl } = session.state() {
    ///     println!("session {:x}: {ttl} s to live", session.lease());
    /// }
    /// // … work …
    /// // On the way out: keep the lease (for its TTL) for the next process.
    /// let id = session.orphan();
    /// println!("hand lease {id:x} to the next process");
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn with_lease(client: &Client, lease: i64) -> Result<Session> {
        Session::start(client, lease, &client.deadline())
    }

    /// Keeps `lease` alive for a session on `client`, its first look at
    /// the lease within `deadline`.
    fn start(client: &Client, lease: i64, deadline: &Deadline) -> Result<Session> {
        let keep = client.within(deadline)?.keep_alive(lease)?;
        let liveness = Arc::new(Liveness::default());
        let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
        let (stop, stop_rx) = crossbeam_channel::bounded::<()>(0);
        let refreshes = keep.receiver().clone();
        let shared = liveness.clone();
        let thread = std::thread::Builder::new()
            .name("etcd-session".into())
            .spawn(move || follow(lease, &refreshes, &stop_rx, &shared, done_tx))
            .map_err(|e| Error::Io(Arc::new(e)))?;
        Ok(Session {
            client: client.clone(),
            lease,
            keep: Some(keep),
            liveness,
            done,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The session's lease id.
    pub fn lease(&self) -> i64 {
        self.lease
    }

    /// The client handle the session and its recipes call through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Alive (with the latest TTL) or lost (with the reason). Once lost,
    /// every lock and leadership of the session is gone.
    pub fn state(&self) -> LeaseState {
        match &self.keep {
            Some(k) => k.state(),
            None => LeaseState::Lost(Error::ClientClosed),
        }
    }

    /// Whether the lease is alive as far as the client knows.
    pub fn is_alive(&self) -> bool {
        self.liveness.ended().is_none() && self.keep.as_ref().is_some_and(KeepAlive::is_alive)
    }

    /// A channel that is disconnected once the session is over: its lease
    /// lost (revoked elsewhere, or not refreshed within its TTL), the
    /// session closed, orphaned or dropped, or the client closed (Go's
    /// `Session.Done()`). A lease revoked elsewhere is noticed at the
    /// keepalive's next refresh: within a third of the TTL (half a second
    /// for the shortest TTLs), plus that refresh's round trip.
    ///
    /// Nothing is ever sent on it: `recv()` blocks until then and returns
    /// `Err(RecvError)`, so it works as a `crossbeam_channel::select!` arm
    /// that fires once the session is over, and it fires for every clone.
    /// [`state`](Self::state) says why.
    pub fn done(&self) -> Receiver<()> {
        self.done.clone()
    }

    /// A [`Mutex`] under `prefix` held through this session.
    pub fn mutex(&self, prefix: impl Into<Vec<u8>>) -> Mutex {
        Mutex::new(self, prefix)
    }

    /// An [`Election`] under `prefix` campaigned in through this session.
    pub fn election(&self, prefix: impl Into<Vec<u8>>) -> Election {
        Election::new(self, prefix)
    }

    pub(super) fn liveness(&self) -> Arc<Liveness> {
        self.liveness.clone()
    }

    /// Stops keeping the lease alive without revoking it: its keys stay
    /// until the TTL runs out. Returns the lease id.
    pub fn orphan(mut self) -> i64 {
        self.stop_following();
        self.keep = None;
        self.lease
    }

    /// Stops the keepalive and revokes the lease, deleting the session's
    /// keys (so releasing its locks and leadership). Dropping the session
    /// does the same but cannot report a failure.
    pub fn close(mut self) -> Result<()> {
        self.end()
    }

    fn stop_following(&mut self) {
        self.stop = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn end(&mut self) -> Result<()> {
        self.stop_following();
        match self.keep.take() {
            Some(keep) => {
                drop(keep);
                self.liveness.end();
                // Even a handle whose token fired must not leave the lease
                // (and the keys on it) behind.
                match uncancelable(&self.client).revoke(self.lease) {
                    // Already gone: what closing wants.
                    Err(Error::LeaseNotFound { .. }) => Ok(()),
                    r => r.map(drop),
                }
            }
            None => Ok(()),
        }
    }
}

/// The session thread: reads the keepalive's results until the lease is
/// lost or the session stops it. Returning drops `done`, which fires the
/// session's [`Session::done`] channel.
fn follow(
    lease: i64,
    refreshes: &Receiver<Result<crate::KeepAliveResponse>>,
    stop: &Receiver<()>,
    liveness: &Liveness,
    done: Sender<()>,
) {
    loop {
        crossbeam_channel::select! {
            recv(refreshes) -> r => match r {
                Ok(Ok(_)) => {}
                // Every call fails with that already; the lease is not
                // known to be lost.
                Ok(Err(Error::ClientClosed)) => break,
                Ok(Err(e)) => {
                    log::debug!("session {lease:x} is over: {e}");
                    liveness.end();
                    break;
                }
                // The keepalive ended without saying why.
                Err(_) => {
                    log::debug!("session {lease:x} is over: its keepalive ended");
                    liveness.end();
                    break;
                }
            },
            // Disconnected: the session is closing.
            recv(stop) -> _ => break,
        }
    }
    drop(done);
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.keep.is_some() && !self.client.is_closed() {
            if let Err(e) = self.end() {
                log::warn!("revoking session lease {:x}: {e}", self.lease);
            }
        }
        self.stop_following();
    }
}
