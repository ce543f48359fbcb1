//! Client-side concurrency recipes over plain KV, Txn, Watch and Lease
//! calls, the counterpart of the Go client's `concurrency` package:
//! [`Session`] (a lease kept alive for as long as the session lives),
//! [`Mutex`] (a fair distributed lock) and [`Election`] (leader election).
//!
//! They use the Go package's key layout (`<prefix>/<lease id in hex>`) and
//! its algorithm, so a Rust and a Go process can share one lock or one
//! election. (etcd's own Lock and Election services, which do the same on
//! the server, are [`Client::lock`] and [`Client::campaign`].)
//!
//! Waiting: [`Mutex::lock`] and [`Election::campaign`] wait for the
//! holders before them within the deadline of the recipe's client handle
//! (the session's unless changed with `with_timeout`), and stop at once
//! when that handle's [`CancelToken`](crate::CancelToken) fires or the
//! client closes. A wait that does not succeed withdraws its key, so it
//! never holds up the queue behind it.

use std::time::{Duration, Instant};

use crate::client::Client;
use crate::error::{Error, EtcdError, Result};
use crate::kv::{GetOptions, PutOptions, SortOrder, SortTarget};
use crate::lease::KeepAlive;
use crate::pump::lease::LeaseState;
use crate::pump::watch::EventType;
use crate::txn::{Compare, CompareOp, Op, OpResponse, Txn, TxnResponse};
use crate::types::{KeyValue, ResponseHeader};
use crate::watch::WatchOptions;

/// Default TTL of a [`Session`]'s lease, in seconds, as in the Go client.
pub const DEFAULT_SESSION_TTL: i64 = 60;

/// A lease kept alive in the background for as long as the session lives:
/// the liveness that [`Mutex`] and [`Election`] keys hang on. If the
/// process dies, the lease runs out after its TTL and every key attached
/// to it is deleted, which releases locks and leadership.
///
/// Dropping the session (or [`close`](Self::close)) stops the keepalive
/// and revokes the lease, releasing everything at once.
/// [`orphan`](Self::orphan) stops the keepalive but leaves the lease to
/// run out on its own.
#[derive(Debug)]
pub struct Session {
    client: Client,
    lease: i64,
    keep: Option<KeepAlive>,
}

impl Session {
    /// Grants a lease of [`DEFAULT_SESSION_TTL`] seconds and keeps it alive.
    pub fn new(client: &Client) -> Result<Session> {
        Session::with_ttl(client, DEFAULT_SESSION_TTL)
    }

    /// Grants a lease of `ttl` seconds and keeps it alive.
    pub fn with_ttl(client: &Client, ttl: i64) -> Result<Session> {
        if ttl <= 0 {
            return Err(Error::InvalidRequest(format!(
                "session TTL must be positive, not {ttl}"
            )));
        }
        let lease = client.grant(ttl)?.id();
        Session::with_lease(client, lease).inspect_err(|_| {
            let _ = client.revoke(lease);
        })
    }

