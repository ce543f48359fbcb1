//! Leases as the user sees them: grant, revoke, time-to-live, listing, the
//! [`KeepAlive`] handle and the keepalive calls. The pump's keepalive
//! driver (`pump/lease.rs`) refreshes the handles over one shared stream
//! and defines the values they deliver.
//!
//! Leases are ids with a TTL; keys attached to a lease are deleted when it
//! expires or is revoked.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::client::Client;
use crate::error::{self, Error, Result};
use crate::proto::{methods, rpc as pb};
use crate::pump::lease::{
    HandleEnd, KeepAliveCommand, KeepAliveResponse, KeepAliveShared, LeaseState, NewKeepAlive,
};
use crate::pump::{Command, PumpHandle};
use crate::transport::Retry;
use crate::types::ResponseHeader;
use crate::wait::CancelHook;

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
    /// Keys attached to the lease (only when asked for with
    /// [`TimeToLiveOptions::keys`]), each as bytes; under a namespace,
    /// with the namespace taken off.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.keys.iter().map(Vec::as_slice)
    }
    /// The attached keys as UTF-8 (an error if one is not).
    pub fn keys_str(&self) -> Result<Vec<&str>> {
        self.keys
            .iter()
            .map(|k| std::str::from_utf8(k).map_err(Error::Utf8))
            .collect()
    }
}

/// Options of [`Client::grant_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeaseGrantOptions {
    id: i64,
}

impl LeaseGrantOptions {
    /// Default options: the server picks the lease id.
    pub fn new() -> Self {
        Self::default()
    }
    /// Asks for this lease id instead of letting the server pick one (0:
    /// the server picks). An id that exists already fails with
    /// [`EtcdError::LeaseExists`](crate::EtcdError::LeaseExists).
    pub fn id(mut self, id: i64) -> Self {
        self.id = id;
        self
    }
}

/// Options of [`Client::time_to_live_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeToLiveOptions {
    keys: bool,
}

impl TimeToLiveOptions {
    /// Default options: the TTLs only.
    pub fn new() -> Self {
        Self::default()
    }
    /// Also lists the keys attached to the lease.
    pub fn keys(mut self) -> Self {
        self.keys = true;
        self
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
    /// Grants a lease with a TTL in seconds; the server picks the id. A
    /// TTL of zero or less is [`Error::InvalidRequest`], not sent.
    ///
    /// Sent at most once, like a write (Go's client retries it): a grant
    /// repeated after its first try was applied would make a second lease.
    /// So a grant whose connection broke after it left fails with
    /// [`Error::Ambiguous`], and any error with
    /// [`is_outcome_unknown`](Error::is_outcome_unknown) may have left a
    /// lease behind whose id the caller never learns. Such a lease holds no
    /// key and ends when its TTL runs out; [`leases`](Self::leases) lists
    /// it, [`revoke`](Self::revoke) ends it sooner. To be able to find it,
    /// choose the id with [`grant_with`](Self::grant_with): that grant is
    /// retried on another member like a read.
    ///
    /// ```no_run
    /// use etcd_blocking::{LeaseGrantOptions, PutOptions, TimeToLiveOptions};
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// let lease = client.grant(30)?;
    /// client.put_with("service/a", "10.0.0.1", PutOptions::new().lease(lease.id()))?;
    /// let ttl = client.time_to_live_with(lease.id(), TimeToLiveOptions::new().keys())?;
    /// println!("{} s left, keys {:?}", ttl.ttl(), ttl.keys_str()?);
    /// client.revoke(lease.id())?; // deletes service/a
    /// // With an id of our own choosing:
    /// let chosen = client.grant_with(30, LeaseGrantOptions::new().id(0x1234))?;
    /// assert_eq!(chosen.id(), 0x1234);
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn grant(&self, ttl: i64) -> Result<LeaseGrantResponse> {
        self.grant_with(ttl, LeaseGrantOptions::new())
    }

    /// Grants a lease with options (an id of the caller's choosing).
    ///
    /// With an id chosen ([`LeaseGrantOptions::id`]) the grant is retried
    /// on another member after a transport failure, as a read is: a
    /// repeat cannot make a second lease. If the first try was applied and
    /// only its answer was lost, the repeat answers
    /// [`EtcdError::LeaseExists`](crate::EtcdError::LeaseExists); as
    /// another client may have chosen the same id, check with
    /// [`time_to_live`](Self::time_to_live) (its granted TTL) before
    /// taking the lease for yours. Without an id it is sent at most once
    /// (see [`grant`](Self::grant)).
    pub fn grant_with(&self, ttl: i64, opts: LeaseGrantOptions) -> Result<LeaseGrantResponse> {
        let id = opts.id;
        if ttl <= 0 {
            // etcd would quietly raise it to its minimum TTL.
            return Err(Error::InvalidRequest(format!(
                "lease TTL must be positive, not {ttl}"
            )));
        }
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
            return Err(error::from_message(&r.error));
        }
        Ok(LeaseGrantResponse {
            header: r.header.into(),
            id: r.ID,
            ttl: r.TTL,
        })
    }

