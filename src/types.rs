//! The value types every part of the crate shares: the response header,
//! key-values, and the key ranges a request covers (with
//! [`prefix_range_end`]). They depend on nothing but the protobuf messages,
//! so any layer may use them.

use crate::error::{Error, Result};
use crate::metrics::{self, Refusal};
use crate::proto::{kv as mvccpb, rpc as pb};

/// The header etcd puts on every response.
///
/// ```no_run
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let h = *client.put("config/mode", "fast")?.header();
/// println!(
///     "revision {} from member {:x} of cluster {:x}, raft term {}",
///     h.revision(),
///     h.member_id(),
///     h.cluster_id(),
///     h.raft_term()
/// );
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseHeader {
    cluster_id: u64,
    member_id: u64,
    revision: i64,
    raft_term: u64,
}

impl ResponseHeader {
    /// Id of the cluster that answered.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }
    /// Id of the member that answered.
    pub fn member_id(&self) -> u64 {
        self.member_id
    }
    /// The store's revision when the request was served.
    pub fn revision(&self) -> i64 {
        self.revision
    }
    /// The raft term when the request was served.
    pub fn raft_term(&self) -> u64 {
        self.raft_term
    }
}

impl From<protobuf::MessageField<pb::ResponseHeader>> for ResponseHeader {
    fn from(h: protobuf::MessageField<pb::ResponseHeader>) -> Self {
        h.into_option()
            .map_or_else(ResponseHeader::default, |h| ResponseHeader {
                cluster_id: h.cluster_id,
                member_id: h.member_id,
                revision: h.revision,
                raft_term: h.raft_term,
            })
    }
}

/// A key, its value and its metadata.
///
/// ```no_run
/// use etcd_blocking::GetOptions;
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// if let Some(kv) = client.get("config/mode")?.first() {
///     println!(
///         "{} = {}: version {}, created at {}, changed at {}, lease {:x}",
///         kv.key_str()?,
///         kv.value_str()?,
///         kv.version(),
///         kv.create_revision(),
///         kv.mod_revision(),
///         kv.lease()
///     );
/// }
/// // Values need not be text: take the bytes out without copying.
/// for kv in client.get_with("blobs/", GetOptions::new().prefix())?.into_kvs() {
///     let (key, value) = kv.into_key_value();
///     println!("{} bytes under {}", value.len(), String::from_utf8_lossy(&key));
/// }
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyValue {
    key: Vec<u8>,
    value: Vec<u8>,
    create_revision: i64,
    mod_revision: i64,
    version: i64,
    lease: i64,
}

impl KeyValue {
    /// The key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }
    /// The key as text; an error if it is not UTF-8.
    pub fn key_str(&self) -> Result<&str> {
        Ok(std::str::from_utf8(&self.key)?)
    }
    /// The value (empty for keys-only reads).
    pub fn value(&self) -> &[u8] {
        &self.value
    }
    /// The value as text; an error if it is not UTF-8.
    pub fn value_str(&self) -> Result<&str> {
        Ok(std::str::from_utf8(&self.value)?)
    }
    /// Revision of the last creation of this key.
    pub fn create_revision(&self) -> i64 {
        self.create_revision
    }
    /// Revision of the last modification of this key.
    pub fn mod_revision(&self) -> i64 {
        self.mod_revision
    }
    /// Number of modifications since the key was created (1 when new).
    pub fn version(&self) -> i64 {
        self.version
    }
    /// Id of the lease the key is attached to, or 0.
    pub fn lease(&self) -> i64 {
        self.lease
    }
    /// Takes the key and the value out, without copying.
    pub fn into_key_value(self) -> (Vec<u8>, Vec<u8>) {
        (self.key, self.value)
    }
}

impl From<mvccpb::KeyValue> for KeyValue {
    fn from(kv: mvccpb::KeyValue) -> Self {
        KeyValue {
            key: kv.key,
            value: kv.value,
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
        }
    }
}

pub(crate) fn kvs(v: Vec<mvccpb::KeyValue>) -> Vec<KeyValue> {
    v.into_iter().map(KeyValue::from).collect()
}

