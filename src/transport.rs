//! The transport: the grpcio environment, one channel per endpoint, and the
//! one place that decides which endpoint a call goes to and whether a failed
//! call may be tried on another.
//!
//! Policy: stick to the pinned endpoint while it works; an endpoint whose
//! channel is in `TRANSIENT_FAILURE` is skipped without sending anything;
//! a call that fails for transport reasons moves the pin to the next
//! endpoint, and a repeatable call ([`Retry::Safe`]) is tried there within
//! the same deadline. When every endpoint failed, one error lists each
//! endpoint's cause.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use grpcio::{
    CallOption, ChannelBuilder, ConnectivityState, EnvBuilder, Environment, Metadata,
    MetadataBuilder, Method,
};
use protobuf::Message;

use crate::auth::{self, Session};
use crate::client::ClientBuilder;
use crate::endpoint::Endpoint;
use crate::error::{self, EndpointError, Error, Result};
use crate::proto::{methods, rpc as pb};
use crate::wait::{self, Interrupt};
use parking_lot::RwLock;

/// First wait before retrying a call that etcd refused for a transient
/// reason; it doubles up to [`RETRY_BACKOFF_MAX`].
const RETRY_BACKOFF_MIN: Duration = Duration::from_millis(25);
const RETRY_BACKOFF_MAX: Duration = Duration::from_millis(500);

/// Whether a call may be sent again after a failure that might have
/// happened after the request left the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Repeating it cannot change the outcome (reads, idempotent admin calls).
    Safe,
    /// It may have been applied (writes): never sent twice.
    Never,
}

/// One call's deadline and interrupts, as seen by the transport.
pub(crate) struct CallCtx<'a> {
    pub timeout: Duration,
    pub deadline: Instant,
    pub intr: Interrupt<'a>,
    /// A member the call must go to (no failover), for operator calls
    /// aimed at one member.
    pub target: Option<&'a Endpoint>,
}

impl CallCtx<'_> {
    fn remaining(&self) -> Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(Error::DeadlineExceeded(self.timeout))
        } else {
            Ok(left)
        }
    }
}

pub(crate) struct Member {
    pub endpoint: Endpoint,
    pub client: grpcio::Client,
    channel: grpcio::Channel,
}

impl Member {
    /// Whether calls on this member would fail at once (its connection is
    /// in `TRANSIENT_FAILURE`, waiting to reconnect).
    fn is_failing(&self) -> bool {
        self.channel.check_connectivity_state(false)
            == ConnectivityState::GRPC_CHANNEL_TRANSIENT_FAILURE
    }
}

/// The endpoints and which one is pinned: shared by unary calls and the
/// stream pump, so both follow one policy.
pub(crate) struct Members {
    list: Vec<Arc<Member>>,
    pinned: AtomicUsize,
}

impl Members {
    pub fn get(&self, idx: usize) -> &Arc<Member> {
        &self.list[idx]
    }

    /// Records that the member at `endpoint` failed, if it is still listed.
    pub fn failed_at(&self, endpoint: &Endpoint) {
        if let Some(idx) = self.index_of(endpoint) {
            self.failed(idx);
        }
    }

    /// Index of this endpoint in the list.
    pub fn index_of(&self, endpoint: &Endpoint) -> Option<usize> {
        self.list.iter().position(|m| m.endpoint == *endpoint)
    }

