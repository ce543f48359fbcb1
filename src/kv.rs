//! Key-value calls (get, put, delete, compact), their options and results.
//!
//! Each option builder turns into its protobuf request in exactly one
//! function (`*_request`), which both the plain call and a transaction
//! branch ([`Op`](crate::Op)) use.

use crate::client::Client;
use crate::error::{Error, Result};
use crate::metrics::{self, Refusal};
use crate::proto::rpc as pb;
use crate::transport::Retry;
use crate::types::{kvs, range_setters, KeyValue, Range, ResponseHeader};

/// Sort order of a range read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// Server order (by key, ascending).
    #[default]
    None,
    /// Ascending.
    Ascend,
    /// Descending.
    Descend,
}

/// What a range read is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortTarget {
    /// The key.
    #[default]
    Key,
    /// The version.
    Version,
    /// The create revision.
    Create,
    /// The mod revision.
    Mod,
    /// The value.
    Value,
}

/// Options of a read (etcd's `Range`). The default reads one key,
/// linearizably, at the current revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetOptions {
    range: Range,
    revision: i64,
    limit: i64,
    sort_order: SortOrder,
    sort_target: SortTarget,
    serializable: bool,
    keys_only: bool,
    count_only: bool,
    min_mod_revision: i64,
    max_mod_revision: i64,
    min_create_revision: i64,
    max_create_revision: i64,
}

impl GetOptions {
    /// Read one key, linearizably, at the current revision.
    pub fn new() -> Self {
        Self::default()
    }
    range_setters!();
    /// Read the store as it was at this revision (0: current).
    pub fn revision(mut self, rev: i64) -> Self {
        self.revision = rev;
        self
    }
    /// Return at most this many keys (0: no limit); `more` says whether
    /// there were more.
    pub fn limit(mut self, n: i64) -> Self {
        self.limit = n;
        self
    }
    /// Sort the keys.
    pub fn sort(mut self, target: SortTarget, order: SortOrder) -> Self {
        self.sort_target = target;
        self.sort_order = order;
        self
    }
    /// Serve from the member's local state without consulting the leader:
    /// faster, possibly stale.
    pub fn serializable(mut self) -> Self {
        self.serializable = true;
        self
    }
    /// Return keys without values.
    pub fn keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }
    /// Return only the count of keys.
    pub fn count_only(mut self) -> Self {
        self.count_only = true;
        self
    }
    /// Only keys modified at or after this revision.
    pub fn min_mod_revision(mut self, rev: i64) -> Self {
        self.min_mod_revision = rev;
        self
    }
    /// Only keys modified at or before this revision.
    pub fn max_mod_revision(mut self, rev: i64) -> Self {
        self.max_mod_revision = rev;
        self
    }
    /// Only keys created at or after this revision.
    pub fn min_create_revision(mut self, rev: i64) -> Self {
        self.min_create_revision = rev;
        self
    }
    /// Only keys created at or before this revision.
    pub fn max_create_revision(mut self, rev: i64) -> Self {
        self.max_create_revision = rev;
        self
    }
}

pub(crate) fn range_request(key: Vec<u8>, o: &GetOptions) -> Result<pb::RangeRequest> {
    use pb::range_request::{SortOrder as O, SortTarget as T};
    let (key, range_end) = o.range.resolve(key)?;
    let sort_order = match o.sort_order {
        SortOrder::None => O::NONE,
        SortOrder::Ascend => O::ASCEND,
        SortOrder::Descend => O::DESCEND,
    };
    let sort_target = match o.sort_target {
        SortTarget::Key => T::KEY,
        SortTarget::Version => T::VERSION,
        SortTarget::Create => T::CREATE,
        SortTarget::Mod => T::MOD,
        SortTarget::Value => T::VALUE,
    };
    Ok(pb::RangeRequest {
        key,
        range_end,
        limit: o.limit,
        revision: o.revision,
        sort_order: sort_order.into(),
        sort_target: sort_target.into(),
        serializable: o.serializable,
        keys_only: o.keys_only,
        count_only: o.count_only,
        min_mod_revision: o.min_mod_revision,
        max_mod_revision: o.max_mod_revision,
        min_create_revision: o.min_create_revision,
        max_create_revision: o.max_create_revision,
        ..Default::default()
    })
}

