//! Leases: grant, revoke, time-to-live, listing, and keepalive.
//!
//! Leases are ids with a TTL; keys attached to a lease are deleted when it
//! expires or is revoked. [`KeepAlive`] handles are refreshed by the
//! client's pump thread over one shared LeaseKeepAlive stream; the pump
//! side lives here too (`KeepAlives`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::Mutex;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::kv::ResponseHeader;
use crate::proto::{methods, rpc as pb};
use crate::pump::{Command, Duplex, PumpHandle};
use crate::transport::{Members, Retry};

/// Result of a lease grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseGrantResponse {
    header: ResponseHeader,
    id: i64,
    ttl: i64,
}

impl LeaseGrantResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The lease id.
    pub fn id(&self) -> i64 {
        self.id
    }
    /// The TTL the server granted, in seconds (it may differ from the one
    /// asked for: etcd enforces a minimum).
    pub fn ttl(&self) -> i64 {
        self.ttl
    }
}

/// Result of a time-to-live query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseTimeToLiveResponse {
    header: ResponseHeader,
    id: i64,
    ttl: i64,
    granted_ttl: i64,
    keys: Vec<Vec<u8>>,
}

impl LeaseTimeToLiveResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The lease id.
    pub fn id(&self) -> i64 {
        self.id
    }
    /// Seconds left; -1 when the lease does not exist (expired or revoked).
    pub fn ttl(&self) -> i64 {
        self.ttl
    }
    /// The TTL the lease was granted with.
    pub fn granted_ttl(&self) -> i64 {
        self.granted_ttl
    }
    /// Keys attached to the lease (only when asked for).
    pub fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }
}

/// Result of listing leases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseLeasesResponse {
    header: ResponseHeader,
    ids: Vec<i64>,
}

impl LeaseLeasesResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// Ids of every lease the cluster knows.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }
}

/// Result of a lease revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRevokeResponse {
    header: ResponseHeader,
}

impl LeaseRevokeResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
}

/// Lease calls.
impl Client {
    /// Grants a lease with a TTL in seconds; the server picks the id.
    pub fn grant(&self, ttl: i64) -> Result<LeaseGrantResponse> {
        self.grant_with_id(ttl, 0)
    }

    /// Grants a lease with this id (0: the server picks one). A lease id
    /// that exists already fails with [`EtcdError::LeaseExists`](crate::EtcdError::LeaseExists).
    pub fn grant_with_id(&self, ttl: i64, id: i64) -> Result<LeaseGrantResponse> {
        let req = pb::LeaseGrantRequest {
            TTL: ttl,
            ID: id,
            ..Default::default()
        };
        // A grant with id 0 that is repeated could create two leases; with
        // a chosen id the second try fails with LeaseExists instead.
        let retry = if id == 0 { Retry::Never } else { Retry::Safe };
        let r = self.unary(&methods::LEASE_LEASE_GRANT, &req, retry)?;
        if !r.error.is_empty() {
            return Err(Error::Grpc {
                code: crate::Code::Unknown,
                message: r.error,
            });
        }
        Ok(LeaseGrantResponse {
            header: r.header.into(),
            id: r.ID,
            ttl: r.TTL,
        })
    }

    /// Revokes a lease: it ends now and its keys are deleted.
    pub fn revoke(&self, id: i64) -> Result<LeaseRevokeResponse> {
        let req = pb::LeaseRevokeRequest {
            ID: id,
            ..Default::default()
        };
        let r = self.unary(&methods::LEASE_LEASE_REVOKE, &req, Retry::Safe)?;
        Ok(LeaseRevokeResponse {
            header: r.header.into(),
        })
    }

    /// Time left on a lease, optionally with the keys attached to it.
    pub fn time_to_live(&self, id: i64, with_keys: bool) -> Result<LeaseTimeToLiveResponse> {
        let req = pb::LeaseTimeToLiveRequest {
            ID: id,
            keys: with_keys,
            ..Default::default()
        };
        let mut r = self.unary(&methods::LEASE_LEASE_TIME_TO_LIVE, &req, Retry::Safe)?;
        if let Some(ns) = self.namespace() {
            ns.lease_keys(&mut r.keys);
        }
        Ok(LeaseTimeToLiveResponse {
            header: r.header.into(),
            id: r.ID,
            ttl: r.TTL,
            granted_ttl: r.grantedTTL,
            keys: r.keys,
        })
    }

