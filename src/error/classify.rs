//! Classification: how a gRPC status, grpcio's error, an error message in
//! a response field or a transport failure becomes an [`Error`], and the
//! questions the transport and the pump ask of an error (was it a
//! transport failure, was it never sent, is the token stale).
//!
//! etcd reports its own failures as a gRPC status whose message is a fixed
//! string (`etcdserver: …`). Those strings are a stable part of etcd's API
//! (its Go client matches on them too), so they are matched here, once, and
//! callers match on [`EtcdError`] instead.

use std::sync::Arc;
use std::time::Duration;

use super::catalogue::condition;
use super::{Code, Error, EtcdError};

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
    classify_status(Code::from_i32(code), message, timeout)
}

fn classify_status(code: Code, message: &str, timeout: Duration) -> Error {
    // etcd's Lock and Election services call etcd through an embedded
    // client and can hand its failure back as the message of another
    // status, in Go's words; the status inside is the real one.
    if let Some((inner, message)) = relayed_status(message) {
        return classify_status(inner, message, timeout);
    }
    if let Some(e) = etcd_error(message) {
        return e;
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

/// The status inside a status whose message is Go's rendering of another
/// status: `rpc error: code = PermissionDenied desc = etcdserver:
/// permission denied`. The outer code is `Unknown` when the service
/// returned the inner error as is, `FailedPrecondition` when it came as a
/// watch's cancel reason (the Lock service's wait for its predecessor).
fn relayed_status(message: &str) -> Option<(Code, &str)> {
    let (name, desc) = message
        .strip_prefix("rpc error: code = ")?
        .split_once(" desc = ")?;
    Some((Code::from_go_name(name)?, desc))
}

/// The error a status message of etcd's names, if any.
fn etcd_error(message: &str) -> Option<Error> {
    message
        .strip_prefix("etcdserver: ")
        .and_then(known_message)
        // Some errors travel without the prefix (the mvcc ones inside a
        // watch, or messages relayed through the gRPC proxy).
        .or_else(|| known_message(message))
        // The auth store's own errors, when etcd passes them on
        // unconverted.
        .or_else(|| {
            message
                .strip_prefix("auth: ")
                .and_then(auth_store_error)
                .map(Error::Etcd)
        })
}

/// One of etcd's messages (without its `etcdserver: ` prefix): a
/// condition with its own [`Error`] variant, or an [`EtcdError`].
fn known_message(message: &str) -> Option<Error> {
    condition(message).or_else(|| EtcdError::from_message(message).map(Error::Etcd))
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
    known_message(bare).unwrap_or_else(|| Error::Protocol(format!("etcd reported: {message}")))
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

/// Whether etcd refused a request before acting on it, so even a write
/// may be sent again (to another member). `carried_has_leader`: the
/// request carried `hasleader`; etcd's unary interceptor refuses such a
/// request with "no leader" before it reaches the service's handler
/// (`v3rpc/interceptor.go`), so that refusal proves nothing was applied.
pub(crate) fn refused_unapplied(e: &EtcdError, carried_has_leader: bool) -> bool {
    e.was_not_applied() || (carried_has_leader && *e == EtcdError::NoLeader)
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
        assert!(matches!(
            e,
            Error::Compacted {
                compact_revision: None
            }
        ));
        let e = from_status(14, "etcdserver: no leader", t);
        assert!(matches!(e, Error::Etcd(EtcdError::NoLeader)));
        assert!(e.is_retryable());
        let e = from_status(16, "etcdserver: invalid auth token", t);
        assert!(matches!(e, Error::Etcd(EtcdError::InvalidAuthToken)));
        let e = from_status(3, "etcdserver: key is not provided", t);
        assert!(matches!(e, Error::EmptyKey), "{e:?}");
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
    fn statuses_relayed_by_the_lock_and_election_services_are_typed() {
        let t = Duration::from_millis(5);
        let e = from_status(
            2,
            "rpc error: code = PermissionDenied desc = etcdserver: permission denied",
            t,
        );
        assert!(
            matches!(e, Error::Etcd(EtcdError::PermissionDenied)),
            "{e:?}"
        );
        let e = from_status(
            2,
            "rpc error: code = Unavailable desc = etcdserver: no leader",
            t,
        );
        assert!(matches!(e, Error::Etcd(EtcdError::NoLeader)), "{e:?}");
        assert!(e.is_retryable());
        let e = from_status(
            2,
            "rpc error: code = DeadlineExceeded desc = context deadline exceeded",
            t,
        );
        assert!(matches!(e, Error::DeadlineExceeded(d) if d == t), "{e:?}");
        // Not an etcd error inside: the inner status, with its own code.
        let e = from_status(2, "rpc error: code = Canceled desc = context canceled", t);
        match e {
            Error::Grpc { code, message, .. } => {
                assert_eq!(code, Code::Cancelled);
                assert_eq!(message, "context canceled");
            }
            other => panic!("{other:?}"),
        }
        // A lock wait whose watch etcd refused: the cancel reason, relayed.
        let e = from_status(
            9,
            "rpc error: code = PermissionDenied desc = etcdserver: permission denied",
            t,
        );
        assert!(
            matches!(e, Error::Etcd(EtcdError::PermissionDenied)),
            "{e:?}"
        );
        // A code name Go does not have leaves the message as it came.
        let msg = "rpc error: code = Bogus desc = etcdserver: permission denied";
        let e = from_status(2, msg, t);
        assert!(
            matches!(
                e,
                Error::Grpc {
                    code: Code::Unknown,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(Code::from_go_name("OK"), Some(Code::Ok));
        assert_eq!(
            Code::from_go_name("Unauthenticated"),
            Some(Code::Unauthenticated)
        );
    }

    #[test]
    fn every_kind_round_trips_through_its_message() {
        // The macro keeps kind, code and message together; check the table
        // has no two kinds with the same message.
        let kinds = [
            EtcdError::FutureRevision,
            EtcdError::Timeout,
            EtcdError::TimeoutDueToLeaderFail,
            EtcdError::PermissionDenied,
            EtcdError::LeaseExists,
        ];
        for k in kinds {
            assert_eq!(EtcdError::from_message(k.message()), Some(k.clone()));
            assert_eq!(k.to_string(), k.message());
        }
    }

    #[test]
    fn one_error_per_condition_whoever_noticed_it() {
        // etcd's errors for conditions the client also finds itself come
        // as the same variants as the client's own refusals.
        let t = Duration::from_secs(1);
        let e = from_status(3, "etcdserver: request is too large", t);
        assert!(
            matches!(
                e,
                Error::RequestTooLarge {
                    size: None,
                    limit: None
                }
            ),
            "{e:?}"
        );
        let e = from_status(5, "etcdserver: requested lease not found", t);
        assert!(matches!(e, Error::LeaseNotFound { id: None, .. }), "{e:?}");
        assert_eq!(e.code(), Some(Code::NotFound));
        let e = from_status(1, "etcdserver: watch canceled", t);
        assert!(matches!(e, Error::WatchCanceled { .. }), "{e:?}");
        // In a response field (the lease grant's `error`) too.
        assert!(matches!(
            from_message("etcdserver: requested lease not found"),
            Error::LeaseNotFound { id: None, .. }
        ));
        // Each is off etcd's table of kinds, so no second arm can match.
        for msg in [
            "key is not provided",
            "request is too large",
            "mvcc: required revision has been compacted",
            "watch canceled",
            "requested lease not found",
        ] {
            assert_eq!(EtcdError::from_message(msg), None, "{msg}");
            assert!(condition(msg).is_some(), "{msg}");
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
        // "no leader" proves a write unapplied only as `hasleader`'s refusal.
        assert!(refused_unapplied(&EtcdError::NoLeader, true));
        assert!(!refused_unapplied(&EtcdError::NoLeader, false));
        assert!(refused_unapplied(&EtcdError::ProposalDropped, false));
        assert!(!refused_unapplied(&EtcdError::LeaderChanged, true));
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
            Error::Compacted {
                compact_revision: None,
            },
            Error::LeaseNotFound {
                id: None,
                reason: "gone".into(),
            },
        ];
        for e in refused {
            assert!(!e.is_outcome_unknown(), "{e}");
        }
    }
}