    /// The endpoints, in order.
    pub fn endpoints(&self) -> Vec<String> {
        self.list.iter().map(|m| m.endpoint.to_string()).collect()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Where a new stream should go: the pinned member unless its
    /// connection is failing and another's is not.
    pub fn pick(&self) -> usize {
        let n = self.list.len();
        let start = self.pinned.load(Ordering::Relaxed);
        (0..n)
            .map(|step| (start + step) % n)
            .find(|&i| !self.list[i].is_failing())
            .unwrap_or(start)
    }

    /// Records that `idx` failed: the pin moves on to the next member
    /// (unless another caller moved it already).
    pub fn failed(&self, idx: usize) {
        self.repin(idx, (idx + 1) % self.list.len());
    }

    fn repin(&self, from: usize, to: usize) {
        if from != to
            && self
                .pinned
                .compare_exchange(from, to, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log::debug!(
                "switching endpoint {} -> {}",
                self.list[from].endpoint,
                self.list[to].endpoint
            );
        }
    }
}

pub(crate) struct Transport {
    /// The current members; replaced as a whole by an endpoint sync, so a
    /// call works on one consistent snapshot.
    current: RwLock<Arc<Members>>,
    /// To build channels for members found by a sync.
    env: Arc<Environment>,
    cfg: ClientBuilder,
    /// Share of a call's deadline one attempt of a repeatable call may use
    /// while other members remain to be tried.
    attempt_fraction: f64,
    /// The authenticated session, when the config has credentials.
    session: Option<Arc<Session>>,
    max_send: usize,
    /// Extra metadata sent with every unary call (`hasleader`), built once.
    headers: Option<Metadata>,
    /// Disconnects once every completion-queue thread has run its
    /// thread-local destructors.
    cq_exited: Receiver<()>,
    /// `/proc/self/task/<tid>` of each completion-queue thread (Linux), to
    /// see the threads really gone, as a join would.
    cq_tasks: Arc<parking_lot::Mutex<Vec<std::path::PathBuf>>>,
}

thread_local! {
    /// Held by each completion-queue thread; dropped when it exits, which
    /// disconnects [`Transport::cq_exited`]. grpcio detaches its threads, so
    /// this is how closing the client waits for them.
    static CQ_EXIT_GUARD: RefCell<Option<Sender<()>>> = const { RefCell::new(None) };
}

impl Transport {
    /// Builds a channel per endpoint and waits until one is connected, or
    /// the connect timeout passes.
    pub fn connect(cfg: &ClientBuilder) -> Result<Transport> {
        let endpoints = cfg.parsed_endpoints()?;
        if std::env::var("ETCD_CLIENT_DEBUG").is_ok_and(|v| v == "1" || v == "true") {
            grpcio::redirect_log();
        }
        let (exit_tx, cq_exited) = crossbeam_channel::bounded::<()>(0);
        let cq_tasks = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let tasks = cq_tasks.clone();
        let env = Arc::new(
            EnvBuilder::new()
                .cq_count(cfg.cq_threads)
                .name_prefix("etcd-grpc")
                .after_start(move || {
                    CQ_EXIT_GUARD.with(|g| *g.borrow_mut() = Some(exit_tx.clone()));
                    if let Ok(task) = std::fs::read_link("/proc/thread-self") {
                        tasks.lock().push(std::path::Path::new("/proc").join(task));
                    }
                })
                .build(),
        );
        let members = endpoints
            .into_iter()
            .map(|endpoint| new_member(&env, cfg, endpoint))
            .collect::<Result<Vec<_>>>()?;
        let headers = cfg.require_leader.then(has_leader);
        let session = cfg
            .credentials
            .clone()
            .map(|c| Arc::new(Session::new(c, cfg.require_leader)));
        let t = Transport {
            attempt_fraction: cfg.attempt_fraction,
            session,
            current: RwLock::new(Arc::new(Members {
                list: members,
                pinned: AtomicUsize::new(0),
            })),
            env,
            cfg: cfg.clone(),
            max_send: cfg.max_send_message_size,
            headers,
            cq_exited,
            cq_tasks,
        };
        let members = t.members();
        let first = wait_connected(&members, Instant::now() + cfg.connect_timeout)?;
        members.pinned.store(first, Ordering::Relaxed);
        log::debug!("connected to {}", members.list[first].endpoint);
        if let Some(session) = &t.session {
            // A wrong password fails here, typed, without retries.
            let never = std::sync::atomic::AtomicBool::new(false);
            let intr = Interrupt {
                closed: &never,
                token: None,
            };
            session.refresh(&members, 0, &intr, Instant::now() + cfg.connect_timeout)?;
        }
        Ok(t)
    }

    /// Refuses a request larger than the send limit before anything is
    /// sent. On the minimal stack (see `build_channel`) this is the only
    /// check: gRPC's own lives in the message-size filter left out there.
    pub fn check_size(&self, req: &impl Message) -> Result<()> {
        let size = req.compute_size() as usize;
        if size > self.max_send {
            return Err(Error::RequestTooLarge {
                size,
                limit: self.max_send,
            });
        }
        Ok(())
    }

