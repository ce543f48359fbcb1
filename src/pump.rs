//! The stream pump: one background thread per client (`etcd-pump`) that
//! owns the long-lived streams (the shared Watch stream and the shared
//! LeaseKeepAlive stream), re-opens them after failures, and hands results
//! to users through crossbeam channels.
//!
//! Users talk to it with [`Command`]s; sending one also unparks the thread.
//! The thread polls grpcio's stream futures itself with its own thread
//! waker, so a response wakes it directly; there is no executor. The pump
//! never blocks on a user: deliveries use `try_send`, and what to do with a
//! full channel is each driver's policy.
//!
//! Each stream is a [`Duplex`], which knows nothing of watches or leases:
//! it opens on the member [`Members::pick`] chooses, moves queued requests
//! into gRPC, collects responses, and on failure marks the member failed
//! and schedules a reopen with backoff. A driver (`watch::Watches`,
//! `lease::KeepAlives`) re-creates its state on every fresh stream.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use futures_core::Stream;
use futures_sink::Sink;
use grpcio::{CallOption, ClientDuplexReceiver, ClientDuplexSender, Metadata, Method, WriteFlags};

use crate::auth::Session;
use crate::error::Error;
use crate::lease::{KeepAliveCommand, KeepAlives};
use crate::proto::{methods, rpc as pb};
use crate::transport::{Member, Members, Transport};
use crate::watch::{WatchCommand, Watches};

/// First delay before reopening a broken stream; doubles up to the max.
const REOPEN_BACKOFF_MIN: Duration = Duration::from_millis(50);
const REOPEN_BACKOFF_MAX: Duration = Duration::from_secs(2);
/// Deadline of one endpoint auto-sync (a member list call).
const SYNC_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest the pump waits for a new token before reopening anyway.
const TOKEN_RENEW_LIMIT: Duration = Duration::from_secs(5);
/// Longest the pump sleeps without looking at its timers.
const IDLE_TICK: Duration = Duration::from_millis(500);
/// How long the LeaseKeepAlive stream stays open once nothing needs it.
/// Without it a loop of `keep_alive_once` calls opened and reset a stream
/// per call, three times the work of a call on an open stream. The Go
/// client keeps its keepalive stream for the client's lifetime.
const LEASE_STREAM_LINGER: Duration = Duration::from_secs(60);

/// What users ask of the pump.
pub(crate) enum Command {
    Watch(WatchCommand),
    KeepAlive(KeepAliveCommand),
}

/// The users' side of the pump: sends commands and wakes the thread.
pub(crate) struct PumpHandle {
    tx: Sender<Command>,
    thread: Thread,
}

impl PumpHandle {
    /// Sends a command; false if the pump has stopped (client closed).
    pub fn send(&self, cmd: Command) -> bool {
        let ok = self.tx.send(cmd).is_ok();
        self.thread.unpark();
        ok
    }

    /// Wakes the pump so it re-checks its state (a slow consumer caught up).
    pub fn nudge(&self) {
        self.thread.unpark();
    }
}

/// The running pump, owned by the client.
pub(crate) struct Pump {
    pub handle: Arc<PumpHandle>,
    join: JoinHandle<()>,
    stop: Sender<()>,
}

impl Pump {
    pub fn start(transport: Arc<Transport>, sync_every: Option<Duration>) -> Pump {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (stop, stopped) = crossbeam_channel::bounded(1);
        let join = thread::Builder::new()
            .name("etcd-pump".into())
            .spawn(move || {
                let session = transport.session();
                let authenticated = session.is_some();
                let mut state = PumpThread {
                    transport,
                    sync_every,
                    next_sync: sync_every.map(|d| Instant::now() + d),
                    commands: rx,
                    stopped,
                    session,
                    // The watch stream closes with the last watch: users
                    // can count on a watch-free client holding none.
                    watch: Duplex::new(&methods::WATCH_WATCH, Duration::ZERO),
                    lease: Duplex::new(&methods::LEASE_LEASE_KEEP_ALIVE, LEASE_STREAM_LINGER),
                    watches: Watches::new(authenticated),
                    keepalives: KeepAlives::default(),
                };
                state.run();
            })
            .expect("spawn etcd-pump thread");
        let handle = Arc::new(PumpHandle {
            tx,
            thread: join.thread().clone(),
        });
        Pump { handle, join, stop }
    }