    /// Every lease the cluster knows.
    pub fn leases(&self) -> Result<LeaseLeasesResponse> {
        let r = self.unary(
            &methods::LEASE_LEASE_LEASES,
            &pb::LeaseLeasesRequest::default(),
            Retry::Safe,
        )?;
        Ok(LeaseLeasesResponse {
            header: r.header.into(),
            ids: r.leases.into_iter().map(|l| l.ID).collect(),
        })
    }
}

/// One keepalive answer: the lease's new TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAliveResponse {
    header: ResponseHeader,
    id: i64,
    ttl: i64,
}

impl KeepAliveResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The lease id.
    pub fn id(&self) -> i64 {
        self.id
    }
    /// The lease's TTL after the refresh, in seconds.
    pub fn ttl(&self) -> i64 {
        self.ttl
    }
}

/// Where a kept-alive lease stands.
#[derive(Debug, Clone)]
pub enum LeaseState {
    /// Refreshed; the TTL is the last one the server gave.
    Alive {
        /// Seconds, as of the last refresh.
        ttl: i64,
    },
    /// Gone; the error says why ([`Error::LeaseLost`] or
    /// [`Error::ClientClosed`]). Keys attached to it are deleted or will
    /// be.
    Lost(Error),
}

struct KeepAliveShared {
    state: Mutex<LeaseState>,
    /// Responses replaced before the user read them.
    skipped: AtomicU64,
}

/// A lease kept alive by the client's background pump, for as long as this
/// handle lives: refreshed at about a third of its TTL, over one
/// LeaseKeepAlive stream shared by every lease of the client, and refreshed
/// at once on a new stream after a reconnect.
///
/// Dropping the handle (or [`close`](Self::close)) stops the refreshing; it
/// does not revoke the lease ([`Client::revoke`] does).
///
/// The [`receiver`](Self::receiver) holds only the latest result: a user
/// who never reads it costs no memory, and [`skipped`](Self::skipped)
/// counts what was replaced. Loss is never hidden: [`state`](Self::state)
/// turns to [`LeaseState::Lost`] and the receiver's last item is the error.
pub struct KeepAlive {
    id: i64,
    shared: Arc<KeepAliveShared>,
    rx: Receiver<Result<KeepAliveResponse>>,
    pump: Arc<PumpHandle>,
    /// The client's set of leases with a live handle.
    kept: Arc<Mutex<HashSet<i64>>>,
}

impl KeepAlive {
    /// The lease id.
    pub fn id(&self) -> i64 {
        self.id
    }
    /// Alive (with the latest TTL) or lost (with the reason).
    pub fn state(&self) -> LeaseState {
        self.shared.state.lock().clone()
    }
    /// Whether the lease is still alive as far as the client knows.
    pub fn is_alive(&self) -> bool {
        matches!(*self.shared.state.lock(), LeaseState::Alive { .. })
    }
    /// The latest TTL the server gave, or `None` once the lease is lost.
    pub fn ttl(&self) -> Option<i64> {
        match *self.shared.state.lock() {
            LeaseState::Alive { ttl } => Some(ttl),
            LeaseState::Lost(_) => None,
        }
    }
    /// The latest keepalive result (one slot, newest wins).
    pub fn receiver(&self) -> &Receiver<Result<KeepAliveResponse>> {
        &self.rx
    }
    /// How many results were replaced before being read.
    pub fn skipped(&self) -> u64 {
        self.shared.skipped.load(Ordering::Relaxed)
    }
    /// Stops keeping the lease alive (the same as dropping the handle).
    pub fn close(self) {}
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.kept.lock().remove(&self.id);
        self.pump
            .send(Command::KeepAlive(KeepAliveCommand::Remove { id: self.id }));
    }
}

