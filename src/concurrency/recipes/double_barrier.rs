//! [`DoubleBarrier`]: Go's `recipe.DoubleBarrier`.

use std::time::Duration;

use crate::{GetOptions, KeyValue, Result, WatchOptions};

use super::super::{deadline_of, wait_event, within, Session};
use super::{dir, misuse, Ephemeral};
use crate::wait::Deadline;

/// A double barrier (Go's `recipe.DoubleBarrier`): [`enter`](Self::enter)
/// blocks until `count` processes have entered, [`leave`](Self::leave)
/// blocks until all of them have left.
///
/// Each process that enters creates `<key>/waiters/<nanos>` on its
/// session's lease; the last to enter puts `<key>/ready`, which releases
/// the others. A process that dies leaves with its lease, so the others
/// are not held at the exit forever.
///
/// ```no_run
/// use etcd_blocking::concurrency::{recipes::DoubleBarrier, Session};
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let session = Session::new(&client)?;
/// let mut barrier = DoubleBarrier::new(&session, "jobs/phase-1", 3);
/// barrier.enter()?; // the three workers start together…
/// // … work …
/// barrier.leave()?; // …and finish together
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug)]
pub struct DoubleBarrier {
    key: Vec<u8>,
    count: usize,
    me: Ephemeral,
}

impl DoubleBarrier {
    /// The double barrier at `key` for `count` processes, entered through
    /// `session`.
    pub fn new(session: &Session, key: impl Into<Vec<u8>>, count: usize) -> DoubleBarrier {
        DoubleBarrier {
            key: key.into(),
            count,
            me: Ephemeral::new(session),
        }
    }

    /// The same barrier with another deadline for its waits.
    pub fn with_timeout(mut self, timeout: Duration) -> DoubleBarrier {
        self.me.client = self.me.client.with_timeout(timeout);
        self
    }

    fn path(&self, leaf: &str) -> Vec<u8> {
        let mut p = dir(&self.key);
        p.extend_from_slice(leaf.as_bytes());
        p
    }

    /// Enters, and waits until `count` processes have entered, within the
    /// handle's deadline. When the wait fails, or more than `count`
    /// processes entered ([`Error::InvalidRequest`](crate::Error::InvalidRequest)),
    /// this process's key is taken back.
    pub fn enter(&mut self) -> Result<()> {
        let deadline = deadline_of(&self.me.client);
        let rev = self.me.create(&self.path("waiters"))?;
        self.enter_wait(rev, deadline)
            .inspect_err(|_| self.me.withdraw())
    }

    fn enter_wait(&mut self, rev: i64, deadline: Deadline) -> Result<()> {
        let client = &self.me.client;
        let waiters = dir(&self.path("waiters"));
        let resp = within(client, deadline)?.get_with(waiters, GetOptions::new().prefix())?;
        let n = resp.kvs().len();
        if n > self.count {
            return Err(misuse(format!(
                "double barrier: {n} processes entered, {} expected",
                self.count
            )));
        }
        let ready = self.path("ready");
        if n == self.count {
            within(client, deadline)?.put(ready, "")?;
            return Ok(());
        }
        let liveness = self.me.liveness.clone();
        wait_event(
            client,
            &ready,
            WatchOptions::new().no_delete(),
            rev,
            deadline,
            &move || liveness.ended(),
            &mut |_| true,
        )
        .map(drop)
    }

    /// Leaves, and waits until every process has left, within the
    /// handle's deadline. A leave that fails still takes this process's
    /// key back, so that the others are not held up by it.
    pub fn leave(&mut self) -> Result<()> {
        let deadline = deadline_of(&self.me.client);
        self.leave_wait(deadline)
            .inspect_err(|_| self.me.withdraw())
    }

    /// Go's `Leave`, as a loop: the lowest key waits for the highest to
    /// go, every other one deletes itself and waits for the lowest; the
    /// last one clears `ready`. A process that dies leaves with its lease.
    fn leave_wait(&mut self, deadline: Deadline) -> Result<()> {
        let waiters = dir(&self.path("waiters"));
        loop {
            let client = within(&self.me.client, deadline)?;
            let resp = client.get_with(waiters.clone(), GetOptions::new().prefix())?;
            let kvs = resp.kvs();
            let (Some(lowest), Some(highest)) = (
                kvs.iter().min_by_key(|k| k.mod_revision()),
                kvs.iter().max_by_key(|k| k.mod_revision()),
            ) else {
                return Ok(());
            };
            if kvs.len() == 1 {
                // The last one out: clear the barrier for its next use.
                client.delete(self.path("ready"))?;
                return self.me.delete_with(&client);
            }
            let awaited: &KeyValue = if lowest.key() == self.me.key() {
                highest
            } else {
                self.me.delete_with(&client)?;
                lowest
            };
            self.me
                .wait_delete(awaited.key(), resp.header().revision(), deadline)?;
        }
    }
}
