//! Metrics (feature `metrics`): every series the client records, when, and
//! with which labels. The application installs a recorder (a Prometheus
//! exporter, say); the library only records, as it only logs through
//! `log`. `recorder.rs` below is the one place that talks to the
//! [`metrics`](https://docs.rs/metrics) facade.
//!
//! RPC series carry go-grpc-prometheus's client names and labels, so a Go
//! client's dashboards work unchanged; the client's own events are
//! `etcd_client_*`. The README has the table of every series.
//!
//! The callers (transport, pump, session) call the small functions here
//! where the events happen. Without the feature every function is an empty
//! `#[inline]` one and [`Rpc`] is zero-sized. With it and no recorder
//! installed, a call costs `metrics`' own check for a recorder (a
//! thread-local read and one atomic load) and nothing else: no labels are
//! built and nothing is allocated. With a recorder, an RPC's handles are
//! registered once per method and cached (in `recorder.rs`), so an
//! attempt costs a table look-up and the atomic increments.
//!
//! A zero-sized recorder is taken for `metrics`' no-op one (which is how
//! "no recorder" is told apart without a lock).

use std::time::Duration;

use grpcio::Method;

use crate::error::{Code, Error};

/// Why a call was tried again: the label of `etcd_client_retries_total`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RetryReason {
    /// The member failed at the transport level; the call went to another.
    Transport,
    /// etcd said "not now" (no leader, leader changed, timeouts inside
    /// raft); the call was tried again after a backoff.
    EtcdTransient,
    /// etcd refused the token; the client logged in again and retried.
    AuthToken,
    /// A serializable read was answered behind the revision already seen
    /// (monotonic reads); the call went to another member.
    Stale,
}

/// Why a call was refused before anything was sent: the label of
/// `etcd_client_calls_refused_total`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refusal {
    EmptyKey,
    TooLarge,
    Closed,
    Canceled,
}

/// Why a kept-alive lease was lost: the label of
/// `etcd_client_leases_lost_total`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LeaseLoss {
    /// etcd answered a refresh with TTL 0: it no longer knows the lease
    /// (revoked, or expired on the server).
    Revoked,
    /// No refresh succeeded before the TTL ran out on the client's clock.
    ExpiredLocally,
    /// The client was closed while the lease was kept alive.
    Closed,
}

/// Why a suspended or disconnected watch was created again: the label of
/// `etcd_client_watch_resumes_total`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resume {
    /// On a fresh stream after the previous one broke.
    Reconnect,
    /// After its consumer caught up with a full buffer.
    SlowConsumer,
}

impl Refusal {
    /// The refusal of a call interrupted before it was sent.
    pub fn interrupted(e: &Error) -> Refusal {
        match e {
            Error::ClientClosed => Refusal::Closed,
            _ => Refusal::Canceled,
        }
    }
}

impl RetryReason {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn label(self) -> &'static str {
        match self {
            RetryReason::Transport => "transport",
            RetryReason::EtcdTransient => "etcd_transient",
            RetryReason::AuthToken => "auth_token",
            RetryReason::Stale => "stale",
        }
    }
}

impl Refusal {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn label(self) -> &'static str {
        match self {
            Refusal::EmptyKey => "empty_key",
            Refusal::TooLarge => "too_large",
            Refusal::Closed => "closed",
            Refusal::Canceled => "canceled",
        }
    }
}

impl LeaseLoss {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn label(self) -> &'static str {
        match self {
            LeaseLoss::Revoked => "revoked",
            LeaseLoss::ExpiredLocally => "expired_locally",
            LeaseLoss::Closed => "closed",
        }
    }
}

impl Resume {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn label(self) -> &'static str {
        match self {
            Resume::Reconnect => "reconnect",
            Resume::SlowConsumer => "slow_consumer",
        }
    }
}

/// gRPC's name for a status code, as Go's `codes.Code.String()` spells it
/// (go-grpc-prometheus's `grpc_code` label), indexed by the code's number.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
const CODE_NAMES: [&str; 17] = [
    "OK",
    "Canceled",
    "Unknown",
    "InvalidArgument",
    "DeadlineExceeded",
    "NotFound",
    "AlreadyExists",
    "PermissionDenied",
    "ResourceExhausted",
    "FailedPrecondition",
    "Aborted",
    "OutOfRange",
    "Unimplemented",
    "Internal",
    "Unavailable",
    "DataLoss",
    "Unauthenticated",
];

/// `/etcdserverpb.KV/Range` → (`etcdserverpb.KV`, `Range`), as
/// go-grpc-prometheus splits a full method name.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn split_name(name: &'static str) -> (&'static str, &'static str) {
    let name = name.strip_prefix('/').unwrap_or(name);
    name.split_once('/').unwrap_or(("unknown", name))
}

