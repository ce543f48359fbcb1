//! Software transactional memory over etcd: Go's `concurrency.NewSTM`.
//!
//! The user's closure reads and writes keys through an [`Stm`]; reads are
//! remembered (the read set), writes buffered (the write set). The crate
//! then commits the writes in one transaction guarded by compares on
//! those sets, the guards of the chosen [`Isolation`] level, and runs the
//! closure again from scratch when a guard fails, until a commit succeeds,
//! the closure returns an error, or the handle's deadline or cancel token
//! stops it.

use std::collections::{BTreeMap, HashMap};

use crate::{
    Client, Compare, CompareOp, Error, GetOptions, GetResponse, Op, OpResponse, PutOptions, Result,
    Txn, TxnResponse,
};

use super::{deadline_of, interrupted, within};
use crate::wait::Deadline;

/// How STM transactions interfere, and so which of them conflict and run
/// again: Go's `concurrency.Isolation`, with the same read-set and
/// write-set guards per level.
///
/// "Read set": the keys the closure read, each with the mod revision it
/// saw. "Write set": the keys it put or deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// The default, and the strongest level. Every read of an attempt sees
    /// the store at one revision (that of its first read), and the commit
    /// succeeds only if no key of the read set changed since it was read
    /// *and* no key of the write set was modified after that revision.
    ///
    /// Guarantees: the transactions are serializable, and a transaction
    /// never overwrites a write made since its snapshot, even to a key it
    /// did not read (no lost blind writes). The closure always sees a
    /// consistent snapshot. Does not guarantee: progress under heavy
    /// contention (a transaction may run again many times, until the
    /// deadline), nor that the snapshot is recent: reads after the first
    /// are served at its revision by the member the client talks to.
    #[default]
    SerializableSnapshot,
    /// Every read of an attempt sees the store at one revision (that of its
    /// first read), and the commit succeeds only if no key of the read set
    /// changed since it was read.
    ///
    /// Guarantees: serializable transactions, and a consistent snapshot in
    /// the closure. Does not guarantee: that a key written without being
    /// read was not written by another transaction meanwhile (two "blind"
    /// writes of one key both commit; the later one wins).
    Serializable,
    /// Each key is read once per attempt and then served from the read set
    /// ("repeatable"), but different keys may be read at different
    /// revisions; the commit succeeds only if no key of the read set
    /// changed since it was read.
    ///
    /// Guarantees: a transaction that commits saw values that were all
    /// still current at its commit, so committed transactions are
    /// serializable. Does not guarantee: a consistent view inside the
    /// closure of an attempt that will not commit (it may see one
    /// account debited and the other not yet credited), so the closure
    /// must not act outside etcd on what it read; blind writes as in
    /// [`Serializable`](Self::Serializable). Reads are served by the
    /// member the client talks to (etcd's serializable reads).
    RepeatableReads,
    /// Reads see whatever was committed when they ran; the commit has no
    /// guard at all, and never conflicts.
    ///
    /// Guarantees: each value read was committed by someone, and the
    /// transaction's writes are applied together, atomically. Does not
    /// guarantee: anything across transactions: a read-modify-write
    /// loses concurrent updates (two transfers from one account both
    /// read the old balance and one debit is lost), and the closure may
    /// see an inconsistent view.
    ReadCommitted,
}

/// Options of an STM run: the [`Isolation`] level (serializable snapshot
/// unless set) and the keys to prefetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StmOptions {
    isolation: Isolation,
    prefetch: Vec<Vec<u8>>,
}

impl StmOptions {
    /// Serializable snapshot isolation, no prefetch.
    pub fn new() -> StmOptions {
        StmOptions::default()
    }

    /// The isolation level (Go's `WithIsolation`).
    pub fn isolation(mut self, isolation: Isolation) -> StmOptions {
        self.isolation = isolation;
        self
    }

    /// Keys to read in one round trip before each attempt (Go's
    /// `WithPrefetch`), for a closure that reads them all anyway. They join
    /// the read set as if the closure had read them.
    pub fn prefetch<K: Into<Vec<u8>>>(mut self, keys: impl IntoIterator<Item = K>) -> StmOptions {
        self.prefetch.extend(keys.into_iter().map(Into::into));
        self
    }
}

/// What a committed STM run returns: the closure's value of the attempt
/// that committed, the commit's response, and how many attempts conflicted
/// before it.
#[derive(Debug, Clone)]
pub struct Committed<T> {
    value: T,
    response: TxnResponse,
    retries: u32,
}

