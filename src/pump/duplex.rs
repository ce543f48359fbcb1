//! One long-lived bidirectional stream that knows nothing of watches or
//! leases: it opens on the member [`Members::pick`] chooses, moves queued
//! requests into gRPC, and on failure marks the member failed and
//! schedules a reopen with backoff. A driver re-creates its state on every
//! fresh stream.
//!
//! Both halves of the call run on the completion-queue thread of the
//! member's channel. Requests go through an [`Outbox`] to a [`Writer`]
//! future spawned there: grpcio's sink takes one message at a time and
//! reports each write's end to whoever polls it, so a writer polled
//! anywhere else would be woken once per message. On the completion-queue
//! thread that wake is a call on the same thread; a batch of requests
//! (refreshes that fall due together, the creates of a reopened watch
//! stream) costs one cross-thread wake. Responses are not read here
//! either: each fresh stream hands its receiving half out once
//! ([`Duplex::take_receiver`]) to a reader on the same thread, and the
//! stream is told what the reader saw ([`Duplex::on_message`],
//! [`Duplex::ended`]). Each open gets a new generation, so what a reader of
//! an older stream reports is recognized as stale.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_sink::Sink;
use grpcio::{CallOption, ClientDuplexReceiver, ClientDuplexSender, Metadata, Method, WriteFlags};
use parking_lot::Mutex;

use crate::channel::Member;
use crate::error::{self, Code, Error};
use crate::metrics::{self, Rpc};
use crate::transport::Members;

/// First delay before reopening a broken stream; doubles up to the max.
const REOPEN_BACKOFF_MIN: Duration = Duration::from_millis(50);
const REOPEN_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// What happened to a stream ([`Duplex::drive`], [`Duplex::ended`]).
pub(crate) enum StreamEvent {
    /// A fresh stream is open: the driver queues its state again.
    Opened,
    /// The stream failed; it will be reopened after a backoff. When etcd
    /// refused its token, the token generation it was opened with.
    Broken { stale_token: Option<u64> },
}

struct Live<Req, Resp> {
    /// Requests for the stream's writer.
    outbox: Arc<Outbox<Req>>,
    /// The receiving half, until the reader takes it.
    rx: Option<ClientDuplexReceiver<Resp>>,
    member: Arc<Member>,
    generation: u64,
    /// Token generation the stream was opened with.
    token_generation: u64,
    /// The RPC's series; dropping it counts the stream as canceled.
    rpc: Rpc,
}

impl<Req, Resp> Drop for Live<Req, Resp> {
    /// However the stream is given up, its writer drops the sink, which
    /// cancels the call on the server (and ends the reader).
    fn drop(&mut self) {
        self.outbox.close();
    }
}

/// Requests on their way to a stream's [`Writer`].
struct Outbox<Req> {
    state: Mutex<OutboxState<Req>>,
}

struct OutboxState<Req> {
    /// The sending half; taken out (and dropped, which cancels the call)
    /// when the stream is given up or a write failed.
    sink: Option<ClientDuplexSender<Req>>,
    queue: VecDeque<Req>,
    /// The writer's waker, from its last poll.
    waker: Option<Waker>,
    /// Whether the writer waits for requests (rather than for a write to
    /// finish, which wakes it anyway).
    idle: bool,
}

impl<Req> Outbox<Req> {
    fn new(sink: ClientDuplexSender<Req>) -> Self {
        Outbox {
            state: Mutex::new(OutboxState {
                sink: Some(sink),
                queue: VecDeque::new(),
                waker: None,
                idle: false,
            }),
        }
    }

    /// Queues a request, waking the writer only if it ran out of work: the
    /// requests of one turn of the pump cost one wake together.
    fn push(&self, req: Req) {
        let wake = {
            let mut s = self.state.lock();
            s.queue.push_back(req);
            if std::mem::take(&mut s.idle) {
                s.waker.clone()
            } else {
                None
            }
        };
        if let Some(w) = wake {
            w.wake();
        }
    }

