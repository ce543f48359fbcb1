//! gRPC's side of the connections: the grpcio `Environment` and its
//! completion-queue threads (and knowing when they are really gone), one
//! channel per member with the settings every channel shares, and waiting
//! for the first channel to connect, with gRPC's reason when one cannot.
//!
//! Which member a call goes to is not decided here: that is the
//! transport's policy.

use std::cell::RefCell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use grpcio::{CallOption, ChannelBuilder, ConnectivityState, EnvBuilder, Environment};
use parking_lot::Mutex;

use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::error::{self, EndpointError, Error, Result};
use crate::proto::{methods, rpc as pb};
use crate::wait::{self, Interrupt};

/// One member: its endpoint and the channel to it.
pub(crate) struct Member {
    pub endpoint: Endpoint,
    pub client: grpcio::Client,
    channel: grpcio::Channel,
}

impl Member {
    /// Whether calls on this member would fail at once (its connection is
    /// in `TRANSIENT_FAILURE`, waiting to reconnect).
    pub fn is_failing(&self) -> bool {
        self.channel.check_connectivity_state(false)
            == ConnectivityState::GRPC_CHANNEL_TRANSIENT_FAILURE
    }
}

thread_local! {
    /// Held by each completion-queue thread; dropped when it exits, which
    /// disconnects [`Channels::cq_exited`]. grpcio detaches its threads, so
    /// this is how closing the client waits for them.
    static CQ_EXIT_GUARD: RefCell<Option<Sender<()>>> = const { RefCell::new(None) };
}

/// The environment every channel of a client runs on.
pub(crate) struct Channels {
    env: Arc<Environment>,
    cfg: Config,
    /// Disconnects once every completion-queue thread has run its
    /// thread-local destructors.
    cq_exited: Receiver<()>,
    /// `/proc/self/task/<tid>` of each completion-queue thread (Linux), to
    /// see the threads really gone, as a join would.
    cq_tasks: Arc<Mutex<Vec<PathBuf>>>,
}

impl Channels {
    /// Starts the completion-queue threads (`etcd-grpc-N`).
    pub fn new(cfg: &Config) -> Channels {
        if std::env::var("ETCD_CLIENT_DEBUG").is_ok_and(|v| v == "1" || v == "true") {
            grpcio::redirect_log();
        }
        let (exit_tx, cq_exited) = crossbeam_channel::bounded::<()>(0);
        let cq_tasks = Arc::new(Mutex::new(Vec::new()));
        let tasks = cq_tasks.clone();
        let env = Arc::new(
            EnvBuilder::new()
                .cq_count(cfg.cq_threads)
                .name_prefix("etcd-grpc")
                .after_start(move || {
                    CQ_EXIT_GUARD.with(|g| *g.borrow_mut() = Some(exit_tx.clone()));
                    if let Ok(task) = std::fs::read_link("/proc/thread-self") {
                        tasks.lock().push(Path::new("/proc").join(task));
                    }
                })
                .build(),
        );
        Channels {
            env,
            cfg: cfg.clone(),
            cq_exited,
            cq_tasks,
        }
    }

    /// A member with a fresh channel to `endpoint` (connecting lazily).
    pub fn member(&self, endpoint: Endpoint) -> Result<Arc<Member>> {
        let channel = self.build_channel(&endpoint)?;
        Ok(Arc::new(Member {
            client: grpcio::Client::new(channel.clone()),
            channel,
            endpoint,
        }))
    }

    fn build_channel(&self, endpoint: &Endpoint) -> Result<grpcio::Channel> {
        let cfg = &self.cfg;
        let keepalive = grpc_millis(cfg.keepalive_time);
        let mut b = ChannelBuilder::new(self.env.clone())
            .max_send_message_len(clamp_len(cfg.max_send_message_size))
            .max_receive_message_len(cfg.max_receive_message_size.map_or(-1, clamp_len))
            .keepalive_time(keepalive)
            .keepalive_timeout(grpc_millis(cfg.keepalive_timeout))
            // etcd's server refuses pings on a connection without streams,
            // and pings closer than 5 s; without data grpc would otherwise
            // stop pinging after two, leaving a frozen member undetected.
            .keepalive_permit_without_calls(false)
            .http2_max_pings_without_data(0)
            .http2_min_sent_ping_interval_without_data(keepalive)
            // The transport decides about retries (one policy for every
            // call, aware of which calls may be repeated); gRPC's own
            // retry layer would only add per-call cost.
            .enable_retry(false)
            .initial_reconnect_backoff(Duration::from_millis(100))
            .max_reconnect_backoff(Duration::from_secs(2))
            // Each client gets its own connections, so `-conns N` in the
            // benchmark and separate clients in tests really are separate.
            .use_local_subchannel_pool(true)
            .primary_user_agent(concat!("etcd-blocking/", env!("CARGO_PKG_VERSION")));
        if cfg.max_receive_message_size.is_none() {
            // gRPC's "minimal stack" leaves out the filters we do not need:
            // message-size (sends are checked by `Transport::check_size`,
            // and receives are unlimited), service-config and idle. A put
            // costs 12 % fewer instructions in the client (callgrind, 60k
            // vs 69k). Deadline checking is part of what it drops, and is
            // put back.
            b = b
                .raw_cfg_int(c"grpc.minimal_stack".into(), 1)
                .raw_cfg_int(c"grpc.enable_deadline_checking".into(), 1);
        }
        if endpoint.is_tls() {
            b = crate::tls::secure(b, cfg.tls.as_ref(), endpoint)?;
        }
        Ok(b.connect(&endpoint.authority()))
    }

