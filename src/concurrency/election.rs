//! [`Election`]: Go's `concurrency.Election`, and [`Observer`], its
//! `Observe` channel.

use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::{
    CancelToken, Client, Compare, Error, EtcdError, EventType, KeyValue, Op, PutOptions,
    ResponseHeader, Result, Txn, WatchOptions, WatchResponse, Watcher,
};

use super::line::Line;
use super::{first_created, first_kv, interrupted, within, Session, POLL};
use crate::wait::Deadline;

/// Leader election through a [`Session`]: the Go client's
/// `concurrency.Election`, in its key layout, so Go processes (and
/// `etcdctl elect`) campaign in the same election. Campaigners queue as in
/// [`Mutex`](super::Mutex); the oldest key is the leader, and its value is
/// the leader's proclamation.
///
/// ```no_run
/// use std::time::Duration;
/// use etcd_blocking::concurrency::Session;
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let session = Session::new(&client)?;
/// let mut election = session.election("services/scheduler");
/// // Waits until this process leads, for as long as it takes (campaign()
/// // would stop at the session handle's deadline, 5 s by default):
/// election.campaign_within("node-a:8080", Duration::MAX)?;
/// election.proclaim("node-a:9090")?; // followers see the new value
/// election.resign()?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug)]
pub struct Election(Line);

impl Election {
    /// An election on `prefix` for `session` (keys go under `prefix/`).
    pub fn new(session: &Session, prefix: impl Into<Vec<u8>>) -> Election {
        Election(Line::new(session, prefix.into()))
    }

    /// Resumes leadership won earlier (Go's `ResumeElection`), with the
    /// key and create revision that campaign recorded: [`key`](Self::key)
    /// and [`revision`](Self::revision) of the campaigner of `session`.
    pub fn resume(
        session: &Session,
        prefix: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
        revision: i64,
    ) -> Election {
        let mut line = Line::new(session, prefix.into());
        line.key = key.into();
        line.rev = revision;
        Election(line)
    }

    /// Waits to become leader within the deadline of the session's client
    /// handle (as every blocking call of this crate, and
    /// [`Client::campaign`](crate::Client::campaign), etcd's server-side
    /// election, do; Go's `Campaign(ctx)` with that handle as `ctx`), then
    /// leads with `value`. The wait ends as a
    /// [`Mutex::lock`](super::Mutex::lock) wait does: led, or an error
    /// ([`Error::DeadlineExceeded`], canceled, client closed,
    /// [`EtcdError::SessionExpired`] if the session is over before or
    /// while waiting, a failed request). On failure the candidacy is
    /// withdrawn. To wait longer than the requests may take (or as long as
    /// it takes), see [`campaign_within`](Self::campaign_within).
    pub fn campaign(&mut self, value: impl Into<Vec<u8>>) -> Result<()> {
        let wait = self.0.client.timeout();
        self.campaign_within(value, wait)
    }

    /// Waits to become leader for at most `wait`, a bound of its own
    /// (`Duration::MAX`: as long as it takes, as Go's `Campaign` with a
    /// context that has no deadline); past it, fails with
    /// [`Error::DeadlineExceeded`] (reporting `wait`) and withdraws the
    /// candidacy. The handle's timeout still bounds each request on the
    /// way.
    ///
    /// Withdrawing is one more request after the wait, bounded by the
    /// handle's timeout (not by `wait`, which is over): with the server
    /// unreachable the call can take `wait` plus that timeout. If the
    /// request that joins the election fails with an unknown outcome
    /// ([`Error::is_outcome_unknown`]), the candidacy's key may have been
    /// created: campaigning again on this session takes it up, else it
    /// stays until the session ends.
    pub fn campaign_within(&mut self, value: impl Into<Vec<u8>>, wait: Duration) -> Result<()> {
        let value = value.into();
        let deadline = Deadline::after(wait);
        let step = within(&self.0.client, deadline)?;
        let resp = self.0.join(&step, &value)?;
        // Already a candidate (an earlier campaign of this session): keep
        // the place in the line, with the new value.
        let stale = !resp.succeeded()
            && first_kv(&resp.responses()[0]).is_some_and(|kv| kv.value() != value);
        if stale {
            // The join may have used up the wait: that fails the campaign
            // as a failed proclaim does, withdrawing the old candidacy.
            let proclaimed =
                within(&self.0.client, deadline).and_then(|step| self.proclaim_on(&step, value));
            if let Err(e) = proclaimed {
                self.0.withdraw();
                return Err(e);
            }
        }
        self.0.wait_or_withdraw(deadline)
    }

