//! [`PriorityQueue`]: Go's `recipe.PriorityQueue`.

use std::time::Duration;

use crate::{
    Client, Compare, CompareOp, Error, GetOptions, Op, Result, SortOrder, SortTarget, Txn,
};

use super::super::{deadline_of, within};
use super::{dir, take_first};

/// A queue whose items come out by priority, lowest number first, and in
/// order of arrival within one priority (Go's `recipe.PriorityQueue`).
///
/// An item is the key `<key>/<priority as 5 digits>/<sequence as 16
/// digits>` on no lease; the sequence number is the last one of its
/// priority plus one, allocated under the guard of a bookkeeping key
/// `__<key>/<priority as 5 digits>`, as in Go.
///
/// ```no_run
/// use std::time::Duration;
/// use etcd_blocking::concurrency::recipes::PriorityQueue;
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let queue = PriorityQueue::new(&client, "jobs/by-priority");
/// queue.enqueue("backup", 5)?;
/// queue.enqueue("page the on-call", 0)?;
/// let first = queue.with_timeout(Duration::from_secs(30)).dequeue()?;
/// assert_eq!(first, b"page the on-call");
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct PriorityQueue {
    client: Client,
    key: Vec<u8>,
}

impl PriorityQueue {
    /// The priority queue under `key`, used through `client` (its deadline
    /// bounds [`dequeue`](Self::dequeue); its cancel token stops it).
    pub fn new(client: &Client, key: impl Into<Vec<u8>>) -> PriorityQueue {
        PriorityQueue {
            client: client.clone(),
            key: key.into(),
        }
    }

    /// The same queue with another deadline for [`dequeue`](Self::dequeue).
    pub fn with_timeout(&self, timeout: Duration) -> PriorityQueue {
        PriorityQueue {
            client: self.client.with_timeout(timeout),
            key: self.key.clone(),
        }
    }

    /// Adds an item with `priority` (0 comes out first), within the
    /// handle's deadline (retries after losing a race to another producer
    /// included).
    pub fn enqueue(&self, value: impl Into<Vec<u8>>, priority: u16) -> Result<()> {
        let mut prefix = dir(&self.key);
        prefix.extend_from_slice(format!("{priority:05}").as_bytes());
        self.put_sequential(&prefix, &value.into())
    }

    /// Go's `newSequentialKV`: `<prefix>/<last sequence + 1>`, created only
    /// if `__<prefix>` did not change since the last key was read (else a
    /// key deleted meanwhile could be allocated twice).
    fn put_sequential(&self, prefix: &[u8], value: &[u8]) -> Result<()> {
        let mut base = b"__".to_vec();
        base.extend_from_slice(prefix);
        let last = GetOptions::new()
            .prefix()
            .sort(SortTarget::Key, SortOrder::Descend)
            .limit(1);
        let deadline = deadline_of(&self.client);
        loop {
            let step = within(&self.client, deadline)?;
            let resp = step.get_with(dir(prefix), last.clone())?;
            let next = next_sequence(resp.kvs().first().map(|kv| kv.key()))?;
            let mut key = dir(prefix);
            key.extend_from_slice(format!("{next:016}").as_bytes());
            let txn = Txn::new()
                .when([Compare::mod_revision(
                    base.clone(),
                    CompareOp::Less,
                    resp.header().revision() + 1,
                )])
                .and_then([Op::put(base.clone(), ""), Op::put(key, value.to_vec())]);
            if within(&self.client, deadline)?.txn(txn)?.succeeded() {
                return Ok(());
            }
        }
    }

    /// Takes the first item (lowest priority number, then oldest), waiting
    /// for one within the handle's deadline while the queue is empty. As
    /// with [`Queue::dequeue`](super::Queue::dequeue), an
    /// [`Error::Ambiguous`](crate::Error::Ambiguous) may have taken the
    /// item.
    pub fn dequeue(&self) -> Result<Vec<u8>> {
        let deadline = deadline_of(&self.client);
        take_first(&self.client, &dir(&self.key), SortTarget::Key, deadline)
    }
}

/// The sequence number after the one ending `last` (`<prefix>/<n>`), or 0
/// for the first key of a priority.
fn next_sequence(last: Option<&[u8]>) -> Result<u64> {
    let Some(last) = last else {
        return Ok(0);
    };
    let seq = last.rsplit(|&b| b == b'/').next().unwrap_or_default();
    std::str::from_utf8(seq)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|n| n + 1)
        .ok_or_else(|| {
            Error::InvalidRequest(format!(
                "priority queue: {:?} is not a sequence number",
                String::from_utf8_lossy(seq)
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_follow_the_last_key() {
        assert_eq!(next_sequence(None).unwrap(), 0);
        let last = format!("jobs/00003/{:016}", 41);
        assert_eq!(next_sequence(Some(last.as_bytes())).unwrap(), 42);
        assert!(matches!(
            next_sequence(Some(b"jobs/00003/x")),
            Err(Error::InvalidRequest(_))
        ));
    }
}
