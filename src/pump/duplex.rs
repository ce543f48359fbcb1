//! One long-lived bidirectional stream that knows nothing of watches or
//! leases: it opens on the member [`Members::pick`] chooses, moves queued
//! requests into gRPC, and on failure marks the member failed and
//! schedules a reopen with backoff. A driver re-creates its state on every
//! fresh stream.
//!
//! Responses are not read here: each fresh stream hands its receiving half
//! out once ([`Duplex::take_receiver`]) to a reader that runs on the
//! completion-queue thread, and the stream is told what the reader saw
//! ([`Duplex::on_message`], [`Duplex::ended`]). Each open gets a new
//! generation, so what a reader of an older stream reports is recognized
//! as stale.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_sink::Sink;
use grpcio::{CallOption, ClientDuplexReceiver, ClientDuplexSender, Metadata, Method, WriteFlags};

use crate::channel::Member;
use crate::error::{self, Code, Error};
use crate::metrics::{self, Rpc};
use crate::transport::Members;

/// First delay before reopening a broken stream; doubles up to the max.
const REOPEN_BACKOFF_MIN: Duration = Duration::from_millis(50);
const REOPEN_BACKOFF_MAX: Duration = Duration::from_secs(2);

/// What happened on a stream during one [`Duplex::drive`].
pub(crate) enum StreamEvent {
    /// A fresh stream is open: the driver queues its state again.
    Opened,
    /// The stream failed; it will be reopened after a backoff. When etcd
    /// refused its token, the token generation it was opened with.
    Broken { stale_token: Option<u64> },
}

struct Live<Req, Resp> {
    sink: ClientDuplexSender<Req>,
    /// The receiving half, until the reader takes it.
    rx: Option<ClientDuplexReceiver<Resp>>,
    member: Arc<Member>,
    generation: u64,
    unflushed: bool,
    /// Token generation the stream was opened with.
    token_generation: u64,
    /// The RPC's series; dropping it counts the stream as canceled.
    rpc: Rpc,
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
    /// Whether the next open replaces a stream that broke, stalled or
    /// needed a new token (for `etcd_client_stream_reopens_total`).
    reopening: bool,
    /// Streams opened so far: the open one's generation.
    opened: u64,
}

impl<Req: 'static, Resp: 'static> Duplex<Req, Resp> {
    pub fn new(method: &'static Method<Req, Resp>, linger: Duration) -> Self {
        Duplex {
            method,
            linger,
            wanted_at: None,
            reopening: false,
            opened: 0,
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

    /// The open stream's generation.
    pub fn generation(&self) -> Option<u64> {
        self.live.as_ref().map(|l| l.generation)
    }

    /// Whether requests wait to be moved into gRPC (by the next drive).
    pub fn has_queued(&self) -> bool {
        !self.outbox.is_empty()
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
        self.outbox.clear();
        self.reopening = false;
    }

    /// Gives up on the current stream as if it had failed: used when a
    /// driver sees it stalled (a frozen member that TCP still holds open).
    pub fn reset(&mut self, members: &Members, why: &str) {
        if let Some(live) = self.live.take() {
            log::debug!("{}: resetting stream: {why}", self.method.name);
            members.failed_at(&live.member.endpoint);
            self.outbox.clear();
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
        self.outbox.clear();
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
        cx: &mut Context<'_>,
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
        let mut progressed = false;
        if self.live.is_none() {
            if self.retry_at.is_some_and(|t| now < t) {
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
                    self.opened += 1;
                    self.live = Some(Live {
                        sink,
                        rx: Some(rx),
                        member,
                        generation: self.opened,
                        unflushed: false,
                        token_generation,
                        rpc,
                    });
                    self.retry_at = None;
                    events.push(StreamEvent::Opened);
                    return true;
                }
                Err(e) => {
                    let err = rpc.ended(error::from_grpc(e, Duration::ZERO));
                    members.failed_at(&member.endpoint);
                    self.broken(members, &err, events);
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
                        failure = Some(error::from_grpc(e, Duration::ZERO));
                        break;
                    }
                    live.unflushed = true;
                    live.rpc.sent();
                    progressed = true;
                }
                Poll::Ready(Err(e)) => {
                    failure = Some(error::from_grpc(e, Duration::ZERO));
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
                Poll::Ready(Err(e)) => failure = Some(error::from_grpc(e, Duration::ZERO)),
                Poll::Pending => {}
            }
        }
        if let Some(why) = failure {
            self.broken(members, &why, events);
            progressed = true;
        }
        progressed
    }
}
