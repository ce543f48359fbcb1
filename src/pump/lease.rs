//! The keepalive driver: keeps every kept-alive lease of a client on the
//! pump's one shared LeaseKeepAlive stream, and the values it delivers to
//! keepalive handles. (`keep_alive_once` is a call of its own, in
//! `lease.rs`.)

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use grpcio::Method;
use parking_lot::Mutex;

use super::{Driver, Duplex, Next};
use crate::error::{Error, Result};
use crate::metrics::{self, LeaseLoss};
use crate::proto::{methods, rpc as pb};
use crate::types::ResponseHeader;

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

    /// etcd's answer to one refresh: a TTL of zero or less means it no
    /// longer knows the lease.
    pub(crate) fn from_answer(r: pb::LeaseKeepAliveResponse) -> Result<KeepAliveResponse> {
        if r.TTL <= 0 {
            return Err(Error::LeaseNotFound {
                id: Some(r.ID),
                reason: "etcd no longer knows it (revoked or expired)".into(),
            });
        }
        Ok(KeepAliveResponse {
            header: r.header.into(),
            id: r.ID,
            ttl: r.TTL,
        })
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
    /// Gone, or no longer kept alive; the error says why
    /// ([`Error::LeaseNotFound`], [`Error::ClientClosed`], or
    /// [`Error::Canceled`] when the cancel token of the handle that made
    /// the keepalive fired). Keys attached to it are deleted or will be
    /// (after a cancel, when the TTL runs out, unless another handle keeps
    /// the lease alive).
    Lost(Error),
}

/// Why a lease is lost when no refresh was answered in time.
const EXPIRED: &str = "no refresh succeeded before its TTL ran out";

/// What a keepalive handle and the pump share.
pub(crate) struct KeepAliveShared {
    id: i64,
    standing: Mutex<Standing>,
    /// Responses replaced before the user read them.
    pub skipped: AtomicU64,
}

struct Standing {
    state: LeaseState,
    /// When the lease runs out unless a refresh is answered, by the
    /// client's conservative clock (from before the refresh was sent).
    expires_at: Instant,
}

impl KeepAliveShared {
    pub fn new(id: i64, ttl: i64, expires_at: Instant) -> KeepAliveShared {
        KeepAliveShared {
            id,
            standing: Mutex::new(Standing {
                state: LeaseState::Alive { ttl },
                expires_at,
            }),
            skipped: AtomicU64::new(0),
        }
    }

    /// The lease's state. Past its expiry by the client's clock it is
    /// lost even if the pump has not had its turn yet, so a handle never
    /// says alive for a lease the server may have dropped.
    pub fn state(&self) -> LeaseState {
        let s = self.standing.lock();
        match &s.state {
            LeaseState::Alive { .. } if Instant::now() >= s.expires_at => {
                LeaseState::Lost(Error::LeaseNotFound {
                    id: Some(self.id),
                    reason: EXPIRED.into(),
                })
            }
            state => state.clone(),
        }
    }

    fn set_alive(&self, ttl: i64, expires_at: Instant) {
        *self.standing.lock() = Standing {
            state: LeaseState::Alive { ttl },
            expires_at,
        };
    }

    /// The lease is known to live until `expires_at` at least (another
    /// handle's TTL query said so).
    fn extend(&self, expires_at: Instant) {
        let mut s = self.standing.lock();
        s.expires_at = s.expires_at.max(expires_at);
    }

    fn set_lost(&self, err: Error) {
        self.standing.lock().state = LeaseState::Lost(err);
    }
}

/// Commands from users to the keepalive driver.
pub(crate) enum KeepAliveCommand {
    Add(Box<NewKeepAlive>),
    /// A handle is done, the one whose state is `shared`: dropped, or,
    /// with `end`, its cancel token fired (the handle then reports that
    /// error and the lease as lost to it).
    Remove {
        id: i64,
        shared: Arc<KeepAliveShared>,
        end: Option<Error>,
    },
}

