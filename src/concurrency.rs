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
use crate::kv::{GetOptions, KeyValue, PutOptions, ResponseHeader, SortOrder, SortTarget};
use crate::lease::{KeepAlive, LeaseState};
use crate::txn::{Compare, CompareOp, Op, OpResponse, Txn, TxnResponse};
use crate::watch::{EventType, WatchOptions};

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

/// The key a session holds under a recipe's prefix, in the Go client's
/// layout so that both clients queue in one line.
fn session_key(prefix: &[u8], lease: i64) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(format!("{lease:x}").as_bytes());
    key
}

/// `prefix` with the trailing `/` the layout puts between it and the keys.
fn with_slash(prefix: Vec<u8>) -> Vec<u8> {
    let mut p = prefix;
    p.push(b'/');
    p
}

/// Reads the oldest key under `prefix`: the holder of a lock, the leader.
fn first_created() -> GetOptions {
    GetOptions::new()
        .prefix()
        .sort(SortTarget::Create, SortOrder::Ascend)
        .limit(1)
}

/// Creates `key` with `value` on `lease` unless it exists. Returns the
/// transaction response (whose second result is the oldest key under
/// `prefix`) and the key's create revision.
fn enqueue(
    client: &Client,
    prefix: &[u8],
    key: &[u8],
    value: &[u8],
    lease: i64,
) -> Result<(TxnResponse, i64)> {
    let owner = Op::get_with(prefix.to_vec(), first_created());
    let resp = client.txn(
        Txn::new()
            .when([Compare::create_revision(key.to_vec(), CompareOp::Equal, 0)])
            .and_then([
                Op::put_with(key.to_vec(), value.to_vec(), PutOptions::new().lease(lease)),
                owner.clone(),
            ])
            .or_else([Op::get(key.to_vec()), owner]),
    )?;
    let rev = if resp.succeeded() {
        resp.header().revision()
    } else {
        first_kv(&resp.responses()[0])
            .map(KeyValue::create_revision)
            .ok_or_else(|| Error::InvalidRequest("queue key vanished during enqueue".into()))?
    };
    Ok((resp, rev))
}

fn first_kv(r: &OpResponse) -> Option<&KeyValue> {
    match r {
        OpResponse::Get(g) => g.kvs().first(),
        _ => None,
    }
}

/// Waits until every key under `prefix` created at or before
/// `max_create_rev` is deleted: the waiters ahead in the queue, oldest
/// last. Each is awaited with a watch from the revision it was read at, so
/// a deletion between the read and the watch is not missed.
fn wait_deletes(
    client: &Client,
    prefix: &[u8],
    max_create_rev: i64,
    deadline: Instant,
) -> Result<ResponseHeader> {
    let newest_before = GetOptions::new()
        .prefix()
        .sort(SortTarget::Create, SortOrder::Descend)
        .max_create_revision(max_create_rev)
        .limit(1);
    loop {
        let resp = within(client, deadline)?.get_with(prefix.to_vec(), newest_before.clone())?;
        let Some(kv) = resp.kvs().first() else {
            return Ok(*resp.header());
        };
        wait_delete(client, kv.key(), resp.header().revision(), deadline)?;
    }
}

/// Waits for `key` to be deleted, watching from revision `rev`.
fn wait_delete(client: &Client, key: &[u8], rev: i64, deadline: Instant) -> Result<()> {
    let w = within(client, deadline)?.watch_with(
        key.to_vec(),
        WatchOptions::new().start_revision(rev).no_put(),
    )?;
    loop {
        if let Some(e) = client.interrupted() {
            return Err(e);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::DeadlineExceeded(client.timeout()));
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

/// The handle for one step of a multi-step wait: the time left of the
/// whole wait, or a deadline error.
fn within(client: &Client, deadline: Instant) -> Result<Client> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Error::DeadlineExceeded(client.timeout()));
    }
    Ok(client.with_timeout(left))
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
pub struct Mutex {
    client: Client,
    lease: i64,
    prefix: Vec<u8>,
    key: Vec<u8>,
    rev: i64,
    header: Option<ResponseHeader>,
}

impl Mutex {
    /// A lock on `prefix` for `session` (keys go under `prefix/`).
    pub fn new(session: &Session, prefix: impl Into<Vec<u8>>) -> Mutex {
        let prefix = with_slash(prefix.into());
        Mutex {
            client: session.client.clone(),
            lease: session.lease,
            key: session_key(&prefix, session.lease),
            prefix,
            rev: -1,
            header: None,
        }
    }

