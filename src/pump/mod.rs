//! The stream pump: one background thread per client (`etcd-pump`) that
//! owns the long-lived streams (the shared Watch stream and the shared
//! LeaseKeepAlive stream), re-opens them after failures, and hands results
//! to users through crossbeam channels.
//!
//! Users talk to it with [`Command`]s; sending one also unparks the thread.
//! Nothing here blocks on a user: deliveries use `try_send`, and what to do
//! with a full channel is each driver's policy.
//!
//! Each stream is a [`Duplex`] (`duplex.rs`), which knows nothing of
//! watches or leases, paired with a [`Driver`] (`watch.rs`, `lease.rs`)
//! that does. One loop serves both: it hands the driver commands, stream
//! events and timer ticks, and the driver answers with what should happen
//! next ([`Next`]) — carry on, give up on a stalled stream, or renew the
//! token and reopen.
//!
//! The pump does not touch gRPC's stream halves itself. Requests go to a
//! writer on the completion-queue thread of the stream's channel
//! (`duplex.rs`), and responses come from a [`Reader`] on the same thread:
//! the completion-queue thread that read a response hands it to the driver
//! itself, so a watch event or a keepalive answer reaches the user's
//! channel without waking the pump (measured: one context switch less per
//! event). That thread must never block, so the reader only *tries* the
//! driver's lock: when the pump holds it (a command, a timer, a token
//! renewal), or earlier responses still wait, the response is queued in
//! the stream's inbox for the pump, which takes the inbox in order before
//! anything else. A stream the driver wants given up or reopened is left
//! to the pump too, and so are the stream's end and errors.

mod duplex;
pub(crate) mod lease;
pub(crate) mod watch;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use futures_core::Stream;
use grpcio::{ClientDuplexReceiver, Method};
use parking_lot::Mutex;

pub(crate) use duplex::Duplex;
use duplex::StreamEvent;

use crate::error::{self, Error, Result};
use crate::proto::Answer;
use crate::transport::{CallCtx, Members, RevisionMark, Transport};
use crate::wait::Interrupt;
use lease::{KeepAliveCommand, KeepAlives};
use watch::{WatchCommand, Watches};

/// Deadline of one endpoint auto-sync (a member list call).
const SYNC_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest the pump waits for a new token before reopening anyway.
const TOKEN_RENEW_LIMIT: Duration = Duration::from_secs(5);
/// Longest the pump sleeps without looking at its timers.
const IDLE_TICK: Duration = Duration::from_millis(500);

/// What users ask of the pump.
pub(crate) enum Command {
    Watch(WatchCommand),
    KeepAlive(KeepAliveCommand),
}

/// What a driver asks of the loop after it handled an event or a tick.
pub(crate) enum Next {
    /// Nothing beyond what the driver did itself.
    Continue,
    /// The stream stopped answering while its connection looks fine (a
    /// frozen member): count it as the member's failure and reopen,
    /// elsewhere if another member is up.
    Reset(&'static str),
    /// etcd refused the token the stream was opened with: log in again,
    /// then reopen at once with the new token.
    RenewToken,
}

/// The pump's side of one kind of stream: it keeps the state of every user
/// of that stream and re-creates it on each fresh stream.
///
/// `on_response` may run on a completion-queue thread (see the module
/// docs), so it must not block; it may queue requests on the stream.
pub(crate) trait Driver: Send + 'static {
    /// Requests sent on the stream.
    type Req: Send + 'static;
    /// Responses read from it.
    type Resp: Answer + Send + 'static;
    /// What users ask of this driver.
    type Command;
    /// The RPC.
    const METHOD: &'static Method<Self::Req, Self::Resp>;
    /// How long an open stream outlives the last moment it was wanted.
    const LINGER: Duration;