/// Which keys a request covers besides the key itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Range {
    /// Just the key.
    #[default]
    Key,
    /// `[key, end)`.
    End(Vec<u8>),
    /// Every key that starts with the key.
    Prefix,
    /// Every key `>=` the key.
    FromKey,
}

impl Range {
    /// The `(key, range_end)` pair to send. An empty key is refused unless
    /// the range is a prefix or from-key one, where it means "all keys", as
    /// in the Go client.
    pub(crate) fn resolve(&self, key: Vec<u8>) -> Result<(Vec<u8>, Vec<u8>)> {
        match self {
            Range::Key | Range::End(_) if key.is_empty() => {
                metrics::refused(Refusal::EmptyKey);
                Err(Error::EmptyKey)
            }
            Range::Key => Ok((key, Vec::new())),
            Range::End(end) => Ok((key, end.clone())),
            Range::Prefix | Range::FromKey if key.is_empty() => Ok((vec![0], vec![0])),
            Range::Prefix => {
                let end = prefix_range_end(&key);
                Ok((key, end))
            }
            Range::FromKey => Ok((key, vec![0])),
        }
    }
}

/// The smallest key greater than every key that starts with `prefix`:
/// `prefix` with its last byte below 0xff incremented and the rest cut off.
/// A prefix of only 0xff bytes has no such key, so the range runs to the
/// end of the keyspace (`\0`).
///
/// ```
/// use etcd_blocking::prefix_range_end;
/// assert_eq!(prefix_range_end(b"jobs/"), b"jobs0");
/// assert_eq!(prefix_range_end(b"a\xff"), b"b");
/// assert_eq!(prefix_range_end(b"\xff\xff"), b"\0"); // to the end of the keyspace
/// ```
pub fn prefix_range_end(prefix: &[u8]) -> Vec<u8> {
    match prefix.iter().rposition(|&b| b < 0xff) {
        Some(i) => {
            let mut end = prefix[..=i].to_vec();
            end[i] += 1;
            end
        }
        None => vec![0],
    }
}

/// The range setters shared by every option builder that covers keys
/// (reads, deletes, watches).
macro_rules! range_setters {
    () => {
        /// Cover `[key, end)` instead of the key alone.
        pub fn range_end(mut self, end: impl Into<Vec<u8>>) -> Self {
            self.range = Range::End(end.into());
            self
        }
        /// Cover every key that starts with the key (all keys when the key
        /// is empty).
        pub fn prefix(mut self) -> Self {
            self.range = Range::Prefix;
            self
        }
        /// Cover every key greater than or equal to the key (all keys when
        /// the key is empty).
        pub fn from_key(mut self) -> Self {
            self.range = Range::FromKey;
            self
        }
    };
}
pub(crate) use range_setters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte_below_ff() {
        assert_eq!(prefix_range_end(b"abc"), b"abd");
        assert_eq!(prefix_range_end(b"a\xff"), b"b");
        assert_eq!(prefix_range_end(b"a\xfe\xff\xff"), b"a\xff");
        assert_eq!(prefix_range_end(b"\xff\xff"), b"\0");
        assert_eq!(prefix_range_end(b""), b"\0");
    }

    #[test]
    fn ranges_resolve_like_the_go_client() {
        assert!(matches!(Range::Key.resolve(vec![]), Err(Error::EmptyKey)));
        assert!(matches!(
            Range::End(b"z".to_vec()).resolve(vec![]),
            Err(Error::EmptyKey)
        ));
        assert_eq!(Range::Prefix.resolve(vec![]).unwrap(), (vec![0], vec![0]));
        assert_eq!(Range::FromKey.resolve(vec![]).unwrap(), (vec![0], vec![0]));
        assert_eq!(
            Range::Prefix.resolve(b"a/".to_vec()).unwrap(),
            (b"a/".to_vec(), b"a0".to_vec())
        );
        assert_eq!(
            Range::FromKey.resolve(b"m".to_vec()).unwrap(),
            (b"m".to_vec(), vec![0])
        );
    }
}