impl std::fmt::Debug for KeepAlive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepAlive")
            .field("id", &self.id)
            .field("state", &self.state())
            .finish()
    }
}

/// Keepalive calls.
impl Client {
    /// Keeps a lease alive in the background until the returned handle is
    /// dropped. Fails with [`EtcdError::LeaseNotFound`](crate::EtcdError::LeaseNotFound)
    /// if the lease does not exist.
    ///
    /// One handle per lease and client: a second `keep_alive` of a lease
    /// whose handle is still alive fails with [`Error::InvalidRequest`].
    pub fn keep_alive(&self, id: i64) -> Result<KeepAlive> {
        let ttl = self.time_to_live(id, false)?;
        if ttl.ttl() <= 0 {
            return Err(Error::Etcd(crate::EtcdError::LeaseNotFound));
        }
        let pump = self.pump()?;
        let kept = self.kept_leases();
        if !kept.lock().insert(id) {
            return Err(Error::InvalidRequest(format!(
                "lease {id:x} is already kept alive by a handle of this client"
            )));
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let shared = Arc::new(KeepAliveShared {
            state: Mutex::new(LeaseState::Alive { ttl: ttl.ttl() }),
            skipped: AtomicU64::new(0),
        });
        let cmd = KeepAliveCommand::Add(Box::new(NewKeepAlive {
            id,
            granted_ttl: ttl.granted_ttl().max(1),
            remaining_ttl: ttl.ttl(),
            shared: shared.clone(),
            tx,
            rx: rx.clone(),
        }));
        let handle = KeepAlive {
            id,
            shared,
            rx,
            pump,
            kept,
        };
        // On failure the handle's drop clears the registration.
        if !handle.pump.send(Command::KeepAlive(cmd)) {
            return Err(Error::ClientClosed);
        }
        Ok(handle)
    }

    /// Refreshes a lease once, now, and returns its new TTL. Fails with
    /// [`EtcdError::LeaseNotFound`](crate::EtcdError::LeaseNotFound) if
    /// the lease does not exist.
    ///
    /// The refresh goes over the client's shared LeaseKeepAlive stream
    /// (through the pump), not a stream of its own: opening a gRPC stream
    /// per call costs several round trips through the completion queue.
    pub fn keep_alive_once(&self, id: i64) -> Result<KeepAliveResponse> {
        let pump = self.pump()?;
        let (reply, rx) = crossbeam_channel::bounded(1);
        if !pump.send(Command::KeepAlive(KeepAliveCommand::Once { id, reply })) {
            return Err(Error::ClientClosed);
        }
        self.wait_for(&rx)
    }
}

/// Commands from users to the keepalive driver.
pub(crate) enum KeepAliveCommand {
    Add(Box<NewKeepAlive>),
    Remove {
        id: i64,
    },
    /// One refresh, answered on `reply`.
    Once {
        id: i64,
        reply: Sender<Result<KeepAliveResponse>>,
    },
}

type OnceReply = Sender<Result<KeepAliveResponse>>;

pub(crate) struct NewKeepAlive {
    id: i64,
    granted_ttl: i64,
    remaining_ttl: i64,
    shared: Arc<KeepAliveShared>,
    tx: Sender<Result<KeepAliveResponse>>,
    /// The pump's copy of the receiver, to drop an unread result before
    /// putting in the newer one.
    rx: Receiver<Result<KeepAliveResponse>>,
}

struct Kept {
    k: NewKeepAlive,
    /// When the next refresh is due.
    next_send: Instant,
    /// When the oldest unanswered refresh was sent.
    outstanding_since: Option<Instant>,
    /// When the lease runs out unless refreshed, by our conservative clock.
    expires_at: Instant,
}

impl Kept {
    fn interval(&self) -> Duration {
        // A third of the TTL, as the Go client; never busier than 2/s.
        Duration::from_millis((self.k.granted_ttl.max(1) as u64) * 1000 / 3)
            .max(Duration::from_millis(500))
    }

