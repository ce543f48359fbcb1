//! Metrics (feature `metrics`): every series the client records, and the
//! one place that talks to the [`metrics`](https://docs.rs/metrics) facade.
//! The application installs a recorder (a Prometheus exporter, say); the
//! library only records, as it only logs through `log`.
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
//! registered once per method and cached here, so an attempt costs a table
//! look-up and the atomic increments.
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

#[cfg(feature = "metrics")]
mod imp {
    //! The recording itself. No `unsafe`: handles are leaked into
    //! `OnceLock`s (a bounded number: one per method and recorder).

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use ::metrics::{Counter, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, Unit};

    static META: Metadata<'static> =
        Metadata::new("etcd_blocking", Level::INFO, Some(module_path!()));

    /// Runs `f` with the current recorder, unless it is the no-op one.
    #[inline]
    pub fn with<T>(f: impl FnOnce(&dyn Recorder) -> T) -> Option<T> {
        ::metrics::with_recorder(|r| {
            if std::mem::size_of_val(r) == 0 {
                return None;
            }
            let addr = r as *const dyn Recorder as *const () as usize;
            if DESCRIBED_FOR.load(Ordering::Relaxed) != addr {
                describe(r);
                DESCRIBED_FOR.store(addr, Ordering::Relaxed);
            }
            Some(f(r))
        })
    }

    /// The recorder the series were last described to (their `# HELP`).
    static DESCRIBED_FOR: AtomicUsize = AtomicUsize::new(0);

    /// Every series' help text; go-grpc-prometheus's own for its series.
    const HELP: &[(&str, &str)] = &[
        ("grpc_client_started_total", "Total number of RPCs started on the client."),
        ("grpc_client_handled_total", "Total number of RPCs completed by the client, regardless of success or failure."),
        ("grpc_client_msg_received_total", "Total number of RPC stream messages received by the client."),
        ("grpc_client_msg_sent_total", "Total number of gRPC stream messages sent by the client."),
        ("grpc_client_handling_seconds", "Histogram of response latency (seconds) of the gRPC until it is finished by the application."),
        ("etcd_client_retries_total", "Unary calls tried again, by method and reason."),
        ("etcd_client_endpoint_switches_total", "Times the pinned etcd member changed."),
        ("etcd_client_pinned_endpoint", "Clients pinned to this endpoint."),
        ("etcd_client_endpoints", "Endpoints known to the clients."),
        ("etcd_client_calls_refused_total", "Calls refused before anything was sent, by reason."),
        ("etcd_client_ambiguous_writes_total", "Writes that failed after they may have reached the server."),
        ("etcd_client_stream_reopens_total", "Long-lived streams reopened after a failure, stall or token renewal."),
        ("etcd_client_watch_resumes_total", "Watches created again from their next revision, by reason."),
        ("etcd_client_watchers", "Watchers open."),
        ("etcd_client_watchers_suspended", "Watches suspended for a slow consumer."),
        ("etcd_client_leases_kept_alive", "Leases kept alive."),
        ("etcd_client_keepalive_refresh_seconds", "Time from sending a keepalive refresh to its answer."),
        ("etcd_client_leases_lost_total", "Kept-alive leases lost, by cause."),
        ("etcd_client_token_renewals_total", "Auth token renewals (logins after the first)."),
        ("etcd_client_token_renewal_failures_total", "Auth token renewals that failed."),
    ];

    fn describe(r: &dyn Recorder) {
        for &(name, help) in HELP {
            let key = KeyName::from_const_str(name);
            let unit = name.ends_with("_seconds").then_some(Unit::Seconds);
            if name.ends_with("_seconds") {
                r.describe_histogram(key, unit, help.into());
            } else if name.ends_with("_total") {
                r.describe_counter(key, unit, help.into());
            } else {
                r.describe_gauge(key, unit, help.into());
            }
        }
    }

    fn labels(pairs: &[(&'static str, &'static str)]) -> Vec<Label> {
        pairs
            .iter()
            .map(|&(k, v)| Label::from_static_parts(k, v))
            .collect()
    }

    pub fn counter(name: &'static str, pairs: &[(&'static str, &'static str)], n: u64) {
        with(|r| {
            r.register_counter(&Key::from_parts(name, labels(pairs)), &META)
                .increment(n)
        });
    }

    pub fn gauge(name: &'static str, pairs: &[(&'static str, &'static str)], delta: f64) {
        with(|r| {
            r.register_gauge(&Key::from_parts(name, labels(pairs)), &META)
                .increment(delta)
        });
    }

    pub fn endpoint_gauge(endpoint: &str, delta: f64) {
        with(|r| {
            let key = Key::from_parts(
                "etcd_client_pinned_endpoint",
                vec![Label::new("endpoint", endpoint.to_string())],
            );
            r.register_gauge(&key, &META).increment(delta)
        });
    }

    pub fn histogram(name: &'static str, pairs: &[(&'static str, &'static str)], v: Duration) {
        with(|r| {
            r.register_histogram(&Key::from_parts(name, labels(pairs)), &META)
                .record(v.as_secs_f64())
        });
    }

    /// One method's RPC handles, registered with one recorder.
    pub struct RpcHandles {
        /// The recorder they belong to (its address).
        owner: usize,
        labels: [(&'static str, &'static str); 3],
        started: Counter,
        sent: Counter,
        received: Counter,
        seconds: Histogram,
        /// `grpc_client_handled_total` by code, registered on first use so
        /// the exposition shows only codes that happened.
        handled: [OnceLock<Counter>; 17],
    }