/// Options of a write (etcd's `Put`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    lease: i64,
    prev_kv: bool,
    ignore_value: bool,
    ignore_lease: bool,
}

impl PutOptions {
    /// A plain put.
    pub fn new() -> Self {
        Self::default()
    }
    /// Attach the key to this lease.
    pub fn lease(mut self, id: i64) -> Self {
        self.lease = id;
        self
    }
    /// Return the previous key-value, if there was one.
    pub fn prev_kv(mut self) -> Self {
        self.prev_kv = true;
        self
    }
    /// Keep the current value (the key must exist; pass an empty value).
    pub fn ignore_value(mut self) -> Self {
        self.ignore_value = true;
        self
    }
    /// Keep the current lease (the key must exist; set no lease).
    pub fn ignore_lease(mut self) -> Self {
        self.ignore_lease = true;
        self
    }
}

pub(crate) fn put_request(key: Vec<u8>, value: Vec<u8>, o: &PutOptions) -> Result<pb::PutRequest> {
    if key.is_empty() {
        metrics::refused(Refusal::EmptyKey);
        return Err(Error::EmptyKey);
    }
    Ok(pb::PutRequest {
        key,
        value,
        lease: o.lease,
        prev_kv: o.prev_kv,
        ignore_value: o.ignore_value,
        ignore_lease: o.ignore_lease,
        ..Default::default()
    })
}

/// Options of a delete (etcd's `DeleteRange`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    range: Range,
    prev_kv: bool,
}

impl DeleteOptions {
    /// Delete one key.
    pub fn new() -> Self {
        Self::default()
    }
    range_setters!();
    /// Return the deleted key-values.
    pub fn prev_kv(mut self) -> Self {
        self.prev_kv = true;
        self
    }
}

pub(crate) fn delete_request(key: Vec<u8>, o: &DeleteOptions) -> Result<pb::DeleteRangeRequest> {
    let (key, range_end) = o.range.resolve(key)?;
    Ok(pb::DeleteRangeRequest {
        key,
        range_end,
        prev_kv: o.prev_kv,
        ..Default::default()
    })
}

/// Result of a read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetResponse {
    header: ResponseHeader,
    kvs: Vec<KeyValue>,
    more: bool,
    count: i64,
}

impl GetResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The keys found (none for count-only reads).
    pub fn kvs(&self) -> &[KeyValue] {
        &self.kvs
    }
    /// Takes the keys found out of the response.
    pub fn into_kvs(self) -> Vec<KeyValue> {
        self.kvs
    }
    /// The first key found, if any: handy for single-key reads.
    pub fn first(&self) -> Option<&KeyValue> {
        self.kvs.first()
    }
    /// Whether a limit cut off further keys.
    pub fn more(&self) -> bool {
        self.more
    }
    /// How many keys the range holds (regardless of the limit).
    pub fn count(&self) -> i64 {
        self.count
    }
}

impl From<pb::RangeResponse> for GetResponse {
    fn from(r: pb::RangeResponse) -> Self {
        GetResponse {
            header: r.header.into(),
            kvs: kvs(r.kvs),
            more: r.more,
            count: r.count,
        }
    }
}

/// Result of a put.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutResponse {
    header: ResponseHeader,
    prev_kv: Option<KeyValue>,
}

impl PutResponse {
    /// The response header; its revision is the put's revision.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The previous key-value, when asked for and the key existed.
    pub fn prev_kv(&self) -> Option<&KeyValue> {
        self.prev_kv.as_ref()
    }
}

impl From<pb::PutResponse> for PutResponse {
    fn from(r: pb::PutResponse) -> Self {
        PutResponse {
            header: r.header.into(),
            prev_kv: r.prev_kv.into_option().map(KeyValue::from),
        }
    }
}

/// Result of a delete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteResponse {
    header: ResponseHeader,
    deleted: i64,
    prev_kvs: Vec<KeyValue>,
}