impl<T> Committed<T> {
    /// The value the closure returned in the attempt that committed.
    pub fn value(&self) -> &T {
        &self.value
    }
    /// Takes the closure's value out.
    pub fn into_value(self) -> T {
        self.value
    }
    /// The response of the committing transaction (its writes' results).
    pub fn response(&self) -> &TxnResponse {
        &self.response
    }
    /// How many attempts failed their commit guard and ran again.
    pub fn retries(&self) -> u32 {
        self.retries
    }
}

/// Runs `apply` as a software transaction with serializable snapshot
/// isolation (Go's `NewSTM` without options); see [`stm_with`].
///
/// ```no_run
/// use etcd_blocking::concurrency::stm;
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// // Move 10 from account a to account b, atomically.
/// let done = stm(&client, |s| {
///     let a: i64 = s.get_str("accounts/a")?.unwrap_or_default().parse().unwrap_or(0);
///     let b: i64 = s.get_str("accounts/b")?.unwrap_or_default().parse().unwrap_or(0);
///     if a < 10 {
///         // Aborts: nothing is written, the error comes back as is.
///         return Err(etcd_blocking::Error::InvalidRequest("insufficient funds".into()));
///     }
///     s.put("accounts/a", (a - 10).to_string());
///     s.put("accounts/b", (b + 10).to_string());
///     Ok(())
/// })?;
/// println!("committed at revision {} after {} retries",
///     done.response().header().revision(), done.retries());
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
pub fn stm<T, E, F>(client: &Client, apply: F) -> std::result::Result<Committed<T>, E>
where
    F: FnMut(&mut Stm) -> std::result::Result<T, E>,
    E: From<Error>,
{
    stm_with(client, StmOptions::new(), apply)
}

/// Runs `apply` as a software transaction (Go's `NewSTM` with options).
///
/// Each attempt starts from empty read and write sets (and the prefetched
/// keys); when the closure returns `Ok`, its writes are committed in one
/// transaction guarded as the isolation level says. A failed guard runs
/// the closure again; the closure must therefore have no effects outside
/// the [`Stm`] it is given.
///
/// Ends with the closure's own error when it returns `Err` (nothing is
/// written: the way to abort), with the error of a failed read or commit
/// (converted with `E::from`), with [`Error::DeadlineExceeded`] when the
/// handle's deadline passes (the whole run, every attempt, counts against
/// one deadline), and with [`Error::Canceled`] / [`Error::ClientClosed`]
/// when its cancel token fires or the client closes. A commit that failed
/// with [`Error::Ambiguous`] may have been applied.
///
/// The closure's error type is the caller's: any type with
/// `From<etcd_blocking::Error>`, so a business rule can abort the
/// transaction with an error of its own.
///
/// ```no_run
/// use etcd_blocking::concurrency::{stm_with, Isolation, StmOptions};
/// use etcd_blocking::Error;
///
/// #[derive(Debug)]
/// enum BookingError {
///     SoldOut,
///     Etcd(Error),
/// }
/// impl From<Error> for BookingError {
///     fn from(e: Error) -> Self {
///         BookingError::Etcd(e)
///     }
/// }
///
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// // Both keys are read anyway: fetch them in one round trip.
/// let opts = StmOptions::new()
///     .isolation(Isolation::Serializable)
///     .prefetch(["shows/42/seats", "shows/42/sold"]);
/// let booked = stm_with(&client, opts, |s| {
///     let seats: u32 = s.get_str("shows/42/seats")?.and_then(|v| v.parse().ok()).unwrap_or(0);
///     let sold: u32 = s.get_str("shows/42/sold")?.and_then(|v| v.parse().ok()).unwrap_or(0);
///     if sold >= seats {
///         return Err(BookingError::SoldOut); // nothing is written
///     }
///     s.put("shows/42/sold", (sold + 1).to_string());
///     Ok(sold + 1)
/// });
/// match booked {
///     Ok(c) => println!("seat {} booked ({} conflicts)", c.value(), c.retries()),
///     Err(BookingError::SoldOut) => println!("sold out"),
///     Err(BookingError::Etcd(e)) => return Err(e),
/// }
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
pub fn stm_with<T, E, F>(
    client: &Client,
    options: StmOptions,
    mut apply: F,
) -> std::result::Result<Committed<T>, E>
where
    F: FnMut(&mut Stm) -> std::result::Result<T, E>,
    E: From<Error>,
{
    let deadline = deadline_of(client);
    let mut s = Stm {
        client: client.clone(),
        isolation: options.isolation,
        deadline,
        rset: BTreeMap::new(),
        wset: BTreeMap::new(),
        snapshot: None,
        prefetched: HashMap::new(),
        failed: None,
    };
    let mut retries = 0;
    loop {
        if let Some(e) = interrupted(client) {
            return Err(e.into());
        }
        s.reset();
        if !options.prefetch.is_empty() {
            s.read(&options.prefetch)?;
        }
        let value = apply(&mut s)?;
        // A read the closure ignored the failure of still aborts.
        if let Some(e) = s.failed.take() {
            return Err(e.into());
        }
        if let Some(response) = s.commit()? {
            return Ok(Committed {
                value,
                response,
                retries,
            });
        }
        retries += 1;
    }
}

