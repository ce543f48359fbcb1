//! The transport: the members, which one is pinned, and the one place that
//! decides which member a call goes to and whether a failed call may be
//! tried again. Channels themselves are `channel.rs`'s; the token is
//! `session.rs`'s; what an error means is `error/`'s.
//!
//! Policy: stick to the pinned member while it works; a member whose
//! channel is in `TRANSIENT_FAILURE` is skipped without sending anything;
//! a call that fails for transport reasons moves the pin to the next
//! member, and a repeatable call ([`Retry::Safe`]) is tried there within
//! the same deadline. A call whose deadline runs out on a member (a
//! write, which is never retried, or the last try of a read) moves the
//! pin on too, so a frozen member costs one call its deadline, not every
//! call until keepalive gives up. When every member failed, one error
//! lists each member's cause. Logging in uses this same loop.
//!
//! Monotonic reads: every answer's header revision raises the highest
//! revision seen (streams' answers too, through the pump). A call marked
//! `monotonic` (a serializable read) refuses an answer below it: the pin
//! moves on and the call is tried on the next member, with a backoff after
//! each round, until one is current or the deadline passes.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use grpcio::{CallOption, Metadata, Method};
use parking_lot::RwLock;
use protobuf::Message;

use crate::channel::{self, Channels, Member};
use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::error::{self, EndpointError, Error, EtcdError, Result};
use crate::metrics::{self, Refusal, RetryReason, Rpc};
use crate::proto::{methods, rpc as pb, Answer};
use crate::session::{self, Session};
use crate::wait::{self, Deadline, Interrupt};

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
    pub deadline: Deadline,
    /// Whether a member without a leader must refuse the call
    /// (`hasleader`), so a cut-off member cannot answer with stale data.
    pub require_leader: bool,
    pub intr: Interrupt<'a>,
    /// A member the call must go to (no failover), for operator calls
    /// aimed at one member.
    pub target: Option<&'a Endpoint>,
    /// Whether an answer behind the highest revision seen must be refused
    /// (serializable reads with monotonic reads on).
    pub monotonic: bool,
}

impl CallCtx<'static> {
    /// A call of the client's own (auto-sync, token renewal on the pump)
    /// that nothing but its deadline ends.
    pub fn internal(timeout: Duration) -> CallCtx<'static> {
        CallCtx {
            deadline: Deadline::after(timeout),
            require_leader: false,
            intr: Interrupt::never(),
            target: None,
            monotonic: false,
        }
    }
}

/// The members and which one is pinned: shared by unary calls and the
/// stream pump, so both follow one policy.
pub(crate) struct Members {
    list: Vec<Arc<Member>>,
    pinned: AtomicUsize,
}

impl Members {
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

    /// The pinned member.
    pub fn pinned(&self) -> &Arc<Member> {
        &self.list[self.pinned.load(Ordering::Relaxed)]
    }

    /// Where a new stream should go: the pinned member unless its
    /// connection is failing and another's is not.
    pub fn pick(&self) -> &Arc<Member> {
        let n = self.list.len();
        let start = self.pinned.load(Ordering::Relaxed);
        let idx = (0..n)
            .map(|step| (start + step) % n)
            .find(|&i| !self.list[i].is_failing())
            .unwrap_or(start);
        &self.list[idx]
    }

    /// Records that `idx` failed: the pin moves on to the next member
    /// (unless another caller moved it already).
    fn failed(&self, idx: usize) {
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
            metrics::endpoint_switched(&self.list[from].endpoint, &self.list[to].endpoint);
        }
    }

    /// Where a call aimed at one endpoint goes in this snapshot.
    fn target_index(&self, target: &Endpoint) -> Result<usize> {
        self.index_of(target).ok_or_else(|| {
            Error::InvalidConfig(format!(
                "{target} is no longer one of the client's endpoints"
            ))
        })
    }
}

pub(crate) struct Transport {
    /// The current members; replaced as a whole by an endpoint sync, so a
    /// call works on one consistent snapshot.
    current: RwLock<Arc<Members>>,
    /// The environment, and how to build channels for members found by a
    /// sync.
    channels: Channels,
    /// Share of a call's deadline one attempt of a repeatable call may use
    /// while other members remain to be tried.
    attempt_fraction: f64,
    /// The authenticated session, when the config has credentials.
    session: Option<Session>,
    max_send: usize,
    /// `hasleader`, for unary calls without a token that require a
    /// leader, built once.
    has_leader: Metadata,
    /// The highest revision in any answer so far (monotonic reads).
    seen_revision: Arc<RevisionMark>,
    /// The server-streaming calls open now, so that shutting down can
    /// cancel those whose caller is away running user code.
    streams: parking_lot::Mutex<Vec<Weak<dyn CancelStream>>>,
}