    /// A session on an existing lease, kept alive from now on (the Go
    /// client's `WithLease`). Fails if etcd does not know the lease.
    pub fn with_lease(client: &Client, lease: i64) -> Result<Session> {
        let keep = client.keep_alive(lease)?;
        Ok(Session {
            client: client.clone(),
            lease,
            keep: Some(keep),
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
        self.keep.as_ref().is_some_and(KeepAlive::is_alive)
    }

    /// A [`Mutex`] under `prefix` held through this session.
    pub fn mutex(&self, prefix: impl Into<Vec<u8>>) -> Mutex {
        Mutex::new(self, prefix)
    }

    /// An [`Election`] under `prefix` campaigned in through this session.
    pub fn election(&self, prefix: impl Into<Vec<u8>>) -> Election {
        Election::new(self, prefix)
    }

    /// Stops keeping the lease alive without revoking it: its keys stay
    /// until the TTL runs out. Returns the lease id.
    pub fn orphan(mut self) -> i64 {
        self.keep = None;
        self.lease
    }

    /// Stops the keepalive and revokes the lease, deleting the session's
    /// keys (so releasing its locks and leadership). Dropping the session
    /// does the same but cannot report a failure.
    pub fn close(mut self) -> Result<()> {
        self.end()
    }

    fn end(&mut self) -> Result<()> {
        match self.keep.take() {
            Some(keep) => {
                drop(keep);
                // Even a handle whose token fired must not leave the lease
                // (and the keys on it) behind.
                match self.client.uncancelable().revoke(self.lease) {
                    // Already gone: what closing wants.
                    Err(Error::Etcd(EtcdError::LeaseNotFound)) => Ok(()),
                    r => r.map(drop),
                }
            }
            None => Ok(()),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.keep.is_some() && !self.client.is_closed() {
            if let Err(e) = self.end() {
                log::warn!("revoking session lease {:x}: {e}", self.lease);
            }
        }
    }
}

/// Reads the oldest key under a prefix: the holder of a lock, the leader.
fn first_created() -> GetOptions {
    GetOptions::new()
        .prefix()
        .sort(SortTarget::Create, SortOrder::Ascend)
        .limit(1)
}

fn first_kv(r: &OpResponse) -> Option<&KeyValue> {
    match r {
        OpResponse::Get(g) => g.kvs().first(),
        _ => None,
    }
}

/// The handle for one step of a multi-step wait: the time left of the
/// whole wait, or a deadline error.
fn within(client: &Client, deadline: Instant) -> Result<Client> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Error::DeadlineExceeded(client.timeout()));
    }
    Ok(client.with_timeout(left))
}

/// One session's place in the line under a prefix, which [`Mutex`] and
/// [`Election`] share: the key `<prefix>/<lease in hex>` (the Go client's
/// layout, so both clients queue in one line), created on the session's
/// lease. The oldest key is at the head of the line.
#[derive(Debug)]
struct Queue {
    client: Client,
    lease: i64,
    /// With its trailing `/`.
    prefix: Vec<u8>,
    key: Vec<u8>,
    /// Create revision of our key while in the line, else -1.
    rev: i64,
    header: Option<ResponseHeader>,
}

impl Queue {
    fn new(session: &Session, prefix: Vec<u8>) -> Queue {
        let mut prefix = prefix;
        prefix.push(b'/');
        let mut key = prefix.clone();
        key.extend_from_slice(format!("{:x}", session.lease).as_bytes());
        Queue {
            client: session.client.clone(),
            lease: session.lease,
            prefix,
            key,
            rev: -1,
            header: None,
        }
    }

    /// Joins the line with `value` unless already in it. The response's
    /// first result is our existing key when the transaction did not
    /// succeed; its second, the head of the line.
    fn join(&mut self, value: &[u8]) -> Result<TxnResponse> {
        let head = Op::get_with(self.prefix.clone(), first_created());
        let resp = self.client.txn(
            Txn::new()
                .when([Compare::create_revision(
                    self.key.clone(),
                    CompareOp::Equal,
                    0,
                )])
                .and_then([
                    Op::put_with(
                        self.key.clone(),
                        value.to_vec(),
                        PutOptions::new().lease(self.lease),
                    ),
                    head.clone(),
                ])
                .or_else([Op::get(self.key.clone()), head]),
        )?;
        self.rev = if resp.succeeded() {
            resp.header().revision()
        } else {
            first_kv(&resp.responses()[0])
                .map(KeyValue::create_revision)
                .ok_or_else(|| Error::InvalidRequest("queue key vanished while joining".into()))?
        };
        self.header = Some(*resp.header());
        Ok(resp)
    }

    /// Whether the head of the line in a [`join`](Self::join) response is us.
    fn at_head(&self, resp: &TxnResponse) -> bool {
        first_kv(&resp.responses()[1]).is_none_or(|kv| kv.create_revision() == self.rev)
    }

    /// Waits until every key ahead of ours is deleted, newest first. Each
    /// is awaited with a watch from the revision it was read at, so a
    /// deletion between the read and the watch is not missed. Then our key
    /// must still be there: else the session's lease ended meanwhile.
    fn wait_turn(&mut self, deadline: Instant) -> Result<()> {
        let newest_ahead = GetOptions::new()
            .prefix()
            .sort(SortTarget::Create, SortOrder::Descend)
            .max_create_revision(self.rev - 1)
            .limit(1);
        loop {
            let step = within(&self.client, deadline)?;
            let resp = step.get_with(self.prefix.clone(), newest_ahead.clone())?;
            let Some(kv) = resp.kvs().first() else {
                break;
            };
            self.wait_delete(kv.key(), resp.header().revision(), deadline)?;
        }
        let r = within(&self.client, deadline)?.get(self.key.clone())?;
        if r.kvs().is_empty() {
            return Err(Error::Etcd(EtcdError::SessionExpired));
        }
        self.header = Some(*r.header());
        Ok(())
    }