    /// Cancels the call here and now (even in the middle of a write that
    /// does not finish: a frozen member), drops what is queued and lets
    /// the writer end. The cancel must not wait for the writer's next
    /// poll: a client being closed drops its channels right after, and a
    /// call still open then would keep the completion-queue thread alive.
    fn close(&self) {
        let (sink, wake) = {
            let mut s = self.state.lock();
            s.queue.clear();
            (s.sink.take(), s.waker.take())
        };
        drop(sink);
        if let Some(w) = wake {
            w.wake();
        }
    }
}

/// Moves a stream's requests into gRPC one at a time, on the channel's
/// completion-queue thread. It ends when the stream is given up or a write
/// fails (the call is over, and its reader reports why).
struct Writer<Req> {
    outbox: Arc<Outbox<Req>>,
}

impl<Req> Future for Writer<Req> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.outbox.state.lock();
        let s = &mut *s;
        loop {
            let Some(sink) = s.sink.as_mut() else {
                return Poll::Ready(());
            };
            // A write in flight finishes before the next starts.
            match Pin::new(&mut *sink).poll_ready(cx) {
                Poll::Pending => {
                    s.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {}
            }
            let Some(req) = s.queue.pop_front() else {
                s.waker = Some(cx.waker().clone());
                s.idle = true;
                return Poll::Pending;
            };
            // Without `enhance_batch` (the default), `start_send` hands
            // the message to gRPC at once; no flush is needed.
            if Pin::new(sink)
                .start_send((req, WriteFlags::default()))
                .is_err()
            {
                return Poll::Ready(());
            }
        }
    }
}

/// One long-lived bidirectional stream, reopened after failures.
pub(crate) struct Duplex<Req: 'static, Resp: 'static> {
    method: &'static Method<Req, Resp>,
    live: Option<Live<Req, Resp>>,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// How long an open stream outlives the last time it was wanted.
    linger: Duration,
    wanted_at: Option<Instant>,
    /// Whether the next open replaces a stream that broke, stalled or
    /// needed a new token (for `etcd_client_stream_reopens_total`).
    reopening: bool,
    /// Streams opened so far: the open one's generation.
    opened: u64,
}

impl<Req: Send + 'static, Resp: 'static> Duplex<Req, Resp> {
    pub fn new(method: &'static Method<Req, Resp>, linger: Duration) -> Self {
        Duplex {
            method,
            linger,
            wanted_at: None,
            reopening: false,
            opened: 0,
            live: None,
            retry_at: None,
            backoff: REOPEN_BACKOFF_MIN,
        }
    }

    /// Queues a request for the writer if the stream is open (otherwise
    /// it is dropped: a fresh stream gets the driver's whole state again).
    pub fn send(&mut self, req: Req) {
        if let Some(live) = &self.live {
            // Counted when handed over, as Go's interceptor counts a
            // stream's `SendMsg`; the writer runs on another thread.
            live.rpc.sent();
            live.outbox.push(req);
        }
    }

    pub fn is_open(&self) -> bool {
        self.live.is_some()
    }

    /// The open stream's generation.
    pub fn generation(&self) -> Option<u64> {
        self.live.as_ref().map(|l| l.generation)
    }

    /// The receiving half of a freshly opened stream, with its generation
    /// and member (whose channel's completion queue should run the
    /// reader); given out once per stream.
    pub fn take_receiver(&mut self) -> Option<(u64, ClientDuplexReceiver<Resp>, Arc<Member>)> {
        let live = self.live.as_mut()?;
        let rx = live.rx.take()?;
        Some((live.generation, rx, live.member.clone()))
    }

    /// The open stream's reader got a response.
    pub fn on_message(&mut self) {
        if let Some(live) = &self.live {
            self.backoff = REOPEN_BACKOFF_MIN;
            live.rpc.received();
        }
    }

    /// The open stream's reader saw it end: with an error, or (`None`)
    /// ended cleanly by the server, which is a failure for a stream meant
    /// to last.
    pub fn ended(&mut self, members: &Members, why: Option<Error>, events: &mut Vec<StreamEvent>) {
        let why = match why {
            Some(e) => e,
            None => {
                // A clean end (status OK), as Go's interceptor counts it.
                if let Some(live) = &mut self.live {
                    live.rpc.handled(Some(Code::Ok));
                }
                error::unreachable("stream ended by the server".into())
            }
        };
        self.broken(members, &why, events);
    }