    /// Whether a stream should be open now.
    fn wants_stream(&self) -> bool;
    /// A user's command.
    fn command(&mut self, cmd: Self::Command, stream: &mut Duplex<Self::Req, Self::Resp>);
    /// A fresh stream is open: queue the state on it again.
    fn on_open(&mut self, now: Instant, stream: &mut Duplex<Self::Req, Self::Resp>);
    /// A response arrived.
    fn on_response(
        &mut self,
        resp: Self::Resp,
        now: Instant,
        stream: &mut Duplex<Self::Req, Self::Resp>,
    ) -> Next;
    /// The stream is gone (failed, reset or reopened): what was in flight
    /// on it will not be answered.
    fn on_broken(&mut self);
    /// Timers: returns when the driver wants to look again, and what
    /// should happen now.
    fn tick(
        &mut self,
        now: Instant,
        stream: &mut Duplex<Self::Req, Self::Resp>,
    ) -> (Option<Instant>, Next);
    /// The client is closing: end every user's wait with `ClientClosed`.
    fn shutdown(&mut self);
}

/// A driver and its stream.
struct Driven<D: Driver> {
    stream: Duplex<D::Req, D::Resp>,
    driver: D,
    /// Set when the client closes, so that a token renewal under way ends.
    stopping: Arc<AtomicBool>,
}

impl<D: Driver> Driven<D> {
    fn new(driver: D, stopping: Arc<AtomicBool>) -> Self {
        Driven {
            stream: Duplex::new(D::METHOD, D::LINGER),
            driver,
            stopping,
        }
    }

    fn command(&mut self, cmd: D::Command) {
        self.driver.command(cmd, &mut self.stream);
    }

    /// Hands the driver a response of stream `generation`; `None` if that
    /// stream is no longer the open one (its requests are being made
    /// again on a new one, so the response is stale).
    fn respond(&mut self, generation: u64, resp: D::Resp, now: Instant) -> Option<Next> {
        if self.stream.generation() != Some(generation) {
            return None;
        }
        self.stream.on_message();
        Some(self.driver.on_response(resp, now, &mut self.stream))
    }

    /// Hands the driver what happened on the stream.
    fn handle(
        &mut self,
        events: &mut Vec<StreamEvent>,
        transport: &Transport,
        members: &Members,
        now: Instant,
    ) {
        for ev in events.drain(..) {
            let next = match ev {
                StreamEvent::Opened => {
                    self.driver.on_open(now, &mut self.stream);
                    Next::Continue
                }
                StreamEvent::Broken { stale_token } => {
                    self.driver.on_broken();
                    if let Some(generation) = stale_token {
                        renew_token(transport, generation, &self.stopping);
                    }
                    Next::Continue
                }
            };
            if self.follow(next, transport, members) {
                // The stream was replaced: the rest belongs to the old one
                // (dropping the drain drops it).
                break;
            }
        }
    }

    /// Does what a driver asked; returns whether the stream was dropped.
    fn follow(&mut self, next: Next, transport: &Transport, members: &Members) -> bool {
        match next {
            Next::Continue => false,
            Next::Reset(why) => {
                self.stream.reset(members, why);
                self.driver.on_broken();
                true
            }
            Next::RenewToken => {
                if let Some(generation) = self.stream.token_generation() {
                    renew_token(transport, generation, &self.stopping);
                }
                self.stream.reopen();
                self.driver.on_broken();
                true
            }
        }
    }

    fn shutdown(&mut self) {
        // Dropping the stream cancels it on the server.
        self.stream.close();
        self.driver.shutdown();
    }
}

/// What a reader left for the pump, tagged with the generation of the
/// stream it was read from.
enum Inbound<Resp> {
    /// A response the reader could not hand to the driver itself.
    Message(u64, Resp),
    /// The stream ended: with an error, or (`None`) cleanly.
    Ended(u64, Option<Error>),
    /// What the driver asked for after a response the reader handed it.
    Follow(u64, Next),
}

/// One kind of stream as the pump and its reader share it.
struct Shared<D: Driver> {
    driven: Mutex<Driven<D>>,
    /// Filled by the reader, in order, whenever it cannot hand a response
    /// to the driver itself; emptied by the pump.
    inbox: Mutex<VecDeque<Inbound<D::Resp>>>,
    /// The pump thread, woken when the inbox gets something.
    pump: Thread,
    mark: Arc<RevisionMark>,
}

impl<D: Driver> Shared<D> {
    fn new(driver: D, mark: Arc<RevisionMark>, stopping: Arc<AtomicBool>) -> Arc<Self> {
        Arc::new(Shared {
            driven: Mutex::new(Driven::new(driver, stopping)),
            inbox: Mutex::new(VecDeque::new()),
            pump: thread::current(),
            mark,
        })
    }