    /// Stops the thread, which cancels its streams on the server and ends
    /// every watch and keepalive with [`Error::ClientClosed`](crate::Error),
    /// and joins it.
    pub fn stop(self) {
        let _ = self.stop.send(());
        self.handle.thread.unpark();
        if self.join.join().is_err() {
            log::error!("etcd-pump thread panicked");
        }
    }
}

struct PumpThread {
    commands: Receiver<Command>,
    stopped: Receiver<()>,
    transport: Arc<Transport>,
    /// Endpoint auto-sync: how often, and when next.
    sync_every: Option<Duration>,
    next_sync: Option<Instant>,
    session: Option<Arc<Session>>,
    watch: Duplex<pb::WatchRequest, pb::WatchResponse>,
    lease: Duplex<pb::LeaseKeepAliveRequest, pb::LeaseKeepAliveResponse>,
    watches: Watches,
    keepalives: KeepAlives,
}

impl PumpThread {
    fn run(&mut self) {
        crate::wait::with_thread_waker(|cx| loop {
            if self.stopped.try_recv().is_ok() {
                break;
            }
            while let Ok(cmd) = self.commands.try_recv() {
                match cmd {
                    Command::Watch(c) => self.watches.command(c, &mut self.watch),
                    Command::KeepAlive(c) => self.keepalives.command(c, &mut self.lease),
                }
            }
            let now = Instant::now();
            let mut next = now + IDLE_TICK;

            if self.next_sync.is_some_and(|t| now >= t) {
                self.sync_endpoints();
            }
            let members = self.transport.members();
            let watch_wake = self.watches.tick(now, &mut self.watch);
            let lease_wake = self.keepalives.tick(now, &mut self.lease, &members);
            let progressed =
                self.drive_watch(cx, &members, now) | self.drive_lease(cx, &members, now);
            for t in [
                watch_wake,
                lease_wake,
                self.watch.retry_at(),
                self.lease.retry_at(),
                self.lease.close_at(now),
                self.next_sync,
            ]
            .into_iter()
            .flatten()
            {
                next = next.min(t);
            }
            if !progressed {
                thread::park_timeout(next.saturating_duration_since(Instant::now()));
            }
        });
        // Dropping the streams cancels them on the server.
        self.watch.close();
        self.lease.close();
        self.watches.shutdown();
        self.keepalives.shutdown();
    }

    /// Refreshes the endpoint list from the cluster (auto-sync).
    fn sync_endpoints(&mut self) {
        let never = std::sync::atomic::AtomicBool::new(false);
        let ctx = crate::transport::CallCtx {
            timeout: SYNC_TIMEOUT,
            deadline: Instant::now() + SYNC_TIMEOUT,
            intr: crate::wait::Interrupt {
                closed: &never,
                token: None,
            },
            target: None,
        };
        if let Err(e) = self.transport.sync_endpoints(&ctx) {
            log::debug!("endpoint auto-sync failed: {e}");
        }
        self.next_sync = self.sync_every.map(|d| Instant::now() + d);
    }

    /// Headers for a new stream and the token generation they carry.
    fn headers(&self) -> (u64, Metadata) {
        match &self.session {
            Some(s) => s.stream_headers(),
            None => (0, crate::transport::has_leader()),
        }
    }

    /// A stream failed because etcd rejected its token: log in again (a
    /// blocking call, bounded, and rare) before it reopens.
    fn renew_token(&self, generation: u64) {
        let Some(session) = &self.session else {
            return;
        };
        let never = std::sync::atomic::AtomicBool::new(false);
        let intr = crate::wait::Interrupt {
            closed: &never,
            token: None,
        };
        let deadline = Instant::now() + TOKEN_RENEW_LIMIT;
        if let Err(e) = session.refresh(&self.transport.members(), generation, &intr, deadline) {
            log::warn!("renewing the auth token for streams: {e}");
        }
    }

