//! [`Mutex`]: Go's `concurrency.Mutex`.

use std::time::Duration;

use crate::{Compare, Error, ResponseHeader, Result};

use super::line::Line;
use super::{within, Session};
use crate::wait::Deadline;

/// A fair distributed lock (first come, first served) held through a
/// [`Session`]: the Go client's `concurrency.Mutex`, in its key layout, so
/// Go processes (and `etcdctl lock`) contend for the same lock.
///
/// Each contender creates `<prefix>/<lease>` on its session's lease; the
/// oldest key holds the lock, the others each wait for the keys ahead of
/// theirs to go. If the holder's process dies, its lease runs out and
/// the next in line gets the lock. A `Mutex` is one contender: lock it
/// from one thread at a time.
///
/// A lease-based lock does not by itself exclude a holder that paused past
/// its lease's TTL: guard protected writes with
/// [`owner_compare`](Self::owner_compare) (see
/// [Fencing](super#fencing)).
///
/// ```no_run
/// use std::time::Duration;
/// use etcd_blocking::concurrency::Session;
/// use etcd_blocking::{Client, Op, Txn};
/// # let client = Client::connect(["127.0.0.1:2379"])?;
/// let session = Session::new(&client)?;
/// let mut lock = session.mutex("locks/db-migration");
/// // lock() waits within the session handle's deadline (5 s by default);
/// // a wait of its own:
/// lock.lock_within(Duration::from_secs(60))?;
/// // Written only while we hold the lock, checked by etcd:
/// client.txn(
///     Txn::new()
///         .when([lock.owner_compare()])
///         .and_then([Op::put("db/schema", "v2")]),
/// )?;
/// lock.unlock()?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug)]
pub struct Mutex(Line);

impl Mutex {
    /// A lock on `prefix` for `session` (keys go under `prefix/`).
    pub fn new(session: &Session, prefix: impl Into<Vec<u8>>) -> Mutex {
        Mutex(Line::new(session, prefix.into()))
    }

    /// Waits for the lock within the deadline of the session's client
    /// handle, as every blocking call of this crate does (and as
    /// [`Client::lock`](crate::Client::lock), etcd's server-side lock,
    /// does): the blocking twin of Go's `Lock(ctx)` with that handle as
    /// `ctx`. Past the deadline it fails with [`Error::DeadlineExceeded`].
    /// The wait ends with the lock, or with an error: the deadline, the
    /// handle canceled ([`Error::Canceled`]) or closed, the session over
    /// ([`EtcdError::SessionExpired`](crate::EtcdError::SessionExpired),
    /// before or while waiting), or a request that failed. On failure the
    /// place in the queue is given up (see
    /// [`lock_within`](Self::lock_within) for what that costs and the one
    /// case it can't be). To wait longer than the requests may take (or as
    /// long as it takes, `Duration::MAX`), see
    /// [`lock_within`](Self::lock_within).
    pub fn lock(&mut self) -> Result<()> {
        self.lock_within(self.0.client.timeout())
    }

    /// Waits for the lock for at most `wait`, a bound of its own; past it,
    /// fails with [`Error::DeadlineExceeded`] (reporting `wait`) and gives
    /// up the place in the queue (as on any other failure). `wait` may be
    /// longer or shorter than the handle's timeout, which still bounds
    /// each request on the way; `Duration::MAX` waits as long as it takes
    /// (Go's `Lock` with a context that has no deadline).
    ///
    /// Giving up the place is one more request after the wait, bounded by
    /// the handle's timeout (not by `wait`, which is over): with the server
    /// unreachable the call can take `wait` plus that timeout. If the
    /// request that joins the queue fails with an unknown outcome
    /// ([`Error::is_outcome_unknown`]), the key may have been created; it
    /// is not removed (it may belong to another lock call of this session
    /// on the same name): locking again on this session takes it up,
    /// [`unlock`](Self::unlock) removes it, and so does the session's end.
    pub fn lock_within(&mut self, wait: Duration) -> Result<()> {
        let deadline = Deadline::after(wait);
        let resp = self.0.join(&within(&self.0.client, deadline)?, b"")?;
        if self.0.at_head(&resp) {
            return Ok(());
        }
        self.0.wait_or_withdraw(deadline)
    }

    /// Takes the lock if it is free, else fails at once with
    /// [`Error::Locked`] (and leaves no key behind).
    pub fn try_lock(&mut self) -> Result<()> {
        let client = self.0.client.clone();
        let resp = self.0.join(&client, b"")?;
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
    /// After the session is over, fails with
    /// [`EtcdError::SessionExpired`](crate::EtcdError::SessionExpired)
    /// (the lease took the key with it).
    pub fn unlock(&mut self) -> Result<()> {
        self.0.check_session()?;
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

    /// The "is owner" guard for a transaction (Go's `Mutex.IsOwner()`):
    /// it holds only while this contender's key is the one it created when
    /// it locked, so a write guarded by it is refused once the lock is
    /// lost (lease run out or revoked, unlocked). Not locked, it never
    /// holds. See [Fencing](super#fencing).
    pub fn owner_compare(&self) -> Compare {
        self.0.still_ours()
    }

    /// The contender's key, `<prefix>/<lease in hex>`.
    pub fn key(&self) -> &[u8] {
        &self.0.key
    }

    /// The create revision of the key while locked (or queued), else -1.
    /// Each new holder of the lock has a larger one: a fencing token for
    /// resources outside etcd.
    pub fn revision(&self) -> i64 {
        self.0.rev
    }

    /// The header of the response that granted the lock.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.0.header.as_ref()
    }
}