    /// Waits for `key` to be deleted, watching from revision `rev`.
    fn wait_delete(&self, key: &[u8], rev: i64, deadline: Instant) -> Result<()> {
        let w = within(&self.client, deadline)?.watch_with(
            key.to_vec(),
            WatchOptions::new().start_revision(rev).no_put(),
        )?;
        loop {
            if let Some(e) = self.client.interrupted() {
                return Err(e);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::DeadlineExceeded(self.client.timeout()));
            }
            // Short slices, so a cancel or close is seen promptly.
            let slice = left.min(crate::wait::CLOSE_POLL);
            if let Some(r) = w.recv_timeout(slice)? {
                if r.events()
                    .iter()
                    .any(|e| e.event_type() == EventType::Delete)
                {
                    return Ok(());
                }
            }
        }
    }

    /// Leaves the line if our key is still the one we created. `client`
    /// decides whether a cancel token applies.
    fn leave(&mut self, client: &Client) -> Result<()> {
        if self.rev < 0 {
            return Ok(());
        }
        let resp = client.txn(
            Txn::new()
                .when([self.still_ours()])
                .and_then([Op::delete(self.key.clone())]),
        )?;
        self.header = Some(*resp.header());
        self.rev = -1;
        Ok(())
    }

    /// Leaves the line after a failed wait, even if the failure was a
    /// cancel: a stale key would hold up everyone queued behind it.
    fn withdraw(&mut self) {
        let client = self.client.uncancelable();
        if let Err(e) = self.leave(&client) {
            log::warn!("leaving the line under {:?}: {e}", self.prefix);
        }
    }

    /// Runs `wait_turn` and withdraws if it fails.
    fn wait_or_withdraw(&mut self, deadline: Instant) -> Result<()> {
        self.wait_turn(deadline).inspect_err(|_| self.withdraw())
    }

    /// Our key, as long as it is the one we created.
    fn still_ours(&self) -> Compare {
        Compare::create_revision(self.key.clone(), CompareOp::Equal, self.rev)
    }

    /// The head of the line, if any.
    fn head(&self) -> Result<Option<KeyValue>> {
        let r = self.client.get_with(self.prefix.clone(), first_created())?;
        Ok(r.into_kvs().into_iter().next())
    }

    fn is_head(&self) -> Result<bool> {
        Ok(self.head()?.is_some_and(|kv| kv.key() == self.key))
    }
}

/// A fair distributed lock (first come, first served) held through a
/// [`Session`]: the Go client's `concurrency.Mutex`.
///
/// Each contender creates `<prefix>/<lease>` on its session's lease; the
/// oldest key holds the lock, the others each wait for the key just ahead
/// of theirs to go. If the holder's process dies, its lease runs out and
/// the next in line gets the lock. A `Mutex` is one contender: lock it
/// from one thread at a time.
#[derive(Debug)]
pub struct Mutex(Queue);

impl Mutex {
    /// A lock on `prefix` for `session` (keys go under `prefix/`).
    pub fn new(session: &Session, prefix: impl Into<Vec<u8>>) -> Mutex {
        Mutex(Queue::new(session, prefix.into()))
    }

    /// The same contender with another deadline for [`lock`](Self::lock)
    /// (and every other call it makes).
    pub fn with_timeout(mut self, timeout: Duration) -> Mutex {
        self.0.client = self.0.client.with_timeout(timeout);
        self
    }

    /// Waits for the lock, within the handle's deadline. On failure (the
    /// deadline, a cancel, an error) the place in the queue is given up.
    /// Fails with [`EtcdError::SessionExpired`] if the session's lease ended
    /// while waiting.
    pub fn lock(&mut self) -> Result<()> {
        let deadline = Instant::now() + self.0.client.timeout();
        let resp = self.0.join(b"")?;
        if self.0.at_head(&resp) {
            return Ok(());
        }
        self.0.wait_or_withdraw(deadline)
    }