/// A server-streaming call in progress, read with
/// [`Transport::next_message`]. It holds no lock, member or channel
/// between reads; dropping it cancels the call on the server.
pub(crate) struct ServerStream<'r, Req, Resp> {
    method: &'r Method<Req, Resp>,
    req: &'r Req,
    open: Option<OpenStream<Resp>>,
    /// Whether a message came: a stale-token refusal after that is the
    /// caller's to handle (starting over would repeat messages).
    delivered: bool,
    token_renewed: bool,
}

impl<'r, Req, Resp> ServerStream<'r, Req, Resp> {
    /// A call of `method` with `req`, opened by the first read.
    pub fn new(method: &'r Method<Req, Resp>, req: &'r Req) -> Self {
        ServerStream {
            method,
            req,
            open: None,
            delivered: false,
            token_renewed: false,
        }
    }
}

/// One started call of a [`ServerStream`].
struct OpenStream<Resp> {
    /// The receiving half, where shutting down can reach it; `None` once
    /// it canceled the call.
    slot: Arc<StreamSlot<Resp>>,
    rpc: Rpc,
    endpoint: Endpoint,
    /// The token generation the call carried.
    generation: u64,
}

type StreamSlot<Resp> = parking_lot::Mutex<Option<grpcio::ClientSStreamReceiver<Resp>>>;

impl<Resp> Drop for OpenStream<Resp> {
    fn drop(&mut self) {
        // grpcio does not cancel a server stream's call when its receiver
        // is dropped; canceling one that already ended does nothing.
        if let Some(mut rx) = self.slot.lock().take() {
            rx.cancel();
        }
    }
}

/// What shutting down does to an open stream.
trait CancelStream: Send + Sync {
    fn cancel(&self);
}

impl<Resp: Send> CancelStream for StreamSlot<Resp> {
    fn cancel(&self) {
        if let Some(mut rx) = self.lock().take() {
            rx.cancel();
        }
    }
}

/// The highest revision in any answer so far (monotonic reads). Shared
/// with the stream readers that run on the completion-queue threads.
#[derive(Default)]
pub(crate) struct RevisionMark(AtomicI64);

impl RevisionMark {
    /// Records the revision of an answer; returns the highest seen before.
    /// Every answer comes through here: a plain load first, so only an
    /// answer that raises the mark writes the shared cache line (reads of
    /// an unchanged store do not contend across caller threads).
    pub fn saw(&self, revision: i64) -> i64 {
        let seen = self.0.load(Ordering::Relaxed);
        if revision <= seen {
            return seen;
        }
        self.0.fetch_max(revision, Ordering::Relaxed)
    }
}

impl Transport {
    /// Builds a channel per endpoint, waits until one is connected (or the
    /// connect timeout passes), and logs in if the config has credentials.
    pub fn connect(cfg: &Config) -> Result<Transport> {
        let endpoints = cfg.parsed_endpoints()?;
        let channels = Channels::new(cfg);
        let list = endpoints
            .into_iter()
            .map(|endpoint| channels.member(endpoint))
            .collect::<Result<Vec<_>>>()?;
        let ctx = CallCtx::internal(cfg.connect_timeout);
        let first = channel::wait_connected(&list, ctx.deadline.at())?;
        log::debug!("connected to {}", list[first].endpoint);
        metrics::endpoints(list.len() as i64);
        metrics::pinned(&list[first].endpoint, 1);
        let t = Transport {
            attempt_fraction: cfg.attempt_fraction,
            session: match (&cfg.credentials, &cfg.auth_token) {
                (Some(c), _) => Some(Session::new(c.clone())),
                (None, Some(t)) => Some(Session::with_token(t)),
                (None, None) => None,
            },
            current: RwLock::new(Arc::new(Members {
                list,
                pinned: AtomicUsize::new(first),
            })),
            channels,
            max_send: cfg.max_send_message_size,
            has_leader: session::headers(None, true),
            seen_revision: Arc::default(),
            streams: Default::default(),
        };
        // A wrong password fails here, typed, without retries.
        t.renew_token(0, &ctx)?;
        Ok(t)
    }