/// go-grpc-prometheus's `grpc_type` label.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn type_label(ty: grpcio::MethodType) -> &'static str {
    match ty {
        grpcio::MethodType::Unary => "unary",
        grpcio::MethodType::ClientStreaming => "client_stream",
        grpcio::MethodType::ServerStreaming => "server_stream",
        grpcio::MethodType::Duplex => "bidi_stream",
    }
}

/// The labels of an RPC's series, as go-grpc-prometheus sets them.
#[cfg(feature = "metrics")]
fn rpc_labels(name: &'static str, ty: grpcio::MethodType) -> recorder::RpcLabels {
    let (service, method) = split_name(name);
    [
        ("grpc_type", type_label(ty)),
        ("grpc_service", service),
        ("grpc_method", method),
    ]
}

#[cfg(feature = "metrics")]
mod recorder;

/// One RPC attempt as go-grpc-prometheus's client interceptor sees it:
/// created when the call starts (`grpc_client_started_total`), told of
/// every message sent and received, and of how it ended
/// (`grpc_client_handled_total` with its code, and the time since the
/// start in `grpc_client_handling_seconds`). Dropped without
/// [`handled`](Self::handled), it counts as ended `Canceled` (a stream the
/// client gave up on).
pub(crate) struct Rpc {
    #[cfg(feature = "metrics")]
    live: Option<recorder::Live>,
}

impl Rpc {
    /// A started call of `method`.
    #[inline]
    pub fn start<Req, Resp>(method: &Method<Req, Resp>) -> Rpc {
        #[cfg(feature = "metrics")]
        {
            // A `Method` is a const, so its name is a static string.
            let name: &'static str = method.name;
            let ty = method.ty;
            Rpc {
                live: recorder::Live::start(name, || rpc_labels(name, ty)),
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = method;
            Rpc {}
        }
    }

    /// A message went out.
    #[inline]
    pub fn sent(&self) {
        #[cfg(feature = "metrics")]
        if let Some(l) = &self.live {
            l.handles.sent();
        }
    }

    /// A message came in.
    #[inline]
    pub fn received(&self) {
        #[cfg(feature = "metrics")]
        if let Some(l) = &self.live {
            l.handles.received();
        }
    }

    /// The call ended with `code` (`None`: no gRPC status, counted as
    /// `Unknown`). Only the first end counts.
    #[inline]
    pub fn handled(&mut self, code: Option<Code>) {
        #[cfg(feature = "metrics")]
        if let Some(l) = self.live.take() {
            let code = code.unwrap_or(Code::Unknown) as usize;
            let name = CODE_NAMES[code.min(CODE_NAMES.len() - 1)];
            l.handles.handled(code, name, l.started.elapsed());
        }
        #[cfg(not(feature = "metrics"))]
        let _ = code;
    }

    /// The call failed with `err` (returned, for chaining): counted with
    /// the gRPC code behind it, a client-side interruption as `Canceled`.
    #[inline]
    pub fn ended(&mut self, err: Error) -> Error {
        let code = match &err {
            Error::ClientClosed => Some(Code::Cancelled),
            e => e.code(),
        };
        self.handled(code);
        err
    }
}

#[cfg(feature = "metrics")]
impl Drop for Rpc {
    fn drop(&mut self) {
        self.handled(Some(Code::Cancelled));
    }
}

/// Records `n` of counter `name` with these labels.
#[inline]
fn count(name: &'static str, labels: &[(&'static str, &'static str)]) {
    #[cfg(feature = "metrics")]
    recorder::counter(name, labels, 1);
    #[cfg(not(feature = "metrics"))]
    let _ = (name, labels);
}

/// Moves gauge `name` by `delta`.
#[inline]
fn gauge(name: &'static str, labels: &[(&'static str, &'static str)], delta: f64) {
    #[cfg(feature = "metrics")]
    recorder::gauge(name, labels, delta);
    #[cfg(not(feature = "metrics"))]
    let _ = (name, labels, delta);
}

/// The labels naming a method, as the RPC series have them.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn method_labels<Req, Resp>(method: &Method<Req, Resp>) -> [(&'static str, &'static str); 2] {
    let name: &'static str = method.name;
    let (service, m) = split_name(name);
    [("grpc_service", service), ("grpc_method", m)]
}

