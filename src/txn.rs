//! Transactions, and [`Op`]: one operation type for both a plain call
//! ([`Client::execute`]) and a transaction branch, as Go's `clientv3.Op`.
//!
//! ```no_run
//! use etcd_blocking::{Client, Compare, CompareOp, Op, Txn};
//! # let client = Client::connect(["127.0.0.1:2379"])?;
//! let resp = client.txn(
//!     Txn::new()
//!         .when([Compare::value("config/mode", CompareOp::Equal, "blue")])
//!         .and_then([Op::put("config/mode", "green")])
//!         .or_else([Op::get("config/mode")]),
//! )?;
//! println!("switched: {}", resp.succeeded());
//! # Ok::<(), etcd_blocking::Error>(())
//! ```

use crate::client::Client;
use crate::error::{Error, Result};
use crate::kv::{
    delete_request, put_request, range_request, DeleteOptions, DeleteResponse, GetOptions,
    GetResponse, PutOptions, PutResponse,
};
use crate::proto::rpc as pb;
use crate::transport::Retry;
use crate::types::{Range, ResponseHeader};

/// How a [`Compare`] relates the key's field to the given value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `<`
    Less,
    /// `>`
    Greater,
}

/// One condition of a transaction: a key's value, version, create or mod
/// revision, or lease, compared with a constant. With a range
/// ([`range_end`](Self::range_end), [`prefix`](Self::prefix))
/// every key in the range must satisfy it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compare {
    key: Vec<u8>,
    range: Range,
    op: CompareOp,
    target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Value(Vec<u8>),
    Version(i64),
    CreateRevision(i64),
    ModRevision(i64),
    Lease(i64),
}

impl Compare {
    fn new(key: impl Into<Vec<u8>>, op: CompareOp, target: Target) -> Compare {
        Compare {
            key: key.into(),
            range: Range::Key,
            op,
            target,
        }
    }
    /// Compares the key's value.
    pub fn value(key: impl Into<Vec<u8>>, op: CompareOp, value: impl Into<Vec<u8>>) -> Compare {
        Compare::new(key, op, Target::Value(value.into()))
    }
    /// Compares the key's version (0 when the key does not exist).
    pub fn version(key: impl Into<Vec<u8>>, op: CompareOp, version: i64) -> Compare {
        Compare::new(key, op, Target::Version(version))
    }
    /// Compares the key's create revision (0 when it does not exist).
    pub fn create_revision(key: impl Into<Vec<u8>>, op: CompareOp, rev: i64) -> Compare {
        Compare::new(key, op, Target::CreateRevision(rev))
    }
    /// Compares the key's mod revision (0 when it does not exist).
    pub fn mod_revision(key: impl Into<Vec<u8>>, op: CompareOp, rev: i64) -> Compare {
        Compare::new(key, op, Target::ModRevision(rev))
    }
    /// Compares the key's lease id (0 when it has none).
    pub fn lease(key: impl Into<Vec<u8>>, op: CompareOp, lease: i64) -> Compare {
        Compare::new(key, op, Target::Lease(lease))
    }
    /// Applies the comparison to every key in `[key, end)` (as
    /// [`GetOptions::range_end`](crate::GetOptions::range_end)).
    pub fn range_end(mut self, end: impl Into<Vec<u8>>) -> Compare {
        self.range = Range::End(end.into());
        self
    }
    /// Applies the comparison to every key with the key as prefix (as
    /// [`GetOptions::prefix`](crate::GetOptions::prefix)).
    pub fn prefix(mut self) -> Compare {
        self.range = Range::Prefix;
        self
    }

    fn into_proto(self) -> Result<pb::Compare> {
        use pb::compare::{CompareResult as R, CompareTarget as T, Target_union as U};
        let (key, range_end) = self.range.resolve(self.key)?;
        let result = match self.op {
            CompareOp::Equal => R::EQUAL,
            CompareOp::NotEqual => R::NOT_EQUAL,
            CompareOp::Less => R::LESS,
            CompareOp::Greater => R::GREATER,
        };
        let (target, union) = match self.target {
            Target::Value(v) => (T::VALUE, U::Value(v)),
            Target::Version(v) => (T::VERSION, U::Version(v)),
            Target::CreateRevision(v) => (T::CREATE, U::CreateRevision(v)),
            Target::ModRevision(v) => (T::MOD, U::ModRevision(v)),
            Target::Lease(v) => (T::LEASE, U::Lease(v)),
        };
        Ok(pb::Compare {
            result: result.into(),
            target: target.into(),
            key,
            range_end,
            target_union: Some(union),
            ..Default::default()
        })
    }
}