    /// Refuses a request larger than the send limit before anything is
    /// sent. On the minimal stack (see `channel.rs`) this is the only
    /// check: gRPC's own lives in the message-size filter left out there.
    pub fn check_size(&self, req: &impl Message) -> Result<()> {
        let size = req.compute_size() as usize;
        if size > self.max_send {
            metrics::refused(Refusal::TooLarge);
            return Err(Error::RequestTooLarge {
                size: Some(size),
                limit: Some(self.max_send),
            });
        }
        Ok(())
    }

    /// Sends one unary request, failing over between members as the
    /// module documentation says.
    pub fn unary<Req: Message, Resp: Unpin + Answer>(
        &self,
        method: &Method<Req, Resp>,
        req: &Req,
        retry: Retry,
        ctx: &CallCtx<'_>,
    ) -> Result<Resp> {
        if let Some(e) = ctx.intr.check() {
            metrics::refused(Refusal::interrupted(&e));
            return Err(e);
        }
        self.check_size(req)?;
        self.call(method, req, retry, ctx, true)
    }

    /// Records the revision of an answer; returns the highest seen before.
    pub fn saw(&self, revision: i64) -> i64 {
        self.seen_revision.saw(revision)
    }

    /// The highest-revision mark, for answers read off the transport's
    /// calls (the pump's streams).
    pub fn revision_mark(&self) -> Arc<RevisionMark> {
        self.seen_revision.clone()
    }

    /// Logs in again unless someone already did since token generation
    /// `seen` (single flight); nothing to do without credentials.
    pub fn renew_token(&self, seen: u64, ctx: &CallCtx<'_>) -> Result<()> {
        let Some(session) = &self.session else {
            return Ok(());
        };
        session.refresh(seen, &ctx.deadline, &ctx.intr, |req| {
            // Logging in carries no token, so it is not itself renewed.
            Ok(self
                .call(&methods::AUTH_AUTHENTICATE, req, Retry::Safe, ctx, false)?
                .token)
        })
    }

    /// The failover loop behind every unary call. `with_token`: whether
    /// the call carries the session's token (every call but logging in).
    /// Each turn: pick a member, try it, and let the tour decide from the
    /// outcome whether to answer or to go round again.
    fn call<Req, Resp: Unpin + Answer>(
        &self,
        method: &Method<Req, Resp>,
        req: &Req,
        retry: Retry,
        ctx: &CallCtx<'_>,
        with_token: bool,
    ) -> Result<Resp> {
        let members = self.members();
        let mut tour = Tour::new(&members, ctx, retry)?;
        loop {
            if tour.skip_failing_member() {
                continue;
            }
            let limit = tour.attempt_limit(self.attempt_fraction)?;
            let (token_generation, opt) = self.call_option(limit.attempt, ctx, with_token);
            let member = tour.member();
            let err = match attempt(member, method, req, opt, ctx) {
                Ok(resp) => match tour.check_revision(self, method, resp)? {
                    Some(resp) => return Ok(resp),
                    None => continue,
                },
                Err(err) => limit.classify(err),
            };
            tour.suspect_if_timed_out(&err);
            if tour.on_transport_failure(method, &err)? {
                continue;
            }
            if with_token && tour.renew_token_once(self, method, &err, token_generation)? {
                continue;
            }
            tour.on_refusal(method, err)?;
        }
    }

    /// The per-attempt gRPC options: the attempt's deadline and the
    /// metadata (token, `hasleader`), with the token generation they carry.
    fn call_option(
        &self,
        limit: Duration,
        ctx: &CallCtx<'_>,
        with_token: bool,
    ) -> (u64, CallOption) {
        let opt = CallOption::default().timeout(limit);
        let (token_generation, headers) = match (&self.session, with_token) {
            (Some(s), true) => s.unary_headers(ctx.require_leader),
            _ => (0, ctx.require_leader.then(|| self.has_leader.clone())),
        };
        match headers {
            Some(h) => (token_generation, opt.headers(h)),
            None => (token_generation, opt),
        }
    }