    fn command(&self, cmd: D::Command) {
        self.driven.lock().command(cmd);
    }

    fn shutdown(&self) {
        self.driven.lock().shutdown();
    }

    fn hand_over(&self, item: Inbound<D::Resp>) {
        self.inbox.lock().push_back(item);
        self.pump.unpark();
    }

    /// On the completion-queue thread: a response of stream `generation`.
    /// Returns whether the reader should go on reading.
    fn arrived(&self, generation: u64, resp: D::Resp) -> bool {
        self.mark.saw(resp.revision());
        let mut inbox = self.inbox.lock();
        // Earlier responses waiting for the pump go first; so does
        // whatever the pump is doing under the lock.
        let driven = if inbox.is_empty() {
            self.driven.try_lock()
        } else {
            None
        };
        let Some(mut driven) = driven else {
            inbox.push_back(Inbound::Message(generation, resp));
            drop(inbox);
            self.pump.unpark();
            return true;
        };
        drop(inbox);
        match driven.respond(generation, resp, Instant::now()) {
            // The stream was replaced; this one is being cancelled.
            None => false,
            Some(Next::Continue) => true,
            Some(next) => {
                // Lock order as on the pump: driver, then inbox.
                self.inbox
                    .lock()
                    .push_back(Inbound::Follow(generation, next));
                drop(driven);
                self.pump.unpark();
                false
            }
        }
    }

    /// One turn on the pump: timers, what the reader left, then the stream
    /// (open, send), and a reader for a fresh stream. Returns whether
    /// anything happened, and when to look again.
    fn turn(
        self: &Arc<Self>,
        transport: &Transport,
        members: &Members,
        now: Instant,
    ) -> (bool, Option<Instant>) {
        let mut guard = self.driven.lock();
        let d = &mut *guard;
        let (wake, next) = d.driver.tick(now, &mut d.stream);
        d.follow(next, transport, members);
        let mut progressed = false;
        let mut events = Vec::new();
        loop {
            let Some(item) = self.inbox.lock().pop_front() else {
                break;
            };
            progressed = true;
            // Anything from a stream that is no longer the open one is
            // stale: its requests are being made again on a new one.
            match item {
                Inbound::Message(g, resp) => {
                    if let Some(next) = d.respond(g, resp, now) {
                        d.follow(next, transport, members);
                    }
                }
                Inbound::Ended(g, why) if d.stream.generation() == Some(g) => {
                    d.stream.ended(members, why, &mut events);
                }
                Inbound::Follow(g, next) if d.stream.generation() == Some(g) => {
                    d.follow(next, transport, members);
                }
                _ => {}
            }
            d.handle(&mut events, transport, members, now);
        }
        let want = d.driver.wants_stream();
        progressed |= d.stream.drive(
            members,
            || transport.stream_headers(),
            want,
            now,
            &mut events,
        );
        d.handle(&mut events, transport, members, now);
        if let Some((generation, rx, member)) = d.stream.take_receiver() {
            member.client.spawn(Reader {
                rx,
                generation,
                shared: self.clone(),
            });
        }
        let at = [wake, d.stream.retry_at(), d.stream.close_at(now)]
            .into_iter()
            .flatten()
            .min();
        (progressed, at)
    }
}

/// Reads one stream's responses on its channel's completion-queue thread
/// and hands them to the driver (see the module docs). Ends with the
/// stream, or once the driver asked for the stream to be replaced.
struct Reader<D: Driver> {
    rx: ClientDuplexReceiver<D::Resp>,
    generation: u64,
    shared: Arc<Shared<D>>,
}

impl<D: Driver> Future for Reader<D> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match Pin::new(&mut this.rx).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(resp))) => {
                    if !this.shared.arrived(this.generation, resp) {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    let why = error::from_grpc(e, Duration::ZERO);
                    this.shared
                        .hand_over(Inbound::Ended(this.generation, Some(why)));
                    return Poll::Ready(());
                }
                Poll::Ready(None) => {
                    this.shared.hand_over(Inbound::Ended(this.generation, None));
                    return Poll::Ready(());
                }
            }
        }
    }
}