    fn deliver(&self, item: Result<KeepAliveResponse>) {
        if let Err(TrySendError::Full(item)) = self.k.tx.try_send(item) {
            if self.k.rx.try_recv().is_ok() {
                self.k.shared.skipped.fetch_add(1, Ordering::Relaxed);
            }
            let _ = self.k.tx.try_send(item);
        }
    }

    fn lose(self, why: String) {
        let err = Error::LeaseLost {
            id: self.k.id,
            reason: why,
        };
        log::debug!("{err}");
        *self.k.shared.state.lock() = LeaseState::Lost(err.clone());
        self.deliver(Err(err));
    }
}

/// What a timer entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Refresh,
    Expiry,
}

/// The pump's side of every kept-alive lease of a client.
///
/// Work is proportional to what is due, not to how many leases there are:
/// refreshes and local expiries sit in one timer heap (an entry whose time
/// no longer matches its lease is stale and skipped), and unanswered
/// refreshes in a queue in sending order, so stall detection looks only at
/// the oldest.
#[derive(Default)]
pub(crate) struct KeepAlives {
    leases: HashMap<i64, Kept>,
    timers: BinaryHeap<Reverse<(Instant, Due, i64)>>,
    unanswered: VecDeque<(Instant, i64)>,
    /// One-off refreshes waiting for a stream to be sent on.
    once_unsent: VecDeque<(i64, OnceReply)>,
    /// One-off refreshes sent, by lease, in sending order: the server
    /// answers a lease's refreshes in order.
    once_sent: HashMap<i64, VecDeque<OnceReply>>,
}

type KeepAliveStream = Duplex<pb::LeaseKeepAliveRequest, pb::LeaseKeepAliveResponse>;

fn refresh(id: i64) -> pb::LeaseKeepAliveRequest {
    pb::LeaseKeepAliveRequest {
        ID: id,
        ..Default::default()
    }
}

impl KeepAlives {
    pub fn wants_stream(&self) -> bool {
        !self.leases.is_empty() || !self.once_unsent.is_empty() || !self.once_sent.is_empty()
    }

    fn send_once(&mut self, id: i64, reply: OnceReply, stream: &mut KeepAliveStream) {
        if stream.is_open() {
            stream.send(refresh(id));
            self.once_sent.entry(id).or_default().push_back(reply);
        } else {
            self.once_unsent.push_back((id, reply));
        }
    }

    pub fn command(&mut self, cmd: KeepAliveCommand, stream: &mut KeepAliveStream) {
        let now = Instant::now();
        match cmd {
            KeepAliveCommand::Add(k) => {
                let expires_at = now + Duration::from_secs(k.remaining_ttl.max(0) as u64);
                let id = k.id;
                self.leases.insert(
                    id,
                    Kept {
                        k: *k,
                        next_send: now,
                        outstanding_since: None,
                        expires_at,
                    },
                );
                self.timers.push(Reverse((now, Due::Refresh, id)));
                self.timers.push(Reverse((expires_at, Due::Expiry, id)));
            }
            KeepAliveCommand::Remove { id } => {
                self.leases.remove(&id);
            }
            KeepAliveCommand::Once { id, reply } => self.send_once(id, reply, stream),
        }
    }

    /// A fresh stream: refresh every lease on it at once, and send the
    /// one-off refreshes that waited for it.
    pub fn on_open(&mut self, now: Instant, stream: &mut KeepAliveStream) {
        for (id, k) in &mut self.leases {
            k.next_send = now;
            k.outstanding_since = None;
            self.timers.push(Reverse((now, Due::Refresh, *id)));
        }
        self.unanswered.clear();
        for (id, reply) in std::mem::take(&mut self.once_unsent) {
            self.send_once(id, reply, stream);
        }
    }

    pub fn on_broken(&mut self) {
        for k in self.leases.values_mut() {
            k.outstanding_since = None;
        }
        self.unanswered.clear();
        // Refreshes are idempotent: the unanswered one-offs go again on
        // the next stream.
        for (id, replies) in self.once_sent.drain() {
            self.once_unsent
                .extend(replies.into_iter().map(|r| (id, r)));
        }
    }

