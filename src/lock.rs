//! etcd's Lock and Election services: distributed locks and leader
//! elections run by the server, tied to a lease so that a crashed holder
//! lets go when its lease runs out.
//!
//! These calls wait on the server (for the lock, for leadership), so they
//! wait for as long as the handle's deadline allows: use
//! [`Client::with_timeout`] for longer waits. A wait that ends by deadline
//! or cancel withdraws the request on the server. This is the rule of every
//! wait in the crate, the client-side [`concurrency`](crate::concurrency)
//! `Mutex::lock` and `Election::campaign` included.
//!
//! An etcd bug (a watch inside the server that outlives an observation and
//! its token) can make contended locks fail; [`Client::lock`] documents
//! it for users.

use std::time::Duration;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::proto::{methods, v3election as epb, v3lock as lpb};
use crate::transport::Retry;
use crate::types::{KeyValue, ResponseHeader};

/// A held lock: its ownership key, which [`Client::unlock`] deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockResponse {
    header: ResponseHeader,
    key: Vec<u8>,
}

impl LockResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The ownership key; it exists exactly as long as the lock is held.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

/// Answers that carry nothing but their header.
macro_rules! header_only {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name {
            header: ResponseHeader,
        }

        impl $name {
            /// The response header.
            pub fn header(&self) -> &ResponseHeader {
                &self.header
            }
        }
    )*};
}

header_only! {
    /// The answer to [`Client::unlock`].
    UnlockResponse;
    /// The answer to [`Client::proclaim`].
    ProclaimResponse;
    /// The answer to [`Client::resign`].
    ResignResponse;
}

/// Leadership won by [`Client::campaign`]: the header, and the
/// [`LeaderKey`] to proclaim and resign with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignResponse {
    header: ResponseHeader,
    leader: LeaderKey,
}

impl CampaignResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// Proof of leadership, for [`Client::proclaim`] and [`Client::resign`].
    pub fn leader(&self) -> &LeaderKey {
        &self.leader
    }
    /// Takes the proof of leadership out.
    pub fn into_leader(self) -> LeaderKey {
        self.leader
    }
}

/// Proof of leadership in an election, needed to proclaim or resign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderKey {
    name: Vec<u8>,
    key: Vec<u8>,
    rev: i64,
    lease: i64,
}

impl LeaderKey {
    /// The election's name.
    pub fn name(&self) -> &[u8] {
        &self.name
    }
    /// The leader's key in the election.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
    /// The revision at which leadership was won.
    pub fn revision(&self) -> i64 {
        self.rev
    }
    /// The lease the leadership is tied to.
    pub fn lease(&self) -> i64 {
        self.lease
    }

    fn into_proto(self) -> epb::LeaderKey {
        epb::LeaderKey {
            name: self.name,
            key: self.key,
            rev: self.rev,
            lease: self.lease,
            ..Default::default()
        }
    }
}

/// The current leader of an election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderResponse {
    header: ResponseHeader,
    kv: Option<KeyValue>,
}

impl LeaderResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The leader's key and its proclaimed value, if there is a leader.
    pub fn kv(&self) -> Option<&KeyValue> {
        self.kv.as_ref()
    }
}

impl From<epb::LeaderResponse> for LeaderResponse {
    fn from(r: epb::LeaderResponse) -> Self {
        LeaderResponse {
            header: r.header.into(),
            kv: r.kv.into_option().map(KeyValue::from),
        }
    }
}

fn named(name: impl Into<Vec<u8>>) -> Result<Vec<u8>> {
    let name = name.into();
    if name.is_empty() {
        return Err(Error::EmptyKey);
    }
    Ok(name)
}