    /// Drops the environment and waits (up to `limit`) for its threads to
    /// exit; every member must have been dropped before. Returns whether
    /// they did.
    pub fn shutdown(self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let exited = self.cq_exited;
        drop(self.env);
        if !matches!(
            exited.recv_deadline(deadline),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected)
        ) {
            return false;
        }
        // The destructors ran; the threads end right after.
        let tasks = std::mem::take(&mut *self.cq_tasks.lock());
        for task in tasks {
            while task.exists() {
                if Instant::now() >= deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        true
    }
}

/// The longest duration gRPC's channel settings take: they are
/// milliseconds in an `i32` (about 24.8 days), and grpcio's conversion
/// overflows (a panic in debug builds) on durations near
/// `Duration::MAX`. Anything longer means "never" in practice.
const GRPC_MAX_DURATION: Duration = Duration::from_millis(i32::MAX as u64);

fn grpc_millis(d: Duration) -> Duration {
    d.min(GRPC_MAX_DURATION)
}

fn clamp_len(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn state_name(s: ConnectivityState) -> &'static str {
    match s {
        ConnectivityState::GRPC_CHANNEL_IDLE => "idle",
        ConnectivityState::GRPC_CHANNEL_CONNECTING => "connecting",
        ConnectivityState::GRPC_CHANNEL_READY => "ready",
        ConnectivityState::GRPC_CHANNEL_TRANSIENT_FAILURE => "transient failure",
        ConnectivityState::GRPC_CHANNEL_SHUTDOWN => "shut down",
    }
}

/// Waits for any channel to reach `READY`; returns the first that does.
///
/// An endpoint whose connection failed is asked why, with a call that
/// fails at once on a failing channel and carries gRPC's reason ("Ssl
/// handshake failed: CERTIFICATE_VERIFY_FAILED", "Connection refused").
/// When every endpoint failed for a reason that waiting cannot fix (TLS:
/// an untrusted or misnamed certificate, a refused client certificate),
/// connect gives up at once instead of at the connect timeout.
pub(crate) fn wait_connected(members: &[Arc<Member>], deadline: Instant) -> Result<usize> {
    let mut states: Vec<ConnectivityState> = members
        .iter()
        .map(|m| m.channel.check_connectivity_state(true))
        .collect();
    let mut why: Vec<Option<String>> = vec![None; members.len()];
    let mut waits: Vec<Option<StateChange>> = (0..members.len()).map(|_| None).collect();
    loop {
        if let Some(i) = states
            .iter()
            .position(|s| *s == ConnectivityState::GRPC_CHANNEL_READY)
        {
            return Ok(i);
        }
        let hopeless = why.iter().all(|w| {
            w.as_deref()
                .is_some_and(error::is_permanent_connect_failure)
        });
        if hopeless || Instant::now() >= deadline {
            let causes = members
                .iter()
                .zip(&states)
                .zip(&why)
                .map(|((m, s), why)| EndpointError {
                    endpoint: m.endpoint.to_string(),
                    cause: match why {
                        Some(why) => format!("connection failed: {why}"),
                        None => format!("not connected in time (channel {})", state_name(*s)),
                    },
                })
                .collect();
            return Err(Error::Unavailable(causes));
        }
        for (i, w) in waits.iter_mut().enumerate() {
            if w.is_none() {
                *w = Some(Box::pin(members[i].channel.wait_for_state_change(
                    states[i],
                    deadline.saturating_duration_since(Instant::now()),
                )));
            }
        }
        // Wake on whichever channel changes first.
        let mut any = AnyOf(&mut waits);
        if let Ok(done) = wait::block_on(&mut any, &Interrupt::never(), Some(deadline)) {
            for i in done {
                waits[i] = None;
                states[i] = members[i].channel.check_connectivity_state(true);
                if states[i] == ConnectivityState::GRPC_CHANNEL_TRANSIENT_FAILURE {
                    why[i] = Some(failure_reason(&members[i]));
                }
            }
        }
    }
}

/// Why a member's connection is failing, in gRPC's words: a call on a
/// channel in `TRANSIENT_FAILURE` fails at once with the last error.
fn failure_reason(member: &Member) -> String {
    let opt = CallOption::default().timeout(Duration::from_millis(500));
    let req = pb::StatusRequest::default();
    let outcome = member
        .client
        .unary_call_async(&methods::MAINTENANCE_STATUS, &req, opt)
        .map(|mut rx| wait::drain(&mut rx, Duration::from_secs(1)));
    match outcome {
        Ok(Some(Err(grpcio::Error::RpcFailure(s)))) if !s.message().is_empty() => {
            s.message().to_string()
        }
        _ => "channel in transient failure".into(),
    }
}

/// Completes when at least one of the pending futures does, with the
/// indexes of those that completed (true or false).
struct AnyOf<'a>(&'a mut [Option<StateChange>]);

/// A channel's pending wait for a connectivity change.
type StateChange = Pin<Box<dyn Future<Output = bool> + Send>>;

impl Future for AnyOf<'_> {
    type Output = Vec<usize>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<usize>> {
        let mut done = Vec::new();
        for (i, f) in self.0.iter_mut().enumerate() {
            if let Some(f) = f {
                if f.as_mut().poll(cx).is_ready() {
                    done.push(i);
                }
            }
        }
        for &i in &done {
            self.0[i] = None;
        }
        if done.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(done)
        }
    }
}