    /// Drops the stream (which cancels it on the server) and whatever was
    /// queued for it.
    pub fn close(&mut self) {
        self.live = None;
        self.reopening = false;
    }

    /// Gives up on the current stream as if it had failed: used when a
    /// driver sees it stalled (a frozen member that TCP still holds open).
    pub fn reset(&mut self, members: &Members, why: &str) {
        if let Some(live) = self.live.take() {
            log::debug!("{}: resetting stream: {why}", self.method.name);
            members.failed_at(&live.member.endpoint);
            self.retry_at = Some(Instant::now());
            self.reopening = true;
        }
    }

    /// The token generation the open stream carries.
    pub fn token_generation(&self) -> Option<u64> {
        self.live.as_ref().map(|l| l.token_generation)
    }

    /// Closes the stream to open a new one at once (new headers); the
    /// member did nothing wrong.
    pub fn reopen(&mut self) {
        self.close();
        self.retry_at = None;
        self.reopening = true;
    }

    /// When a lingering stream is due to close.
    pub fn close_at(&self, now: Instant) -> Option<Instant> {
        let at = self.wanted_at? + self.linger;
        (self.live.is_some() && at > now).then_some(at)
    }

    pub fn retry_at(&self) -> Option<Instant> {
        self.live.is_none().then_some(self.retry_at).flatten()
    }

    fn broken(&mut self, members: &Members, why: &Error, events: &mut Vec<StreamEvent>) {
        let mut stale_token = None;
        if let Some(mut live) = self.live.take() {
            live.rpc.ended(why.clone());
            if error::is_stale_token(why) {
                stale_token = Some(live.token_generation);
            }
            log::debug!(
                "{} on {} broke: {why}; reopening in {:?}",
                self.method.name,
                live.member.endpoint,
                self.backoff
            );
            members.failed_at(&live.member.endpoint);
        }
        self.reopening = true;
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(REOPEN_BACKOFF_MAX);
        events.push(StreamEvent::Broken { stale_token });
    }

    /// Opens the stream if it is wanted and due (with the metadata and
    /// token generation `headers` gives), closes it once it has been
    /// unwanted for its linger time, and sends what is queued. Returns
    /// whether anything happened.
    pub fn drive(
        &mut self,
        members: &Members,
        headers: impl FnOnce() -> (u64, Metadata),
        want: bool,
        now: Instant,
        events: &mut Vec<StreamEvent>,
    ) -> bool {
        if want {
            self.wanted_at = Some(now);
        } else if self.close_at(now).is_none() {
            if self.live.is_some() {
                self.close();
            }
            return false;
        }
        if self.live.is_some() || self.retry_at.is_some_and(|t| now < t) {
            return false;
        }
        let member = members.pick().clone();
        let (token_generation, headers) = headers();
        let opt = CallOption::default().headers(headers);
        let mut rpc = Rpc::start(self.method);
        match member.client.duplex_streaming(self.method, opt) {
            Ok((sink, rx)) => {
                log::debug!("{} opened on {}", self.method.name, member.endpoint);
                if std::mem::take(&mut self.reopening) {
                    metrics::stream_reopened(self.method);
                }
                let outbox = Arc::new(Outbox::new(sink));
                member.client.spawn(Writer {
                    outbox: outbox.clone(),
                });
                self.opened += 1;
                self.live = Some(Live {
                    outbox,
                    rx: Some(rx),
                    member,
                    generation: self.opened,
                    token_generation,
                    rpc,
                });
                self.retry_at = None;
                events.push(StreamEvent::Opened);
            }
            Err(e) => {
                let err = rpc.ended(error::from_grpc(e, Duration::ZERO));
                members.failed_at(&member.endpoint);
                self.broken(members, &err, events);
            }
        }
        true
    }
}
