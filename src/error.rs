//! The one error type of the crate, and the one place where errors are
//! classified: gRPC statuses, etcd's server messages and transport
//! failures become typed kinds here, and every question the rest of the
//! crate asks of an error (may it be retried, was it never sent, is the
//! token stale, will a failed connection never work) is answered here.
//!
//! etcd reports its own failures as a gRPC status whose message is a fixed
//! string (`etcdserver: …`). Those strings are a stable part of etcd's API
//! (its Go client matches on them too), so they are matched here, once, and
//! callers match on [`EtcdError`] instead.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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

    /// A key was empty where etcd requires one (the client-side twin of
    /// etcd's `key is not provided`). Nothing was sent.
    #[error("key is empty")]
    EmptyKey,

    /// The request is larger than the client's send limit
    /// ([`ClientBuilder::max_send_message_size`](crate::ClientBuilder::max_send_message_size)).
    /// Nothing was sent.
    #[error("request of {size} bytes exceeds the send limit of {limit} bytes")]
    RequestTooLarge {
        /// Encoded size of the request.
        size: usize,
        /// The configured limit.
        limit: usize,
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

    /// A watch ended because the revision it needed next was compacted
    /// away: its consumer must re-read the current state and watch again
    /// from a revision at or after `compact_revision`.
    #[error("watch compacted: revisions before {compact_revision} are gone")]
    WatchCompacted {
        /// The cluster's compaction revision.
        compact_revision: i64,
    },

    /// A watch ended: etcd canceled it (the reason is etcd's), or it had
    /// already ended and is read again.
    #[error("watch canceled: {reason}")]
    WatchCanceled {
        /// Why, as etcd said it.
        reason: String,
    },

    /// A kept-alive lease is gone: etcd no longer knows it, or no refresh
    /// succeeded before its TTL ran out.
    #[error("lease {id:x} lost: {reason}")]
    LeaseLost {
        /// The lease id.
        id: i64,
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
    V2(crate::v2::V2Error),

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

    /// The gRPC status behind this error, where there is one.
    pub fn code(&self) -> Option<Code> {
        match self {
            Error::DeadlineExceeded(_) => Some(Code::DeadlineExceeded),
            Error::Canceled => Some(Code::Cancelled),
            Error::Unavailable(_) | Error::Ambiguous { .. } => Some(Code::Unavailable),
            Error::Etcd(e) => Some(e.code()),
            Error::Grpc { code, .. } => Some(*code),
            _ => None,
        }
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

macro_rules! grpc_codes {
    ($($name:ident),* $(,)?) => {
        /// gRPC status codes, without tying callers to the gRPC library in use.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[allow(missing_docs)] // the names are gRPC's own
        pub enum Code {
            $($name),*
        }

        impl Code {
            /// The code for gRPC's number (declaration order is gRPC's
            /// numbering); unknown numbers are `Unknown`.
            fn from_i32(code: i32) -> Code {
                const CODES: &[Code] = &[$(Code::$name),*];
                usize::try_from(code)
                    .ok()
                    .and_then(|i| CODES.get(i).copied())
                    .unwrap_or(Code::Unknown)
            }
        }
    };
}

grpc_codes! {
    Ok,
    Cancelled,
    Unknown,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    DataLoss,
    Unauthenticated,
}

macro_rules! etcd_errors {
    ($( $(#[$doc:meta])* $kind:ident = ($code:ident, $msg:literal), )*) => {
        /// An error reported by the etcd server itself, one variant per
        /// error etcd defines (the `rpctypes.Err…` values of the Go client).
        /// It comes inside [`Error::Etcd`].
        ///
        /// ```no_run
        /// use etcd_blocking::{Error, EtcdError, GetOptions};
        /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
        /// match client.get_with("audit/", GetOptions::new().prefix().revision(42)) {
        ///     Ok(resp) => println!("{} keys at revision 42", resp.count()),
        ///     Err(Error::Etcd(EtcdError::Compacted)) => println!("revision 42 was compacted"),
        ///     Err(Error::Etcd(EtcdError::FutureRevision)) => println!("not at revision 42 yet"),
        ///     Err(Error::Etcd(e)) if e.is_transient() => {
        ///         println!("etcd is busy ({}), try again later", e.message())
        ///     }
        ///     Err(Error::Etcd(e)) => println!("refused: {e} (gRPC {:?})", e.code()),
        ///     Err(e) => return Err(e),
        /// }
        /// # Ok::<(), etcd_blocking::Error>(())
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[non_exhaustive]
        pub enum EtcdError {
            $( $(#[$doc])* #[error($msg)] $kind, )*
        }

        impl EtcdError {
            /// The gRPC status code etcd sends with this error.
            pub fn code(&self) -> Code {
                match self { $( EtcdError::$kind => Code::$code, )* }
            }

            /// etcd's message for this error, without the `etcdserver: ` prefix.
            pub fn message(&self) -> &'static str {
                match self { $( EtcdError::$kind => $msg, )* }
            }

            fn from_message(msg: &str) -> Option<EtcdError> {
                match msg { $( $msg => Some(EtcdError::$kind), )* _ => None }
            }
        }
    };
}

etcd_errors! {
    /// The request had no key (`key is not provided`).
    EmptyKey = (InvalidArgument, "key is not provided"),
    /// `key not found` (a txn or put that needed an existing key).
    KeyNotFound = (InvalidArgument, "key not found"),
    /// A put asked to ignore the value but carried one.
    ValueProvided = (InvalidArgument, "value is provided"),
    /// A put asked to ignore the lease but carried one.
    LeaseProvided = (InvalidArgument, "lease is provided"),
    /// A txn had more operations than the server's `--max-txn-ops`.
    TooManyOps = (InvalidArgument, "too many operations in txn request"),
    /// A txn wrote the same key twice in one branch.
    DuplicateKey = (InvalidArgument, "duplicate key given in txn request"),
    /// The client's API version is not accepted.
    InvalidClientApiVersion = (InvalidArgument, "invalid client api version"),
    /// The sort order or target is not valid.
    InvalidSortOption = (InvalidArgument, "invalid sort option"),
    /// The revision asked for has been compacted away.
    Compacted = (OutOfRange, "mvcc: required revision has been compacted"),
    /// The revision asked for is newer than the store's current revision.
    FutureRevision = (OutOfRange, "mvcc: required revision is a future revision"),
    /// The backend quota is full (`NOSPACE` alarm); writes are refused.
    NoSpace = (ResourceExhausted, "mvcc: database space exceeded"),
    /// The lease does not exist (expired or revoked).
    LeaseNotFound = (NotFound, "requested lease not found"),
    /// A lease with this id already exists.
    LeaseExists = (FailedPrecondition, "lease already exists"),
    /// The requested lease TTL is larger than etcd allows.
    LeaseTtlTooLarge = (OutOfRange, "too large lease TTL"),
    /// The watch was canceled by the server.
    WatchCanceled = (Cancelled, "watch canceled"),
    /// A member with this id already exists.
    MemberExists = (FailedPrecondition, "member ID already exist"),
    /// A member with these peer URLs already exists.
    PeerUrlExists = (FailedPrecondition, "Peer URLs already exists"),
    /// Too few members are started to change membership safely.
    MemberNotEnoughStarted = (FailedPrecondition, "re-configuration failed due to not enough started members"),
    /// The member URLs are malformed.
    MemberBadUrls = (InvalidArgument, "given member URLs are invalid"),
    /// No member has this id.
    MemberNotFound = (NotFound, "member not found"),
    /// Only a learner can be promoted.
    MemberNotLearner = (FailedPrecondition, "can only promote a learner member"),
    /// The learner has not caught up with the leader yet.
    LearnerNotReady = (FailedPrecondition, "can only promote a learner member which is in sync with leader"),
    /// The cluster already has the maximum number of learners.
    TooManyLearners = (FailedPrecondition, "too many learner members in cluster"),
    /// The request came from a member of another cluster.
    ClusterIdMismatch = (FailedPrecondition, "cluster ID mismatch"),
    /// The request exceeds the server's `--max-request-bytes`.
    RequestTooLarge = (InvalidArgument, "request is too large"),
    /// The server is overloaded and shed the request.
    TooManyRequests = (ResourceExhausted, "too many requests"),
    /// Auth is being enabled without a `root` user.
    RootUserNotExist = (FailedPrecondition, "root user does not exist"),
    /// The `root` user lacks the `root` role.
    RootRoleNotExist = (FailedPrecondition, "root user does not have root role"),
    /// A user with this name already exists.
    UserAlreadyExists = (FailedPrecondition, "user name already exists"),
    /// The user name is empty.
    UserEmpty = (InvalidArgument, "user name is empty"),
    /// No user has this name.
    UserNotFound = (FailedPrecondition, "user name not found"),
    /// A role with this name already exists.
    RoleAlreadyExists = (FailedPrecondition, "role name already exists"),
    /// No role has this name.
    RoleNotFound = (FailedPrecondition, "role name not found"),
    /// The role name is empty.
    RoleEmpty = (InvalidArgument, "role name is empty"),
    /// Wrong user name or password.
    AuthFailed = (InvalidArgument, "authentication failed, invalid user ID or password"),
    /// A user created without a password tried to log in with one.
    NoPasswordUser = (InvalidArgument, "authentication failed, password was given for no password user"),
    /// A role was granted no permission.
    PermissionNotGiven = (InvalidArgument, "permission not given"),
    /// The user may not do this.
    PermissionDenied = (PermissionDenied, "permission denied"),
    /// The role is not granted to the user.
    RoleNotGranted = (FailedPrecondition, "role is not granted to the user"),
    /// The permission is not granted to the role.
    PermissionNotGranted = (FailedPrecondition, "permission is not granted to the role"),
    /// Auth is not enabled on the server.
    AuthNotEnabled = (FailedPrecondition, "authentication is not enabled"),
    /// The auth token is invalid or expired.
    InvalidAuthToken = (Unauthenticated, "invalid auth token"),
    /// The auth management request is malformed.
    InvalidAuthMgmt = (InvalidArgument, "invalid auth management"),
    /// The token was issued before the auth store last changed.
    AuthOldRevision = (InvalidArgument, "revision of auth store is old"),
    /// The member has no leader (partitioned, or an election is running).
    NoLeader = (Unavailable, "no leader"),
    /// The request needs the leader and this member is not it.
    NotLeader = (FailedPrecondition, "not leader"),
    /// The leader changed while the request was in flight.
    LeaderChanged = (Unavailable, "leader changed"),
    /// The cluster version does not support this request.
    NotCapable = (Unavailable, "not capable"),
    /// The member is shutting down.
    Stopped = (Unavailable, "server stopped"),
    /// The request timed out inside etcd (its outcome is unknown).
    Timeout = (Unavailable, "request timed out"),
    /// The request timed out inside etcd, possibly because the previous
    /// leader failed (its outcome is unknown).
    TimeoutDueToLeaderFail = (Unavailable, "request timed out, possibly due to previous leader failure"),
    /// The request timed out inside etcd, possibly because a connection was
    /// lost (its outcome is unknown).
    TimeoutDueToConnectionLost = (Unavailable, "request timed out, possibly due to connection lost"),
    /// A linearizable read waited too long for the applied index.
    TimeoutWaitAppliedIndex = (Unavailable, "request timed out, waiting for the applied index took too long"),
    /// raft dropped the proposal before it entered the log (typically
    /// during a leader transfer): it was not applied and may be sent again.
    ProposalDropped = (Unknown, "raft proposal dropped"),
    /// The cluster is unhealthy (too few members reachable to act).
    Unhealthy = (Unavailable, "unhealthy cluster"),
    /// The cluster detected data corruption (`CORRUPT` alarm).
    Corrupt = (DataLoss, "corrupt cluster"),
    /// Learners do not serve this request.
    NotSupportedForLearner = (Unavailable, "rpc not supported for learner"),
    /// The member chosen as the new leader cannot take over.
    BadLeaderTransferee = (FailedPrecondition, "bad leader transferee"),
    /// An election has no leader (no campaigner holds it).
    ElectionNoLeader = (Unknown, "election: no leader"),
    /// Proclaim or resign by a campaigner that is not the leader.
    ElectionNotLeader = (Unknown, "election: not leader"),
    /// The session (lease) behind a lock or campaign ended.
    SessionExpired = (Unknown, "mutex: session is expired"),
    /// The downgrade target version is not `major.minor`.
    WrongDowngradeVersionFormat = (InvalidArgument, "wrong downgrade target version format"),
    /// The downgrade target version is not one minor below the cluster's.
    InvalidDowngradeTargetVersion = (InvalidArgument, "invalid downgrade target version"),
    /// A downgrade is already in progress.
    DowngradeInProcess = (FailedPrecondition, "cluster has a downgrade job in progress"),
    /// No downgrade is in progress.
    NoInflightDowngrade = (FailedPrecondition, "no inflight downgrade job"),
    /// The cluster version is not known yet (3.4 and 3.5 send it as
    /// `Unavailable`, so it is transient, as in the Go client).
    ClusterVersionUnavailable = (Unavailable, "cluster version not found during downgrade"),
    /// This cluster cannot be downgraded to that version.
    DowngradeVersionNotSupported = (InvalidArgument, "downgrade target version not supported"),
    /// etcd canceled the request while serving it (its outcome is unknown
    /// for a write).
    RequestCanceled = (Cancelled, "request canceled"),
}

impl EtcdError {
    /// Whether the failure is transient: another try (perhaps on another
    /// member) may succeed without changing the request.
    pub fn is_transient(&self) -> bool {
        self.code() == Code::Unavailable
            || matches!(
                self,
                EtcdError::TooManyRequests | EtcdError::ProposalDropped
            )
    }

    /// Whether a write refused with this error may still be applied (etcd
    /// timed out waiting for its proposal, or lost track of it).
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(
            self,
            EtcdError::Timeout
                | EtcdError::TimeoutDueToLeaderFail
                | EtcdError::TimeoutDueToConnectionLost
                | EtcdError::LeaderChanged
                | EtcdError::Stopped
                | EtcdError::RequestCanceled
        )
    }

    /// Whether the request provably was not applied, so even a write may
    /// be sent again.
    pub fn was_not_applied(&self) -> bool {
        matches!(
            self,
            EtcdError::ProposalDropped | EtcdError::TooManyRequests
        )
    }
}

/// etcd's auth store words some errors differently from its gRPC layer.
fn auth_store_error(msg: &str) -> Option<EtcdError> {
    use EtcdError::*;
    Some(match msg {
        "user already exists" => UserAlreadyExists,
        "user not found" => UserNotFound,
        "role already exists" => RoleAlreadyExists,
        "role not found" => RoleNotFound,
        "revision in header is old" => AuthOldRevision,
        other => return EtcdError::from_message(other),
    })
}

/// Maps a failed gRPC status to an [`Error`]. `timeout` is the call's
/// deadline, reported back in [`Error::DeadlineExceeded`].
pub(crate) fn from_status(code: i32, message: &str, timeout: Duration) -> Error {
    let code = Code::from_i32(code);
    if let Some(e) = message
        .strip_prefix("etcdserver: ")
        .and_then(EtcdError::from_message)
    {
        return Error::Etcd(e);
    }
    // Some errors travel without the prefix (the mvcc ones inside a watch,
    // or messages relayed through the gRPC proxy).
    if let Some(e) = EtcdError::from_message(message) {
        return Error::Etcd(e);
    }
    // The auth store's own errors, when etcd passes them on unconverted.
    if let Some(e) = message.strip_prefix("auth: ").and_then(auth_store_error) {
        return Error::Etcd(e);
    }
    match code {
        Code::DeadlineExceeded => Error::DeadlineExceeded(timeout),
        // A server-side handler that returns its context's error as is
        // (etcd's Lock and Election services) sends it as `Unknown`. That
        // context ends with the deadline we sent, so it is ours that ran
        // out, whichever side noticed first.
        Code::Unknown if message == "context deadline exceeded" => Error::DeadlineExceeded(timeout),
        _ => Error::Grpc {
            code,
            message: message.to_string(),
            source: None,
        },
    }
}

/// Maps an error grpcio returned for a call whose deadline came from
/// `timeout` (reported back in [`Error::DeadlineExceeded`]). grpcio's own
/// error stays reachable as the `source()` of an [`Error::Grpc`].
pub(crate) fn from_grpc(e: grpcio::Error, timeout: Duration) -> Error {
    let status = match &e {
        grpcio::Error::RpcFailure(s) | grpcio::Error::RpcFinished(Some(s)) => s,
        grpcio::Error::Codec(c) => return Error::Protocol(format!("undecodable message: {c}")),
        _ => {
            return Error::Grpc {
                code: Code::Unknown,
                message: e.to_string(),
                source: Some(Arc::new(e)),
            }
        }
    };
    match from_status(status.code().into(), status.message(), timeout) {
        Error::Grpc { code, message, .. } => Error::Grpc {
            code,
            message,
            source: Some(Arc::new(e)),
        },
        typed => typed,
    }
}

/// An error message etcd put in a response field rather than a status
/// (the lease grant's `error`): its kind if etcd defines one.
pub(crate) fn from_message(message: &str) -> Error {
    let bare = message.strip_prefix("etcdserver: ").unwrap_or(message);
    match EtcdError::from_message(bare) {
        Some(kind) => Error::Etcd(kind),
        None => Error::Protocol(format!("etcd reported: {message}")),
    }
}

/// A transport failure found by the client rather than reported by gRPC:
/// one attempt of a repeatable call used its share of the deadline, or a
/// stream's server went away. Treated like gRPC's `Unavailable`.
pub(crate) fn unreachable(message: String) -> Error {
    Error::Grpc {
        code: Code::Unavailable,
        message,
        source: None,
    }
}

/// The cause to record if `err` is a transport failure (the member could
/// not be reached or dropped the connection), as opposed to an answer.
pub(crate) fn transport_failure(err: &Error) -> Option<&str> {
    match err {
        Error::Grpc {
            code: Code::Unavailable,
            message,
            ..
        } => Some(message),
        _ => None,
    }
}

/// Whether a transport failure happened before the request could leave
/// the client: gRPC could not connect at all, so nothing was sent.
pub(crate) fn never_sent(cause: &str) -> bool {
    cause.starts_with("failed to connect to all addresses")
}

/// Whether `e` says the auth token must be renewed.
pub(crate) fn is_stale_token(e: &Error) -> bool {
    matches!(
        e,
        Error::Etcd(EtcdError::InvalidAuthToken | EtcdError::AuthOldRevision)
    )
}

/// Whether etcd refused to create a watch for auth reasons. etcd sends the
/// refusal as the free-text `cancel_reason` of a watch response, not as a
/// status, so it is matched here.
pub(crate) fn is_auth_refusal(cancel_reason: &str) -> bool {
    [
        "permission denied",
        "invalid auth token",
        "auth store is old",
    ]
    .iter()
    .any(|s| cancel_reason.contains(s))
}

/// Whether a connection failure, in gRPC's words, will not go away by
/// waiting: the TLS handshake was refused. (A refused TCP connection may be
/// a member that is still starting, so that one is waited for.)
pub(crate) fn is_permanent_connect_failure(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("handshake") || r.contains("certificate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_etcd_messages_to_kinds() {
        let t = Duration::from_secs(1);
        let e = from_status(
            11,
            "etcdserver: mvcc: required revision has been compacted",
            t,
        );
        assert!(matches!(e, Error::Etcd(EtcdError::Compacted)));
        let e = from_status(14, "etcdserver: no leader", t);
        assert!(matches!(e, Error::Etcd(EtcdError::NoLeader)));
        assert!(e.is_retryable());
        let e = from_status(16, "etcdserver: invalid auth token", t);
        assert!(matches!(e, Error::Etcd(EtcdError::InvalidAuthToken)));
        let e = from_status(3, "etcdserver: key is not provided", t);
        assert_eq!(e.code(), Some(Code::InvalidArgument));
        let e = from_status(
            2,
            "auth: authentication failed, password was given for no password user",
            t,
        );
        assert!(matches!(e, Error::Etcd(EtcdError::NoPasswordUser)), "{e}");
        let e = from_status(2, "auth: revision in header is old", t);
        assert!(matches!(e, Error::Etcd(EtcdError::AuthOldRevision)), "{e}");
        // The code etcd 3.4 and 3.5 send, so transience agrees with Go's.
        let e = from_status(
            14,
            "etcdserver: cluster version not found during downgrade",
            t,
        );
        assert!(
            matches!(e, Error::Etcd(EtcdError::ClusterVersionUnavailable)),
            "{e}"
        );
        assert_eq!(e.code(), Some(Code::Unavailable));
        assert!(e.is_retryable());
        let e = from_status(1, "etcdserver: request canceled", t);
        assert!(matches!(e, Error::Etcd(EtcdError::RequestCanceled)), "{e}");
        assert!(e.is_outcome_unknown());
    }

    #[test]
    fn unknown_messages_keep_their_status() {
        let e = from_status(12, "unknown service foo", Duration::ZERO);
        match e {
            Error::Grpc { code, message, .. } => {
                assert_eq!(code, Code::Unimplemented);
                assert_eq!(message, "unknown service foo");
            }
            other => panic!("{other:?}"),
        }
        let e = from_status(4, "Deadline Exceeded", Duration::from_millis(5));
        assert!(matches!(e, Error::DeadlineExceeded(d) if d == Duration::from_millis(5)));
        // etcd's lock service hands back its context's error as Unknown.
        let e = from_status(2, "context deadline exceeded", Duration::from_millis(5));
        assert!(matches!(e, Error::DeadlineExceeded(d) if d == Duration::from_millis(5)));
        assert_eq!(Code::from_i32(99), Code::Unknown);
    }

    #[test]
    fn every_kind_round_trips_through_its_message() {
        // The macro keeps kind, code and message together; check the table
        // has no two kinds with the same message.
        let kinds = [
            EtcdError::Compacted,
            EtcdError::Timeout,
            EtcdError::TimeoutDueToLeaderFail,
            EtcdError::PermissionDenied,
            EtcdError::LeaseNotFound,
        ];
        for k in kinds {
            assert_eq!(EtcdError::from_message(k.message()), Some(k.clone()));
            assert_eq!(k.to_string(), k.message());
        }
    }

    #[test]
    fn grpc_errors_keep_their_source() {
        use std::error::Error as _;
        let status =
            grpcio::RpcStatus::with_message(grpcio::RpcStatusCode::UNIMPLEMENTED, "nope".into());
        let e = from_grpc(grpcio::Error::RpcFailure(status), Duration::ZERO);
        assert!(
            matches!(
                e,
                Error::Grpc {
                    code: Code::Unimplemented,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.source().is_some());
        // A typed etcd error needs no source: its kind says it all.
        let status = grpcio::RpcStatus::with_message(
            grpcio::RpcStatusCode::UNAVAILABLE,
            "etcdserver: no leader".into(),
        );
        let e = from_grpc(grpcio::Error::RpcFailure(status), Duration::ZERO);
        assert!(matches!(e, Error::Etcd(EtcdError::NoLeader)), "{e:?}");
        let e = from_grpc(grpcio::Error::RemoteStopped, Duration::ZERO);
        assert!(e.source().is_some());
    }

    #[test]
    fn questions_asked_of_errors() {
        let down = unreachable("failed to connect to all addresses; last error: refused".into());
        let cause = transport_failure(&down).expect("a transport failure");
        assert!(never_sent(cause));
        let reset = unreachable("Connection reset by peer".into());
        assert!(!never_sent(transport_failure(&reset).unwrap()));
        assert!(transport_failure(&Error::Etcd(EtcdError::NoLeader)).is_none());
        assert!(is_stale_token(&Error::Etcd(EtcdError::AuthOldRevision)));
        assert!(!is_stale_token(&Error::Etcd(EtcdError::PermissionDenied)));
        assert!(is_auth_refusal("etcdserver: permission denied"));
        assert!(!is_auth_refusal(
            "mvcc: required revision has been compacted"
        ));
        assert!(is_permanent_connect_failure(
            "Ssl handshake failed: CERTIFICATE_VERIFY_FAILED"
        ));
        assert!(!is_permanent_connect_failure("Connection refused"));
        assert!(matches!(
            from_message("etcdserver: lease already exists"),
            Error::Etcd(EtcdError::LeaseExists)
        ));
        assert!(matches!(from_message("something new"), Error::Protocol(_)));
    }

    #[test]
    fn unknown_outcomes_are_told_apart_from_refusals() {
        let unknown = [
            Error::Ambiguous {
                endpoint: "a:1".into(),
                cause: "reset".into(),
            },
            Error::DeadlineExceeded(Duration::from_secs(1)),
            Error::Canceled,
            Error::ClientClosed,
            Error::Etcd(EtcdError::Timeout),
            Error::Etcd(EtcdError::LeaderChanged),
        ];
        for e in unknown {
            assert!(e.is_outcome_unknown(), "{e}");
        }
        let refused = [
            Error::EmptyKey,
            Error::Unavailable(Vec::new()),
            Error::Etcd(EtcdError::NoLeader),
            Error::Etcd(EtcdError::ProposalDropped),
            Error::Etcd(EtcdError::PermissionDenied),
            Error::Etcd(EtcdError::Compacted),
        ];
        for e in refused {
            assert!(!e.is_outcome_unknown(), "{e}");
        }
    }

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
