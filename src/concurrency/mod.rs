//! Client-side concurrency recipes over plain KV, Txn, Watch and Lease
//! calls, the counterpart of the Go client's `concurrency` package and of
//! its `recipes` (`contrib/recipes` in etcd 3.4,
//! `client/v3/experimental/recipes` in 3.5):
//!
//! * [`Session`]: a lease kept alive for as long as the session lives, with
//!   [`Session::done`] telling its holder when the lease is gone;
//! * [`Mutex`]: a fair distributed lock, with [`Mutex::owner_compare`] to
//!   fence writes (see [Fencing](#fencing));
//! * [`Election`]: leader election, with [`Election::observe`] following
//!   the leader;
//! * [`stm`] / [`stm_with`]: software transactional memory with Go's four
//!   [`Isolation`] levels;
//! * [`recipes`]: barrier, double barrier, queue, priority queue and
//!   read-write mutex.
//!
//! They use the Go code's key layouts (`<prefix>/<lease id in hex>` for a
//! lock or an election, and each recipe's own) and its algorithms, so a
//! Rust and a Go process can share one lock, one election or one queue.
//! (etcd's own Lock and Election services, which do the same on the
//! server, are [`Client::lock`] and [`Client::campaign`].)
//!
//! # Waiting
//!
//! One rule for every wait, here and in the rest of the crate: a call that
//! blocks ends at the deadline of the handle it runs on, as a Go call ends
//! with its `ctx`. [`Mutex::lock`] and [`Election::campaign`] wait within
//! the deadline of the session's client handle (the same rule as etcd's
//! server-side [`Client::lock`] and [`Client::campaign`]); the recipes'
//! waits ([`recipes::Queue::dequeue`], the barriers,
//! [`recipes::RwMutex`]) within the recipe's handle (the session's or the
//! client's, unless changed with `with_timeout`). Give a session a handle
//! with a longer timeout (`Session::new(&client.with_timeout(d))`) for
//! longer waits, or bound one wait on its own with
//! [`Mutex::lock_within`] and [`Election::campaign_within`]
//! (`Duration::MAX`: as long as it takes, as Go's with a context that has
//! no deadline); each request a wait makes still has the handle's timeout,
//! and a failed wait gives its place up with one more request bounded by
//! that timeout alone. A wait that runs out reports the bound it was given
//! in [`Error::DeadlineExceeded`]; a request on the way that runs out
//! first, its handle's timeout being the shorter, reports that timeout.
//! What returns at once and delivers later is not a wait and has no
//! deadline: [`Election::observe`]'s [`Observer`], like a
//! [`Watcher`](crate::Watcher), runs until dropped (where
//! [`Client::observe`], a call that blocks and runs a callback, ends at its
//! handle's deadline).
//! Every wait stops at once when the handle's
//! [`CancelToken`](crate::CancelToken) fires, the client closes or the
//! session ends. A wait that does not succeed withdraws its key, so it
//! never holds up the queue behind it.
//!
//! # Fencing
//!
//! A lease-based lock alone does not guarantee mutual exclusion: a holder
//! that pauses (a GC pause, a stopped VM, a slow disk) for longer than its
//! lease's TTL loses the lock without knowing, and a second holder may be
//! writing already when the first one resumes. Guard each protected write
//! with the ownership check in the same transaction, so etcd itself refuses
//! the write of a holder that lost the lock:
//!
//! ```no_run
//! use etcd_blocking::concurrency::Session;
//! use etcd_blocking::{Client, Op, Txn};
//! # let client = Client::connect(["127.0.0.1:2379"])?;
//! let session = Session::new(&client)?;
//! let mut lock = session.mutex("locks/report");
//! lock.lock()?;
//! let resp = client.txn(
//!     Txn::new()
//!         .when([lock.owner_compare()])
//!         .and_then([Op::put("report/latest", "…")]),
//! )?;
//! if !resp.succeeded() {
//!     // The lock was lost (the lease ran out): nothing was written.
//! }
//! lock.unlock()?;
//! # Ok::<(), etcd_blocking::Error>(())
//! ```
//!
//! For a resource outside etcd, pass [`Mutex::revision`] along as a
//! fencing token: it grows with every new holder, so the resource can
//! refuse a request carrying a smaller token than one it has seen.

