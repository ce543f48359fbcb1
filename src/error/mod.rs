//! The one error type of the crate, and the one place where errors are
//! classified: gRPC statuses, etcd's server messages and transport
//! failures become typed kinds here, and every question the rest of the
//! crate asks of an error (may it be retried, was it never sent, is the
//! token stale, will a failed connection never work) is answered here.
//!
//! One file per job: this one is [`Error`] itself, what a caller asks of
//! it and how it displays; `catalogue.rs` lists gRPC's codes and etcd's
//! own errors (kind, code, message); `classify.rs` turns what gRPC and
//! etcd send into an [`Error`]; `v2.rs` is the same for the v2 API's
//! JSON errors.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

mod catalogue;
mod classify;
#[cfg(feature = "v2")]
pub(crate) mod v2;

pub use catalogue::{Code, EtcdError};
pub(crate) use classify::{
    from_grpc, from_message, is_auth_refusal, is_permanent_connect_failure, is_stale_token,
    never_sent, refused_unapplied, transport_failure, unreachable,
};

/// The result type of every fallible call in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a call.
///
/// Each case that a caller may want to handle differently is its own variant,
/// so one `match` arm handles it; nothing needs parsing a message.
///
/// A write that must happen once: [`is_outcome_unknown`](Self::is_outcome_unknown)
/// says whether a failed write may still have been applied (look before
/// sending it again), [`is_retryable`](Self::is_retryable) whether the
/// failure was transient. Ask in that order: a write whose outcome is
/// unknown is often retryable too.
///
/// ```no_run
/// use std::{thread, time::Duration};
/// use etcd_blocking::{Client, Error, EtcdError};
///
/// fn mark_paid(client: &Client, order: &str) -> Result<(), Error> {
///     let key = format!("orders/{order}/state");
///     let mut pause = Duration::from_millis(100);
///     loop {
///         let err = match client.put(key.as_str(), "paid") {
///             Ok(_) => return Ok(()),
///             Err(e) => e,
///         };
///         if err.is_outcome_unknown() {
///             // The put may have been applied: look before sending it again.
///             let now = client.get(key.as_str())?;
///             if now.first().is_some_and(|kv| kv.value() == b"paid") {
///                 return Ok(());
///             }
///         } else if !err.is_retryable() {
///             // Refused for good: no space, no permission, bad request, …
///             return Err(err);
///         }
///         if pause > Duration::from_secs(5) {
///             return Err(err);
///         }
///         thread::sleep(pause);
///         pause *= 2;
///     }
/// }
///
/// # let client = Client::connect(["127.0.0.1:2379"])?;
/// match mark_paid(&client, "1234") {
///     Ok(()) => {}
///     Err(Error::Etcd(EtcdError::NoSpace)) => eprintln!("etcd is full: compact and defragment"),
///     Err(Error::Etcd(EtcdError::PermissionDenied)) => eprintln!("not allowed to write orders/"),
///     Err(Error::Unavailable(eps)) => {
///         for ep in eps {
///             eprintln!("{}: {}", ep.endpoint, ep.cause);
///         }
///     }
///     Err(e) => return Err(e),
/// }
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The call's deadline (the client's request timeout, or the one given to
    /// [`Client::with_timeout`](crate::Client::with_timeout)) expired before
    /// an answer arrived. Retries and endpoint switches count against the
    /// same deadline.
    #[error("deadline of {0:?} exceeded")]
    DeadlineExceeded(Duration),

    /// The call was canceled through a [`CancelToken`](crate::CancelToken).
    #[error("call canceled")]
    Canceled,

    /// The client was closed, before or during the call.
    #[error("client is closed")]
    ClientClosed,

    /// A key was empty where etcd requires one: refused by the client
    /// before anything was sent, or by etcd (`key is not provided`).
    #[error("key is empty")]
    EmptyKey,

    /// The request is too large: larger than the client's send limit
    /// ([`ClientBuilder::max_send_message_size`](crate::ClientBuilder::max_send_message_size)),
    /// so nothing was sent, and `size` and `limit` say by how much; or
    /// larger than etcd's `--max-request-bytes` (etcd's `request is too
    /// large`), and both are `None`: etcd does not say. Either way it was
    /// not applied.
    #[error("{}", too_large(.size, .limit))]
    RequestTooLarge {
        /// Encoded size of the request, when the client refused it.
        size: Option<usize>,
        /// The client's send limit, when the client refused it.
        limit: Option<usize>,
    },

    /// A request was built wrongly (for example a transaction whose
    /// `when`/`and_then`/`or_else` were given out of order). Nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The client configuration is unusable (bad endpoint, zero timeout, …).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),

    /// No endpoint could serve the call: each entry names an endpoint and
    /// why it failed (the Go client's "bad cluster endpoints").
    #[error("no endpoint available: {}", EndpointErrors(.0))]
    Unavailable(Vec<EndpointError>),

    /// A write (put, delete, txn, compact, member change, …) failed after
    /// it may have reached the server: it may or may not have been
    /// applied. It was not sent again; read before retrying. (A write that
    /// ends with [`Error::DeadlineExceeded`] is in the same state.)
    #[error("outcome unknown: the request may have been applied ({endpoint}: {cause})")]
    Ambiguous {
        /// The endpoint the request went to.
        endpoint: String,
        /// What went wrong.
        cause: String,
    },

    /// A serializable read was answered only by members behind a revision
    /// this client has already seen, until the call's deadline: returning
    /// the answer would have made time go backwards (monotonic reads,
    /// [`ClientBuilder::monotonic_reads`](crate::ClientBuilder::monotonic_reads)).
    /// Retrying later, or reading linearizably, can succeed.
    #[error(
        "stale read: {endpoint} answered at revision {revision}, \
         but this client has seen revision {seen}"
    )]
    StaleRead {
        /// The last member that answered.
        endpoint: String,
        /// The revision it answered at.
        revision: i64,
        /// The highest revision this client had seen.
        seen: i64,
    },

    /// etcd answered with one of its own errors.
    #[error("etcd: {0}")]
    Etcd(#[from] EtcdError),

    /// A gRPC failure that is not one of etcd's own errors.
    #[error("gRPC status {code:?}: {message}")]
    Grpc {
        /// The gRPC status code.
        code: Code,
        /// The status message, as the server or gRPC gave it.
        message: String,
        /// The gRPC library's own error, when there was one (also
        /// [`source()`](std::error::Error::source)).
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },

    /// The server's answer could not be used: a message that does not
    /// decode, a value this client does not know, an error field without
    /// a known kind.
    #[error("unexpected answer from etcd: {0}")]
    Protocol(String),

    /// [`Client::close`](crate::Client::close) stopped everything it could,
    /// but gRPC's threads had not exited after this long.
    #[error("gRPC's threads did not stop within {0:?}")]
    ShutdownTimeout(Duration),

    /// The revision asked for was compacted away (etcd's `mvcc: required
    /// revision has been compacted`): a read or an iterator at an old
    /// revision, or a watch whose next revision is gone. A watch's
    /// consumer must re-read the current state and watch again from a
    /// revision at or after `compact_revision`.
    #[error("{}", compacted(.compact_revision))]
    Compacted {
        /// The cluster's compaction revision, when etcd says it (a watch);
        /// `None` for reads, where etcd does not.
        compact_revision: Option<i64>,
    },

    /// A watch ended: etcd canceled it (the reason is etcd's, `watch
    /// canceled` when it gave none), or the watch (or an election's
    /// [`Observer`](crate::concurrency::Observer)) had already ended and is
    /// read again.
    #[error("watch canceled: {reason}")]
    WatchCanceled {
        /// Why, as etcd said it, or that the watch had ended.
        reason: String,
    },

    /// The lease does not exist (any more): etcd says so (`requested lease
    /// not found`: never granted, revoked, or expired), or a kept-alive
    /// lease is lost because no refresh succeeded before its TTL ran out.
    #[error("{}", lease_not_found(.id, .reason))]
    LeaseNotFound {
        /// The lease id, when the client knows which lease it was.
        id: Option<i64>,
        /// What happened.
        reason: String,
    },

    /// [`Mutex::try_lock`](crate::concurrency::Mutex::try_lock): another
    /// session holds the lock.
    #[error("mutex: locked by another session")]
    Locked,

    /// The server does not support this call (an etcd 3.5 call on 3.4).
    #[error("unsupported by this server: {0}")]
    Unsupported(String),

    /// A key or value was not valid UTF-8 where text was asked for.
    #[error("not UTF-8: {0}")]
    Utf8(#[from] std::str::Utf8Error),

    /// A snapshot stream was incomplete or corrupt: it ended early, etcd's
    /// remaining byte count did not reach 0, or its trailing SHA-256
    /// checksum did not match. What was written is not a usable snapshot.
    #[error("bad snapshot: {0}")]
    Snapshot(String),

    /// An etcd v2 server answered with one of its errors (key not found,
    /// compare failed, index cleared, …): the kind, etcd's code, message,
    /// cause and index are in the [`v2::V2Error`](crate::v2::V2Error).
    #[cfg(feature = "v2")]
    #[error("etcd v2: {0}")]
    V2(v2::V2Error),

    /// A local I/O failure (writing a snapshot to its file or writer).
    #[error("I/O: {0}")]
    Io(#[source] std::sync::Arc<std::io::Error>),
}

impl Error {
    /// Whether the same call may simply be tried again later: the failure
    /// was transient (no leader, timeout inside etcd, no endpoint reachable)
    /// and says nothing about the request itself.
    ///
    /// This answers for the *failure*; whether a retry is safe also depends
    /// on the call: a write that failed with [`Error::Ambiguous`] or
    /// [`Error::DeadlineExceeded`] is "retryable" yet may already be
    /// applied, so before sending a write again check
    /// [`is_outcome_unknown`](Self::is_outcome_unknown) (and read, if it
    /// says so). Reads may always be retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Unavailable(_)
            | Error::DeadlineExceeded(_)
            | Error::Ambiguous { .. }
            | Error::StaleRead { .. } => true,
            Error::Etcd(e) => e.is_transient(),
            #[cfg(feature = "v2")]
            Error::V2(e) => e.is_transient(),
            Error::Grpc { code, .. } => *code == Code::Unavailable,
            _ => false,
        }
    }

    /// Whether a write (put, delete, txn, lease grant, member change, …)
    /// that failed with this error may nevertheless have been applied: its
    /// outcome is unknown, and the caller must read before deciding to
    /// try again. The client itself never sends such a write twice.
    ///
    /// True for [`Error::Ambiguous`] (the connection broke after the
    /// request may have left), [`Error::DeadlineExceeded`],
    /// [`Error::Canceled`] and [`Error::ClientClosed`] (the call may have
    /// been in flight when it was cut short), etcd's own
    /// [`EtcdError::Timeout`], [`EtcdError::TimeoutDueToLeaderFail`],
    /// [`EtcdError::TimeoutDueToConnectionLost`], [`EtcdError::LeaderChanged`],
    /// [`EtcdError::Stopped`] and [`EtcdError::RequestCanceled`] (the
    /// proposal may still commit), and an
    /// [`Error::Grpc`] status the client cannot interpret. Every other
    /// error means the write was not applied. For reads the question does
    /// not arise: a read changes nothing.
    pub fn is_outcome_unknown(&self) -> bool {
        match self {
            Error::Ambiguous { .. }
            | Error::DeadlineExceeded(_)
            | Error::Canceled
            | Error::ClientClosed
            | Error::Grpc { .. } => true,
            Error::Etcd(e) => e.is_outcome_unknown(),
            _ => false,
        }
    }

    /// The gRPC status behind this error, where there is one: for the
    /// conditions the client may also find itself (empty key, request too
    /// large, compacted, watch canceled, lease not found), the code etcd
    /// sends for them.
    pub fn code(&self) -> Option<Code> {
        match self {
            Error::DeadlineExceeded(_) => Some(Code::DeadlineExceeded),
            Error::Canceled | Error::WatchCanceled { .. } => Some(Code::Cancelled),
            Error::Unavailable(_) | Error::Ambiguous { .. } => Some(Code::Unavailable),
            Error::EmptyKey | Error::RequestTooLarge { .. } => Some(Code::InvalidArgument),
            Error::Compacted { .. } => Some(Code::OutOfRange),
            Error::LeaseNotFound { .. } => Some(Code::NotFound),
            Error::Etcd(e) => Some(e.code()),
            Error::Grpc { code, .. } => Some(*code),
            _ => None,
        }
    }
}

