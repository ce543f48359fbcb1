//! Reading a range of any size a page at a time: [`Client::get_iter`].
//!
//! Every page is read at the revision of the first, so the pages together
//! are one consistent snapshot however long the iteration takes, and only
//! one page is held at a time.
//!
//! Each page is read with etcd 3.7's `RangeStream` while the members
//! serve it: the member then sends even a large page in chunks instead of
//! building one message of it. A member without it (3.4 to 3.6) answers
//! `Unimplemented` at once, and the iterator reads that page and the rest
//! with plain Range calls. Serializable iterations always use Range: the
//! monotonic-reads check (`ClientBuilder::monotonic_reads`) is made on
//! unary answers.

use std::collections::VecDeque;

use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::kv::{range_request, GetOptions};
use crate::namespace::Mapped;
use crate::proto::{methods, rpc as pb};
use crate::types::{kvs, KeyValue};

/// The key-values of a range, read a page at a time, all at one revision:
/// see [`Client::get_iter`].
///
/// Each item is a key-value, or the error that ended the iteration (then
/// the iterator is done): [`Error::Compacted`](crate::Error::Compacted)
/// if the pinned revision was compacted away before the last page, or any
/// error of a read ([`Error::DeadlineExceeded`] for a page that took longer
/// than the handle's deadline, …). When the handle's cancel token fires
/// ([`Client::with_cancel`]) or the client closes, the next item is
/// [`Error::Canceled`] (or [`Error::ClientClosed`]) even if keys of a page
/// already read remain.
///
/// List a large prefix, then watch it from the revision the list was read
/// at, so no change falls between the two:
///
/// ```no_run
/// use etcd_blocking::{GetOptions, WatchOptions};
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let mut nodes = client.get_iter("nodes/", GetOptions::new().prefix(), 500)?;
/// for kv in nodes.by_ref() {
///     let kv = kv?;
///     println!("{} = {}", kv.key_str()?, kv.value_str()?);
/// }
/// let rev = nodes.revision().expect("read at least one page");
/// let watcher = client.watch_with("nodes/", WatchOptions::new().prefix().start_revision(rev + 1))?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
pub struct RangeIter {
    client: Client,
    /// The first page's request; later pages start after the last key.
    req: pb::RangeRequest,
    page_size: i64,
    /// What the caller's limit still allows, if it set one.
    left: Option<i64>,
    page: VecDeque<KeyValue>,
    /// The revision every page is read at; 0 until the first page.
    revision: i64,
    /// Whether pages are read with `RangeStream` (until a member says it
    /// has none).
    stream: bool,
    done: bool,
}

impl RangeIter {
    /// The revision the iteration reads at: the caller's, or the one the
    /// first page was served at (`None` before it was read).
    pub fn revision(&self) -> Option<i64> {
        (self.revision > 0).then_some(self.revision)
    }

    fn fetch(&mut self) -> Result<()> {
        let mut req = self.req.clone();
        req.limit = self.left.map_or(self.page_size, |l| l.min(self.page_size));
        req.revision = self.revision;
        let resp = if self.stream {
            // The page's deadline covers the fallback too.
            let deadline = self.client.deadline();
            let page = self.client.within(&deadline)?;
            // The stream goes to the pinned member with no failover: it
            // gets one attempt's share, so that a frozen member cannot hold
            // the page to its deadline, and Range (which fails over) reads
            // the page if the share runs out.
            match range_stream(&page.attempt_within(&deadline)?, req.clone()) {
                Err(Error::Grpc {
                    code: Code::Unimplemented,
                    ..
                }) => {
                    log::debug!("RangeStream unimplemented: reading pages with Range");
                    self.stream = false;
                    page.range(req)?
                }
                Err(Error::DeadlineExceeded(_)) if deadline.remaining().is_ok() => {
                    log::debug!("RangeStream did not answer in its share: this page with Range");
                    page.range(req)?
                }
                other => other?,
            }
        } else {
            self.client.range(req)?
        };
        if self.revision == 0 {
            self.revision = resp.header.revision;
        }
        let more = resp.more;
        let page = kvs(resp.kvs);
        if let Some(left) = &mut self.left {
            *left -= page.len() as i64;
        }
        match page.last() {
            // The next page starts just after the last key of this one.
            Some(last) if more && self.left != Some(0) => {
                let mut next = last.key().to_vec();
                next.push(0);
                self.req.key = next;
            }
            _ => self.done = true,
        }
        self.page = page.into();
        Ok(())
    }
}

/// One range read with etcd 3.7's `RangeStream`, its chunks merged into the
/// answer a Range call gives: the kvs of every chunk in order, and the
/// header, `more` and `count` that only the last chunk carries. The
/// handle's namespace maps the request in and the answer out, as for Range.
fn range_stream(client: &Client, mut req: pb::RangeRequest) -> Result<pb::RangeResponse> {
    let ns = client.namespace();
    if let Some(ns) = ns {
        req.map(ns);
    }
    let mut merged = pb::RangeResponse::default();
    client.server_streaming(&methods::KV_RANGE_STREAM, &req, &mut |chunk| {
        merge_chunk(&mut merged, chunk);
        Ok(())
    })?;
    if let Some(ns) = ns {
        merged.map(ns);
    }
    Ok(merged)
}

fn merge_chunk(merged: &mut pb::RangeResponse, chunk: pb::RangeStreamResponse) {
    let Some(part) = chunk.range_response.into_option() else {
        return;
    };
    merged.kvs.extend(part.kvs);
    if part.header.is_some() {
        merged.header = part.header;
    }
    merged.more |= part.more;
    if part.count != 0 {
        merged.count = part.count;
    }
}