    pub fn on_response(&mut self, r: pb::LeaseKeepAliveResponse, now: Instant) {
        if let Some(waiting) = self.once_sent.get_mut(&r.ID) {
            if let Some(reply) = waiting.pop_front() {
                let _ = reply.try_send(if r.TTL <= 0 {
                    Err(Error::Etcd(crate::EtcdError::LeaseNotFound))
                } else {
                    Ok(KeepAliveResponse {
                        header: r.header.clone().into(),
                        id: r.ID,
                        ttl: r.TTL,
                    })
                });
            }
            if waiting.is_empty() {
                self.once_sent.remove(&r.ID);
            }
        }
        let Some(k) = self.leases.get_mut(&r.ID) else {
            return; // not kept alive (a one-off), or removed meanwhile
        };
        if r.TTL <= 0 {
            let k = self.leases.remove(&r.ID).expect("lease entry");
            k.lose("etcd no longer knows the lease (expired or revoked)".into());
            return;
        }
        // The TTL counts from when the server got the refresh, which was
        // after we sent it: measuring from the send is the safe side.
        let sent = k.outstanding_since.take().unwrap_or(now);
        k.expires_at = sent + Duration::from_secs(r.TTL as u64);
        self.timers.push(Reverse((k.expires_at, Due::Expiry, r.ID)));
        k.k.granted_ttl = r.TTL;
        *k.k.shared.state.lock() = LeaseState::Alive { ttl: r.TTL };
        k.deliver(Ok(KeepAliveResponse {
            header: r.header.into(),
            id: r.ID,
            ttl: r.TTL,
        }));
    }

    /// Sends due refreshes, reports leases whose TTL ran out locally, and
    /// resets a stream that stopped answering. Returns the next due time.
    pub fn tick(
        &mut self,
        now: Instant,
        stream: &mut KeepAliveStream,
        members: &Members,
    ) -> Option<Instant> {
        while let Some(&Reverse((at, due, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(k) = self.leases.get_mut(&id) else {
                continue; // removed
            };
            match due {
                Due::Expiry if k.expires_at == at => {
                    let k = self.leases.remove(&id).expect("lease entry");
                    k.lose("no refresh succeeded before its TTL ran out".into());
                }
                Due::Refresh if k.next_send == at => {
                    if stream.is_open() {
                        stream.send(refresh(id));
                        if k.outstanding_since.is_none() {
                            k.outstanding_since = Some(now);
                            self.unanswered.push_back((now, id));
                        }
                    }
                    k.next_send = now + k.interval();
                    self.timers.push(Reverse((k.next_send, Due::Refresh, id)));
                }
                _ => {} // superseded by a later entry
            }
        }
        // A refresh unanswered for a whole interval means the member is
        // frozen or cut off while TCP still looks fine: move elsewhere
        // before the lease runs out.
        let mut stall_check = None;
        while let Some(&(sent, id)) = self.unanswered.front() {
            match self.leases.get(&id) {
                Some(k) if k.outstanding_since == Some(sent) => {
                    let by = sent + k.interval();
                    if now >= by && stream.is_open() {
                        stream.reset(members, "keepalive refresh unanswered");
                        self.on_broken();
                    } else {
                        stall_check = Some(by);
                    }
                    break;
                }
                _ => {
                    self.unanswered.pop_front(); // answered or removed
                }
            }
        }
        let next_timer = self.timers.peek().map(|Reverse((at, _, _))| *at);
        match (next_timer, stall_check) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The client is closing: every handle reports it.
    pub fn shutdown(&mut self) {
        for (_, k) in self.leases.drain() {
            *k.k.shared.state.lock() = LeaseState::Lost(Error::ClientClosed);
            k.deliver(Err(Error::ClientClosed));
        }
        let sent = self.once_sent.drain().flat_map(|(_, r)| r);
        let unsent = self.once_unsent.drain(..).map(|(_, r)| r);
        for reply in sent.chain(unsent).collect::<Vec<_>>() {
            let _ = reply.try_send(Err(Error::ClientClosed));
        }
    }
}