    impl RpcHandles {
        fn new(r: &dyn Recorder, owner: usize, name: &'static str, ty: &'static str) -> Self {
            let (service, method) = super::split_name(name);
            let labels = [
                ("grpc_type", ty),
                ("grpc_service", service),
                ("grpc_method", method),
            ];
            let key = |n: &'static str| Key::from_parts(n, self::labels(&labels));
            RpcHandles {
                owner,
                labels,
                started: r.register_counter(&key("grpc_client_started_total"), &META),
                sent: r.register_counter(&key("grpc_client_msg_sent_total"), &META),
                received: r.register_counter(&key("grpc_client_msg_received_total"), &META),
                seconds: r.register_histogram(&key("grpc_client_handling_seconds"), &META),
                handled: Default::default(),
            }
        }

        pub fn sent(&self) {
            self.sent.increment(1);
        }

        pub fn received(&self) {
            self.received.increment(1);
        }

        pub fn handled(&self, code: usize, elapsed: Duration) {
            let code = code.min(16);
            let counter = self.handled[code].get_or_init(|| {
                let mut l = self::labels(&self.labels);
                l.push(Label::from_static_parts(
                    "grpc_code",
                    super::CODE_NAMES[code],
                ));
                let key = Key::from_parts("grpc_client_handled_total", l);
                ::metrics::with_recorder(|r| r.register_counter(&key, &META))
            });
            counter.increment(1);
            self.seconds.record(elapsed.as_secs_f64());
        }
    }

    /// A method's entry in the cache: its name and its handles for up to
    /// [`GENERATIONS`] recorders (a process normally has one).
    struct Slot {
        name: &'static str,
        handles: [OnceLock<&'static RpcHandles>; GENERATIONS],
    }

    const GENERATIONS: usize = 4;
    /// etcd's protos define about 60 RPCs; twice that keeps probes short.
    const SLOTS: usize = 128;
    static TABLE: [OnceLock<&'static Slot>; SLOTS] = [const { OnceLock::new() }; SLOTS];

    /// FNV-1a: method names are short, and this runs once per attempt.
    fn hash(s: &str) -> usize {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in s.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h as usize
    }

    fn slot(name: &'static str) -> Option<&'static Slot> {
        let start = hash(name) % SLOTS;
        for i in 0..SLOTS {
            let cell = &TABLE[(start + i) % SLOTS];
            let slot = cell.get_or_init(|| {
                Box::leak(Box::new(Slot {
                    name,
                    handles: Default::default(),
                }))
            });
            if slot.name == name {
                return Some(slot);
            }
        }
        None
    }

    /// The handles of `name` for the current recorder, or `None` without
    /// one.
    #[inline]
    pub fn rpc(name: &'static str, ty: grpcio::MethodType) -> Option<RpcRef> {
        with(|r| {
            let owner = r as *const dyn Recorder as *const () as usize;
            let Some(slot) = slot(name) else {
                // Table full (not with etcd's protos): uncached.
                let h = RpcHandles::new(r, owner, name, super::type_label(ty));
                return RpcRef::Owned(Box::new(h));
            };
            for cell in &slot.handles {
                let h = cell.get_or_init(|| {
                    Box::leak(Box::new(RpcHandles::new(
                        r,
                        owner,
                        name,
                        super::type_label(ty),
                    )))
                });
                if h.owner == owner {
                    return RpcRef::Cached(h);
                }
            }
            // More recorders than generations (thread-local recorders in
            // tests): register without caching.
            RpcRef::Owned(Box::new(RpcHandles::new(
                r,
                owner,
                name,
                super::type_label(ty),
            )))
        })
    }

    /// Handles from the cache, or registered for this call only.
    pub enum RpcRef {
        Cached(&'static RpcHandles),
        Owned(Box<RpcHandles>),
    }

    impl std::ops::Deref for RpcRef {
        type Target = RpcHandles;
        fn deref(&self) -> &RpcHandles {
            match self {
                RpcRef::Cached(h) => h,
                RpcRef::Owned(h) => h,
            }
        }
    }

    /// One call's record: its handles and when it started.
    pub struct Live {
        pub handles: RpcRef,
        pub started: Instant,
    }

    impl Live {
        pub fn start(name: &'static str, ty: grpcio::MethodType) -> Option<Live> {
            let handles = rpc(name, ty)?;
            handles.started.increment(1);
            Some(Live {
                handles,
                started: Instant::now(),
            })
        }
    }
}

/// One RPC attempt as go-grpc-prometheus's client interceptor sees it:
/// created when the call starts (`grpc_client_started_total`), told of
/// every message sent and received, and of how it ended
/// (`grpc_client_handled_total` with its code, and the time since the
/// start in `grpc_client_handling_seconds`). Dropped without
/// [`handled`](Self::handled), it counts as ended `Canceled` (a stream the
/// client gave up on).
pub(crate) struct Rpc {
    #[cfg(feature = "metrics")]
    live: Option<imp::Live>,
}

impl Rpc {
    /// A started call of `method`.
    #[inline]
    pub fn start<Req, Resp>(method: &Method<Req, Resp>) -> Rpc {
        #[cfg(feature = "metrics")]
        {
            // A `Method` is a const, so its name is a static string.
            let name: &'static str = method.name;
            Rpc {
                live: imp::Live::start(name, method.ty),
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
            l.handles.handled(code, l.started.elapsed());
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
    imp::counter(name, labels, 1);
    #[cfg(not(feature = "metrics"))]
    let _ = (name, labels);
}

/// Moves gauge `name` by `delta`.
#[inline]
fn gauge(name: &'static str, labels: &[(&'static str, &'static str)], delta: f64) {
    #[cfg(feature = "metrics")]
    imp::gauge(name, labels, delta);
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
    imp::endpoint_gauge(&endpoint.to_string(), f64::from(delta));
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
    imp::histogram("etcd_client_keepalive_refresh_seconds", &[], latency);
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