    fn drive_watch(&mut self, cx: &mut Context<'_>, members: &Members, now: Instant) -> bool {
        let want = self.watches.wants_stream();
        let mut events = Vec::new();
        let headers = self.headers();
        let progressed = self
            .watch
            .drive(cx, members, &headers, want, now, &mut events);
        if let Some(generation) = self.watch.stale_token.take() {
            self.renew_token(generation);
        }
        if std::mem::take(&mut self.watches.renew_token) {
            if let Some(generation) = self.watch.token_generation() {
                self.renew_token(generation);
            }
            self.watch.reopen();
            self.watches.on_broken();
        }
        for ev in events {
            match ev {
                StreamEvent::Opened => self.watches.on_open(&mut self.watch),
                StreamEvent::Message(m) => self.watches.on_response(m, &mut self.watch),
                StreamEvent::Broken => self.watches.on_broken(),
            }
        }
        progressed
    }

    fn drive_lease(&mut self, cx: &mut Context<'_>, members: &Members, now: Instant) -> bool {
        let want = self.keepalives.wants_stream();
        let mut events = Vec::new();
        let headers = self.headers();
        let progressed = self
            .lease
            .drive(cx, members, &headers, want, now, &mut events);
        if let Some(generation) = self.lease.stale_token.take() {
            self.renew_token(generation);
        }
        for ev in events {
            match ev {
                StreamEvent::Opened => self.keepalives.on_open(now, &mut self.lease),
                StreamEvent::Message(m) => self.keepalives.on_response(m, now),
                StreamEvent::Broken => self.keepalives.on_broken(),
            }
        }
        progressed
    }
}

/// What happened on a stream during one [`Duplex::drive`].
pub(crate) enum StreamEvent<Resp> {
    /// A fresh stream is open: the driver queues its state again.
    Opened,
    /// A response arrived.
    Message(Resp),
    /// The stream failed; it will be reopened after a backoff.
    Broken,
}

struct Live<Req, Resp> {
    sink: ClientDuplexSender<Req>,
    rx: ClientDuplexReceiver<Resp>,
    member: Arc<Member>,
    unflushed: bool,
    /// Token generation the stream was opened with.
    token_generation: u64,
}

/// One long-lived bidirectional stream, reopened after failures.
pub(crate) struct Duplex<Req: 'static, Resp: 'static> {
    method: &'static Method<Req, Resp>,
    live: Option<Live<Req, Resp>>,
    outbox: VecDeque<Req>,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// How long an open stream outlives the last time it was wanted.
    linger: Duration,
    wanted_at: Option<Instant>,
    /// Set (to the generation used) when etcd rejected the stream's token.
    pub stale_token: Option<u64>,
}

impl<Req: 'static, Resp: 'static> Duplex<Req, Resp> {
    fn new(method: &'static Method<Req, Resp>, linger: Duration) -> Self {
        Duplex {
            method,
            linger,
            wanted_at: None,
            stale_token: None,
            live: None,
            outbox: VecDeque::new(),
            retry_at: None,
            backoff: REOPEN_BACKOFF_MIN,
        }
    }

    /// Queues a request; it is sent on the next drive if the stream is open.
    pub fn send(&mut self, req: Req) {
        if self.live.is_some() {
            self.outbox.push_back(req);
        }
    }

    pub fn is_open(&self) -> bool {
        self.live.is_some()
    }

    /// Drops the stream (which cancels it on the server) and whatever was
    /// queued for it.
    pub fn close(&mut self) {
        self.live = None;
        self.outbox.clear();
    }

    /// Gives up on the current stream as if it had failed: used when a
    /// driver sees it stalled (a frozen member that TCP still holds open).
    pub fn reset(&mut self, members: &Members, why: &str) {
        if let Some(live) = self.live.take() {
            log::debug!("{}: resetting stream: {why}", self.method.name);
            members.failed_at(&live.member.endpoint);
            self.outbox.clear();
            self.retry_at = Some(Instant::now());
        }
    }

    /// The token generation the open stream carries.
    fn token_generation(&self) -> Option<u64> {
        self.live.as_ref().map(|l| l.token_generation)
    }

    /// Closes the stream to open a new one at once (new headers); the
    /// member did nothing wrong.
    fn reopen(&mut self) {
        self.close();
        self.retry_at = None;
    }

    /// When a lingering stream is due to close.
    fn close_at(&self, now: Instant) -> Option<Instant> {
        let at = self.wanted_at? + self.linger;
        (self.live.is_some() && at > now).then_some(at)
    }

    fn retry_at(&self) -> Option<Instant> {
        self.live.is_none().then_some(self.retry_at).flatten()
    }