/// One operation: a get, put or delete (with its options), or a nested
/// transaction. Runs alone with [`Client::execute`] or inside a [`Txn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A read.
    Get(Vec<u8>, GetOptions),
    /// A write.
    Put(Vec<u8>, Vec<u8>, PutOptions),
    /// A delete.
    Delete(Vec<u8>, DeleteOptions),
    /// A nested transaction.
    Txn(Box<Txn>),
}

impl Op {
    /// Reads one key.
    pub fn get(key: impl Into<Vec<u8>>) -> Op {
        Op::Get(key.into(), GetOptions::new())
    }
    /// Reads with options.
    pub fn get_with(key: impl Into<Vec<u8>>, opts: GetOptions) -> Op {
        Op::Get(key.into(), opts)
    }
    /// Writes a key.
    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Op {
        Op::Put(key.into(), value.into(), PutOptions::new())
    }
    /// Writes with options.
    pub fn put_with(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>, opts: PutOptions) -> Op {
        Op::Put(key.into(), value.into(), opts)
    }
    /// Deletes one key.
    pub fn delete(key: impl Into<Vec<u8>>) -> Op {
        Op::Delete(key.into(), DeleteOptions::new())
    }
    /// Deletes with options.
    pub fn delete_with(key: impl Into<Vec<u8>>, opts: DeleteOptions) -> Op {
        Op::Delete(key.into(), opts)
    }
    /// A nested transaction.
    pub fn txn(txn: Txn) -> Op {
        Op::Txn(Box::new(txn))
    }

    fn into_proto(self) -> Result<pb::RequestOp> {
        use pb::request_op::Request as R;
        let request = match self {
            Op::Get(k, o) => R::RequestRange(range_request(k, &o)?),
            Op::Put(k, v, o) => R::RequestPut(put_request(k, v, &o)?),
            Op::Delete(k, o) => R::RequestDeleteRange(delete_request(k, &o)?),
            Op::Txn(t) => R::RequestTxn(t.into_proto()?),
        };
        Ok(pb::RequestOp {
            request: Some(request),
            ..Default::default()
        })
    }
}

/// The result of one [`Op`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResponse {
    /// A read's result.
    Get(GetResponse),
    /// A write's result.
    Put(PutResponse),
    /// A delete's result.
    Delete(DeleteResponse),
    /// A nested transaction's result.
    Txn(TxnResponse),
}