impl DeleteResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// How many keys were deleted.
    pub fn deleted(&self) -> i64 {
        self.deleted
    }
    /// The deleted key-values, when asked for.
    pub fn prev_kvs(&self) -> &[KeyValue] {
        &self.prev_kvs
    }
}

impl From<pb::DeleteRangeResponse> for DeleteResponse {
    fn from(r: pb::DeleteRangeResponse) -> Self {
        DeleteResponse {
            header: r.header.into(),
            deleted: r.deleted,
            prev_kvs: kvs(r.prev_kvs),
        }
    }
}

/// Options of a compaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactOptions {
    physical: bool,
}

impl CompactOptions {
    /// A compaction that returns as soon as it is scheduled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Return only once the compaction is physically applied, so the
    /// compacted revisions are really gone from the backend.
    pub fn physical(mut self) -> Self {
        self.physical = true;
        self
    }
}

/// Result of a compaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactResponse {
    header: ResponseHeader,
}

impl CompactResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
}

/// Key-value calls.
impl Client {
    /// Reads one key.
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// if let Some(kv) = client.get("greeting")?.first() {
    ///     println!("{}", kv.value_str()?);
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn get(&self, key: impl Into<Vec<u8>>) -> Result<GetResponse> {
        self.get_with(key, GetOptions::new())
    }

    /// Reads keys with options (ranges, prefixes, revisions, limits, sorting…).
    ///
    /// ```no_run
    /// use etcd_blocking::{GetOptions, SortOrder, SortTarget};
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// // The ten jobs changed last, newest first.
    /// let opts = GetOptions::new()
    ///     .prefix()
    ///     .sort(SortTarget::Mod, SortOrder::Descend)
    ///     .limit(10);
    /// let resp = client.get_with("jobs/", opts)?;
    /// for kv in resp.kvs() {
    ///     println!("{} = {} (rev {})", kv.key_str()?, kv.value_str()?, kv.mod_revision());
    /// }
    /// if resp.more() {
    ///     println!("{} jobs in all", resp.count());
    /// }
    ///
    /// // Keys `[jobs/a, jobs/m)` as they were at an earlier revision.
    /// let then = resp.header().revision() - 100;
    /// let old = client.get_with("jobs/a", GetOptions::new().range_end("jobs/m").revision(then))?;
    ///
    /// // Only the number of keys, from the nearest member (possibly stale).
    /// let n = client.get_with("jobs/", GetOptions::new().prefix().count_only().serializable())?;
    /// println!("{} then, about {} now", old.count(), n.count());
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn get_with(&self, key: impl Into<Vec<u8>>, opts: GetOptions) -> Result<GetResponse> {
        let req = range_request(key.into(), &opts)?;
        Ok(self.range(req)?.into())
    }

