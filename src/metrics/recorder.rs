//! The one place that talks to the [`metrics`](https://docs.rs/metrics)
//! facade: finding the recorder (and telling the no-op one apart),
//! describing every series to it once, registering series, and the cache
//! of each RPC method's handles, so an attempt costs a table look-up and
//! the atomic increments. What is recorded, and when, is the parent
//! module's business: names and label values come in as arguments.
//!
//! No `unsafe`: handles are leaked into `OnceLock`s (a bounded number: one
//! per method and recorder).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ::metrics::{Counter, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, Unit};

static META: Metadata<'static> = Metadata::new("etcd_blocking", Level::INFO, Some(module_path!()));

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

/// Every series' help text (the `# HELP` line the recorder is told);
/// go-grpc-prometheus's own for its series.
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

/// An RPC method's labels: `grpc_type`, `grpc_service`, `grpc_method`.
pub type RpcLabels = [(&'static str, &'static str); 3];

/// One method's RPC handles, registered with one recorder.
pub struct RpcHandles {
    /// The recorder they belong to (its address).
    owner: usize,
    labels: RpcLabels,
    started: Counter,
    sent: Counter,
    received: Counter,
    seconds: Histogram,
    /// `grpc_client_handled_total` by code, registered on first use so
    /// the exposition shows only codes that happened.
    handled: [OnceLock<Counter>; 17],
}

impl RpcHandles {
    fn new(r: &dyn Recorder, owner: usize, labels: RpcLabels) -> Self {
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

    /// The call ended with the gRPC code numbered `code`, named
    /// `code_name` (the `grpc_code` label).
    pub fn handled(&self, code: usize, code_name: &'static str, elapsed: Duration) {
        let code = code.min(16);
        let counter = self.handled[code].get_or_init(|| {
            let mut l = self::labels(&self.labels);
            l.push(Label::from_static_parts("grpc_code", code_name));
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

/// The handles of the method `name` for the current recorder, or `None`
/// without one; `labels` gives the method's labels when they must be
/// registered (once per method and recorder).
#[inline]
pub fn rpc(name: &'static str, labels: impl Fn() -> RpcLabels) -> Option<RpcRef> {
    with(|r| {
        let owner = r as *const dyn Recorder as *const () as usize;
        let Some(slot) = slot(name) else {
            // Table full (not with etcd's protos): uncached.
            return RpcRef::Owned(Box::new(RpcHandles::new(r, owner, labels())));
        };
        for cell in &slot.handles {
            let h = cell.get_or_init(|| Box::leak(Box::new(RpcHandles::new(r, owner, labels()))));
            if h.owner == owner {
                return RpcRef::Cached(h);
            }
        }
        // More recorders than generations (thread-local recorders in
        // tests): register without caching.
        RpcRef::Owned(Box::new(RpcHandles::new(r, owner, labels())))
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
    pub fn start(name: &'static str, labels: impl Fn() -> RpcLabels) -> Option<Live> {
        let handles = rpc(name, labels)?;
        handles.started.increment(1);
        Some(Live {
            handles,
            started: Instant::now(),
        })
    }
}