/// A stream's token was refused: log in again (a blocking call, bounded,
/// and rare) before it reopens. Closing the client ends it.
fn renew_token(transport: &Transport, generation: u64, stopping: &AtomicBool) {
    match transport.renew_token(generation, &pump_call(TOKEN_RENEW_LIMIT, stopping)) {
        Ok(()) | Err(Error::ClientClosed) => {}
        Err(e) => log::warn!("renewing the auth token for streams: {e}"),
    }
}

/// The context of a call the pump makes itself: bounded by `timeout`, and
/// ended by the client's close (`stopping`), so that `close` never waits
/// for it.
fn pump_call(timeout: Duration, stopping: &AtomicBool) -> CallCtx<'_> {
    CallCtx {
        intr: Interrupt {
            closed: stopping,
            token: None,
        },
        ..CallCtx::internal(timeout)
    }
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
    stopping: Arc<AtomicBool>,
}

impl Pump {
    /// Starts the pump thread; a thread the system will not start is
    /// [`Error::Io`](crate::Error::Io).
    pub fn start(transport: Arc<Transport>, sync_every: Option<Duration>) -> Result<Pump> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (stop, stopped) = crossbeam_channel::bounded(1);
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = stopping.clone();
        let join = thread::Builder::new()
            .name("etcd-pump".into())
            .spawn(move || {
                let mark = transport.revision_mark();
                let watches = Watches::new(transport.is_authenticated());
                let mut state = PumpThread {
                    watch: Shared::new(watches, mark.clone(), flag.clone()),
                    lease: Shared::new(KeepAlives::default(), mark, flag.clone()),
                    stopping: flag,
                    transport,
                    sync_every,
                    next_sync: sync_every.map(crate::wait::instant_after),
                    commands: rx,
                    stopped,
                };
                state.run();
            })
            .map_err(|e| Error::Io(Arc::new(e)))?;
        let handle = Arc::new(PumpHandle {
            tx,
            thread: join.thread().clone(),
        });
        Ok(Pump {
            handle,
            join,
            stop,
            stopping,
        })
    }

    /// Stops the thread, which cancels its streams on the server and ends
    /// every watch and keepalive with [`Error::ClientClosed`](crate::Error),
    /// and joins it.
    pub fn stop(self) {
        self.stopping.store(true, Ordering::Release);
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
    /// Set by [`Pump::stop`] before it signals `stopped`: ends a call the
    /// pump is making (auto-sync, a token renewal).
    stopping: Arc<AtomicBool>,
    transport: Arc<Transport>,
    /// Endpoint auto-sync: how often, and when next.
    sync_every: Option<Duration>,
    next_sync: Option<Instant>,
    watch: Arc<Shared<Watches>>,
    lease: Arc<Shared<KeepAlives>>,
}

impl PumpThread {
    fn run(&mut self) {
        loop {
            if self.stopped.try_recv().is_ok() {
                break;
            }
            self.take_commands();
            let now = Instant::now();
            if self.next_sync.is_some_and(|t| now >= t) {
                self.sync_endpoints();
            }
            let members = self.transport.members();
            let (watch_progressed, watch_at) = self.watch.turn(&self.transport, &members, now);
            let (lease_progressed, lease_at) = self.lease.turn(&self.transport, &members, now);
            let next = [watch_at, lease_at, self.next_sync]
                .into_iter()
                .flatten()
                .fold(now + IDLE_TICK, Instant::min);
            if !(watch_progressed || lease_progressed) {
                thread::park_timeout(next.saturating_duration_since(Instant::now()));
            }
        }
        // Commands sent before the stop are taken too, so that what they
        // registered (a keepalive added just before close) ends with
        // `ClientClosed` like the rest instead of never hearing of it.
        self.take_commands();
        self.watch.shutdown();
        self.lease.shutdown();
    }

    fn take_commands(&mut self) {
        while let Ok(cmd) = self.commands.try_recv() {
            match cmd {
                Command::Watch(c) => self.watch.command(c),
                Command::KeepAlive(c) => self.lease.command(c),
            }
        }
    }

    /// Refreshes the endpoint list from the cluster (auto-sync).
    fn sync_endpoints(&mut self) {
        if let Err(e) = self
            .transport
            .sync_endpoints(&pump_call(SYNC_TIMEOUT, &self.stopping))
        {
            log::debug!("endpoint auto-sync failed: {e}");
        }
        self.next_sync = self.sync_every.map(crate::wait::instant_after);
    }
}