    /// Sends one unary request, failing over between endpoints as the
    /// module documentation says.
    pub fn unary<Req: Message, Resp: Unpin>(
        &self,
        method: &Method<Req, Resp>,
        req: &Req,
        retry: Retry,
        ctx: &CallCtx<'_>,
    ) -> Result<Resp> {
        if let Some(e) = ctx.intr.check() {
            return Err(e);
        }
        self.check_size(req)?;
        let members = self.members();
        let n = members.list.len();
        let (start, candidates) = match ctx.target {
            Some(t) => (target_index(&members, t)?, 1),
            None => (members.pinned.load(Ordering::Relaxed), n),
        };
        let mut causes = Vec::new();
        let mut idx = start;
        // Members tried since the last answer that was not a transport
        // failure; once every member failed that way, give up.
        let mut failed_in_a_row = 0;
        let mut backoff = RETRY_BACKOFF_MIN;
        let mut token_renewed = false;
        loop {
            let member = &members.list[idx];
            // A channel in TRANSIENT_FAILURE would fail the call at once;
            // skipping it sends nothing, so even writes may go elsewhere.
            // The last candidate is always tried, so the error comes from
            // a real attempt.
            if failed_in_a_row + 1 < candidates && member.is_failing() {
                causes.push(EndpointError {
                    endpoint: member.endpoint.to_string(),
                    cause: "connection is failing (skipped)".into(),
                });
                failed_in_a_row += 1;
                idx = (idx + 1) % n;
                continue;
            }
            // A repeatable call gives each member only a share of its
            // deadline while others are left to try, so one frozen member
            // cannot eat all of it.
            let remaining = ctx.remaining()?;
            let attempt_limit = if retry == Retry::Safe && failed_in_a_row + 1 < candidates {
                remaining.min(ctx.timeout.mul_f64(self.attempt_fraction))
            } else {
                remaining
            };
            let mut opt = CallOption::default().timeout(attempt_limit);
            let (token_generation, headers) = match &self.session {
                Some(s) => s.unary_headers(),
                None => (0, self.headers.clone()),
            };
            if let Some(h) = headers {
                opt = opt.headers(h);
            }
            let err = match attempt(member, method, req, opt, ctx) {
                Ok(resp) => {
                    if idx != start && ctx.target.is_none() {
                        members.repin(start, idx);
                    }
                    return Ok(resp);
                }
                Err(Error::DeadlineExceeded(_)) if attempt_limit < remaining => Error::Grpc {
                    code: error::Code::Unavailable,
                    message: format!("no answer within {attempt_limit:?}"),
                },
                Err(err) => err,
            };
            if let Some(cause) = transport_failure(&err) {
                log::debug!("{} failed: {cause}", member.endpoint);
                members.failed(idx);
                failed_in_a_row += 1;
                // A write that may have reached the member must not be
                // sent again; the caller learns that it may be applied.
                if retry == Retry::Never && !never_sent(&cause) {
                    return Err(Error::Ambiguous {
                        endpoint: member.endpoint.to_string(),
                        cause,
                    });
                }
                causes.push(EndpointError {
                    endpoint: member.endpoint.to_string(),
                    cause,
                });
                if failed_in_a_row >= candidates {
                    return Err(Error::Unavailable(causes));
                }
                idx = (idx + 1) % n;
                continue;
            }
            if let (Some(session), false) = (&self.session, token_renewed) {
                if auth::is_stale_token(&err) {
                    session.refresh(&members, token_generation, &ctx.intr, ctx.deadline)?;
                    token_renewed = true;
                    continue;
                }
            }
            // etcd itself said "not now" (no leader, leader changed, timed
            // out inside raft): a repeatable call waits a little and tries
            // again within its deadline; a member without a leader is
            // probably cut off, so the next try goes elsewhere.
            let Error::Etcd(e) = &err else {
                return Err(err);
            };
            if !e.is_transient() || (retry == Retry::Never && !e.was_not_applied()) {
                return Err(err);
            }
            if ctx.remaining()? <= backoff {
                return Err(err);
            }
            log::debug!("{}: {e}; retrying in {backoff:?}", member.endpoint);
            wait::sleep(&ctx.intr, backoff)?;
            backoff = (backoff * 2).min(RETRY_BACKOFF_MAX);
            failed_in_a_row = 0;
            causes.clear();
            if *e == crate::EtcdError::NoLeader && ctx.target.is_none() {
                members.failed(idx);
                idx = (idx + 1) % n;
            }
        }
    }