/// A lease to keep alive, as a user's handle registered it.
pub(crate) struct NewKeepAlive {
    pub id: i64,
    pub granted_ttl: i64,
    /// When the lease runs out unless refreshed (from the user's TTL
    /// query).
    pub expires_at: Instant,
    pub handle: HandleEnd,
}

/// The pump's end of one user handle: its state and its one-slot channel.
/// A lease may have several handles (Go's client allows several
/// `KeepAlive` calls for one lease too); each gets every answer.
pub(crate) struct HandleEnd {
    pub shared: Arc<KeepAliveShared>,
    pub tx: Sender<Result<KeepAliveResponse>>,
    /// The pump's copy of the receiver, to drop an unread result before
    /// putting in the newer one.
    pub rx: Receiver<Result<KeepAliveResponse>>,
}

impl HandleEnd {
    fn deliver(&self, item: Result<KeepAliveResponse>) {
        if let Err(TrySendError::Full(item)) = self.tx.try_send(item) {
            if self.rx.try_recv().is_ok() {
                self.shared.skipped.fetch_add(1, Ordering::Relaxed);
            }
            let _ = self.tx.try_send(item);
        }
    }
}

/// A lease kept alive, for as long as it has a handle.
struct Kept {
    id: i64,
    granted_ttl: i64,
    /// Never empty: the entry goes with its last handle.
    handles: Vec<HandleEnd>,
    /// When the next refresh is due.
    next_send: Instant,
    /// When the oldest unanswered refresh was sent.
    outstanding_since: Option<Instant>,
    /// When the lease runs out unless refreshed, by our conservative clock.
    expires_at: Instant,
}

impl Drop for Kept {
    /// Every way a lease stops being kept alive (removed, lost, client
    /// closed) drops its entry.
    fn drop(&mut self) {
        metrics::leases_kept(-1);
    }
}

impl Kept {
    fn interval(&self) -> Duration {
        // A third of the TTL, as the Go client; never busier than 2/s
        // (a little more with the early sends below).
        Duration::from_millis((self.granted_ttl.max(1) as u64).saturating_mul(1000) / 3)
            .max(Duration::from_millis(500))
    }

    /// How early a refresh may go out with others that are due: a tenth
    /// of the interval, at most [`REFRESH_SLACK`].
    fn slack(&self) -> Duration {
        (self.interval() / 10).min(REFRESH_SLACK)
    }

    /// Every handle learns the lease is alive with this TTL.
    fn alive(&self, resp: KeepAliveResponse) {
        for h in &self.handles {
            h.shared.set_alive(resp.ttl, self.expires_at);
            h.deliver(Ok(resp));
        }
    }

    /// Every handle learns the lease is gone, and why.
    fn end(self, err: Error) {
        for h in &self.handles {
            h.shared.set_lost(err.clone());
            h.deliver(Err(err.clone()));
        }
    }

    fn lose(self, why: String, cause: LeaseLoss) {
        metrics::lease_lost(cause);
        let err = Error::LeaseNotFound {
            id: Some(self.id),
            reason: why,
        };
        log::debug!("{err}");
        self.end(err);
    }
}

/// Refreshes due within this long of one that is due go out with it (if
/// their interval allows, see [`Kept::slack`]): with many leases the pump
/// wakes a few times a second for a batch instead of once per lease, and
/// the writer moves a batch into gRPC on one wake of the completion-queue
/// thread. Sent early means the lease is safe longer, never shorter. (Go's
/// client checks for due refreshes every 500 ms, so it sends them up to
/// that late.)
const REFRESH_SLACK: Duration = Duration::from_millis(250);

/// A timer: when, and which lease.
type Timer = Reverse<(Instant, i64)>;