impl Iterator for RangeIter {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Result<KeyValue>> {
        if self.done && self.page.is_empty() {
            return None;
        }
        // A canceled token or a closed client ends the iteration now, not
        // after the page already read.
        if let Some(e) = self.client.interrupted() {
            self.done = true;
            self.page.clear();
            return Some(Err(e));
        }
        loop {
            if let Some(kv) = self.page.pop_front() {
                return Some(Ok(kv));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.fetch() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

impl std::fmt::Debug for RangeIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeIter")
            .field("revision", &self.revision())
            .field("page_size", &self.page_size)
            .field("done", &self.done)
            .finish()
    }
}

/// Paginated reads.
impl Client {
    /// Reads the keys `opts` covers (a key, a range, a prefix or from a
    /// key; keys-only and serializable as asked) in pages of `page_size`,
    /// all at one revision (the one given with
    /// [`GetOptions::revision`], or the first page's), holding one page at
    /// a time. `opts`'s limit caps the total. Every page is a call with
    /// this handle's deadline and cancel token.
    ///
    /// Keys come in key order: sorting, count-only and the min/max
    /// revision filters do not combine with paging and are
    /// [`Error::InvalidRequest`], as is a page size of 0.
    ///
    /// ```no_run
    /// use etcd_blocking::{Client, GetOptions};
    /// # let client = Client::connect(["127.0.0.1:2379"])?;
    /// let mut n = 0;
    /// for kv in client.get_iter("jobs/", GetOptions::new().prefix().keys_only(), 1000)? {
    ///     let kv = kv?;
    ///     n += 1;
    ///     println!("{}", kv.key_str()?);
    /// }
    /// println!("{n} jobs");
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn get_iter(
        &self,
        key: impl Into<Vec<u8>>,
        opts: GetOptions,
        page_size: usize,
    ) -> Result<RangeIter> {
        let req = range_request(key.into(), &opts)?;
        let refuse = |what: &str| {
            Err(Error::InvalidRequest(format!(
                "{what} does not combine with reading in pages"
            )))
        };
        if page_size == 0 {
            return refuse("a page size of 0");
        }
        if req.sort_order.value() != 0 || req.sort_target.value() != 0 {
            return refuse("sorting");
        }
        if req.count_only {
            return refuse("count-only");
        }
        if req.min_mod_revision != 0
            || req.max_mod_revision != 0
            || req.min_create_revision != 0
            || req.max_create_revision != 0
        {
            return refuse("a revision filter");
        }
        Ok(RangeIter {
            client: self.clone(),
            left: (req.limit > 0).then_some(req.limit),
            revision: req.revision,
            page_size: i64::try_from(page_size).unwrap_or(i64::MAX),
            stream: !req.serializable,
            req,
            page: VecDeque::new(),
            done: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protobuf::Message;

    /// A chunk as etcd 3.7 encodes it, by hand from its rpc.proto
    /// (`RangeStreamResponse { RangeResponse range_response = 1; }`), so the
    /// test does not lean on our own generated code to write it.
    fn wire_chunk(keys: &[&str], last: Option<(i64, bool, i64)>) -> Vec<u8> {
        let mut inner = Vec::new();
        if let Some((revision, _, _)) = last {
            // header = 1 { revision = 3 }
            inner.extend([0x0a, 0x02, 0x18, revision as u8]);
        }
        for k in keys {
            // kvs = 2 { key = 1 }
            inner.extend([0x12, (k.len() + 2) as u8, 0x0a, k.len() as u8]);
            inner.extend(k.as_bytes());
        }
        if let Some((_, more, count)) = last {
            inner.extend([0x18, more as u8, 0x20, count as u8]);
        }
        let mut out = vec![0x0a, inner.len() as u8];
        out.extend(inner);
        out
    }

    #[test]
    fn range_stream_chunks_merge_into_one_range_answer() {
        let mut merged = pb::RangeResponse::default();
        for chunk in [
            wire_chunk(&["a", "b"], None),
            wire_chunk(&["c"], None),
            wire_chunk(&["d"], Some((42, true, 9))),
        ] {
            merge_chunk(
                &mut merged,
                pb::RangeStreamResponse::parse_from_bytes(&chunk).unwrap(),
            );
        }
        let keys: Vec<_> = merged.kvs.iter().map(|kv| kv.key.clone()).collect();
        assert_eq!(keys, [b"a", b"b", b"c", b"d"].map(|k| k.to_vec()));
        assert_eq!(merged.header.revision, 42);
        assert!(merged.more);
        assert_eq!(merged.count, 9);
    }

    #[test]
    fn range_stream_is_a_server_stream_of_range_requests() {
        let m = &methods::KV_RANGE_STREAM;
        assert_eq!(m.name, "/etcdserverpb.KV/RangeStream");
        assert!(matches!(m.ty, grpcio::MethodType::ServerStreaming));
        // Same request message as Range: page limit and pinned revision
        // travel in the fields 3.7 reads (limit = 3, revision = 4).
        let req = pb::RangeRequest {
            key: b"k".to_vec(),
            limit: 5,
            revision: 7,
            ..Default::default()
        };
        assert_eq!(
            req.write_to_bytes().unwrap(),
            [0x0a, 0x01, b'k', 0x18, 0x05, 0x20, 0x07]
        );
    }
}