/// First pause before observing again after etcd ended an observation;
/// it doubles up to [`OBSERVE_BACKOFF_MAX`].
const OBSERVE_BACKOFF_MIN: Duration = Duration::from_millis(50);
const OBSERVE_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Locks and elections, served by etcd's Lock and Election services (the
/// server waits; see [`concurrency`](crate::concurrency) for the
/// client-side `Mutex` and `Election` that Go's `concurrency` package has).
///
/// ```no_run
/// use std::time::Duration;
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let lease = client.grant(15)?.id();
/// let _keep = client.keep_alive(lease)?;
/// // The wait is this handle's deadline: give it a long one.
/// let held = client.with_timeout(Duration::from_secs(60)).lock("locks/report", lease)?;
/// // ... the lock is ours until unlock or the lease ends ...
/// client.unlock(held.key())?;
///
/// let lead = client.with_timeout(Duration::from_secs(60)).campaign("elections/api", lease, "node-a")?;
/// client.proclaim(lead.leader(), "node-a, v2")?;
/// println!("leader: {:?}", client.leader("elections/api")?.kv().map(|kv| kv.value_str()));
/// client.resign(lead.leader())?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
impl Client {
    /// Acquires the lock `name`, waiting while another holds it, and ties
    /// it to `lease` (the lock is released if the lease ends). Returns the
    /// ownership key to [`unlock`](Self::unlock) with. The wait ends at the
    /// handle's deadline ([`Error::DeadlineExceeded`]); see
    /// [`with_timeout`](Self::with_timeout).
    ///
    /// # An etcd bug with short token TTLs
    ///
    /// etcd serves these calls through a client inside the server, whose
    /// watches carry the auth token of the call that opened them and are
    /// shared with later calls (etcd issues 12385 and 14850; 17502 and
    /// 17623 for the same cause in Campaign; seen with etcd 3.4 and 3.5).
    /// With authentication on, an [`observe`](Self::observe) ended right
    /// after its first message can leave such a watch open; once the token
    /// it carried expires (the server's `--auth-token-ttl`), every
    /// contended `lock` on that member fails with `permission denied`, for
    /// every client, for as long as that watch stays open inside the server
    /// (restarting the member ends it; no request of a client does). To
    /// stay clear of it:
    ///
    /// * keep the server's token TTL long (etcd's default, 300 s, or more;
    ///   not a few seconds);
    /// * let an observation run instead of ending it right after the first
    ///   leader it reports;
    /// * or use the client-side [`concurrency::Mutex`](crate::concurrency::Mutex)
    ///   and [`concurrency::Election`](crate::concurrency::Election): they
    ///   use this client's own watches, whose token it renews, and
    ///   interoperate with Go's (etcd's maintainers point Go users to the
    ///   client-side package over these services for this reason).
    pub fn lock(&self, name: impl Into<Vec<u8>>, lease: i64) -> Result<LockResponse> {
        let req = lpb::LockRequest {
            name: named(name)?,
            lease,
            ..Default::default()
        };
        let r = self.unary(&methods::LOCK_LOCK, &req, Retry::Never)?;
        Ok(LockResponse {
            header: r.header.into(),
            key: r.key,
        })
    }

    /// Releases a lock by deleting its ownership key.
    pub fn unlock(&self, key: impl Into<Vec<u8>>) -> Result<UnlockResponse> {
        let req = lpb::UnlockRequest {
            key: named(key)?,
            ..Default::default()
        };
        Ok(UnlockResponse {
            header: self
                .unary(&methods::LOCK_UNLOCK, &req, Retry::Safe)?
                .header
                .into(),
        })
    }

    /// Campaigns in the election `name` with `value`, waiting until this
    /// campaigner is the leader. Leadership is tied to `lease`.
    pub fn campaign(
        &self,
        name: impl Into<Vec<u8>>,
        lease: i64,
        value: impl Into<Vec<u8>>,
    ) -> Result<CampaignResponse> {
        let req = epb::CampaignRequest {
            name: named(name)?,
            lease,
            value: value.into(),
            ..Default::default()
        };
        let r = self.unary(&methods::ELECTION_CAMPAIGN, &req, Retry::Never)?;
        let l = r.leader.into_option().unwrap_or_default();
        Ok(CampaignResponse {
            header: r.header.into(),
            leader: LeaderKey {
                name: l.name,
                key: l.key,
                rev: l.rev,
                lease: l.lease,
            },
        })
    }