    /// Revokes a lease: it ends now and its keys are deleted.
    ///
    /// Retried on another member after a transport failure, as a read is
    /// (revoking twice does no more than once). So if a first try was
    /// applied and only its answer was lost (the connection cut, the member
    /// killed), the retry finds no lease and this fails with
    /// [`Error::LeaseNotFound`] though the revoke took effect: the
    /// client cannot tell that from a lease that was already gone. For a
    /// caller who wants the lease gone, `LeaseNotFound` means it is.
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

    /// Time left on a lease.
    pub fn time_to_live(&self, id: i64) -> Result<LeaseTimeToLiveResponse> {
        self.time_to_live_with(id, TimeToLiveOptions::new())
    }

    /// Time left on a lease, with options (the keys attached to it).
    pub fn time_to_live_with(
        &self,
        id: i64,
        opts: TimeToLiveOptions,
    ) -> Result<LeaseTimeToLiveResponse> {
        let req = pb::LeaseTimeToLiveRequest {
            ID: id,
            keys: opts.keys,
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

/// A lease kept alive by the client's background pump, for as long as this
/// handle (or another handle of the same lease) lives: refreshed at about a
/// third of its TTL, over one LeaseKeepAlive stream shared by every lease
/// of the client, and refreshed at once on a new stream after a reconnect.
///
/// Dropping the lease's last handle (or [`close`](Self::close)) stops the
/// refreshing; it does not revoke the lease ([`Client::revoke`] does).
///
/// The [`receiver`](Self::receiver) holds only the latest result: a user
/// who never reads it costs no memory, and [`skipped`](Self::skipped)
/// counts what was replaced. Loss is never hidden: [`state`](Self::state)
/// turns to [`LeaseState::Lost`] and the receiver's last item is the error.
///
/// ```no_run
/// use etcd_blocking::{LeaseState, PutOptions};
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let lease = client.grant(10)?;
/// client.put_with("workers/w1", "alive", PutOptions::new().lease(lease.id()))?;
/// let keepalive = client.keep_alive(lease.id())?;
/// // ... work; the key stays while the handle lives ...
/// match keepalive.state() {
///     LeaseState::Alive { ttl } => println!("lease alive, {ttl} s at the last refresh"),
///     LeaseState::Lost(e) => eprintln!("lease lost ({e}): stop acting as w1"),
/// }
/// drop(keepalive); // stops refreshing; the key goes when the TTL runs out
/// // One refresh by hand, without a handle:
/// client.keep_alive_once(lease.id())?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
pub struct KeepAlive {
    id: i64,
    shared: Arc<KeepAliveShared>,
    rx: Receiver<Result<KeepAliveResponse>>,
    pump: Arc<PumpHandle>,
    /// Stops the refreshes of this handle when its cancel token fires;
    /// registered with the token, which holds it weakly.
    _on_cancel: Option<CancelHook>,
}

impl KeepAlive {
    /// The lease id.
    pub fn id(&self) -> i64 {
        self.id
    }
    /// Alive (with the latest TTL) or lost (with the reason).
    pub fn state(&self) -> LeaseState {
        self.shared.state()
    }
    /// Whether the lease is still alive as far as the client knows.
    pub fn is_alive(&self) -> bool {
        matches!(self.shared.state(), LeaseState::Alive { .. })
    }
    /// The latest TTL the server gave, or `None` once the lease is lost.
    pub fn ttl(&self) -> Option<i64> {
        match self.shared.state() {
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
        self.pump.send(Command::KeepAlive(KeepAliveCommand::Remove {
            id: self.id,
            shared: self.shared.clone(),
            end: None,
        }));
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
    /// dropped. Fails with [`Error::LeaseNotFound`] if the lease does not
    /// exist.
    ///
    /// A lease may have several handles at once, from one client or
    /// several, as Go's client allows several `KeepAlive` calls: each
    /// handle has its own receiver and state and gets every answer, the
    /// client sends one refresh for all of them, and the lease is kept
    /// alive until the last handle of this client is dropped.
    ///
    /// Made through a handle with a cancel token
    /// ([`Client::with_cancel`]), the keepalive handle stops when the
    /// token fires: it receives `Err(`[`Error::Canceled`]`)` and its state
    /// is [`LeaseState::Lost`] with that error; the lease stops being
    /// refreshed once no other handle of it is left.
    pub fn keep_alive(&self, id: i64) -> Result<KeepAlive> {
        let asked = Instant::now();
        let ttl = self.time_to_live(id)?;
        if ttl.ttl() <= 0 {
            return Err(Error::LeaseNotFound {
                id: Some(id),
                reason: "requested lease not found".into(),
            });
        }
        // etcd truncates the time left to whole seconds, counted from
        // after it got the question: that much from before it was asked
        // is sure not to outlive the lease.
        let expires_at = crate::wait::later(asked, Duration::from_secs(ttl.ttl() as u64));
        let pump = self.pump()?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        let shared = Arc::new(KeepAliveShared::new(id, ttl.ttl(), expires_at));
        let cmd = KeepAliveCommand::Add(Box::new(NewKeepAlive {
            id,
            granted_ttl: ttl.granted_ttl().max(1),
            expires_at,
            handle: HandleEnd {
                shared: shared.clone(),
                tx,
                rx: rx.clone(),
            },
        }));
        let mut handle = KeepAlive {
            id,
            shared,
            rx,
            pump,
            _on_cancel: None,
        };
        // On failure the handle's drop clears the registration. A command
        // sent after the pump's last look at its mailbox (the client closed
        // meanwhile) would never be answered: closing sets the flag first,
        // so the check after sending catches that.
        if !handle.pump.send(Command::KeepAlive(cmd)) || self.is_closed() {
            return Err(Error::ClientClosed);
        }
        if let Some(token) = self.cancel_token() {
            // After the add, so the pump never sees the end first.
            let pump = handle.pump.clone();
            let shared = handle.shared.clone();
            let hook: CancelHook = Arc::new(move || {
                pump.send(Command::KeepAlive(KeepAliveCommand::Remove {
                    id,
                    shared: shared.clone(),
                    end: Some(Error::Canceled),
                }));
            });
            token.on_cancel(&hook);
            handle._on_cancel = Some(hook);
        }
        Ok(handle)
    }

    /// Refreshes a lease once, now, and returns its new TTL. Fails with
    /// [`Error::LeaseNotFound`] if the lease does not exist.
    ///
    /// One call, the shape of a unary one: the refresh, the end of the
    /// request stream and the wait for the answer go to gRPC as one batch,
    /// and etcd answers the one refresh and ends the stream (Go's
    /// `KeepAliveOnce` also opens a stream per call). It blocks like any
    /// call and fails over like a read: a refresh is safe to repeat. The
    /// kept-alive handles of [`keep_alive`](Self::keep_alive) share one
    /// long-lived stream instead.
    pub fn keep_alive_once(&self, id: i64) -> Result<KeepAliveResponse> {
        let req = pb::LeaseKeepAliveRequest {
            ID: id,
            ..Default::default()
        };
        KeepAliveResponse::from_answer(self.unary(KEEP_ALIVE_ONCE, &req, Retry::Safe)?)
    }
}

/// `LeaseKeepAlive` sent as a unary call: grpcio's unary path does not look
/// at the method type, and the C core sends one message, closes the
/// sending side and waits for one answer and the status, all in one batch
/// with one completion. A stream opened, written and closed step by step
/// costs several completions (and thread wake-ups) instead.
///
/// The method keeps its type, bidirectional streaming, because the metrics
/// label each call with it: Go's client labels `KeepAliveOnce`'s stream
/// `grpc_type="bidi_stream"`, and a dashboard over both clients must count
/// it the same way.
const KEEP_ALIVE_ONCE: &grpcio::Method<pb::LeaseKeepAliveRequest, pb::LeaseKeepAliveResponse> =
    &methods::LEASE_LEASE_KEEP_ALIVE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attached_keys_not_utf8_are_a_utf8_error() {
        let r = LeaseTimeToLiveResponse {
            header: ResponseHeader::default(),
            id: 1,
            ttl: 10,
            granted_ttl: 10,
            keys: vec![b"ok".to_vec(), vec![0xff, 0xfe]],
        };
        // The same error as `KeyValue::key_str` gives.
        assert!(matches!(r.keys_str(), Err(Error::Utf8(_))));
    }
}
