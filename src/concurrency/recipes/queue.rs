//! [`Queue`]: Go's `recipe.Queue`.

use std::time::Duration;

use crate::{Client, Result, SortTarget};

use super::super::deadline_of;
use super::{dir, put_unique, take_first};

/// A first-in, first-out queue for any number of producers and consumers
/// (Go's `recipe.Queue`). Each item is a key `<prefix>/<nanos>` on no
/// lease, so items outlive their producer; consumers take the item with
/// the oldest revision and delete it, each item going to exactly one of
/// them.
///
/// ```no_run
/// use std::time::Duration;
/// use etcd_blocking::concurrency::recipes::Queue;
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let queue = Queue::new(&client, "jobs/pending");
/// queue.enqueue("resize photo 17")?;
/// let job = queue.with_timeout(Duration::from_secs(30)).dequeue()?;
/// assert_eq!(job, b"resize photo 17");
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Queue {
    client: Client,
    prefix: Vec<u8>,
}

impl Queue {
    /// The queue under `prefix`, used through `client` (its deadline
    /// bounds [`dequeue`](Self::dequeue); its cancel token stops it).
    pub fn new(client: &Client, prefix: impl Into<Vec<u8>>) -> Queue {
        Queue {
            client: client.clone(),
            prefix: prefix.into(),
        }
    }

    /// The same queue with another deadline for [`dequeue`](Self::dequeue).
    pub fn with_timeout(&self, timeout: Duration) -> Queue {
        Queue {
            client: self.client.with_timeout(timeout),
            prefix: self.prefix.clone(),
        }
    }

    /// Adds an item at the end of the queue.
    pub fn enqueue(&self, value: impl Into<Vec<u8>>) -> Result<()> {
        put_unique(&self.client, &self.prefix, &value.into(), 0).map(drop)
    }

    /// Takes the item at the head of the queue, waiting for one within the
    /// handle's deadline while the queue is empty. Taking is a guarded
    /// delete: if it fails with [`Error::Ambiguous`](crate::Error::Ambiguous)
    /// the item may be gone from the queue without having been returned.
    pub fn dequeue(&self) -> Result<Vec<u8>> {
        let deadline = deadline_of(&self.client);
        take_first(&self.client, &dir(&self.prefix), SortTarget::Mod, deadline)
    }
}
