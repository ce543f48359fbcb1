//! Go's `recipes` (`contrib/recipes` in etcd 3.4,
//! `client/v3/experimental/recipes` in 3.5) on the client side, in their
//! key layouts, so Go and Rust processes share one barrier or one queue:
//!
//! | Recipe | Keys |
//! |---|---|
//! | [`Barrier`] | `<key>` while held |
//! | [`DoubleBarrier`] | `<key>/waiters/<nanos>` per process (on its session's lease), `<key>/ready` |
//! | [`Queue`] | `<prefix>/<nanos>` per item |
//! | [`PriorityQueue`] | `<key>/<priority, 5 digits>/<sequence, 16 digits>` per item, and `__<key>/<priority>` |
//! | [`RwMutex`] | `<prefix>/read/<nanos>` or `<prefix>/write/<nanos>` per holder (on its session's lease) |
//!
//! (`<nanos>`: nanoseconds since the Unix epoch when the key was made.)
//!
//! Every blocking call waits within its handle's deadline (the client's or
//! session's request timeout unless changed with `with_timeout`) and stops
//! when the handle's cancel token fires or the client closes; a wait that
//! fails takes back the key it made, so it holds up nobody.

use std::sync::Arc;

use crate::{
    Client, Compare, CompareOp, Error, GetOptions, GetResponse, KeyValue, Op, PutOptions, Result,
    SortOrder, SortTarget, Txn,
};

use super::session::Liveness;
use super::{uncancelable, unique_key, wait_delete, within, Session};
use crate::wait::Deadline;

mod barrier;
mod double_barrier;
mod priority_queue;
mod queue;
mod rwmutex;

pub use barrier::Barrier;
pub use double_barrier::DoubleBarrier;
pub use priority_queue::PriorityQueue;
pub use queue::Queue;
pub use rwmutex::RwMutex;

/// `prefix` with a trailing `/`.
fn dir(prefix: &[u8]) -> Vec<u8> {
    let mut d = prefix.to_vec();
    d.push(b'/');
    d
}

/// Creates `key` only if it does not exist (Go's `putNewKV`): the
/// revision it was created at, or `None` if it existed.
fn put_new(client: &Client, key: &[u8], value: &[u8], lease: i64) -> Result<Option<i64>> {
    let resp = client.txn(
        Txn::new()
            .when([Compare::version(key.to_vec(), CompareOp::Equal, 0)])
            .and_then([Op::put_with(
                key.to_vec(),
                value.to_vec(),
                PutOptions::new().lease(lease),
            )]),
    )?;
    Ok(resp.succeeded().then(|| resp.header().revision()))
}

/// Creates `<prefix>/<nanos>` (Go's `newUniqueKV`): the key and the
/// revision it was created at.
fn put_unique(client: &Client, prefix: &[u8], value: &[u8], lease: i64) -> Result<(Vec<u8>, i64)> {
    loop {
        let key = unique_key(prefix);
        if let Some(rev) = put_new(client, &key, value, lease)? {
            return Ok((key, rev));
        }
    }
}

/// Deletes `kv` if it is still as read (Go's `deleteRevKey`): whether this
/// call took it.
fn claim(client: &Client, kv: &KeyValue) -> Result<bool> {
    let resp = client.txn(
        Txn::new()
            .when([Compare::mod_revision(
                kv.key().to_vec(),
                CompareOp::Equal,
                kv.mod_revision(),
            )])
            .and_then([Op::delete(kv.key().to_vec())]),
    )?;
    Ok(resp.succeeded())
}

/// Takes the first item under `dir` in `order` (Go's queue `Dequeue`):
/// read the first key, delete it if nobody took it first; when the queue
/// is empty, wait for a put under `dir` and look again.
fn take_first(
    client: &Client,
    dir: &[u8],
    order: SortTarget,
    deadline: Deadline,
) -> Result<Vec<u8>> {
    let first = GetOptions::new()
        .prefix()
        .sort(order, SortOrder::Ascend)
        .limit(1);
    loop {
        let resp = within(client, deadline)?.get_with(dir.to_vec(), first.clone())?;
        if let Some(kv) = resp.kvs().first() {
            if claim(&within(client, deadline)?, kv)? {
                return Ok(kv.value().to_vec());
            }
            // Another consumer took it: look again.
            continue;
        }
        let opts = crate::WatchOptions::new().prefix().no_delete();
        super::wait_event(
            client,
            dir,
            opts,
            resp.header().revision() + 1,
            deadline,
            &super::never,
            &mut |_| true,
        )?;
    }
}

/// The newest key under `dir` with a mod revision below `rev` (Go's
/// `WithLastRev` and `WithMaxModRev`).
fn last_before(client: &Client, dir: &[u8], rev: i64, deadline: Deadline) -> Result<GetResponse> {
    within(client, deadline)?.get_with(
        dir.to_vec(),
        GetOptions::new()
            .prefix()
            .sort(SortTarget::Mod, SortOrder::Descend)
            .max_mod_revision(rev - 1)
            .limit(1),
    )
}

/// An ephemeral key of a session-based recipe: created on the session's
/// lease, taken back when a wait fails.
#[derive(Debug)]
struct Ephemeral {
    client: Client,
    lease: i64,
    liveness: Arc<Liveness>,
    /// The key and its create revision, while it exists.
    mine: Option<(Vec<u8>, i64)>,
}

impl Ephemeral {
    fn new(session: &Session) -> Ephemeral {
        Ephemeral {
            client: session.client().clone(),
            lease: session.lease(),
            liveness: session.liveness(),
            mine: None,
        }
    }

    /// Creates `<prefix>/<nanos>` on the session's lease.
    fn create(&mut self, prefix: &[u8]) -> Result<i64> {
        self.liveness.check()?;
        let (key, rev) = put_unique(&self.client, prefix, b"", self.lease)?;
        self.mine = Some((key, rev));
        Ok(rev)
    }

    fn key(&self) -> &[u8] {
        self.mine.as_ref().map_or(&[], |(k, _)| k)
    }

    fn rev(&self) -> i64 {
        self.mine.as_ref().map_or(-1, |(_, r)| *r)
    }

    /// Deletes the key (through `client`, which decides whether a cancel
    /// token applies).
    fn delete_with(&mut self, client: &Client) -> Result<()> {
        if let Some((key, _)) = self.mine.take() {
            client.delete(key)?;
        }
        Ok(())
    }

    /// Deletes the key after a failed wait, even if it failed by cancel.
    fn withdraw(&mut self) {
        let client = uncancelable(&self.client);
        if let Err(e) = self.delete_with(&client) {
            log::warn!("withdrawing a recipe key: {e}");
        }
    }

    /// Waits for `key` to be deleted, watching from `rev`; stops too when
    /// the session is over.
    fn wait_delete(&self, key: &[u8], rev: i64, deadline: Deadline) -> Result<()> {
        let liveness = self.liveness.clone();
        wait_delete(&self.client, key, rev, deadline, &move || liveness.ended())
    }
}

/// An error of a recipe used wrongly or in a state it cannot handle.
fn misuse(what: impl Into<String>) -> Error {
    Error::InvalidRequest(what.into())
}