/// The closure's view of an STM transaction: reads go through the read
/// set, writes into the write set, committed together when the closure
/// returns. Given to the closure of [`stm`] and [`stm_with`].
#[derive(Debug)]
pub struct Stm {
    client: Client,
    isolation: Isolation,
    deadline: Deadline,
    /// Keys read in this attempt, with the response that read them.
    rset: BTreeMap<Vec<u8>, GetResponse>,
    /// Keys written in this attempt: the value (`None`: deleted) and the op.
    wset: BTreeMap<Vec<u8>, (Option<Vec<u8>>, Op)>,
    /// Serializable levels: the revision every read of the attempt is at.
    snapshot: Option<i64>,
    /// Serializable levels: the read set as the failed commit saw it,
    /// used by the next attempt instead of reading again.
    prefetched: HashMap<Vec<u8>, GetResponse>,
    /// The first read that failed in this attempt.
    failed: Option<Error>,
}

impl Stm {
    /// The isolation level of this run.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// The value of `key` as this transaction sees it: its own write if it
    /// wrote the key (`None` if it deleted it), else the stored value
    /// (`None` if absent), which joins the read set.
    pub fn get(&mut self, key: impl Into<Vec<u8>>) -> Result<Option<Vec<u8>>> {
        let key = key.into();
        if let Some((v, _)) = self.wset.get(&key) {
            return Ok(v.clone());
        }
        let resp = self.read(std::slice::from_ref(&key))?;
        Ok(resp.kvs().first().map(|kv| kv.value().to_vec()))
    }

    /// [`get`](Self::get) as text. Fails with [`Error::Utf8`] if the value
    /// is not UTF-8.
    pub fn get_str(&mut self, key: impl Into<Vec<u8>>) -> Result<Option<String>> {
        match self.get(key)? {
            Some(v) => String::from_utf8(v)
                .map(Some)
                .map_err(|e| Error::Utf8(e.utf8_error())),
            None => Ok(None),
        }
    }

    /// The mod revision of `key` as read by this transaction (0 if absent);
    /// the key joins the read set.
    pub fn rev(&mut self, key: impl Into<Vec<u8>>) -> Result<i64> {
        let key = key.into();
        let resp = self.read(std::slice::from_ref(&key))?;
        Ok(resp.kvs().first().map_or(0, |kv| kv.mod_revision()))
    }