    /// Writes a key.
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// let rev = client.put("config/mode", "fast")?.header().revision();
    /// println!("written at revision {rev}");
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn put(&self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Result<PutResponse> {
        self.put_with(key, value, PutOptions::new())
    }

    /// Writes a key with options (lease, previous value, …).
    ///
    /// ```no_run
    /// use etcd_blocking::PutOptions;
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// let resp = client.put_with("config/mode", "safe", PutOptions::new().prev_kv())?;
    /// match resp.prev_kv() {
    ///     Some(old) => println!("was {}", old.value_str()?),
    ///     None => println!("new key"),
    /// }
    ///
    /// // A key that goes away with its lease, 10 s after the last refresh.
    /// let lease = client.grant(10)?;
    /// client.put_with("services/web/10.0.0.7", "up", PutOptions::new().lease(lease.id()))?;
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn put_with(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        opts: PutOptions,
    ) -> Result<PutResponse> {
        let req = put_request(key.into(), value.into(), &opts)?;
        let resp = self.unary_mapped(&crate::proto::methods::KV_PUT, req, Retry::Never)?;
        Ok(resp.into())
    }

    /// Deletes one key.
    pub fn delete(&self, key: impl Into<Vec<u8>>) -> Result<DeleteResponse> {
        self.delete_with(key, DeleteOptions::new())
    }

    /// Deletes keys with options (ranges, prefixes, previous values).
    ///
    /// ```no_run
    /// use etcd_blocking::DeleteOptions;
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// if client.delete("config/mode")?.deleted() == 0 {
    ///     println!("there was no config/mode");
    /// }
    /// let resp = client.delete_with("sessions/", DeleteOptions::new().prefix().prev_kv())?;
    /// println!("deleted {} sessions", resp.deleted());
    /// for kv in resp.prev_kvs() {
    ///     println!("  {} (was {})", kv.key_str()?, kv.value_str()?);
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn delete_with(
        &self,
        key: impl Into<Vec<u8>>,
        opts: DeleteOptions,
    ) -> Result<DeleteResponse> {
        let req = delete_request(key.into(), &opts)?;
        let resp = self.unary_mapped(&crate::proto::methods::KV_DELETE_RANGE, req, Retry::Never)?;
        Ok(resp.into())
    }

    /// Compacts the key-value history up to `revision`: revisions before
    /// it can no longer be read or watched
    /// ([`Error::Compacted`](crate::Error::Compacted)).
    ///
    /// ```no_run
    /// use etcd_blocking::CompactOptions;
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// // Keep the last 10 000 revisions of history.
    /// let now = client.get("config/mode")?.header().revision();
    /// if now > 10_000 {
    ///     // `physical`: return once the old revisions are gone from the backend.
    ///     client.compact_with(now - 10_000, CompactOptions::new().physical())?;
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn compact(&self, revision: i64) -> Result<CompactResponse> {
        self.compact_with(revision, CompactOptions::new())
    }

    /// Compacts with options.
    pub fn compact_with(&self, revision: i64, opts: CompactOptions) -> Result<CompactResponse> {
        let req = pb::CompactionRequest {
            revision,
            physical: opts.physical,
            ..Default::default()
        };
        let resp = self.unary(&crate::proto::methods::KV_COMPACT, &req, Retry::Never)?;
        Ok(CompactResponse {
            header: resp.header.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_options_fill_every_field() {
        let o = GetOptions::new()
            .prefix()
            .revision(7)
            .limit(3)
            .sort(SortTarget::Mod, SortOrder::Descend)
            .serializable()
            .keys_only()
            .count_only()
            .min_mod_revision(1)
            .max_mod_revision(2)
            .min_create_revision(3)
            .max_create_revision(4);
        let r = range_request(b"k".to_vec(), &o).unwrap();
        assert_eq!(
            (r.key.as_slice(), r.range_end.as_slice()),
            (&b"k"[..], &b"l"[..])
        );
        assert_eq!((r.revision, r.limit), (7, 3));
        assert_eq!(
            r.sort_target.enum_value(),
            Ok(pb::range_request::SortTarget::MOD)
        );
        assert_eq!(
            r.sort_order.enum_value(),
            Ok(pb::range_request::SortOrder::DESCEND)
        );
        assert!(r.serializable && r.keys_only && r.count_only);
        assert_eq!(
            (
                r.min_mod_revision,
                r.max_mod_revision,
                r.min_create_revision,
                r.max_create_revision
            ),
            (1, 2, 3, 4)
        );
    }

    #[test]
    fn put_and_delete_options_fill_every_field() {
        let p = put_request(
            b"k".to_vec(),
            b"v".to_vec(),
            &PutOptions::new()
                .lease(9)
                .prev_kv()
                .ignore_value()
                .ignore_lease(),
        )
        .unwrap();
        assert_eq!(p.lease, 9);
        assert!(p.prev_kv && p.ignore_value && p.ignore_lease);
        assert!(matches!(
            put_request(vec![], b"v".to_vec(), &PutOptions::new()),
            Err(Error::EmptyKey)
        ));
        let d = delete_request(
            b"a".to_vec(),
            &DeleteOptions::new().range_end("c").prev_kv(),
        )
        .unwrap();
        assert_eq!(d.range_end, b"c");
        assert!(d.prev_kv);
    }
}