    /// The next message of a server-streaming call (opening it on first
    /// use), or `None` once the server ended it. The whole stream shares
    /// the call's deadline. A stream refused for a stale token before it
    /// delivered anything logs in again and starts over, once.
    ///
    /// Only this read uses the transport: between two reads the stream
    /// holds no part of it, so the caller may run user code there (which
    /// may call the client, or close it) with no lock held.
    pub fn next_message<Req, Resp: Answer + Send + 'static>(
        &self,
        s: &mut ServerStream<'_, Req, Resp>,
        ctx: &CallCtx<'_>,
    ) -> Result<Option<Resp>> {
        loop {
            let (generation, result) = match &mut s.open {
                Some(open) => (open.generation, self.read(open, ctx)),
                None => {
                    let (generation, headers) = self.stream_headers();
                    match self.open_stream(s.method, s.req, ctx, generation, headers) {
                        Ok(open) => {
                            s.open = Some(open);
                            continue;
                        }
                        Err(e) => (generation, Err(e)),
                    }
                }
            };
            match result {
                Ok(Some(msg)) => {
                    s.delivered = true;
                    return Ok(Some(msg));
                }
                Err(e) if !s.delivered && !s.token_renewed && error::is_stale_token(&e) => {
                    s.open = None;
                    self.renew_token(generation, ctx)?;
                    s.token_renewed = true;
                    metrics::retry(s.method, RetryReason::AuthToken);
                }
                ended => {
                    s.open = None;
                    return ended;
                }
            }
        }
    }

    /// Starts a server-streaming call on the member the call goes to, and
    /// lists it among the open streams that closing cancels.
    fn open_stream<Req, Resp: Send + 'static>(
        &self,
        method: &Method<Req, Resp>,
        req: &Req,
        ctx: &CallCtx<'_>,
        generation: u64,
        headers: Metadata,
    ) -> Result<OpenStream<Resp>> {
        if let Some(e) = ctx.intr.check() {
            return Err(e);
        }
        let members = self.members();
        let member = match ctx.target {
            Some(t) => &members.list[members.target_index(t)?],
            None => members.pick(),
        };
        let opt = CallOption::default()
            .timeout(ctx.deadline.remaining()?)
            .headers(headers);
        let mut rpc = Rpc::start(method);
        let rx = match member.client.server_streaming(method, req, opt) {
            Ok(rx) => rx,
            Err(e) => return Err(rpc.ended(error::from_grpc(e, ctx.deadline.timeout()))),
        };
        rpc.sent();
        let slot = Arc::new(parking_lot::Mutex::new(Some(rx)));
        let listed: Weak<dyn CancelStream> =
            Arc::downgrade(&(slot.clone() as Arc<dyn CancelStream>));
        let mut open = self.streams.lock();
        open.retain(|w| w.strong_count() > 0);
        open.push(listed);
        Ok(OpenStream {
            slot,
            rpc,
            endpoint: member.endpoint.clone(),
            generation,
        })
    }

    /// Waits for the next message of an open stream.
    fn read<Resp: Answer>(
        &self,
        open: &mut OpenStream<Resp>,
        ctx: &CallCtx<'_>,
    ) -> Result<Option<Resp>> {
        let mut slot = open.slot.lock();
        let Some(rx) = slot.as_mut() else {
            // Closing canceled it while the caller was away.
            return Err(open.rpc.ended(Error::ClientClosed));
        };
        let next = match wait::block_on(&mut Next(rx), &ctx.intr, None) {
            Ok(next) => next,
            Err(interrupt) => {
                rx.cancel();
                let err = interrupt.unwrap_or(Error::DeadlineExceeded(ctx.deadline.timeout()));
                return Err(open.rpc.ended(err));
            }
        };
        match next {
            None => {
                open.rpc.handled(Some(error::Code::Ok));
                Ok(None)
            }
            Some(Ok(msg)) => {
                open.rpc.received();
                self.saw(msg.revision());
                Ok(Some(msg))
            }
            Some(Err(e)) => {
                let err = error::from_grpc(e, ctx.deadline.timeout());
                let err = reset_at_deadline(err, ctx.deadline.at(), ctx.deadline.timeout());
                let err = open.rpc.ended(err);
                if error::transport_failure(&err).is_some() {
                    self.members().failed_at(&open.endpoint);
                }
                Err(err)
            }
        }
    }

    /// Logs in again now, whatever the token's state (single flight all
    /// the same): for a server that ends a stream quietly when its token is
    /// gone, instead of saying so.
    pub fn renew_token_now(&self, ctx: &CallCtx<'_>) -> Result<()> {
        self.renew_token(self.stream_headers().0, ctx)
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
        self.set_endpoints(found)
    }

    /// Replaces the endpoints with `found` (not empty, no duplicates),
    /// keeping the channels of endpoints that stay and the pin if its
    /// member stays. Returns the new list.
    pub fn set_endpoints(&self, found: Vec<Endpoint>) -> Result<Vec<String>> {
        debug_assert!(!found.is_empty());
        let old = self.members();
        let list = found
            .into_iter()
            .map(|ep| match old.index_of(&ep) {
                Some(i) => Ok(old.list[i].clone()),
                None => self.channels.member(ep),
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
        metrics::endpoints(new.list.len() as i64 - old.list.len() as i64);
        if new.list[pinned].endpoint != *pinned_ep {
            metrics::pinned(pinned_ep, -1);
            metrics::pinned(&new.list[pinned].endpoint, 1);
        }
        *self.current.write() = Arc::new(new);
        Ok(endpoints)
    }

    /// Whether the client logs in (so a refusal may be a stale token).
    pub fn is_authenticated(&self) -> bool {
        self.session.is_some()
    }

    /// Metadata for streams, and the token generation it carries: etcd's
    /// `hasleader`, always, so a member that loses its leader ends the
    /// stream and the pump moves elsewhere; and the token when
    /// authenticated.
    pub fn stream_headers(&self) -> (u64, Metadata) {
        match &self.session {
            Some(s) => s.stream_headers(),
            None => (0, session::headers(None, true)),
        }
    }

    /// Drops the channels and waits (up to `limit`) for grpcio's threads to
    /// exit. Returns whether they did.
    pub fn shutdown(self, limit: Duration) -> bool {
        // A stream whose caller is away (running its callback) still holds
        // a call on the completion queues, which could not shut down.
        for open in self.streams.lock().drain(..) {
            if let Some(open) = open.upgrade() {
                open.cancel();
            }
        }
        let members = self.members();
        metrics::endpoints(-(members.list.len() as i64));
        metrics::pinned(
            &members.list[members.pinned.load(Ordering::Relaxed)].endpoint,
            -1,
        );
        drop(members);
        drop(self.current);
        self.channels.shutdown(limit)
    }
}

/// One unary call's way through the members: which member is next, and
/// what the call has learned so far. [`Transport::call`] asks it, after
/// each attempt, whether to go round again; each decision is one method.
struct Tour<'a, 'c> {
    members: &'a Members,
    ctx: &'a CallCtx<'c>,
    retry: Retry,
    /// Where the call started (the pin, or the target).
    start: usize,
    /// How many members the call may try: all, or the one it is aimed at.
    candidates: usize,
    /// The member to try next.
    idx: usize,
    /// Each member's cause, for [`Error::Unavailable`].
    causes: Vec<EndpointError>,
    /// Members tried since the last answer that was not a transport
    /// failure; once every member failed that way, give up.
    failed_in_a_row: usize,
    /// The wait before the next retry after etcd said "not now", or after
    /// a round of stale answers.
    backoff: Duration,
    token_renewed: bool,
    /// Answers refused as behind the revision seen, and the last one.
    stale_answers: usize,
    stale: Option<Error>,
    /// The time the call had when it started, which attempt shares are cut
    /// from. Not the deadline's timeout: a step of a longer wait (a lock
    /// wait's read) has the whole wait's timeout, for its error, but only
    /// what is left of it to spend, and a share of the whole wait could be
    /// all of that, leaving the other members untried.
    budget: Duration,
}

/// How long one attempt may take, and how much of the call's deadline was
/// left when it started.
struct AttemptLimit {
    attempt: Duration,
    remaining: Duration,
    /// When the attempt's time is up, at the latest as gRPC counts it.
    ends: Instant,
    /// The call's timeout, for its deadline error.
    timeout: Duration,
}

impl AttemptLimit {
    /// An attempt that used up only its share of the deadline failed for
    /// transport reasons (the member did not answer in time), not for the
    /// call's deadline: the next member gets its turn.
    fn classify(&self, err: Error) -> Error {
        match reset_at_deadline(err, self.ends, self.timeout) {
            Error::DeadlineExceeded(_) if self.attempt < self.remaining => {
                error::unreachable(format!("no answer within {:?}", self.attempt))
            }
            err => err,
        }
    }
}

impl<'a, 'c> Tour<'a, 'c> {
    fn new(members: &'a Members, ctx: &'a CallCtx<'c>, retry: Retry) -> Result<Tour<'a, 'c>> {
        let (start, candidates) = match ctx.target {
            Some(t) => (members.target_index(t)?, 1),
            None => (members.pinned.load(Ordering::Relaxed), members.list.len()),
        };
        Ok(Tour {
            members,
            ctx,
            retry,
            start,
            candidates,
            idx: start,
            causes: Vec::new(),
            failed_in_a_row: 0,
            backoff: RETRY_BACKOFF_MIN,
            token_renewed: false,
            stale_answers: 0,
            stale: None,
            budget: ctx.deadline.left(),
        })
    }

    fn member(&self) -> &'a Arc<Member> {
        &self.members.list[self.idx]
    }

    fn next_member(&mut self) {
        self.idx = (self.idx + 1) % self.members.list.len();
    }

    /// Whether other members remain to be tried after this one.
    fn others_left(&self) -> bool {
        self.failed_in_a_row + 1 < self.candidates
    }

    /// A channel in TRANSIENT_FAILURE would fail the call at once;
    /// skipping it sends nothing, so even writes may go elsewhere. The
    /// last candidate is always tried, so the error comes from a real
    /// attempt. Returns whether the member was skipped.
    fn skip_failing_member(&mut self) -> bool {
        let member = self.member();
        if !self.others_left() || !member.is_failing() {
            return false;
        }
        self.causes.push(EndpointError {
            endpoint: member.endpoint.to_string(),
            cause: "connection is failing (skipped)".into(),
        });
        self.failed_in_a_row += 1;
        self.next_member();
        true
    }

    /// A repeatable call gives each member only a share of its time (the
    /// `budget`) while others are left to try, so one frozen member cannot
    /// eat all of it. Out of time after stale answers: the stale answers
    /// are the reason.
    fn attempt_limit(&mut self, fraction: f64) -> Result<AttemptLimit> {
        let remaining = match self.ctx.deadline.remaining() {
            Ok(r) => r,
            Err(e) => return Err(self.stale.take().unwrap_or(e)),
        };
        let attempt = if self.retry == Retry::Safe && self.others_left() {
            remaining.min(self.budget.mul_f64(fraction))
        } else {
            remaining
        };
        Ok(AttemptLimit {
            attempt,
            remaining,
            ends: wait::instant_after(attempt),
            timeout: self.ctx.deadline.timeout(),
        })
    }

    /// Records an answer's revision. The answer is returned unless the
    /// call is monotonic and the answer is behind the revision seen: then
    /// the next member gets the call (after a backoff once a whole round
    /// answered behind), and `None` says to go round again.
    fn check_revision<Req, Resp: Answer>(
        &mut self,
        transport: &Transport,
        method: &Method<Req, Resp>,
        resp: Resp,
    ) -> Result<Option<Resp>> {
        let revision = resp.revision();
        let seen = transport.saw(revision);
        if !(self.ctx.monotonic && revision < seen) {
            if self.idx != self.start && self.ctx.target.is_none() {
                self.members.repin(self.start, self.idx);
            }
            return Ok(Some(resp));
        }
        let member = self.member();
        log::debug!(
            "{} answered at revision {revision}, behind {seen}",
            member.endpoint
        );
        metrics::retry(method, RetryReason::Stale);
        self.stale = Some(Error::StaleRead {
            endpoint: member.endpoint.to_string(),
            revision,
            seen,
        });
        self.stale_answers += 1;
        // An answer, not a transport failure: the other members get their
        // turn again.
        self.answered();
        if self.ctx.target.is_none() {
            self.members.failed(self.idx);
            self.next_member();
        }
        // A round without a current member: give them time to catch up.
        if self.stale_answers.is_multiple_of(self.candidates) {
            if self
                .ctx
                .deadline
                .remaining()
                .map_or(true, |r| r <= self.backoff)
            {
                return Err(self.stale.take().expect("a stale answer"));
            }
            self.back_off()?;
        }
        Ok(None)
    }

    /// A member answered (not a transport failure): the round of failures
    /// starts over.
    fn answered(&mut self) {
        self.failed_in_a_row = 0;
        self.causes.clear();
    }

    /// Waits the current backoff (an interrupt ends the wait and the
    /// call), then doubles it up to [`RETRY_BACKOFF_MAX`].
    fn back_off(&mut self) -> Result<()> {
        wait::sleep(&self.ctx.intr, self.backoff)?;
        self.backoff = (self.backoff * 2).min(RETRY_BACKOFF_MAX);
        Ok(())
    }

    /// A call whose deadline ran out on a member leaves that member
    /// suspect: the pin moves on, so the next call goes elsewhere. A
    /// frozen member (SIGSTOP, a hung process whose connection TCP still
    /// holds open) otherwise keeps every write, which is never retried,
    /// until HTTP/2 keepalive gives up on it (keepalive time + timeout,
    /// 40 s by default). A member that was only slow loses just the pin.
    /// The call itself still fails with `DeadlineExceeded`.
    fn suspect_if_timed_out(&self, err: &Error) {
        if matches!(err, Error::DeadlineExceeded(_)) && self.ctx.target.is_none() {
            self.members.failed(self.idx);
        }
    }

    /// A transport failure (the member could not be reached, or dropped
    /// the connection) moves the pin on. A repeatable call, or one that
    /// provably never left, goes to the next member (`Ok(true)`); a write
    /// that may have reached the member is `Ambiguous`; when every member
    /// failed, one error lists each cause. `Ok(false)`: not a transport
    /// failure.
    fn on_transport_failure<Req, Resp>(
        &mut self,
        method: &Method<Req, Resp>,
        err: &Error,
    ) -> Result<bool> {
        let Some(cause) = error::transport_failure(err) else {
            return Ok(false);
        };
        let member = self.member();
        log::debug!("{} failed: {cause}", member.endpoint);
        self.members.failed(self.idx);
        self.failed_in_a_row += 1;
        // A write that may have reached the member must not be sent
        // again; the caller learns that it may be applied.
        if self.retry == Retry::Never && !error::never_sent(cause) {
            metrics::ambiguous(method);
            return Err(Error::Ambiguous {
                endpoint: member.endpoint.to_string(),
                cause: cause.to_string(),
            });
        }
        self.causes.push(EndpointError {
            endpoint: member.endpoint.to_string(),
            cause: cause.to_string(),
        });
        if self.failed_in_a_row >= self.candidates {
            let causes = std::mem::take(&mut self.causes);
            return Err(self.stale.take().unwrap_or(Error::Unavailable(causes)));
        }
        metrics::retry(method, RetryReason::Transport);
        self.next_member();
        Ok(true)
    }

    /// A token refused as invalid or stale is renewed (single flight)
    /// and the call tried again, once. Returns whether it was.
    fn renew_token_once<Req, Resp>(
        &mut self,
        transport: &Transport,
        method: &Method<Req, Resp>,
        err: &Error,
        token_generation: u64,
    ) -> Result<bool> {
        if self.token_renewed || !error::is_stale_token(err) {
            return Ok(false);
        }
        transport.renew_token(token_generation, self.ctx)?;
        self.token_renewed = true;
        metrics::retry(method, RetryReason::AuthToken);
        Ok(true)
    }

    /// etcd itself said "not now" (no leader, leader changed, timed out
    /// inside raft): a repeatable call, or a write that provably was not
    /// applied (dropped by raft, or refused for `hasleader` before etcd
    /// looked at it), waits a little and tries again within its deadline
    /// (`Ok(())`); a member without a leader is probably cut off, so the
    /// next try goes elsewhere. Anything else is the call's answer
    /// (`Err`).
    fn on_refusal<Req, Resp>(&mut self, method: &Method<Req, Resp>, err: Error) -> Result<()> {
        let Error::Etcd(e) = &err else {
            // Out of time after stale answers: the stale answers are the
            // reason.
            return Err(match (self.stale.take(), err) {
                (Some(stale), Error::DeadlineExceeded(_)) => stale,
                (_, err) => err,
            });
        };
        let unapplied = error::refused_unapplied(e, self.ctx.require_leader);
        if !e.is_transient() || (self.retry == Retry::Never && !unapplied) {
            return Err(err);
        }
        if self.ctx.deadline.remaining()? <= self.backoff {
            return Err(err);
        }
        log::debug!(
            "{}: {e}; retrying in {:?}",
            self.member().endpoint,
            self.backoff
        );
        self.back_off()?;
        metrics::retry(method, RetryReason::EtcdTransient);
        self.answered();
        if *e == EtcdError::NoLeader && self.ctx.target.is_none() {
            self.members.failed(self.idx);
            self.next_member();
        }
        Ok(())
    }
}