/// Reading one result without a `match`, as Go's `GetResponseRange()` and
/// friends: each accessor gives the result if it is of that kind.
///
/// ```no_run
/// use etcd_blocking::{Compare, CompareOp, Op, Txn};
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let resp = client.txn(
///     Txn::new()
///         .when([Compare::version("config", CompareOp::Greater, 0)])
///         .and_then([Op::get("config"), Op::put("seen", "yes")])
///         .or_else([Op::put("config", "default")]),
/// )?;
/// if resp.succeeded() {
///     let config = resp.responses()[0].as_get().expect("a get");
///     println!("config = {:?}", config.kvs()[0].value_str()?);
/// }
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
impl OpResponse {
    /// The result of a get, if this is one.
    pub fn as_get(&self) -> Option<&GetResponse> {
        match self {
            OpResponse::Get(r) => Some(r),
            _ => None,
        }
    }
    /// The result of a put, if this is one.
    pub fn as_put(&self) -> Option<&PutResponse> {
        match self {
            OpResponse::Put(r) => Some(r),
            _ => None,
        }
    }
    /// The result of a delete, if this is one.
    pub fn as_delete(&self) -> Option<&DeleteResponse> {
        match self {
            OpResponse::Delete(r) => Some(r),
            _ => None,
        }
    }
    /// The result of a nested transaction, if this is one.
    pub fn as_txn(&self) -> Option<&TxnResponse> {
        match self {
            OpResponse::Txn(r) => Some(r),
            _ => None,
        }
    }
    /// Takes the result of a get out, if this is one.
    pub fn into_get(self) -> Option<GetResponse> {
        match self {
            OpResponse::Get(r) => Some(r),
            _ => None,
        }
    }
    /// Takes the result of a put out, if this is one.
    pub fn into_put(self) -> Option<PutResponse> {
        match self {
            OpResponse::Put(r) => Some(r),
            _ => None,
        }
    }
    /// Takes the result of a delete out, if this is one.
    pub fn into_delete(self) -> Option<DeleteResponse> {
        match self {
            OpResponse::Delete(r) => Some(r),
            _ => None,
        }
    }
    /// Takes the result of a nested transaction out, if this is one.
    pub fn into_txn(self) -> Option<TxnResponse> {
        match self {
            OpResponse::Txn(r) => Some(r),
            _ => None,
        }
    }

    fn from_proto(r: pb::ResponseOp) -> OpResponse {
        use pb::response_op::Response as R;
        match r.response {
            Some(R::ResponseRange(r)) => OpResponse::Get(r.into()),
            Some(R::ResponsePut(r)) => OpResponse::Put(r.into()),
            Some(R::ResponseDeleteRange(r)) => OpResponse::Delete(r.into()),
            Some(R::ResponseTxn(r)) => OpResponse::Txn(r.into()),
            // etcd always sets one; an empty one can only come from a
            // newer server with an op this client does not know.
            None => OpResponse::Get(GetResponse::default()),
        }
    }
}

/// A transaction: if every [`Compare`] in [`when`](Self::when) holds, the
/// [`and_then`](Self::and_then) ops run, otherwise the
/// [`or_else`](Self::or_else) ops; all atomically at one revision.
///
/// Each part may be given once, in the order when → and_then → or_else
/// (any may be left out). Giving them otherwise is reported as
/// [`Error::InvalidRequest`] when the transaction is sent; nothing panics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    compares: Vec<Compare>,
    success: Vec<Op>,
    failure: Vec<Op>,
    stage: u8,
    misuse: Option<&'static str>,
}

impl Txn {
    /// An empty transaction (it succeeds and does nothing).
    pub fn new() -> Txn {
        Txn::default()
    }

    fn advance(&mut self, to: u8, misuse: &'static str) -> bool {
        if self.stage >= to {
            self.misuse.get_or_insert(misuse);
            false
        } else {
            self.stage = to;
            true
        }
    }

    /// The conditions (all must hold).
    pub fn when(mut self, compares: impl IntoIterator<Item = Compare>) -> Txn {
        if self.advance(1, "`when` given twice or after `and_then`/`or_else`") {
            self.compares.extend(compares);
        }
        self
    }

    /// The ops to run when the conditions hold.
    pub fn and_then(mut self, ops: impl IntoIterator<Item = Op>) -> Txn {
        if self.advance(2, "`and_then` given twice or after `or_else`") {
            self.success.extend(ops);
        }
        self
    }

    /// The ops to run when a condition fails.
    pub fn or_else(mut self, ops: impl IntoIterator<Item = Op>) -> Txn {
        if self.advance(3, "`or_else` given twice") {
            self.failure.extend(ops);
        }
        self
    }

    pub(crate) fn into_proto(self) -> Result<pb::TxnRequest> {
        if let Some(m) = self.misuse {
            return Err(Error::InvalidRequest(format!("transaction: {m}")));
        }
        Ok(pb::TxnRequest {
            compare: self
                .compares
                .into_iter()
                .map(Compare::into_proto)
                .collect::<Result<_>>()?,
            success: self
                .success
                .into_iter()
                .map(Op::into_proto)
                .collect::<Result<_>>()?,
            failure: self
                .failure
                .into_iter()
                .map(Op::into_proto)
                .collect::<Result<_>>()?,
            ..Default::default()
        })
    }
}

/// Result of a transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxnResponse {
    header: ResponseHeader,
    succeeded: bool,
    responses: Vec<OpResponse>,
}

impl TxnResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// Whether the conditions held (so the `and_then` branch ran).
    pub fn succeeded(&self) -> bool {
        self.succeeded
    }
    /// One result per op of the branch that ran, in order.
    pub fn responses(&self) -> &[OpResponse] {
        &self.responses
    }
    /// Takes the op results out.
    pub fn into_responses(self) -> Vec<OpResponse> {
        self.responses
    }
}