/// The pump's side of every kept-alive lease of a client.
///
/// Work is proportional to what is due, not to how many leases there are:
/// refreshes and local expiries sit in timer heaps (an entry whose time no
/// longer matches its lease is stale and skipped), and unanswered
/// refreshes in a queue in sending order, so stall detection looks only at
/// the oldest.
#[derive(Default)]
pub(crate) struct KeepAlives {
    leases: HashMap<i64, Kept>,
    refreshes: BinaryHeap<Timer>,
    expiries: BinaryHeap<Timer>,
    unanswered: VecDeque<(Instant, i64)>,
}

type KeepAliveStream = Duplex<pb::LeaseKeepAliveRequest, pb::LeaseKeepAliveResponse>;

fn refresh(id: i64) -> pb::LeaseKeepAliveRequest {
    pb::LeaseKeepAliveRequest {
        ID: id,
        ..Default::default()
    }
}

impl KeepAlives {
    /// A new handle: the lease's first starts keeping it alive, a later
    /// one joins it. Either way a refresh goes out now, so a new handle
    /// has its first answer at once.
    fn add(&mut self, new: NewKeepAlive, now: Instant) {
        let id = new.id;
        match self.leases.get_mut(&id) {
            Some(k) => {
                k.handles.push(new.handle);
                // The new handle's TTL query may know of a later expiry:
                // every handle of the lease goes by the same one.
                if new.expires_at > k.expires_at {
                    k.expires_at = new.expires_at;
                    self.expiries.push(Reverse((new.expires_at, id)));
                }
                for h in &k.handles {
                    h.shared.extend(k.expires_at);
                }
                k.next_send = now;
            }
            None => {
                metrics::leases_kept(1);
                self.leases.insert(
                    id,
                    Kept {
                        id,
                        granted_ttl: new.granted_ttl,
                        handles: vec![new.handle],
                        next_send: now,
                        outstanding_since: None,
                        expires_at: new.expires_at,
                    },
                );
                self.expiries.push(Reverse((new.expires_at, id)));
            }
        }
        self.refreshes.push(Reverse((now, id)));
    }
}

impl Driver for KeepAlives {
    type Req = pb::LeaseKeepAliveRequest;
    type Resp = pb::LeaseKeepAliveResponse;
    type Command = KeepAliveCommand;
    const METHOD: &'static Method<pb::LeaseKeepAliveRequest, pb::LeaseKeepAliveResponse> =
        &methods::LEASE_LEASE_KEEP_ALIVE;
    /// A program that drops its last handle and takes a new one soon after
    /// (a lease per job, say) reuses the stream. The Go client keeps its
    /// keepalive stream for the client's lifetime.
    const LINGER: Duration = Duration::from_secs(60);

    fn wants_stream(&self) -> bool {
        !self.leases.is_empty()
    }

    fn command(&mut self, cmd: KeepAliveCommand, _stream: &mut KeepAliveStream) {
        let now = Instant::now();
        match cmd {
            KeepAliveCommand::Add(k) => self.add(*k, now),
            KeepAliveCommand::Remove { id, shared, end } => {
                let Some(k) = self.leases.get_mut(&id) else {
                    return; // lost meanwhile
                };
                if let Some(err) = end {
                    // Only the handle whose token fired hears of it.
                    if let Some(h) = k.handles.iter().find(|h| Arc::ptr_eq(&h.shared, &shared)) {
                        h.shared.set_lost(err.clone());
                        h.deliver(Err(err));
                    }
                }
                k.handles.retain(|h| !Arc::ptr_eq(&h.shared, &shared));
                if k.handles.is_empty() {
                    self.leases.remove(&id);
                }
            }
        }
    }

    /// A fresh stream: refresh every lease on it at once.
    fn on_open(&mut self, now: Instant, _stream: &mut KeepAliveStream) {
        for (id, k) in &mut self.leases {
            k.next_send = now;
            k.outstanding_since = None;
            self.refreshes.push(Reverse((now, *id)));
        }
        self.unanswered.clear();
    }