    fn broken(&mut self, members: &Members, why: &Error, events: &mut Vec<StreamEvent<Resp>>) {
        if let Some(live) = self.live.take() {
            if crate::auth::is_stale_token(why) {
                self.stale_token = Some(live.token_generation);
            }
            log::debug!(
                "{} on {} broke: {why}; reopening in {:?}",
                self.method.name,
                live.member.endpoint,
                self.backoff
            );
            members.failed_at(&live.member.endpoint);
        }
        self.outbox.clear();
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(REOPEN_BACKOFF_MAX);
        events.push(StreamEvent::Broken);
    }

    /// Opens the stream if it is wanted and due, closes it once it has been
    /// unwanted for its linger time, sends what is queued and collects what
    /// arrived. Returns whether anything happened.
    fn drive(
        &mut self,
        cx: &mut Context<'_>,
        members: &Members,
        (token_generation, headers): &(u64, Metadata),
        want: bool,
        now: Instant,
        events: &mut Vec<StreamEvent<Resp>>,
    ) -> bool {
        if want {
            self.wanted_at = Some(now);
        } else if self.close_at(now).is_none() {
            if self.live.is_some() {
                self.close();
            }
            return false;
        }
        let mut progressed = false;
        if self.live.is_none() {
            if self.retry_at.is_some_and(|t| now < t) {
                return false;
            }
            let member = members.get(members.pick()).clone();
            let opt = CallOption::default().headers(headers.clone());
            match member.client.duplex_streaming(self.method, opt) {
                Ok((sink, rx)) => {
                    log::debug!("{} opened on {}", self.method.name, member.endpoint);
                    self.live = Some(Live {
                        sink,
                        rx,
                        member,
                        unflushed: false,
                        token_generation: *token_generation,
                    });
                    self.retry_at = None;
                    events.push(StreamEvent::Opened);
                    return true;
                }
                Err(e) => {
                    members.failed_at(&member.endpoint);
                    self.broken(members, &Error::from(e), events);
                    return true;
                }
            }
        }
        let Some(live) = self.live.as_mut() else {
            return progressed;
        };
        // Send.
        let mut failure: Option<Error> = None;
        while !self.outbox.is_empty() {
            match Pin::new(&mut live.sink).poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let req = self.outbox.pop_front().expect("non-empty outbox");
                    if let Err(e) =
                        Pin::new(&mut live.sink).start_send((req, WriteFlags::default()))
                    {
                        failure = Some(Error::from(e));
                        break;
                    }
                    live.unflushed = true;
                    progressed = true;
                }
                Poll::Ready(Err(e)) => {
                    failure = Some(Error::from(e));
                    break;
                }
                Poll::Pending => break,
            }
        }
        if failure.is_none() && live.unflushed {
            // A finished write matters only when more is queued behind it.
            // Otherwise poll with a waker that does nothing: gRPC would
            // wake the pump once per write for no work (the response, a
            // command or a timer wakes it anyway, and `poll_ready` on the
            // next send registers the real waker). This needs each
            // `start_send` to hand its message to gRPC at once, which is
            // the sink's default: with `enhance_batch` it would hold the
            // last one back until a flush that nothing wakes us for.
            let mut quiet = Context::from_waker(Waker::noop());
            let flush_cx = if self.outbox.is_empty() {
                &mut quiet
            } else {
                &mut *cx
            };
            match Pin::new(&mut live.sink).poll_flush(flush_cx) {
                Poll::Ready(Ok(())) => live.unflushed = false,
                Poll::Ready(Err(e)) => failure = Some(Error::from(e)),
                Poll::Pending => {}
            }
        }
        // Receive.
        while failure.is_none() {
            match Pin::new(&mut live.rx).poll_next(cx) {
                Poll::Ready(Some(Ok(resp))) => {
                    self.backoff = REOPEN_BACKOFF_MIN;
                    events.push(StreamEvent::Message(resp));
                    progressed = true;
                }
                Poll::Ready(Some(Err(e))) => failure = Some(Error::from(e)),
                Poll::Ready(None) => {
                    failure = Some(Error::Grpc {
                        code: crate::Code::Unavailable,
                        message: "stream ended by the server".into(),
                    })
                }
                Poll::Pending => break,
            }
        }
        if let Some(why) = failure {
            self.broken(members, &why, events);
            progressed = true;
        }
        progressed
    }
}