    /// Runs a server-streaming call, handing each message to `on_message`
    /// as it arrives, until the server ends the stream. The whole stream
    /// shares the call's deadline. An error from `on_message` cancels the
    /// call and is returned.
    pub fn server_streaming<Req, Resp>(
        &self,
        method: &Method<Req, Resp>,
        req: &Req,
        ctx: &CallCtx<'_>,
        on_message: &mut dyn FnMut(Resp) -> Result<()>,
    ) -> Result<()> {
        if let Some(e) = ctx.intr.check() {
            return Err(e);
        }
        let members = self.members();
        let (idx, opt) = self.stream_call(&members, ctx)?;
        let member = &members.list[idx];
        let grpc = |e| map_error(e, ctx.timeout);
        let mut rx = member
            .client
            .server_streaming(method, req, opt)
            .map_err(grpc)?;
        loop {
            let next = match wait::block_on(&mut Next(&mut rx), &ctx.intr, None) {
                Ok(next) => next,
                Err(interrupt) => {
                    rx.cancel();
                    return Err(interrupt.unwrap_or(Error::DeadlineExceeded(ctx.timeout)));
                }
            };
            match next {
                None => return Ok(()),
                Some(Ok(msg)) => {
                    if let Err(e) = on_message(msg) {
                        rx.cancel();
                        return Err(e);
                    }
                }
                Some(Err(e)) => {
                    let err = grpc(e);
                    if transport_failure(&err).is_some() {
                        members.failed(idx);
                    }
                    return Err(err);
                }
            }
        }
    }

    /// The member a one-off streaming call goes to, and its options.
    fn stream_call(&self, members: &Members, ctx: &CallCtx<'_>) -> Result<(usize, CallOption)> {
        let idx = match ctx.target {
            Some(t) => target_index(members, t)?,
            None => members.pick(),
        };
        let opt = CallOption::default()
            .timeout(ctx.remaining()?)
            .headers(self.stream_headers());
        Ok((idx, opt))
    }

    /// A snapshot of the current members.
    pub fn members(&self) -> Arc<Members> {
        self.current.read().clone()
    }

    /// Replaces the endpoints with the cluster's voting members' client
    /// URLs (learners do not serve most calls), keeping the connections of
    /// endpoints that stay. Returns the new list.
    pub fn sync_endpoints(&self, ctx: &CallCtx<'_>) -> Result<Vec<String>> {
        let resp = self.unary(
            &methods::CLUSTER_MEMBER_LIST,
            &pb::MemberListRequest::default(),
            Retry::Safe,
            ctx,
        )?;
        let mut found = Vec::new();
        for m in resp.members.iter().filter(|m| !m.isLearner) {
            // A member not yet started has no client URLs.
            if let Some(ep) = m.clientURLs.iter().find_map(|u| Endpoint::parse(u).ok()) {
                if !found.contains(&ep) {
                    found.push(ep);
                }
            }
        }
        if found.is_empty() {
            return Err(Error::InvalidRequest(
                "member list has no voting member with a client URL; endpoints kept".into(),
            ));
        }
        let old = self.members();
        let list = found
            .into_iter()
            .map(|ep| match old.index_of(&ep) {
                Some(i) => Ok(old.list[i].clone()),
                None => new_member(&self.env, &self.cfg, ep),
            })
            .collect::<Result<Vec<_>>>()?;
        let pinned_ep = &old.list[old.pinned.load(Ordering::Relaxed)].endpoint;
        let pinned = list
            .iter()
            .position(|m| m.endpoint == *pinned_ep)
            .unwrap_or(0);
        let new = Members {
            list,
            pinned: AtomicUsize::new(pinned),
        };
        let endpoints = new.endpoints();
        if endpoints != old.endpoints() {
            log::debug!("endpoints synced: {endpoints:?}");
        }
        *self.current.write() = Arc::new(new);
        Ok(endpoints)
    }

