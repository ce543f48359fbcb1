//! [`Barrier`]: Go's `recipe.Barrier`.

use std::time::Duration;

use crate::{Client, Result};

use super::super::{deadline_of, never, wait_delete};
use super::put_new;

/// A barrier (Go's `recipe.Barrier`): while its key exists, every
/// [`wait`](Self::wait) blocks; [`release`](Self::release) deletes the
/// key and lets them all through at once. The key is `<key>` itself, on
/// no lease, so the barrier outlives the process that holds it.
///
/// ```no_run
/// use etcd_blocking::concurrency::recipes::Barrier;
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let barrier = Barrier::new(&client, "jobs/start");
/// barrier.hold()?;
/// // … other processes call `wait()` and block …
/// barrier.release()?; // they all go on
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Barrier {
    client: Client,
    key: Vec<u8>,
}

impl Barrier {
    /// The barrier at `key`, used through `client` (its deadline bounds
    /// [`wait`](Self::wait); its cancel token stops it).
    pub fn new(client: &Client, key: impl Into<Vec<u8>>) -> Barrier {
        Barrier {
            client: client.clone(),
            key: key.into(),
        }
    }

    /// The same barrier with another deadline for [`wait`](Self::wait).
    pub fn with_timeout(&self, timeout: Duration) -> Barrier {
        Barrier {
            client: self.client.with_timeout(timeout),
            key: self.key.clone(),
        }
    }

    /// Holds the barrier: creates its key. `false` if it was held already
    /// (Go's `ErrKeyExists`); it stays held either way.
    pub fn hold(&self) -> Result<bool> {
        Ok(put_new(&self.client, &self.key, b"", 0)?.is_some())
    }

    /// Releases the barrier: deletes its key, which lets every waiter go.
    pub fn release(&self) -> Result<()> {
        self.client.delete(self.key.clone()).map(drop)
    }

    /// Blocks until the barrier is released (at once if it is not held),
    /// within the handle's deadline.
    pub fn wait(&self) -> Result<()> {
        let deadline = deadline_of(&self.client);
        let resp = self.client.get(self.key.clone())?;
        if resp.kvs().is_empty() {
            return Ok(());
        }
        wait_delete(
            &self.client,
            &self.key,
            resp.header().revision() + 1,
            deadline,
            &never,
        )
    }
}