    /// Writes `key` when the transaction commits.
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.put_with(key, value, PutOptions::new());
    }

    /// Writes `key` with options (a lease, …) when the transaction commits.
    pub fn put_with(
        &mut self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: PutOptions,
    ) {
        let (key, value) = (key.into(), value.into());
        let op = Op::put_with(key.clone(), value.clone(), options);
        self.wset.insert(key, (Some(value), op));
    }

    /// Deletes `key` when the transaction commits.
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        let key = key.into();
        let op = Op::delete(key.clone());
        self.wset.insert(key, (None, op));
    }

    fn serializable(&self) -> bool {
        matches!(
            self.isolation,
            Isolation::SerializableSnapshot | Isolation::Serializable
        )
    }

    fn reset(&mut self) {
        self.rset.clear();
        self.wset.clear();
        self.snapshot = None;
        self.failed = None;
    }

    /// Reads `keys` that are not in the read set yet (in one round trip)
    /// and returns the first key's read, as Go's `stm.fetch`.
    fn read(&mut self, keys: &[Vec<u8>]) -> Result<GetResponse> {
        self.fetch(keys).inspect_err(|e| {
            self.failed.get_or_insert_with(|| e.clone());
        })
    }

    fn fetch(&mut self, keys: &[Vec<u8>]) -> Result<GetResponse> {
        let first_read = self.rset.is_empty();
        for k in keys {
            if let Some(r) = self.prefetched.remove(k) {
                self.rset.insert(k.clone(), r);
            }
        }
        let missing: Vec<&Vec<u8>> = keys
            .iter()
            .filter(|k| !self.rset.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            let opts = self.read_options();
            let ops = missing
                .iter()
                .map(|k| Op::get_with(k.to_vec(), opts.clone()));
            let resp = within(&self.client, self.deadline)?.txn(Txn::new().and_then(ops))?;
            for (k, r) in missing.into_iter().zip(resp.into_responses()) {
                if let OpResponse::Get(g) = r {
                    self.rset.insert(k.clone(), g);
                }
            }
        }
        let resp = self
            .rset
            .get(&keys[0])
            .cloned()
            .ok_or_else(|| Error::InvalidRequest("STM read got no answer".into()))?;
        if first_read && self.serializable() {
            // The attempt's snapshot is the revision of its first read.
            self.snapshot = Some(resp.header().revision());
        }
        Ok(resp)
    }

    fn read_options(&self) -> GetOptions {
        match (self.isolation, self.snapshot) {
            (Isolation::RepeatableReads | Isolation::ReadCommitted, _) => {
                GetOptions::new().serializable()
            }
            (_, Some(rev)) => GetOptions::new().revision(rev).serializable(),
            (_, None) => GetOptions::new(),
        }
    }

    /// The commit's guards for this level.
    fn guards(&self) -> Vec<Compare> {
        let reads: Vec<Read> = self
            .rset
            .iter()
            .map(|(k, r)| Read {
                key: k,
                mod_revision: r.kvs().first().map_or(0, |kv| kv.mod_revision()),
                at: r.header().revision(),
            })
            .collect();
        guards(self.isolation, &reads, self.wset.keys())
    }

    /// Commits the write set under the level's guards: the response if it
    /// committed, `None` on a conflict.
    fn commit(&mut self) -> Result<Option<TxnResponse>> {
        let puts: Vec<Op> = self.wset.values().map(|(_, op)| op.clone()).collect();
        let mut txn = Txn::new().when(self.guards()).and_then(puts);
        let keys: Vec<Vec<u8>> = self.rset.keys().cloned().collect();
        if self.serializable() {
            // On a conflict, read the read set back in the same round trip:
            // the next attempt starts from it.
            txn = txn.or_else(keys.iter().map(|k| Op::get(k.clone())));
        }
        let resp = within(&self.client, self.deadline)?.txn(txn)?;
        if resp.succeeded() {
            return Ok(Some(resp));
        }
        if self.serializable() {
            self.prefetched.clear();
            for (k, r) in keys.into_iter().zip(resp.into_responses()) {
                if let OpResponse::Get(g) = r {
                    self.prefetched.insert(k, g);
                }
            }
            self.snapshot = None;
        }
        Ok(None)
    }
}

/// A key of the read set: the mod revision read (0: absent), and the
/// store revision it was read at.
struct Read<'a> {
    key: &'a [u8],
    mod_revision: i64,
    at: i64,
}

/// The commit guards of `isolation` for a read set and the written keys,
/// as Go's `mkSTM` builds them.
fn guards<'a>(
    isolation: Isolation,
    reads: &[Read<'_>],
    writes: impl Iterator<Item = &'a Vec<u8>>,
) -> Vec<Compare> {
    // Each key read is still as read.
    let unchanged = reads
        .iter()
        .map(|r| Compare::mod_revision(r.key.to_vec(), CompareOp::Equal, r.mod_revision));
    match isolation {
        Isolation::ReadCommitted => Vec::new(),
        Isolation::RepeatableReads | Isolation::Serializable => unchanged.collect(),
        Isolation::SerializableSnapshot => {
            // And no key written was modified after the first read.
            let first = reads.iter().map(|r| r.at).min().unwrap_or(i64::MAX - 1);
            let untouched =
                writes.map(|k| Compare::mod_revision(k.clone(), CompareOp::Less, first + 1));
            unchanged.chain(untouched).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_guards_as_go_does() {
        let reads = [
            Read {
                key: b"a",
                mod_revision: 7,
                at: 12,
            },
            Read {
                key: b"missing",
                mod_revision: 0,
                at: 10,
            },
        ];
        let writes = [b"a".to_vec(), b"w".to_vec()];
        let read_guards = vec![
            Compare::mod_revision("a", CompareOp::Equal, 7),
            Compare::mod_revision("missing", CompareOp::Equal, 0),
        ];
        assert!(guards(Isolation::ReadCommitted, &reads, writes.iter()).is_empty());
        for level in [Isolation::RepeatableReads, Isolation::Serializable] {
            assert_eq!(guards(level, &reads, writes.iter()), read_guards);
        }
        // Writes: not modified after the earliest read's revision (10).
        let mut snapshot = read_guards.clone();
        snapshot.push(Compare::mod_revision("a", CompareOp::Less, 11));
        snapshot.push(Compare::mod_revision("w", CompareOp::Less, 11));
        assert_eq!(
            guards(Isolation::SerializableSnapshot, &reads, writes.iter()),
            snapshot
        );
        // Blind writes only: the guard can never fail.
        assert_eq!(
            guards(Isolation::SerializableSnapshot, &[], writes[1..].iter()),
            [Compare::mod_revision("w", CompareOp::Less, i64::MAX)]
        );
    }
}