    /// Takes the lock if it is free, else fails at once with
    /// [`Error::Locked`] (and leaves no key behind).
    pub fn try_lock(&mut self) -> Result<()> {
        let resp = self.0.join(b"")?;
        if self.0.at_head(&resp) {
            return Ok(());
        }
        // Leave the line only if we joined it here: a key that existed
        // before belongs to a `lock` of this session still under way.
        if resp.succeeded() {
            let client = self.0.client.clone();
            self.0.leave(&client)?;
        }
        Err(Error::Locked)
    }

    /// Releases the lock (or the place in the queue): deletes the key.
    pub fn unlock(&mut self) -> Result<()> {
        self.0.client.delete(self.0.key.clone())?;
        self.0.rev = -1;
        self.0.header = None;
        Ok(())
    }

    /// Whether this contender holds the lock right now, as the server
    /// sees it (one read).
    pub fn is_owner(&self) -> Result<bool> {
        self.0.is_head()
    }

    /// The contender's key, `<prefix>/<lease in hex>`; a transaction can
    /// compare its create revision to act only while holding the lock.
    pub fn key(&self) -> &[u8] {
        &self.0.key
    }

    /// The create revision of the key while locked (or queued), else -1.
    pub fn revision(&self) -> i64 {
        self.0.rev
    }

    /// The header of the response that granted the lock.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.0.header.as_ref()
    }
}

/// Leader election through a [`Session`]: the Go client's
/// `concurrency.Election`. Campaigners queue as in [`Mutex`]; the oldest
/// key is the leader, and its value is the leader's proclamation.
#[derive(Debug)]
pub struct Election(Queue);

impl Election {
    /// An election on `prefix` for `session` (keys go under `prefix/`).
    pub fn new(session: &Session, prefix: impl Into<Vec<u8>>) -> Election {
        Election(Queue::new(session, prefix.into()))
    }

    /// The same campaigner with another deadline for
    /// [`campaign`](Self::campaign) (and every other call it makes).
    pub fn with_timeout(mut self, timeout: Duration) -> Election {
        self.0.client = self.0.client.with_timeout(timeout);
        self
    }

    /// Waits to become leader, within the handle's deadline, then leads
    /// with `value`. On failure the candidacy is withdrawn. Fails with
    /// [`EtcdError::SessionExpired`] if the session's lease ended while
    /// waiting.
    pub fn campaign(&mut self, value: impl Into<Vec<u8>>) -> Result<()> {
        let value = value.into();
        let deadline = Instant::now() + self.0.client.timeout();
        let resp = self.0.join(&value)?;
        // Already a candidate (an earlier campaign of this session): keep
        // the place in the line, with the new value.
        let stale = !resp.succeeded()
            && first_kv(&resp.responses()[0]).is_some_and(|kv| kv.value() != value);
        if stale {
            if let Err(e) = self.proclaim(value) {
                self.0.withdraw();
                return Err(e);
            }
        }
        self.0.wait_or_withdraw(deadline)
    }

    /// Leads with a new value, without losing the lead. Fails with
    /// [`EtcdError::ElectionNotLeader`] when this campaigner does not lead.
    pub fn proclaim(&mut self, value: impl Into<Vec<u8>>) -> Result<()> {
        let q = &mut self.0;
        if q.rev < 0 {
            return Err(Error::Etcd(EtcdError::ElectionNotLeader));
        }
        let put = Op::put_with(q.key.clone(), value, PutOptions::new().lease(q.lease));
        let resp = q
            .client
            .txn(Txn::new().when([q.still_ours()]).and_then([put]))?;
        if !resp.succeeded() {
            q.rev = -1;
            return Err(Error::Etcd(EtcdError::ElectionNotLeader));
        }
        q.header = Some(*resp.header());
        Ok(())
    }

    /// Gives up the lead (or the candidacy); the next campaigner takes
    /// over. Does nothing if this campaigner is not in the election.
    pub fn resign(&mut self) -> Result<()> {
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
}