impl From<pb::TxnResponse> for TxnResponse {
    fn from(r: pb::TxnResponse) -> Self {
        TxnResponse {
            header: r.header.into(),
            succeeded: r.succeeded,
            responses: r
                .responses
                .into_iter()
                .map(OpResponse::from_proto)
                .collect(),
        }
    }
}

/// Transactions and single ops.
impl Client {
    /// Runs a transaction.
    pub fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        let req = txn.into_proto()?;
        let retry = retry_of_txn(&req);
        let resp = self.unary_mapped(&crate::proto::methods::KV_TXN, req, retry)?;
        Ok(resp.into())
    }

    /// Runs one op on its own, as Go's `KV.Do`.
    pub fn execute(&self, op: Op) -> Result<OpResponse> {
        Ok(match op {
            Op::Get(k, o) => OpResponse::Get(self.get_with(k, o)?),
            Op::Put(k, v, o) => OpResponse::Put(self.put_with(k, v, o)?),
            Op::Delete(k, o) => OpResponse::Delete(self.delete_with(k, o)?),
            Op::Txn(t) => OpResponse::Txn(self.txn(*t)?),
        })
    }
}

/// A transaction that only reads may be repeated; one that writes may not.
fn retry_of_txn(req: &pb::TxnRequest) -> Retry {
    fn reads_only(ops: &[pb::RequestOp]) -> bool {
        use pb::request_op::Request as R;
        ops.iter().all(|op| match &op.request {
            Some(R::RequestRange(_)) | None => true,
            Some(R::RequestTxn(t)) => reads_only(&t.success) && reads_only(&t.failure),
            _ => false,
        })
    }
    if reads_only(&req.success) && reads_only(&req.failure) {
        Retry::Safe
    } else {
        Retry::Never
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_become_their_protos() {
        use pb::compare::{CompareResult as R, CompareTarget as T, Target_union as U};
        let c = Compare::value("k", CompareOp::NotEqual, "v")
            .into_proto()
            .unwrap();
        assert_eq!(c.result.enum_value(), Ok(R::NOT_EQUAL));
        assert_eq!(c.target.enum_value(), Ok(T::VALUE));
        assert_eq!(c.target_union, Some(U::Value(b"v".to_vec())));
        let c = Compare::lease("a/", CompareOp::Greater, 5)
            .prefix()
            .into_proto()
            .unwrap();
        assert_eq!(
            (c.key.as_slice(), c.range_end.as_slice()),
            (&b"a/"[..], &b"a0"[..])
        );
        assert_eq!(c.target.enum_value(), Ok(T::LEASE));
        let c = Compare::mod_revision("k", CompareOp::Less, 3)
            .range_end("z")
            .into_proto()
            .unwrap();
        assert_eq!(c.range_end, b"z");
        assert_eq!(c.target_union, Some(U::ModRevision(3)));
        assert!(matches!(
            Compare::version("", CompareOp::Equal, 0).into_proto(),
            Err(Error::EmptyKey)
        ));
    }

    #[test]
    fn misuse_is_an_error_not_a_panic() {
        let bad = [
            Txn::new().and_then([]).when([]),
            Txn::new().when([]).when([]),
            Txn::new().or_else([]).and_then([]),
            Txn::new().or_else([]).or_else([]),
        ];
        for t in bad {
            assert!(matches!(t.into_proto(), Err(Error::InvalidRequest(_))));
        }
        assert!(Txn::new().or_else([Op::get("k")]).into_proto().is_ok());
        assert!(Txn::new()
            .when([])
            .and_then([])
            .or_else([])
            .into_proto()
            .is_ok());
    }

    #[test]
    fn only_read_only_txns_are_retried() {
        let read = Txn::new()
            .and_then([Op::get("a"), Op::txn(Txn::new().or_else([Op::get("b")]))])
            .into_proto()
            .unwrap();
        assert_eq!(retry_of_txn(&read), Retry::Safe);
        let write = Txn::new()
            .and_then([Op::txn(Txn::new().or_else([Op::delete("b")]))])
            .into_proto()
            .unwrap();
        assert_eq!(retry_of_txn(&write), Retry::Never);
    }
}
