//! [`RwMutex`]: Go's `recipe.RWMutex`.

use std::time::Duration;

use crate::Result;

use super::super::{deadline_of, Session};
use super::{dir, last_before, Ephemeral};
use crate::wait::Deadline;

/// A distributed read-write lock held through a [`Session`] (Go's
/// `recipe.RWMutex`): any number of readers, or one writer, in order of
/// arrival.
///
/// A reader creates `<prefix>/read/<nanos>`, a writer
/// `<prefix>/write/<nanos>`, on the session's lease. A reader waits for
/// the writers that came before it; a writer waits for everyone that came
/// before it. One `RwMutex` is one holder: lock it from one thread at a
/// time.
///
/// ```no_run
/// use etcd_blocking::concurrency::{recipes::RwMutex, Session};
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let session = Session::new(&client)?;
/// let mut config = RwMutex::new(&session, "locks/config");
/// config.read_lock()?;
/// // … read the configuration, alongside other readers …
/// config.read_unlock()?;
/// config.lock()?;
/// // … rewrite it, alone …
/// config.unlock()?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug)]
pub struct RwMutex {
    prefix: Vec<u8>,
    me: Ephemeral,
}

impl RwMutex {
    /// The read-write lock under `prefix` for `session`.
    pub fn new(session: &Session, prefix: impl Into<Vec<u8>>) -> RwMutex {
        RwMutex {
            prefix: dir(&prefix.into()),
            me: Ephemeral::new(session),
        }
    }

    /// The same holder with another deadline for its waits.
    pub fn with_timeout(mut self, timeout: Duration) -> RwMutex {
        self.me.client = self.me.client.with_timeout(timeout);
        self
    }

    fn path(&self, leaf: &str) -> Vec<u8> {
        let mut p = self.prefix.clone();
        p.extend_from_slice(leaf.as_bytes());
        p
    }

    /// Takes a shared (read) lock, waiting within the handle's deadline
    /// for the writers ahead. On failure the place is given up.
    pub fn read_lock(&mut self) -> Result<()> {
        let deadline = deadline_of(&self.me.client);
        let rev = self.me.create(&self.path("read"))?;
        let writers = dir(&self.path("write"));
        self.wait_ahead(&writers, rev, deadline)
            .inspect_err(|_| self.me.withdraw())
    }

    /// Takes the exclusive (write) lock, waiting within the handle's
    /// deadline for every holder ahead. On failure the place is given up.
    pub fn lock(&mut self) -> Result<()> {
        let deadline = deadline_of(&self.me.client);
        let rev = self.me.create(&self.path("write"))?;
        let everyone = self.prefix.clone();
        self.wait_ahead(&everyone, rev, deadline)
            .inspect_err(|_| self.me.withdraw())
    }

    /// Go's `waitOnLastRev` loop: waits for the newest key under `dir`
    /// older than ours to go, until there is none.
    fn wait_ahead(&self, dir: &[u8], rev: i64, deadline: Deadline) -> Result<()> {
        loop {
            let resp = last_before(&self.me.client, dir, rev, deadline)?;
            let Some(kv) = resp.kvs().first() else {
                return self.me.liveness.check();
            };
            self.me
                .wait_delete(kv.key(), resp.header().revision(), deadline)?;
        }
    }

    /// Releases a shared lock.
    pub fn read_unlock(&mut self) -> Result<()> {
        self.unlock()
    }

    /// Releases the exclusive lock (or a shared one: both delete this
    /// holder's key).
    pub fn unlock(&mut self) -> Result<()> {
        let client = self.me.client.clone();
        self.me.delete_with(&client)
    }

    /// This holder's key while it holds or waits, else empty.
    pub fn key(&self) -> &[u8] {
        self.me.key()
    }

    /// The create revision of this holder's key, else -1.
    pub fn revision(&self) -> i64 {
        self.me.rev()
    }
}