    /// The same contender with another deadline for [`lock`](Self::lock)
    /// (and every other call it makes).
    pub fn with_timeout(mut self, timeout: Duration) -> Mutex {
        self.client = self.client.with_timeout(timeout);
        self
    }

    /// Waits for the lock, within the handle's deadline. On failure (the
    /// deadline, a cancel, an error) the place in the queue is given up.
    /// Fails with [`EtcdError::SessionExpired`] if the session's lease ended
    /// while waiting.
    pub fn lock(&mut self) -> Result<()> {
        let deadline = Instant::now() + self.client.timeout();
        let (resp, rev) = enqueue(&self.client, &self.prefix, &self.key, b"", self.lease)?;
        self.rev = rev;
        if self.holds(&resp) {
            self.header = Some(*resp.header());
            return Ok(());
        }
        match wait_deletes(&self.client, &self.prefix, rev - 1, deadline)
            .and_then(|h| self.still_queued(deadline).map(|()| h))
        {
            Ok(h) => {
                self.header = Some(h);
                Ok(())
            }
            Err(e) => {
                self.withdraw();
                Err(e)
            }
        }
    }

    /// Takes the lock if it is free, else fails at once with
    /// [`Error::Locked`] (and leaves no key behind).
    pub fn try_lock(&mut self) -> Result<()> {
        let (resp, rev) = enqueue(&self.client, &self.prefix, &self.key, b"", self.lease)?;
        self.rev = rev;
        if self.holds(&resp) {
            self.header = Some(*resp.header());
            return Ok(());
        }
        // Leave the queue only if we joined it here: a key that existed
        // before belongs to a lock() of this session still under way.
        if resp.succeeded() {
            self.unlock()?;
        }
        Err(Error::Locked)
    }

    /// Whether the oldest key (the holder) in `resp` is ours.
    fn holds(&self, resp: &TxnResponse) -> bool {
        first_kv(&resp.responses()[1]).is_none_or(|kv| kv.create_revision() == self.rev)
    }

    /// After the wait: our key must still be there, else the session's
    /// lease ended while we waited and the lock is not ours.
    fn still_queued(&self, deadline: Instant) -> Result<()> {
        let r = within(&self.client, deadline)?.get(self.key.clone())?;
        if r.kvs().is_empty() {
            return Err(Error::Etcd(EtcdError::SessionExpired));
        }
        Ok(())
    }

    /// Leaves the queue after a failed wait, even if the failure was a
    /// cancel: a stale key would hold up everyone queued behind it.
    fn withdraw(&mut self) {
        let uncancelable = self.client.uncancelable();
        match uncancelable.delete(self.key.clone()) {
            Ok(_) => {
                self.rev = -1;
                self.header = None;
            }
            Err(e) => log::warn!("withdrawing from lock {:?}: {e}", self.prefix),
        }
    }

    /// Releases the lock (or the place in the queue): deletes the key.
    pub fn unlock(&mut self) -> Result<()> {
        self.client.delete(self.key.clone())?;
        self.rev = -1;
        self.header = None;
        Ok(())
    }

    /// Whether this contender holds the lock right now, as the server
    /// sees it (one read).
    pub fn is_owner(&self) -> Result<bool> {
        let r = self.client.get_with(self.prefix.clone(), first_created())?;
        Ok(r.kvs().first().is_some_and(|kv| kv.key() == self.key))
    }

    /// The contender's key, `<prefix>/<lease in hex>`; a transaction can
    /// compare its create revision to act only while holding the lock.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The create revision of the key while locked (or queued), else -1.
    pub fn revision(&self) -> i64 {
        self.rev
    }

    /// The header of the response that granted the lock.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }
}

/// Leader election through a [`Session`]: the Go client's
/// `concurrency.Election`. Campaigners queue as in [`Mutex`]; the oldest
/// key is the leader, and its value is the leader's proclamation.
#[derive(Debug)]
pub struct Election {
    client: Client,
    lease: i64,
    prefix: Vec<u8>,
    key: Vec<u8>,
    /// Create revision of our key while we lead, else -1.
    rev: i64,
    header: Option<ResponseHeader>,
}

impl Election {
    /// An election on `prefix` for `session` (keys go under `prefix/`).
    pub fn new(session: &Session, prefix: impl Into<Vec<u8>>) -> Election {
        let prefix = with_slash(prefix.into());
        Election {
            client: session.client.clone(),
            lease: session.lease,
            key: session_key(&prefix, session.lease),
            prefix,
            rev: -1,
            header: None,
        }
    }

