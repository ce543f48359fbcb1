//! The line of contenders under a prefix that [`Mutex`](super::Mutex) and
//! [`Election`](super::Election) share: join it, wait for the keys ahead,
//! withdraw.

use std::sync::Arc;

use crate::{
    Client, Compare, CompareOp, Error, EtcdError, GetOptions, KeyValue, Op, PutOptions,
    ResponseHeader, Result, SortOrder, SortTarget, Txn, TxnResponse,
};

use super::session::Liveness;
use super::{first_created, first_kv, uncancelable, wait_delete, within, Session};
use crate::wait::Deadline;

/// One session's place in the line under a prefix: the key
/// `<prefix>/<lease in hex>` (the Go client's layout, so both clients
/// queue in one line), created on the session's lease. The oldest key is
/// at the head of the line.
#[derive(Debug)]
pub(super) struct Line {
    pub(super) client: Client,
    pub(super) lease: i64,
    /// With its trailing `/`.
    pub(super) prefix: Vec<u8>,
    pub(super) key: Vec<u8>,
    /// Create revision of our key while in the line, else -1.
    pub(super) rev: i64,
    pub(super) header: Option<ResponseHeader>,
    liveness: Arc<Liveness>,
}

impl Line {
    pub(super) fn new(session: &Session, prefix: Vec<u8>) -> Line {
        let mut prefix = prefix;
        prefix.push(b'/');
        let mut key = prefix.clone();
        key.extend_from_slice(format!("{:x}", session.lease()).as_bytes());
        Line {
            client: session.client().clone(),
            lease: session.lease(),
            prefix,
            key,
            rev: -1,
            header: None,
            liveness: session.liveness(),
        }
    }

    /// Fails with [`EtcdError::SessionExpired`] once the session is over:
    /// nothing this contender held is held any more.
    pub(super) fn check_session(&mut self) -> Result<()> {
        self.liveness.check().inspect_err(|_| self.rev = -1)
    }

    /// Joins the line with `value` unless already in it, through `client`
    /// (which bounds the request). The response's first result is our
    /// existing key when the transaction did not succeed; its second, the
    /// head of the line.
    pub(super) fn join(&mut self, client: &Client, value: &[u8]) -> Result<TxnResponse> {
        self.check_session()?;
        let head = Op::get_with(self.prefix.clone(), first_created());
        let resp = client.txn(
            Txn::new()
                .when([Compare::create_revision(
                    self.key.clone(),
                    CompareOp::Equal,
                    0,
                )])
                .and_then([
                    Op::put_with(
                        self.key.clone(),
                        value.to_vec(),
                        PutOptions::new().lease(self.lease),
                    ),
                    head.clone(),
                ])
                .or_else([Op::get(self.key.clone()), head]),
        )?;
        self.rev = if resp.succeeded() {
            resp.header().revision()
        } else {
            first_kv(&resp.responses()[0])
                .map(KeyValue::create_revision)
                .ok_or_else(|| Error::InvalidRequest("queue key vanished while joining".into()))?
        };
        self.header = Some(*resp.header());
        Ok(resp)
    }

    /// Whether the head of the line in a [`join`](Self::join) response is us.
    pub(super) fn at_head(&self, resp: &TxnResponse) -> bool {
        first_kv(&resp.responses()[1]).is_none_or(|kv| kv.create_revision() == self.rev)
    }

    /// Waits until every key ahead of ours is deleted, newest first. Each
    /// is awaited with a watch from the revision it was read at, so a
    /// deletion between the read and the watch is not missed. Then our key
    /// must still be there: else the session's lease ended meanwhile.
    fn wait_turn(&mut self, deadline: Deadline) -> Result<()> {
        let newest_ahead = GetOptions::new()
            .prefix()
            .sort(SortTarget::Create, SortOrder::Descend)
            .max_create_revision(self.rev - 1)
            .limit(1);
        let liveness = self.liveness.clone();
        let ended = move || liveness.ended();
        loop {
            let step = within(&self.client, deadline)?;
            let resp = step.get_with(self.prefix.clone(), newest_ahead.clone())?;
            let Some(kv) = resp.kvs().first() else {
                break;
            };
            wait_delete(
                &self.client,
                kv.key(),
                resp.header().revision(),
                deadline,
                &ended,
            )?;
        }
        let r = within(&self.client, deadline)?.get(self.key.clone())?;
        if r.kvs().is_empty() {
            return Err(Error::Etcd(EtcdError::SessionExpired));
        }
        self.header = Some(*r.header());
        Ok(())
    }

    /// Leaves the line if our key is still the one we created. `client`
    /// decides whether a cancel token applies.
    pub(super) fn leave(&mut self, client: &Client) -> Result<()> {
        if self.rev < 0 {
            return Ok(());
        }
        let resp = client.txn(
            Txn::new()
                .when([self.still_ours()])
                .and_then([Op::delete(self.key.clone())]),
        )?;
        self.header = Some(*resp.header());
        self.rev = -1;
        Ok(())
    }

    /// Leaves the line after a failed wait, even if the failure was a
    /// cancel: a stale key would hold up everyone queued behind it.
    pub(super) fn withdraw(&mut self) {
        let client = uncancelable(&self.client);
        if let Err(e) = self.leave(&client) {
            log::warn!("leaving the line under {:?}: {e}", self.prefix);
        }
    }

    /// Runs `wait_turn` and withdraws if it fails.
    pub(super) fn wait_or_withdraw(&mut self, deadline: Deadline) -> Result<()> {
        self.wait_turn(deadline).inspect_err(|_| self.withdraw())
    }

    /// Our key, as long as it is the one we created: the "is owner" guard.
    pub(super) fn still_ours(&self) -> Compare {
        Compare::create_revision(self.key.clone(), CompareOp::Equal, self.rev)
    }

    /// The head of the line, if any.
    pub(super) fn head(&self) -> Result<Option<KeyValue>> {
        let r = self.client.get_with(self.prefix.clone(), first_created())?;
        Ok(r.into_kvs().into_iter().next())
    }

    pub(super) fn is_head(&self) -> Result<bool> {
        self.liveness.check()?;
        Ok(self.head()?.is_some_and(|kv| kv.key() == self.key))
    }
}