    /// Leads with a new value, without losing the lead. Fails with
    /// [`EtcdError::ElectionNotLeader`] when this campaigner does not lead,
    /// and with [`EtcdError::SessionExpired`] once the session is over.
    pub fn proclaim(&mut self, value: impl Into<Vec<u8>>) -> Result<()> {
        let client = self.0.client.clone();
        self.proclaim_on(&client, value)
    }

    /// [`proclaim`](Self::proclaim) through `client`, which bounds the
    /// request.
    fn proclaim_on(&mut self, client: &Client, value: impl Into<Vec<u8>>) -> Result<()> {
        self.0.check_session()?;
        let q = &mut self.0;
        if q.rev < 0 {
            return Err(Error::Etcd(EtcdError::ElectionNotLeader));
        }
        let put = Op::put_with(q.key.clone(), value, PutOptions::new().lease(q.lease));
        let resp = client.txn(Txn::new().when([q.still_ours()]).and_then([put]))?;
        if !resp.succeeded() {
            q.rev = -1;
            return Err(Error::Etcd(EtcdError::ElectionNotLeader));
        }
        q.header = Some(*resp.header());
        Ok(())
    }

    /// Gives up the lead (or the candidacy); the next campaigner takes
    /// over. Does nothing if this campaigner is not in the election; fails
    /// with [`EtcdError::SessionExpired`] once the session is over.
    pub fn resign(&mut self) -> Result<()> {
        self.0.check_session()?;
        let client = self.0.client.clone();
        self.0.leave(&client)
    }

    /// The current leader's key and value. Fails with
    /// [`EtcdError::ElectionNoLeader`] when nobody leads.
    pub fn leader(&self) -> Result<KeyValue> {
        self.0
            .head()?
            .ok_or(Error::Etcd(EtcdError::ElectionNoLeader))
    }

    /// Whether this campaigner leads right now, as the server sees it.
    pub fn is_leader(&self) -> Result<bool> {
        self.0.is_head()
    }

    /// The "is leader" guard for a transaction: it holds only while this
    /// campaigner's key is the one it created when it campaigned (the
    /// counterpart of [`Mutex::owner_compare`](super::Mutex::owner_compare)).
    pub fn leader_compare(&self) -> Compare {
        self.0.still_ours()
    }

    /// The campaigner's key, `<prefix>/<lease in hex>`.
    pub fn key(&self) -> &[u8] {
        &self.0.key
    }

    /// The create revision of the key while campaigning, else -1.
    pub fn revision(&self) -> i64 {
        self.0.rev
    }

    /// The header of the last response that changed the campaign.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.0.header.as_ref()
    }

    /// Follows the election's leadership (Go's `Election.Observe`): the
    /// current leader first (once there is one), then every change, in
    /// order: a new leader, and each value a leader proclaims. Between two
    /// leaders nothing is reported. When a leader goes, the next one is
    /// read as it was at that revision and followed from there, so every
    /// value it proclaims is seen (Go's reads it as it is later, and may
    /// skip values proclaimed meanwhile); only if that revision has been
    /// compacted away by then is the next leader read as it is now.
    ///
    /// The observation runs on a thread of its own (`etcd-observe`) and
    /// resumes after a reconnect from the revision after the last change
    /// delivered, so no change is lost or repeated. It ends when the
    /// [`Observer`] is dropped, when this handle's cancel token fires or
    /// the client closes (the last item is then [`Error::Canceled`] or
    /// [`Error::ClientClosed`]), or on an error that retrying cannot cure.
    /// Any session may observe, campaigning or not; the session being
    /// over does not end the observation. A cancel is seen within a few
    /// tens of milliseconds while waiting for a change; a read in flight
    /// (after a leader goes) finishes first, within the handle's deadline.
    pub fn observe(&self) -> Result<Observer> {
        Observer::start(self.0.client.clone(), self.0.prefix.clone())
    }
}

/// One leadership change seen by an [`Observer`]: who leads, with which
/// value, since which revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderEvent {
    header: ResponseHeader,
    kv: KeyValue,
}

impl LeaderEvent {
    /// The header of the read or watch response that reported it.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The leader's key and value.
    pub fn kv(&self) -> &KeyValue {
        &self.kv
    }
    /// The leader's key, `<prefix>/<lease in hex>`.
    pub fn key(&self) -> &[u8] {
        self.kv.key()
    }
    /// The leader's value (its latest proclamation).
    pub fn value(&self) -> &[u8] {
        self.kv.value()
    }
    /// The revision of this change: when the leader's key took this value.
    pub fn revision(&self) -> i64 {
        self.kv.mod_revision()
    }
    /// The revision at which the leader joined the election (its
    /// campaign's create revision).
    pub fn leader_revision(&self) -> i64 {
        self.kv.create_revision()
    }
}