    /// The same campaigner with another deadline for
    /// [`campaign`](Self::campaign) (and every other call it makes).
    pub fn with_timeout(mut self, timeout: Duration) -> Election {
        self.client = self.client.with_timeout(timeout);
        self
    }

    /// Waits to become leader, within the handle's deadline, then leads
    /// with `value`. On failure the candidacy is withdrawn. Fails with
    /// [`EtcdError::SessionExpired`] if the session's lease ended while
    /// waiting.
    pub fn campaign(&mut self, value: impl Into<Vec<u8>>) -> Result<()> {
        let value = value.into();
        let deadline = Instant::now() + self.client.timeout();
        let (resp, rev) = enqueue(&self.client, &self.prefix, &self.key, &value, self.lease)?;
        self.rev = rev;
        self.header = Some(*resp.header());
        if !resp.succeeded() {
            // Already a candidate (an earlier campaign of this session):
            // keep the place in the queue, with the new value.
            let stale = first_kv(&resp.responses()[0]).is_some_and(|kv| kv.value() != value);
            if stale {
                if let Err(e) = self.proclaim(value.clone()) {
                    self.withdraw();
                    return Err(e);
                }
            }
        }
        let waited = wait_deletes(&self.client, &self.prefix, rev - 1, deadline).and_then(|h| {
            let r = within(&self.client, deadline)?.get(self.key.clone())?;
            if r.kvs().is_empty() {
                Err(Error::Etcd(EtcdError::SessionExpired))
            } else {
                Ok(h)
            }
        });
        match waited {
            Ok(h) => {
                self.header = Some(h);
                Ok(())
            }
            Err(e) => {
                self.withdraw();
                Err(e)
            }
        }
    }

    /// Leaves the election after a failed campaign, even if the failure
    /// was a cancel (as [`Mutex`] does).
    fn withdraw(&mut self) {
        let uncancelable = self.client.uncancelable();
        let client = std::mem::replace(&mut self.client, uncancelable);
        if let Err(e) = self.resign() {
            log::warn!("withdrawing from election {:?}: {e}", self.prefix);
        }
        self.client = client;
    }

    /// Leads with a new value, without losing the lead. Fails with
    /// [`EtcdError::ElectionNotLeader`] when this campaigner does not lead.
    pub fn proclaim(&mut self, value: impl Into<Vec<u8>>) -> Result<()> {
        if self.rev < 0 {
            return Err(Error::Etcd(EtcdError::ElectionNotLeader));
        }
        let resp = self
            .client
            .txn(Txn::new().when([self.still_ours()]).and_then([Op::put_with(
                self.key.clone(),
                value,
                PutOptions::new().lease(self.lease),
            )]))?;
        if !resp.succeeded() {
            self.rev = -1;
            return Err(Error::Etcd(EtcdError::ElectionNotLeader));
        }
        self.header = Some(*resp.header());
        Ok(())
    }

    /// Gives up the lead (or the candidacy); the next campaigner takes
    /// over. Does nothing if this campaigner is not in the election.
    pub fn resign(&mut self) -> Result<()> {
        if self.rev < 0 {
            return Ok(());
        }
        let resp = self.client.txn(
            Txn::new()
                .when([self.still_ours()])
                .and_then([Op::delete(self.key.clone())]),
        )?;
        self.header = Some(*resp.header());
        self.rev = -1;
        Ok(())
    }

    /// Our key, as long as it is the one we created.
    fn still_ours(&self) -> Compare {
        Compare::create_revision(self.key.clone(), CompareOp::Equal, self.rev)
    }

    /// The current leader's key and value. Fails with
    /// [`EtcdError::ElectionNoLeader`] when nobody leads.
    pub fn leader(&self) -> Result<KeyValue> {
        let r = self.client.get_with(self.prefix.clone(), first_created())?;
        r.into_kvs()
            .into_iter()
            .next()
            .ok_or(Error::Etcd(EtcdError::ElectionNoLeader))
    }

    /// Whether this campaigner leads right now, as the server sees it.
    pub fn is_leader(&self) -> Result<bool> {
        Ok(match self.leader() {
            Ok(kv) => kv.key() == self.key,
            Err(Error::Etcd(EtcdError::ElectionNoLeader)) => false,
            Err(e) => return Err(e),
        })
    }

    /// The campaigner's key, `<prefix>/<lease in hex>`.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The create revision of the key while campaigning, else -1.
    pub fn revision(&self) -> i64 {
        self.rev
    }

    /// The header of the last response that changed the campaign.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }
}