/// A call is tried again (on another member, or after a backoff).
#[inline]
pub(crate) fn retry<Req, Resp>(method: &Method<Req, Resp>, reason: RetryReason) {
    #[cfg(feature = "metrics")]
    {
        let [s, m] = method_labels(method);
        count(
            "etcd_client_retries_total",
            &[s, m, ("reason", reason.label())],
        );
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (method, reason);
}

/// A write failed after it may have reached the server
/// ([`Error::Ambiguous`](crate::Error::Ambiguous)).
#[inline]
pub(crate) fn ambiguous<Req, Resp>(method: &Method<Req, Resp>) {
    #[cfg(feature = "metrics")]
    count("etcd_client_ambiguous_writes_total", &method_labels(method));
    #[cfg(not(feature = "metrics"))]
    let _ = method;
}

/// A call was refused before anything was sent.
#[inline]
pub(crate) fn refused(reason: Refusal) {
    #[cfg(feature = "metrics")]
    count(
        "etcd_client_calls_refused_total",
        &[("reason", reason.label())],
    );
    #[cfg(not(feature = "metrics"))]
    let _ = reason;
}

/// The pin moved from one member to another.
#[inline]
pub(crate) fn endpoint_switched(from: &impl std::fmt::Display, to: &impl std::fmt::Display) {
    #[cfg(feature = "metrics")]
    {
        count("etcd_client_endpoint_switches_total", &[]);
        pinned(from, -1);
        pinned(to, 1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (from, to);
}

/// A client pinned (`delta` 1) or unpinned (-1) `endpoint`.
#[inline]
pub(crate) fn pinned(endpoint: &impl std::fmt::Display, delta: i8) {
    #[cfg(feature = "metrics")]
    recorder::endpoint_gauge(&endpoint.to_string(), f64::from(delta));
    #[cfg(not(feature = "metrics"))]
    let _ = (endpoint, delta);
}

/// A client's endpoint list grew or shrank by `delta`.
#[inline]
pub(crate) fn endpoints(delta: i64) {
    gauge("etcd_client_endpoints", &[], delta as f64);
}

/// A long-lived stream opened again after its predecessor broke, stalled
/// or had to carry a new token.
#[inline]
pub(crate) fn stream_reopened<Req, Resp>(method: &Method<Req, Resp>) {
    #[cfg(feature = "metrics")]
    count("etcd_client_stream_reopens_total", &method_labels(method));
    #[cfg(not(feature = "metrics"))]
    let _ = method;
}

/// A watch was created again from the revision after the last one
/// delivered.
#[inline]
pub(crate) fn watch_resumed(why: Resume) {
    #[cfg(feature = "metrics")]
    count(
        "etcd_client_watch_resumes_total",
        &[("reason", why.label())],
    );
    #[cfg(not(feature = "metrics"))]
    let _ = why;
}

/// A watcher opened (1) or ended (-1).
#[inline]
pub(crate) fn watchers(delta: i8) {
    gauge("etcd_client_watchers", &[], f64::from(delta));
}

/// A watch was suspended for a slow consumer (1) or no longer is (-1).
#[inline]
pub(crate) fn watchers_suspended(delta: i8) {
    gauge("etcd_client_watchers_suspended", &[], f64::from(delta));
}

/// A lease started (1) or stopped (-1) being kept alive.
#[inline]
pub(crate) fn leases_kept(delta: i8) {
    gauge("etcd_client_leases_kept_alive", &[], f64::from(delta));
}

/// A kept-alive lease was lost.
#[inline]
pub(crate) fn lease_lost(cause: LeaseLoss) {
    #[cfg(feature = "metrics")]
    count("etcd_client_leases_lost_total", &[("cause", cause.label())]);
    #[cfg(not(feature = "metrics"))]
    let _ = cause;
}

/// A keepalive refresh was answered `latency` after it was sent.
#[inline]
pub(crate) fn keepalive_refreshed(latency: Duration) {
    #[cfg(feature = "metrics")]
    recorder::histogram("etcd_client_keepalive_refresh_seconds", &[], latency);
    #[cfg(not(feature = "metrics"))]
    let _ = latency;
}

/// The client logged in again for a new token (`ok`), or failed to.
#[inline]
pub(crate) fn token_renewal(ok: bool) {
    if ok {
        count("etcd_client_token_renewals_total", &[]);
    } else {
        count("etcd_client_token_renewal_failures_total", &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_as_go_grpc_prometheus_does() {
        assert_eq!(
            split_name("/etcdserverpb.KV/Range"),
            ("etcdserverpb.KV", "Range")
        );
        assert_eq!(
            split_name(crate::proto::methods::LEASE_LEASE_KEEP_ALIVE.name),
            ("etcdserverpb.Lease", "LeaseKeepAlive")
        );
        assert_eq!(
            type_label(crate::proto::methods::WATCH_WATCH.ty),
            "bidi_stream"
        );
    }

    #[test]
    fn code_names_follow_grpc_numbering() {
        assert_eq!(CODE_NAMES[Code::Ok as usize], "OK");
        assert_eq!(CODE_NAMES[Code::Cancelled as usize], "Canceled");
        assert_eq!(CODE_NAMES[Code::Unavailable as usize], "Unavailable");
        assert_eq!(
            CODE_NAMES[Code::Unauthenticated as usize],
            "Unauthenticated"
        );
    }
}