/// The leadership changes of an election, from [`Election::observe`]. Read
/// it as a [`Watcher`](crate::Watcher): [`recv`](Self::recv),
/// [`try_recv`](Self::try_recv), [`recv_timeout`](Self::recv_timeout),
/// [`iter`](Self::iter), or [`receiver`](Self::receiver) in a
/// `crossbeam_channel::select!`. Dropping it (or [`close`](Self::close))
/// stops the observation and joins its thread.
///
/// ```no_run
/// use etcd_blocking::concurrency::Session;
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let session = Session::new(&client)?;
/// let observer = session.election("services/scheduler").observe()?;
/// for change in observer.iter() {
///     let change = change?;
///     println!("leader {} since {}", change.kv().value_str()?, change.revision());
/// }
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
pub struct Observer {
    rx: Receiver<Result<LeaderEvent>>,
    /// Cancels the thread's calls in flight when the observer goes.
    stop: CancelToken,
    thread: Option<JoinHandle<()>>,
}

/// How many changes wait for the reader before the thread waits too.
const OBSERVE_BUFFER: usize = 64;
/// Pause before reading again after a failure that may heal.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

impl Observer {
    fn start(client: Client, prefix: Vec<u8>) -> Result<Observer> {
        let (tx, rx) = crossbeam_channel::bounded(OBSERVE_BUFFER);
        let stop = CancelToken::new();
        let follow = Follow {
            calls: client.with_cancel(&stop),
            user: client,
            prefix,
            tx,
            stop: stop.clone(),
            last: None,
        };
        let thread = std::thread::Builder::new()
            .name("etcd-observe".into())
            .spawn(move || follow.run())
            .map_err(|e| Error::Io(std::sync::Arc::new(e)))?;
        Ok(Observer {
            rx,
            stop,
            thread: Some(thread),
        })
    }

    /// Blocks until the next change or the end of the observation.
    pub fn recv(&self) -> Result<LeaderEvent> {
        self.rx.recv().unwrap_or_else(|_| Err(ended()))
    }

    /// The next change if one is waiting (`Ok(None)` if not).
    pub fn try_recv(&self) -> Result<Option<LeaderEvent>> {
        match self.rx.try_recv() {
            Ok(r) => r.map(Some),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(ended()),
        }
    }

    /// Like [`recv`](Self::recv), but gives up after `timeout` with
    /// `Ok(None)`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<LeaderEvent>> {
        match self.rx.recv_timeout(timeout) {
            Ok(r) => r.map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(ended()),
        }
    }

    /// A blocking iterator over the changes; it yields the error that
    /// ends the observation, then stops.
    pub fn iter(&self) -> impl Iterator<Item = Result<LeaderEvent>> + '_ {
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let r = self.recv();
            done = r.is_err();
            Some(r)
        })
    }

    /// The channel behind this observer, for `crossbeam_channel::select!`.
    /// It disconnects when the observation ends.
    pub fn receiver(&self) -> &Receiver<Result<LeaderEvent>> {
        &self.rx
    }

    /// Stops the observation (the same as dropping the observer).
    pub fn close(self) {}
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer").finish_non_exhaustive()
    }
}

fn ended() -> Error {
    Error::WatchCanceled {
        reason: "the observation has ended".into(),
    }
}

/// The observer thread's state.
struct Follow {
    /// The election's handle: its cancel token and closing end the
    /// observation.
    user: Client,
    /// The same handle, canceled by the observer's drop instead.
    calls: Client,
    prefix: Vec<u8>,
    tx: Sender<Result<LeaderEvent>>,
    stop: CancelToken,
    /// The last change delivered: key and mod revision.
    last: Option<(Vec<u8>, i64)>,
}

/// A step of the thread: its result, unless the thread must stop.
type Step<T> = std::result::Result<Result<T>, Stop>;

/// Why the thread stops.
enum Stop {
    /// The observer is gone: nobody to tell.
    Dropped,
    /// Tell the reader, then stop.
    Error(Error),
}

impl Follow {
    fn run(mut self) {
        if let Err(Stop::Error(e)) = self.follow() {
            log::debug!("observing {:?} ended: {e}", self.prefix);
            let _ = self.tx.try_send(Err(e));
        }
    }

    /// Whether to stop now, and why.
    fn interrupted(&self) -> std::result::Result<(), Stop> {
        if self.stop.is_canceled() {
            return Err(Stop::Dropped);
        }
        match interrupted(&self.user) {
            Some(e) => Err(Stop::Error(e)),
            None => Ok(()),
        }
    }

    /// An error from a call: pause and go on if it may heal, else stop.
    fn failed(&self, e: Error) -> std::result::Result<(), Stop> {
        self.interrupted()?;
        if e.is_retryable() || matches!(e, Error::Compacted { .. }) {
            log::debug!("observing {:?}: {e}; reading again", self.prefix);
            self.pause(RETRY_PAUSE)
        } else {
            Err(Stop::Error(e))
        }
    }