/// gRPC's `Cancelled` once a call's time is up (`ends`, no earlier than
/// gRPC's own deadline for it) is that deadline running out: the server
/// starts the same timer from the call's `grpc-timeout` header, and when
/// its timer fires first it resets the stream (RST_STREAM, CANCEL), which
/// gRPC reports as `Cancelled` ("Received RST_STREAM with error code 8").
/// The server's timer starts when the request arrives, so it never fires
/// before ours. Cancels of our own (a token, close) return their own
/// errors and never come here.
fn reset_at_deadline(err: Error, ends: Instant, timeout: Duration) -> Error {
    match err {
        Error::Grpc {
            code: error::Code::Cancelled,
            ..
        } if Instant::now() >= ends => Error::DeadlineExceeded(timeout),
        err => err,
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
    let grpc = |e| error::from_grpc(e, ctx.deadline.timeout());
    let mut rpc = Rpc::start(method);
    let mut rx = match member.client.unary_call_async(method, req, opt) {
        Ok(rx) => rx,
        Err(e) => return Err(rpc.ended(grpc(e))),
    };
    rpc.sent();
    // grpcio 0.13 unwraps the answer of a call that ended with status OK,
    // and panics inside `poll` if there is none (seen once in a loaded
    // test run: a txn racing its cancel token). That is an answer we could
    // not read, not a reason to take the caller's thread down.
    let waited = panic::catch_unwind(AssertUnwindSafe(|| {
        wait::block_on(&mut rx, &ctx.intr, None)
    }));
    let Ok(waited) = waited else {
        return Err(rpc.ended(Error::Ambiguous {
            endpoint: member.endpoint.to_string(),
            cause: "the call ended without an answer gRPC could read".into(),
        }));
    };
    match waited {
        Ok(Ok(resp)) => {
            rpc.received();
            rpc.handled(Some(error::Code::Ok));
            Ok(resp)
        }
        Ok(Err(e)) => Err(rpc.ended(grpc(e))),
        Err(interrupt) => {
            rx.cancel();
            let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                wait::drain(&mut rx, Duration::from_secs(1))
            }));
            let err = interrupt.unwrap_or(Error::DeadlineExceeded(ctx.deadline.timeout()));
            Err(rpc.ended(err))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A step of a longer wait (a lock wait's read near its end) reports
    /// the wait's timeout but has only what is left: each member's share
    /// is cut from that, so a frozen pinned member leaves time for the
    /// others. A share of the wait's timeout was all of it.
    #[test]
    fn a_step_of_a_longer_wait_shares_what_is_left_among_members() {
        let cfg = Config::new(vec![
            "127.0.0.1:1".into(),
            "127.0.0.1:2".into(),
            "127.0.0.1:3".into(),
        ]);
        // gRPC connects lazily: nothing is dialled here.
        let channels = Channels::new(&cfg);
        let list = cfg
            .parsed_endpoints()
            .unwrap()
            .into_iter()
            .map(|e| channels.member(e))
            .collect::<Result<Vec<_>>>()
            .unwrap();
        let members = Members {
            list,
            pinned: AtomicUsize::new(0),
        };
        let left = Duration::from_secs(1);
        let ctx = CallCtx {
            deadline: Deadline::ending_in(left, Duration::from_secs(60)),
            ..CallCtx::internal(left)
        };
        let read = Tour::new(&members, &ctx, Retry::Safe)
            .unwrap()
            .attempt_limit(1.0 / 3.0)
            .unwrap();
        assert!(read.attempt <= left / 3, "{:?}", read.attempt);
        assert!(read.attempt > left / 4, "{:?}", read.attempt);
        // A write is never sent twice, so it gets all that is left.
        let write = Tour::new(&members, &ctx, Retry::Never)
            .unwrap()
            .attempt_limit(1.0 / 3.0)
            .unwrap();
        assert!(write.attempt > left / 2, "{:?}", write.attempt);
        drop(members);
        assert!(channels.shutdown(Duration::from_secs(5)));
    }

    /// The server's deadline timer can reset a call's stream just before
    /// ours fires: a `Cancelled` after the call's time is up is the
    /// deadline, one before it stays what it is.
    #[test]
    fn a_reset_at_the_deadline_is_the_deadline() {
        let reset = || Error::Grpc {
            code: error::Code::Cancelled,
            message: "Received RST_STREAM with error code 8".into(),
            source: None,
        };
        let timeout = Duration::from_millis(1);
        let past = Instant::now();
        assert!(matches!(
            reset_at_deadline(reset(), past, timeout),
            Error::DeadlineExceeded(t) if t == timeout
        ));
        let future = wait::instant_after(Duration::from_secs(60));
        assert!(matches!(
            reset_at_deadline(reset(), future, timeout),
            Error::Grpc {
                code: error::Code::Cancelled,
                ..
            }
        ));
        assert!(matches!(
            reset_at_deadline(Error::Canceled, past, timeout),
            Error::Canceled
        ));
    }
}