    fn on_broken(&mut self) {
        for k in self.leases.values_mut() {
            k.outstanding_since = None;
        }
        self.unanswered.clear();
    }

    fn on_response(
        &mut self,
        r: pb::LeaseKeepAliveResponse,
        now: Instant,
        _stream: &mut KeepAliveStream,
    ) -> Next {
        let id = r.ID;
        let Some(k) = self.leases.get_mut(&id) else {
            return Next::Continue; // removed meanwhile
        };
        let Ok(resp) = KeepAliveResponse::from_answer(r) else {
            let k = self.leases.remove(&id).expect("lease entry");
            k.lose(
                "etcd no longer knows the lease (expired or revoked)".into(),
                LeaseLoss::Revoked,
            );
            return Next::Continue;
        };
        // The TTL counts from when the server got the refresh, which was
        // after we sent it: measuring from the send is the safe side.
        let sent = k.outstanding_since.take();
        if let Some(t) = sent {
            metrics::keepalive_refreshed(now.saturating_duration_since(t));
        }
        let sent = sent.unwrap_or(now);
        k.expires_at = crate::wait::later(sent, Duration::from_secs(resp.ttl.max(0) as u64));
        self.expiries.push(Reverse((k.expires_at, id)));
        k.granted_ttl = resp.ttl;
        k.alive(resp);
        Next::Continue
    }

    /// Sends due refreshes, reports leases whose TTL ran out locally, and
    /// resets a stream that stopped answering. Returns the next due time.
    fn tick(&mut self, now: Instant, stream: &mut KeepAliveStream) -> (Option<Instant>, Next) {
        while let Some(&Reverse((at, id))) = self.expiries.peek() {
            if at > now {
                break;
            }
            self.expiries.pop();
            if self.leases.get(&id).is_some_and(|k| k.expires_at == at) {
                let k = self.leases.remove(&id).expect("lease entry");
                k.lose(EXPIRED.into(), LeaseLoss::ExpiredLocally);
            }
            // Otherwise removed, or refreshed since.
        }
        // Refreshes due now, and those due soon enough to go with them.
        let mut not_yet = Vec::new();
        while let Some(&Reverse((at, id))) = self.refreshes.peek() {
            if at > now + REFRESH_SLACK {
                break;
            }
            self.refreshes.pop();
            let Some(k) = self.leases.get_mut(&id) else {
                continue; // removed
            };
            if k.next_send != at {
                continue; // superseded by a later entry
            }
            if at > now + k.slack() {
                not_yet.push(Reverse((at, id)));
                continue;
            }
            if stream.is_open() {
                stream.send(refresh(id));
                if k.outstanding_since.is_none() {
                    k.outstanding_since = Some(now);
                    self.unanswered.push_back((now, id));
                }
            }
            k.next_send = now + k.interval();
            self.refreshes.push(Reverse((k.next_send, id)));
        }
        self.refreshes.extend(not_yet);
        // A refresh unanswered for a whole interval means the member is
        // frozen or cut off while TCP still looks fine: move elsewhere
        // before the lease runs out.
        let mut stall_check = None;
        let mut next = Next::Continue;
        while let Some(&(sent, id)) = self.unanswered.front() {
            match self.leases.get(&id) {
                Some(k) if k.outstanding_since == Some(sent) => {
                    let by = sent + k.interval();
                    if now >= by && stream.is_open() {
                        next = Next::Reset("keepalive refresh unanswered");
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
        let again = [
            self.refreshes.peek().map(|Reverse((at, _))| *at),
            self.expiries.peek().map(|Reverse((at, _))| *at),
            stall_check,
        ]
        .into_iter()
        .flatten()
        .min();
        (again, next)
    }

    /// The client is closing: every handle reports it.
    fn shutdown(&mut self) {
        for (_, k) in self.leases.drain() {
            metrics::lease_lost(LeaseLoss::Closed);
            k.end(Error::ClientClosed);
        }
    }
}