    /// Changes the leader's proclaimed value (only the leader may).
    pub fn proclaim(
        &self,
        leader: &LeaderKey,
        value: impl Into<Vec<u8>>,
    ) -> Result<ProclaimResponse> {
        let req = epb::ProclaimRequest {
            leader: protobuf::MessageField::some(leader.clone().into_proto()),
            value: value.into(),
            ..Default::default()
        };
        Ok(ProclaimResponse {
            header: self
                .unary(&methods::ELECTION_PROCLAIM, &req, Retry::Never)?
                .header
                .into(),
        })
    }

    /// The current leader of the election `name` and its value; with no
    /// leader, [`EtcdError::ElectionNoLeader`](crate::EtcdError::ElectionNoLeader).
    pub fn leader(&self, name: impl Into<Vec<u8>>) -> Result<LeaderResponse> {
        let req = epb::LeaderRequest {
            name: named(name)?,
            ..Default::default()
        };
        Ok(self
            .unary(&methods::ELECTION_LEADER, &req, Retry::Safe)?
            .into())
    }

    /// Gives up leadership, so the next campaigner wins.
    pub fn resign(&self, leader: &LeaderKey) -> Result<ResignResponse> {
        let req = epb::ResignRequest {
            leader: protobuf::MessageField::some(leader.clone().into_proto()),
            ..Default::default()
        };
        Ok(ResignResponse {
            header: self
                .unary(&methods::ELECTION_RESIGN, &req, Retry::Never)?
                .header
                .into(),
        })
    }

    /// Follows the leadership of the election `name`: calls `on_leader`
    /// with the current leader and each change after (a new leader, or a
    /// new value proclaimed), until it returns `false` (then `Ok`), the
    /// handle's deadline passes, or the handle is canceled.
    ///
    /// etcd ends an observation by itself, with no error, when its own
    /// read fails (its session's token expired, say); the client then logs
    /// in again and observes anew, skipping the leader it already
    /// delivered, so `on_leader` sees each change once.
    ///
    /// This is a call: it blocks and ends at the handle's deadline, like
    /// every call. [`concurrency::Election::observe`](crate::concurrency::Election::observe)
    /// is the other shape, a handle that returns at once and delivers
    /// changes until dropped.
    ///
    /// With authentication on and a short server token TTL, ending an
    /// observation right after its first message (`on_leader` returning
    /// `false` at once) can leave a watch open inside etcd that later makes
    /// every contended [`lock`](Self::lock) on that member fail: see
    /// [`lock`](Self::lock) for the etcd bug and how to stay clear of it.
    pub fn observe(
        &self,
        name: impl Into<Vec<u8>>,
        mut on_leader: impl FnMut(LeaderResponse) -> bool,
    ) -> Result<()> {
        let req = epb::LeaderRequest {
            name: named(name)?,
            ..Default::default()
        };
        let deadline = self.deadline();
        // The last leader delivered: its key and the revision of its value.
        let mut last: Option<(Vec<u8>, i64)> = None;
        let mut backoff = OBSERVE_BACKOFF_MIN;
        loop {
            let mut stopped = false;
            let r = self.within(&deadline)?.server_streaming(
                &methods::ELECTION_OBSERVE,
                &req,
                &mut |msg: epb::LeaderResponse| {
                    let resp = LeaderResponse::from(msg);
                    let seen = resp.kv().map(|kv| (kv.key().to_vec(), kv.mod_revision()));
                    if seen.is_some() && seen == last {
                        return Ok(()); // repeated by a new observation
                    }
                    last = seen;
                    if on_leader(resp) {
                        Ok(())
                    } else {
                        stopped = true;
                        Err(Error::Canceled)
                    }
                },
            );
            match r {
                Err(Error::Canceled) if stopped => return Ok(()),
                Ok(()) => {
                    log::debug!("etcd ended an observation; logging in and observing again");
                    self.within(&deadline)?.renew_token()?;
                    // Not a tight loop if the end was for another reason.
                    self.sleep(backoff.min(deadline.remaining()?))?;
                    backoff = (backoff * 2).min(OBSERVE_BACKOFF_MAX);
                }
                other => return other,
            }
        }
    }
}