    fn pause(&self, d: Duration) -> std::result::Result<(), Stop> {
        let until = std::time::Instant::now() + d;
        while std::time::Instant::now() < until {
            self.interrupted()?;
            std::thread::sleep(POLL.min(d));
        }
        Ok(())
    }

    /// Hands a change to the reader, waiting while the buffer is full.
    fn deliver(&mut self, header: ResponseHeader, kv: KeyValue) -> std::result::Result<(), Stop> {
        let seen = (kv.key().to_vec(), kv.mod_revision());
        if self.last.as_ref() == Some(&seen) {
            return Ok(());
        }
        let mut item = Ok(LeaderEvent { header, kv });
        loop {
            self.interrupted()?;
            match self.tx.send_timeout(item, POLL) {
                Ok(()) => break,
                Err(crossbeam_channel::SendTimeoutError::Timeout(back)) => item = back,
                Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => {
                    return Err(Stop::Dropped)
                }
            }
        }
        self.last = Some(seen);
        Ok(())
    }

    /// Go's `observe` loop: read the leader (or wait for the first key),
    /// report it, follow its key until it is deleted, start over. Unlike
    /// Go's, the read after a leader's key is deleted is made at the
    /// deletion's revision: the next leader is seen with the value it had
    /// then, and its later proclamations through the watch, so none is
    /// skipped (unless that revision is compacted away meanwhile; then the
    /// read is of the present).
    fn follow(&mut self) -> std::result::Result<(), Stop> {
        let mut at: Option<i64> = None;
        loop {
            self.interrupted()?;
            let mut opts = first_created();
            if let Some(rev) = at {
                opts = opts.revision(rev);
            }
            let resp = match self.calls.get_with(self.prefix.clone(), opts) {
                Ok(r) => r,
                Err(Error::Compacted { .. }) if at.is_some() => {
                    at = None;
                    continue;
                }
                Err(e) => {
                    self.failed(e)?;
                    continue;
                }
            };
            let header = *resp.header();
            // A read in the past answers with the present's header: the
            // wait for a first key starts after the revision read.
            let read_at = at.unwrap_or(header.revision());
            let (header, leader) = match resp.into_kvs().into_iter().next() {
                Some(kv) => (header, kv),
                None => match self.first_put(read_at + 1)? {
                    Some(found) => found,
                    None => {
                        at = None;
                        continue;
                    }
                },
            };
            let from = leader.mod_revision() + 1;
            let key = leader.key().to_vec();
            self.deliver(header, leader)?;
            at = self.follow_key(&key, from)?;
        }
    }

    /// Waits for the first key put under the prefix from revision `rev`:
    /// the first leader. `None` if the watch failed in a way worth a new
    /// read.
    fn first_put(
        &mut self,
        rev: i64,
    ) -> std::result::Result<Option<(ResponseHeader, KeyValue)>, Stop> {
        let opts = WatchOptions::new().prefix().no_delete().start_revision(rev);
        let w = match self.calls.watch_with(self.prefix.clone(), opts) {
            Ok(w) => w,
            Err(e) => return self.failed(e).map(|_| None),
        };
        loop {
            match self.next(&w)? {
                Ok(Some(r)) => {
                    let header = *r.header();
                    if let Some(e) = r.into_events().into_iter().next() {
                        return Ok(Some((header, e.kv().clone())));
                    }
                }
                Ok(None) => {}
                Err(e) => return self.failed(e).map(|_| None),
            }
        }
    }

    /// Reports every value the leader's key takes from revision `from` on,
    /// until it is deleted: then the revision of the deletion. `None` if
    /// the watch failed (then the leader is read again, as it is now).
    fn follow_key(&mut self, key: &[u8], from: i64) -> std::result::Result<Option<i64>, Stop> {
        let opts = WatchOptions::new().start_revision(from);
        let w = match self.calls.watch_with(key.to_vec(), opts) {
            Ok(w) => w,
            Err(e) => return self.failed(e).map(|_| None),
        };
        loop {
            match self.next(&w)? {
                Ok(Some(r)) => {
                    let header = *r.header();
                    for e in r.into_events() {
                        if e.event_type() == EventType::Delete {
                            return Ok(Some(e.kv().mod_revision()));
                        }
                        self.deliver(header, e.kv().clone())?;
                    }
                }
                Ok(None) => {}
                Err(e) => return self.failed(e).map(|_| None),
            }
        }
    }

    /// The watch's next response within a short slice, so that a cancel,
    /// a close or the observer's drop is seen promptly.
    fn next(&self, w: &Watcher) -> Step<Option<WatchResponse>> {
        self.interrupted()?;
        Ok(w.recv_timeout(POLL))
    }
}