fn too_large(size: &Option<usize>, limit: &Option<usize>) -> String {
    match (size, limit) {
        (Some(size), Some(limit)) => {
            format!("request of {size} bytes exceeds the send limit of {limit} bytes")
        }
        _ => "request is too large for the server (its --max-request-bytes)".into(),
    }
}

fn compacted(compact_revision: &Option<i64>) -> String {
    match compact_revision {
        Some(rev) => format!("compacted: revisions before {rev} are gone"),
        None => "compacted: the revision asked for is gone".into(),
    }
}

fn lease_not_found(id: &Option<i64>, reason: &str) -> String {
    match id {
        Some(id) => format!("lease {id:x} not found: {reason}"),
        None => format!("lease not found: {reason}"),
    }
}

/// One endpoint's part of an [`Error::Unavailable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointError {
    /// The endpoint, in the normalised form of
    /// [`Client::endpoints`](crate::Client::endpoints) (`http://host:port`,
    /// `https://host:port`, `unix://path`); for a DNS SRV lookup that
    /// failed, the DNS server asked (`dns://addr:port`).
    pub endpoint: String,
    /// Why it could not serve the call.
    pub cause: String,
}

struct EndpointErrors<'a>(&'a [EndpointError]);

impl fmt::Display for EndpointErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.endpoint, e.cause)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_lists_each_endpoint() {
        let e = Error::Unavailable(vec![
            EndpointError {
                endpoint: "a:1".into(),
                cause: "refused".into(),
            },
            EndpointError {
                endpoint: "b:2".into(),
                cause: "timed out".into(),
            },
        ]);
        assert_eq!(
            e.to_string(),
            "no endpoint available: a:1: refused; b:2: timed out"
        );
    }
}
