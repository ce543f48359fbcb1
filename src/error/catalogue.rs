//! The catalogue of what can go wrong on the wire: gRPC's status codes
//! and etcd's own errors, each etcd error with its gRPC code and its
//! fixed message in one table, and the questions asked of an etcd error
//! (transient? outcome unknown? provably not applied?).

use super::Error;

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
            pub(crate) fn from_i32(code: i32) -> Code {
                const CODES: &[Code] = &[$(Code::$name),*];
                usize::try_from(code)
                    .ok()
                    .and_then(|i| CODES.get(i).copied())
                    .unwrap_or(Code::Unknown)
            }

            /// The code for its name as Go's gRPC spells it (`codes.Code`'s
            /// `String()`: `PermissionDenied`, `Canceled`, `OK`, …), as
            /// it appears inside a status relayed as a message.
            pub(crate) fn from_go_name(name: &str) -> Option<Code> {
                match name {
                    "OK" => Some(Code::Ok),
                    "Canceled" => Some(Code::Cancelled),
                    $( stringify!($name) => Some(Code::$name), )*
                    _ => None,
                }
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
        ///     Err(Error::Compacted { .. }) => println!("revision 42 was compacted"),
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

            pub(crate) fn from_message(msg: &str) -> Option<EtcdError> {
                match msg { $( $msg => Some(EtcdError::$kind), )* _ => None }
            }
        }
    };
}

/// etcd's errors for the conditions the client also finds itself, or
/// tells more about: each is one variant of [`Error`] (with what the
/// client knows), not an [`EtcdError`], so a caller matches one arm per
/// condition whoever noticed it. `message` is etcd's, without the
/// `etcdserver: ` prefix.
pub(crate) fn condition(message: &str) -> Option<Error> {
    Some(match message {
        "key is not provided" => Error::EmptyKey,
        "request is too large" => Error::RequestTooLarge {
            size: None,
            limit: None,
        },
        "mvcc: required revision has been compacted" => Error::Compacted {
            compact_revision: None,
        },
        "watch canceled" => Error::WatchCanceled {
            reason: message.into(),
        },
        "requested lease not found" => Error::LeaseNotFound {
            id: None,
            reason: message.into(),
        },
        _ => return None,
    })
}

etcd_errors! {
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
    /// The revision asked for is newer than the store's current revision.
    FutureRevision = (OutOfRange, "mvcc: required revision is a future revision"),
    /// The backend quota is full (`NOSPACE` alarm); writes are refused.
    NoSpace = (ResourceExhausted, "mvcc: database space exceeded"),
    /// A lease with this id already exists.
    LeaseExists = (FailedPrecondition, "lease already exists"),
    /// The requested lease TTL is larger than etcd allows.
    LeaseTtlTooLarge = (OutOfRange, "too large lease TTL"),
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