    /// The authenticated session, if any, for the stream pump.
    pub fn session(&self) -> Option<Arc<Session>> {
        self.session.clone()
    }

    /// Metadata for streams: etcd's `hasleader`, always, so a member that
    /// loses its leader ends the stream and the pump moves elsewhere; and
    /// the token when authenticated.
    pub fn stream_headers(&self) -> Metadata {
        match &self.session {
            Some(s) => s.stream_headers().1,
            None => has_leader(),
        }
    }

    /// Drops the channels and waits (up to `limit`) for grpcio's threads to
    /// exit. Returns whether they did.
    pub fn shutdown(self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let exited = self.cq_exited;
        drop(self.current);
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

/// One try on one member: send, then block until the answer, the deadline
/// (enforced by gRPC through `opt`), or an interrupt, which cancels the call
/// on the server before returning.
fn attempt<Req, Resp: Unpin>(
    member: &Member,
    method: &Method<Req, Resp>,
    req: &Req,
    opt: CallOption,
    ctx: &CallCtx<'_>,
) -> Result<Resp> {
    let grpc = |e| map_error(e, ctx.timeout);
    let mut rx = member
        .client
        .unary_call_async(method, req, opt)
        .map_err(grpc)?;
    match wait::block_on(&mut rx, &ctx.intr, None) {
        Ok(r) => r.map_err(grpc),
        Err(interrupt) => {
            rx.cancel();
            let _ = wait::drain(&mut rx, Duration::from_secs(1));
            Err(interrupt.unwrap_or(Error::DeadlineExceeded(ctx.timeout)))
        }
    }
}

pub(crate) fn map_error(e: grpcio::Error, timeout: Duration) -> Error {
    match e {
        grpcio::Error::RpcFailure(s) => error::from_status(s.code().into(), s.message(), timeout),
        other => Error::from(other),
    }
}

/// Whether a transport failure happened before the request could leave
/// the client: gRPC could not connect at all, so nothing was sent.
fn never_sent(cause: &str) -> bool {
    cause.starts_with("failed to connect to all addresses")
}

/// The cause to record if `err` is a transport failure (the member could not
/// be reached or dropped the connection), as opposed to an answer.
fn transport_failure(err: &Error) -> Option<String> {
    match err {
        Error::Grpc {
            code: error::Code::Unavailable,
            message,
        } => Some(message.clone()),
        _ => None,
    }
}

pub(crate) fn has_leader() -> Metadata {
    let mut b = MetadataBuilder::new();
    b.add_str("hasleader", "true").expect("static metadata");
    b.build()
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

fn new_member(
    env: &Arc<Environment>,
    cfg: &ClientBuilder,
    endpoint: Endpoint,
) -> Result<Arc<Member>> {
    let channel = build_channel(env, cfg, &endpoint)?;
    Ok(Arc::new(Member {
        client: grpcio::Client::new(channel.clone()),
        channel,
        endpoint,
    }))
}

/// Where a call aimed at one endpoint goes in this snapshot.
fn target_index(members: &Members, target: &Endpoint) -> Result<usize> {
    members.index_of(target).ok_or_else(|| {
        Error::InvalidConfig(format!(
            "{target} is no longer one of the client's endpoints"
        ))
    })
}

fn build_channel(
    env: &Arc<Environment>,
    cfg: &ClientBuilder,
    endpoint: &Endpoint,
) -> Result<grpcio::Channel> {
    let keepalive = cfg.keepalive_time;
    let mut b = ChannelBuilder::new(env.clone())
        .max_send_message_len(clamp_len(cfg.max_send_message_size))
        .max_receive_message_len(cfg.max_receive_message_size.map_or(-1, clamp_len))
        .keepalive_time(keepalive)
        .keepalive_timeout(cfg.keepalive_timeout)
        // etcd's server refuses pings on a connection without streams, and
        // pings closer than 5 s; without data grpc would otherwise stop
        // pinging after two, leaving a frozen member undetected.
        .keepalive_permit_without_calls(false)
        .http2_max_pings_without_data(0)
        .http2_min_sent_ping_interval_without_data(keepalive)
        // Our transport decides about retries (one policy for every call,
        // aware of which calls may be repeated); gRPC's own retry layer
        // would only add per-call cost.
        .enable_retry(false)
        .initial_reconnect_backoff(Duration::from_millis(100))
        .max_reconnect_backoff(Duration::from_secs(2))
        // Each client gets its own connections, so `-conns N` in the
        // benchmark and separate clients in tests really are separate.
        .use_local_subchannel_pool(true)
        .primary_user_agent(concat!("etcd-blocking/", env!("CARGO_PKG_VERSION")));
    if cfg.max_receive_message_size.is_none() {
        // gRPC's "minimal stack" leaves out the filters we do not need:
        // message-size (sends are checked by `Transport::check_size`, and
        // receives are unlimited), service-config and idle. A put costs
        // 12 % fewer instructions in the client (callgrind, 60k vs 69k).
        // Deadline checking is part of what it drops, and is put back.
        b = b
            .raw_cfg_int(c"grpc.minimal_stack".into(), 1)
            .raw_cfg_int(c"grpc.enable_deadline_checking".into(), 1);
    }
    if endpoint.is_tls() {
        b = crate::tls::secure(b, cfg, endpoint)?;
    }
    Ok(b.connect(&endpoint.authority()))
}

fn clamp_len(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The next item of a stream, as a future.
struct Next<'a, S>(&'a mut S);

impl<S: futures_core::Stream + Unpin> Future for Next<'_, S> {
    type Output = Option<S::Item>;
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        Pin::new(&mut *self.0).poll_next(cx)
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
fn wait_connected(members: &Members, deadline: Instant) -> Result<usize> {
    let mut states: Vec<ConnectivityState> = members
        .list
        .iter()
        .map(|m| m.channel.check_connectivity_state(true))
        .collect();
    let mut seen_failure = vec![false; members.list.len()];
    let mut why: Vec<Option<String>> = vec![None; members.list.len()];
    let mut waits: Vec<Option<StateChange>> = (0..members.list.len()).map(|_| None).collect();
    loop {
        if let Some(i) = states
            .iter()
            .position(|s| *s == ConnectivityState::GRPC_CHANNEL_READY)
        {
            return Ok(i);
        }
        let hopeless = why.iter().all(|w| w.as_deref().is_some_and(is_permanent));
        if hopeless || Instant::now() >= deadline {
            let causes = members
                .list
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
                *w = Some(Box::pin(members.list[i].channel.wait_for_state_change(
                    states[i],
                    deadline.saturating_duration_since(Instant::now()),
                )));
            }
        }
        // Wake on whichever channel changes first.
        let mut any = AnyOf(&mut waits);
        let never = std::sync::atomic::AtomicBool::new(false);
        let intr = Interrupt {
            closed: &never,
            token: None,
        };
        if let Ok(done) = wait::block_on(&mut any, &intr, Some(deadline)) {
            for i in done {
                waits[i] = None;
                states[i] = members.list[i].channel.check_connectivity_state(true);
                if states[i] == ConnectivityState::GRPC_CHANNEL_TRANSIENT_FAILURE {
                    seen_failure[i] = true;
                    why[i] = Some(failure_reason(&members.list[i]));
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

/// Whether a connection failure will not go away by waiting: the TLS
/// handshake was refused. (A refused TCP connection may be a member that
/// is still starting, so that one is waited for.)
fn is_permanent(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("handshake") || r.contains("certificate")
}

/// Completes when at least one of the pending futures does, with the
/// indexes of those that completed (true or false).
struct AnyOf<'a>(&'a mut [Option<StateChange>]);

/// A channel's pending wait for a connectivity change.
type StateChange = Pin<Box<dyn Future<Output = bool> + Send>>;

impl Future for AnyOf<'_> {
    type Output = Vec<usize>;
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Vec<usize>> {
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
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(done)
        }
    }
}