use std::time::Duration;

use crate::{
    Client, Error, EventType, GetOptions, KeyValue, OpResponse, Result, SortOrder, SortTarget,
    WatchEvent, WatchOptions,
};

mod election;
mod line;
mod mutex;
pub mod recipes;
mod session;
mod stm;

pub use election::{Election, LeaderEvent, Observer};
pub use mutex::Mutex;
pub use session::{Session, DEFAULT_SESSION_TTL};
pub use stm::{stm, stm_with, Committed, Isolation, Stm, StmOptions};

// The only crate internals this module uses; everything else is the
// public API.
use crate::wait::Deadline;

/// How often a wait looks at its cancel token and the client's closing.
const POLL: Duration = crate::wait::CLOSE_POLL;

/// Why a wait on `client` must stop now (a canceled token, a closed
/// client), if it must.
fn interrupted(client: &Client) -> Option<Error> {
    client.interrupted()
}

/// `client` without its cancel token: for the clean-up after a canceled
/// wait (withdrawing a key, revoking a lease), which must still happen.
fn uncancelable(client: &Client) -> Client {
    client.uncancelable()
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

/// When a wait on `client` must be over: its deadline from now.
fn deadline_of(client: &Client) -> Deadline {
    client.deadline()
}

/// The handle for one step of a multi-step wait: the request timeout, cut
/// to the time left of the whole wait (which may be much longer: a lock
/// wait), or a deadline error. A step cut short that runs out reports the
/// whole wait's timeout, the one the caller gave.
fn within(client: &Client, deadline: Deadline) -> Result<Client> {
    if client.timeout() < deadline.remaining()? {
        Ok(client.clone())
    } else {
        client.within(&deadline)
    }
}

/// Waits for the first event on `key` (with `opts`, from revision `rev`)
/// that `wanted` accepts, within `deadline`. Stops when the client's
/// token fires or it closes, and when `ended` reports a reason (a lost
/// session).
fn wait_event(
    client: &Client,
    key: &[u8],
    opts: WatchOptions,
    rev: i64,
    deadline: Deadline,
    ended: &dyn Fn() -> Option<Error>,
    wanted: &mut dyn FnMut(&WatchEvent) -> bool,
) -> Result<WatchEvent> {
    let w = within(client, deadline)?.watch_with(key.to_vec(), opts.start_revision(rev))?;
    loop {
        if let Some(e) = interrupted(client).or_else(ended) {
            return Err(e);
        }
        let left = deadline.remaining()?;
        // Short slices, so a cancel or close is seen promptly.
        let slice = left.min(POLL);
        if let Some(r) = w.recv_timeout(slice)? {
            if let Some(e) = r.into_events().into_iter().find(|e| wanted(e)) {
                return Ok(e);
            }
        }
    }
}

/// Waits until `key` is deleted, watching from revision `rev`.
fn wait_delete(
    client: &Client,
    key: &[u8],
    rev: i64,
    deadline: Deadline,
    ended: &dyn Fn() -> Option<Error>,
) -> Result<()> {
    let opts = WatchOptions::new().no_put();
    wait_event(client, key, opts, rev, deadline, ended, &mut |e| {
        e.event_type() == EventType::Delete
    })
    .map(drop)
}

/// Nothing ends the wait but the deadline, a cancel or a close.
fn never() -> Option<Error> {
    None
}

/// `<prefix>/<nanoseconds since the epoch>`: the Go recipes' unique keys.
fn unique_key(prefix: &[u8]) -> Vec<u8> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let mut key = prefix.to_vec();
    key.extend_from_slice(format!("/{nanos}").as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_keys_are_go_s_prefix_slash_nanos() {
        let k = unique_key(b"q");
        let k = std::str::from_utf8(&k).unwrap();
        let nanos: u128 = k.strip_prefix("q/").unwrap().parse().unwrap();
        assert!(nanos > 1_600_000_000_000_000_000);
    }
}
