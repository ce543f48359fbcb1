//! Namespaces: a handle from [`Client::with_namespace`] puts a prefix in
//! front of every key it sends and takes it off every key it receives, so
//! an application can live under `app/` without knowing it (as Go's
//! `namespace.NewKV`, `NewWatcher` and `NewLease`).
//!
//! The mapping works on the protobuf requests and responses, after the
//! options were turned into a request, so every option and every
//! transaction branch goes through the same two functions per message.

use crate::proto::{kv as mvccpb, rpc as pb};

/// A request or response whose keys a namespace maps (prefixes going
/// out, strips coming back), so one call path serves every KV call.
pub(crate) trait Mapped {
    fn map(&mut self, ns: &Namespace);
}

macro_rules! mapped {
    ($($ty:ty => $method:ident),* $(,)?) => {
        $(impl Mapped for $ty {
            fn map(&mut self, ns: &Namespace) {
                ns.$method(self)
            }
        })*
    };
}

mapped! {
    pb::RangeRequest => range_request,
    pb::PutRequest => put_request,
    pb::DeleteRangeRequest => delete_request,
    pb::TxnRequest => txn_request,
    pb::RangeResponse => range_response,
    pb::PutResponse => put_response,
    pb::DeleteRangeResponse => delete_response,
    pb::TxnResponse => txn_response,
}

/// A key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Namespace(Vec<u8>);

impl Namespace {
    pub fn new(prefix: Vec<u8>) -> Namespace {
        Namespace(prefix)
    }

    pub fn prefix(&self) -> &[u8] {
        &self.0
    }

    /// `key` inside the namespace.
    fn key(&self, key: &[u8]) -> Vec<u8> {
        [self.0.as_slice(), key].concat()
    }

    /// `(key, range_end)` inside the namespace. A range end of `\0` (to
    /// the end of the keyspace) becomes the end of the namespace.
    fn range(&self, key: &mut Vec<u8>, end: &mut Vec<u8>) {
        *key = self.key(key);
        if end.as_slice() == [0] {
            *end = crate::types::prefix_range_end(&self.0);
        } else if !end.is_empty() {
            *end = self.key(end);
        }
    }

    /// Takes the prefix off a key that came back.
    fn strip(&self, key: &mut Vec<u8>) {
        if key.starts_with(&self.0) {
            key.drain(..self.0.len());
        }
    }

    fn strip_kv(&self, kv: &mut mvccpb::KeyValue) {
        self.strip(&mut kv.key);
    }

    pub fn range_request(&self, r: &mut pb::RangeRequest) {
        self.range(&mut r.key, &mut r.range_end);
    }

    pub fn put_request(&self, r: &mut pb::PutRequest) {
        r.key = self.key(&r.key);
    }

    pub fn delete_request(&self, r: &mut pb::DeleteRangeRequest) {
        self.range(&mut r.key, &mut r.range_end);
    }

    pub fn txn_request(&self, r: &mut pb::TxnRequest) {
        for c in &mut r.compare {
            self.range(&mut c.key, &mut c.range_end);
        }
        for op in r.success.iter_mut().chain(r.failure.iter_mut()) {
            use pb::request_op::Request as R;
            match &mut op.request {
                Some(R::RequestRange(r)) => self.range_request(r),
                Some(R::RequestPut(r)) => self.put_request(r),
                Some(R::RequestDeleteRange(r)) => self.delete_request(r),
                Some(R::RequestTxn(r)) => self.txn_request(r),
                None => {}
            }
        }
    }

    pub fn watch_request(&self, r: &mut pb::WatchCreateRequest) {
        self.range(&mut r.key, &mut r.range_end);
    }

    pub fn range_response(&self, r: &mut pb::RangeResponse) {
        r.kvs.iter_mut().for_each(|kv| self.strip_kv(kv));
    }

    pub fn put_response(&self, r: &mut pb::PutResponse) {
        if let Some(kv) = r.prev_kv.as_mut() {
            self.strip_kv(kv);
        }
    }

    pub fn delete_response(&self, r: &mut pb::DeleteRangeResponse) {
        r.prev_kvs.iter_mut().for_each(|kv| self.strip_kv(kv));
    }

    pub fn txn_response(&self, r: &mut pb::TxnResponse) {
        for op in &mut r.responses {
            use pb::response_op::Response as R;
            match &mut op.response {
                Some(R::ResponseRange(r)) => self.range_response(r),
                Some(R::ResponsePut(r)) => self.put_response(r),
                Some(R::ResponseDeleteRange(r)) => self.delete_response(r),
                Some(R::ResponseTxn(r)) => self.txn_response(r),
                None => {}
            }
        }
    }

    pub fn events(&self, events: &mut [mvccpb::Event]) {
        for ev in events {
            if let Some(kv) = ev.kv.as_mut() {
                self.strip_kv(kv);
            }
            if let Some(kv) = ev.prev_kv.as_mut() {
                self.strip_kv(kv);
            }
        }
    }

    pub fn lease_keys(&self, keys: &mut [Vec<u8>]) {
        keys.iter_mut().for_each(|k| self.strip(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_map_into_the_namespace() {
        let ns = Namespace::new(b"app/".to_vec());
        let (mut k, mut e) = (b"a".to_vec(), vec![]);
        ns.range(&mut k, &mut e);
        assert_eq!((k.as_slice(), e.as_slice()), (&b"app/a"[..], &b""[..]));
        let (mut k, mut e) = (b"a".to_vec(), b"c".to_vec());
        ns.range(&mut k, &mut e);
        assert_eq!((k.as_slice(), e.as_slice()), (&b"app/a"[..], &b"app/c"[..]));
        // From-key and "all keys" stop at the end of the namespace.
        let (mut k, mut e) = (vec![0], vec![0]);
        ns.range(&mut k, &mut e);
        assert_eq!((k.as_slice(), e.as_slice()), (&b"app/\0"[..], &b"app0"[..]));
        let mut key = b"app/x".to_vec();
        ns.strip(&mut key);
        assert_eq!(key, b"x");
    }
}
