//! The watch driver: keeps every watch of a client on the pump's one
//! shared Watch stream, and the values it delivers to watchers.
//!
//! Guarantees, and how they are kept:
//! - **No loss, no repeats across reconnects.** Each watch remembers the
//!   revision after the last event it delivered. When the stream is
//!   re-opened (member killed, frozen, lost its leader), every watch is
//!   created again from that revision, so the new stream starts exactly
//!   where the user left off.
//! - **Bounded memory for slow consumers.** Each watcher has a bounded
//!   channel. When it is full the pump does not wait and does not drop:
//!   it cancels that one watch on the server and marks it suspended; the
//!   response that did not fit is not counted as delivered. Once the
//!   consumer has drained half the buffer, the watch is created again from
//!   the revision after the last delivered event. A consumer that falls so
//!   far behind that the history is compacted gets
//!   [`Error::Compacted`].
//! - **Revisions stay whole.** Fragmented responses are put back together
//!   before delivery; events of one revision reach the user in one
//!   [`WatchResponse`].

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use grpcio::Method;

use super::{Driver, Duplex, Next};
use crate::error::{self, Error, Result};
use crate::metrics::{self, Resume};
use crate::namespace::Namespace;
use crate::proto::{kv as mvccpb, methods, rpc as pb};
use crate::types::{KeyValue, ResponseHeader};

/// How often a suspended watch checks whether its consumer caught up,
/// besides being nudged by the consumer itself.
const SUSPENDED_POLL: Duration = Duration::from_millis(50);
/// A stream that carries watches and has said nothing for this long is
/// probed: the driver creates a watch on [`PROBE_KEY`] and cancels it
/// when etcd confirms it. Any live member confirms a create at once, on
/// every etcd version. A progress request would not do: etcd 3.4.24+ and
/// 3.5.8+ answer one only while every watch of the stream is synced (3.4
/// defers and merges the answers, 3.5 and later drop the request), so a
/// healthy stream with a watch catching up or waiting for a future start
/// revision would look stalled, and answers without an id could not be
/// told from the user's own [`Client::request_progress`](crate::Client::request_progress).
const PROBE_AFTER: Duration = Duration::from_secs(3);
/// ...within this long, or the stream is given up as stalled (a frozen
/// member that TCP and HTTP/2 keepalive, at its 30 s default, would not
/// notice for 40 s). A probe that timed out doubles the next timeout, up
/// to [`PROBE_TIMEOUT_MAX`], so a member that is merely slow to answer is
/// not reset over and over.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
const PROBE_TIMEOUT_MAX: Duration = Duration::from_secs(30);
/// The key the probe watches for the moment between its create and its
/// cancel: one no application writes, so the probe sees no events. A
/// member that refuses it (no read permission) still answers, which is
/// all the probe needs.
const PROBE_KEY: &[u8] = b"\0etcd-blocking/stall-probe";

/// Kind of a [`WatchEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The key was created or updated.
    Put,
    /// The key was deleted (or its lease expired).
    Delete,
}

/// One change to one key.
///
/// ```no_run
/// use etcd_blocking::{EventType, WatchOptions};
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let watcher = client.watch_with("config/", WatchOptions::new().prefix().prev_kv())?;
/// let resp = watcher.recv()?;
/// for ev in resp.events() {
///     match ev.event_type() {
///         EventType::Put => println!("{} = {}", ev.kv().key_str()?, ev.kv().value_str()?),
///         EventType::Delete => println!(
///             "{} deleted (was {:?})",
///             ev.kv().key_str()?,
///             ev.prev_kv().map(|kv| kv.value_str())
///         ),
///     }
/// }
/// println!("seen up to revision {}", resp.header().revision());
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    kind: EventType,
    kv: KeyValue,
    prev_kv: Option<KeyValue>,
}

impl WatchEvent {
    /// Put or delete.
    pub fn event_type(&self) -> EventType {
        self.kind
    }
    /// The key after the change (for a delete: the key, with its mod
    /// revision set to the delete's revision).
    pub fn kv(&self) -> &KeyValue {
        &self.kv
    }
    /// The key before the change, when asked for with
    /// [`WatchOptions::prev_kv`](crate::WatchOptions::prev_kv).
    pub fn prev_kv(&self) -> Option<&KeyValue> {
        self.prev_kv.as_ref()
    }
    /// The revision of the change.
    pub fn revision(&self) -> i64 {
        self.kv.mod_revision()
    }
}

impl From<mvccpb::Event> for WatchEvent {
    fn from(e: mvccpb::Event) -> Self {
        let kind = match e.type_.enum_value() {
            Ok(mvccpb::event::EventType::DELETE) => EventType::Delete,
            _ => EventType::Put,
        };
        WatchEvent {
            kind,
            kv: e.kv.into_option().map(KeyValue::from).unwrap_or_default(),
            prev_kv: e.prev_kv.into_option().map(KeyValue::from),
        }
    }
}

/// One message of a watch: the events of one or more whole revisions, or a
/// notification (created, progress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchResponse {
    header: ResponseHeader,
    watch_id: u64,
    events: Vec<WatchEvent>,
    created: bool,
    progress_notify: bool,
}

impl WatchResponse {
    /// The response header; for a progress notification, its revision is
    /// the revision the watch has caught up to.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The watcher's id ([`Watcher::id`](crate::Watcher::id)).
    pub fn watch_id(&self) -> u64 {
        self.watch_id
    }
    /// The events, in revision order.
    pub fn events(&self) -> &[WatchEvent] {
        &self.events
    }
    /// Takes the events out.
    pub fn into_events(self) -> Vec<WatchEvent> {
        self.events
    }
    /// Whether this is the "created" notification
    /// ([`WatchOptions::created_notify`](crate::WatchOptions::created_notify)).
    pub fn is_created(&self) -> bool {
        self.created
    }
    /// Whether this is a progress notification (no events).
    pub fn is_progress_notify(&self) -> bool {
        self.progress_notify
    }
}

/// What the watcher handle and the pump share.
pub(crate) struct WatcherShared {
    /// Set by the pump while the watch is suspended for a full buffer;
    /// the consumer nudges the pump after reading while it is set.
    pub suspended: AtomicBool,
}

/// Commands from users to the watch driver.
pub(crate) enum WatchCommand {
    Create(Box<NewWatch>),
    /// Many watches in one command ([`Client::watch_many`](crate::Client::watch_many)):
    /// their creates go out together, without a pump turn each.
    CreateMany(Vec<NewWatch>),
    /// Ends a watch (its watcher was dropped, or, with `end`, its cancel
    /// token fired: the watcher gets that error last).
    Cancel {
        id: u64,
        end: Option<Error>,
    },
    Progress,
}

/// A watch to create, as the user's handle made it.
pub(crate) struct NewWatch {
    /// The client-side id (stable across reconnects).
    pub id: u64,
    pub create: pb::WatchCreateRequest,
    /// Where responses go (bounded by the driver at `capacity`).
    pub tx: Sender<Result<WatchResponse>>,
    /// Answered once etcd created the watch (or refused it).
    pub created: Sender<Result<()>>,
    pub notify_created: bool,
    pub shared: Arc<WatcherShared>,
    pub capacity: usize,
    /// Taken off the keys of delivered events.
    pub namespace: Option<Namespace>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A create request is on the current stream, awaiting its answer.
    Creating,
    /// Created; events flow.
    Active,
    /// Canceled on the server because the consumer's buffer was full.
    Suspended,
    /// Waiting for a stream to be created on.
    Idle,
}

struct WatchEntry {
    w: NewWatch,
    state: State,
    /// etcd's id for the watch on the current stream.
    server_id: Option<i64>,
    /// Revision to resume from: after the last delivered event, or after
    /// the creation revision; 0 until known.
    next_rev: i64,
    /// A fragmented response being put back together.
    partial: Option<pb::WatchResponse>,
    /// Whether a refusal was already retried with a fresh token.
    auth_retried: bool,
}

impl WatchEntry {
    fn create_request(&self) -> pb::WatchRequest {
        let mut c = self.w.create.clone();
        if self.next_rev > 0 {
            c.start_revision = self.next_rev;
        }
        pb::WatchRequest {
            request_union: Some(pb::watch_request::Request_union::CreateRequest(c)),
            ..Default::default()
        }
    }

    /// Delivers a notice (no events) if the consumer's buffer has room:
    /// only the driver sends, under its lock, so the length cannot grow
    /// between the check and the send. Events never come this way; they
    /// suspend the watch instead of being dropped.
    fn offer(&self, resp: WatchResponse) {
        if self.w.tx.len() < self.w.capacity {
            let _ = self.w.tx.send(Ok(resp));
        }
    }

    /// Puts fragmented responses back together: `None` while a revision's
    /// events are still coming, then the whole response.
    fn reassemble(&mut self, r: pb::WatchResponse) -> Option<pb::WatchResponse> {
        if r.fragment {
            match &mut self.partial {
                Some(p) => p.events.extend(r.events),
                None => self.partial = Some(r),
            }
            return None;
        }
        Some(match self.partial.take() {
            Some(mut p) => {
                p.events.extend(r.events);
                p.header = r.header;
                p
            }
            None => r,
        })
    }

    /// Delivers a response with events if the consumer's buffer has room,
    /// and counts its events as delivered; `false` when it is full (the
    /// events are not counted, so the watch can resume from them).
    fn deliver(&mut self, id: u64, r: pb::WatchResponse) -> bool {
        // Only the driver sends (on the pump or on the reader, always
        // under its lock), so the length cannot grow between the check
        // and the send.
        if self.w.tx.len() >= self.w.capacity {
            return false;
        }
        let last_rev = r
            .events
            .last()
            .and_then(|ev| ev.kv.as_ref())
            .map(|kv| kv.mod_revision);
        let resp = WatchResponse {
            header: r.header.into(),
            watch_id: id,
            progress_notify: false,
            events: r.events.into_iter().map(WatchEvent::from).collect(),
            created: false,
        };
        // A send fails only when the watcher is gone; its cancel command
        // is on the way.
        if self.w.tx.send(Ok(resp)).is_ok() {
            if let Some(rev) = last_rev {
                self.next_rev = rev + 1;
            }
        }
        true
    }

    /// Ends the watch with `err` (best effort: a full buffer keeps its
    /// data, and the disconnect still tells the consumer it ended).
    fn finish(self, err: Error) {
        let _ = self.w.created.try_send(Err(err.clone()));
        let _ = self.w.tx.try_send(Err(err));
    }
}

impl Drop for WatchEntry {
    /// Every way a watch ends (canceled, refused, ended by etcd, client
    /// closed) drops its entry.
    fn drop(&mut self) {
        metrics::watchers(-1);
        if self.state == State::Suspended {
            metrics::watchers_suspended(-1);
        }
    }
}

/// Hashes the watch ids the driver looks up on every response (twice:
/// etcd's id, then ours). Both kinds are counters (ours count up per
/// client, etcd's per stream), chosen by us or by the server, never by
/// whoever writes the keys, so SipHash's defence against chosen keys buys
/// nothing here; it cost ~140 instructions a lookup, a tenth of the
/// driver's work per event (callgrind, watch 16/4). One multiply (FxHash's
/// constant) spreads the ids over all 64 bits: the table takes the bucket
/// from the low bits and a tag from the top 7, so the identity would not do.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

/// A map keyed by watch ids (see [`IdHasher`]).
type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// The pump's side of every watch of a client.
pub(crate) struct Watches {
    entries: IdMap<u64, WatchEntry>,
    by_server_id: IdMap<i64, u64>,
    /// Create requests on the stream, in sending order: etcd answers
    /// creates in order, and a failed create may not carry the watch id,
    /// so answers are matched by position.
    creating: VecDeque<Creating>,
    /// Whether the client logs in (so refusals may be stale tokens).
    authenticated: bool,
    /// Watches suspended for a full buffer, so the periodic check does not
    /// walk every watch.
    suspended: std::collections::BTreeSet<u64>,
    /// When the current stream last said anything (or opened).
    last_heard: Instant,
    /// When the unanswered probe of the current stream was sent.
    probe_sent: Option<Instant>,
    probe_timeout: Duration,
}

/// Whose create request an answer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Creating {
    /// A user's watch (its client-side id).
    Watch(u64),
    /// The stall probe's throwaway watch.
    Probe,
}

/// The stall probe's create request (see [`PROBE_AFTER`]).
fn probe_request() -> pb::WatchRequest {
    pb::WatchRequest {
        request_union: Some(pb::watch_request::Request_union::CreateRequest(
            pb::WatchCreateRequest {
                key: PROBE_KEY.to_vec(),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

fn progress_request() -> pb::WatchRequest {
    pb::WatchRequest {
        request_union: Some(pb::watch_request::Request_union::ProgressRequest(
            pb::WatchProgressRequest::default(),
        )),
        ..Default::default()
    }
}

type WatchStream = Duplex<pb::WatchRequest, pb::WatchResponse>;

impl Watches {
    pub fn new(authenticated: bool) -> Watches {
        Watches {
            entries: IdMap::default(),
            by_server_id: IdMap::default(),
            creating: VecDeque::new(),
            authenticated,
            suspended: Default::default(),
            last_heard: Instant::now(),
            probe_sent: None,
            probe_timeout: PROBE_TIMEOUT,
        }
    }

    /// Forgets what was asked on the stream that just ended or began.
    fn new_stream(&mut self, now: Instant) {
        self.last_heard = now;
        self.probe_sent = None;
    }

    /// Whether the stream carries watches that are not suspended, so it
    /// should be answering (O(1): the pump asks on every turn).
    fn has_live_watches(&self) -> bool {
        self.entries.len() > self.suspended.len()
    }

    /// Probes a silent stream, and gives up on one that does not answer.
    fn probe(&mut self, now: Instant, stream: &mut WatchStream) -> (Option<Instant>, Next) {
        if !stream.is_open() || !self.has_live_watches() {
            return (None, Next::Continue);
        }
        if let Some(sent) = self.probe_sent {
            let by = sent + self.probe_timeout;
            if now < by {
                return (Some(by), Next::Continue);
            }
            self.probe_timeout = (self.probe_timeout * 2).min(PROBE_TIMEOUT_MAX);
            return (
                None,
                Next::Reset("watch stream did not answer a progress request"),
            );
        }
        let due = self.last_heard + PROBE_AFTER;
        if now < due {
            return (Some(due), Next::Continue);
        }
        stream.send(probe_request());
        self.creating.push_back(Creating::Probe);
        self.probe_sent = Some(now);
        (Some(now + self.probe_timeout), Next::Continue)
    }

    fn start_create(&mut self, id: u64, stream: &mut WatchStream) {
        let e = self.entries.get_mut(&id).expect("watch entry");
        e.state = State::Creating;
        e.server_id = None;
        e.partial = None;
        stream.send(e.create_request());
        self.creating.push_back(Creating::Watch(id));
    }

    fn on_created(&mut self, r: pb::WatchResponse, stream: &mut WatchStream) -> Next {
        let id = match self.creating.pop_front() {
            Some(Creating::Watch(id)) => id,
            Some(Creating::Probe) => {
                // The answer itself was the point (it already reset the
                // probe); the throwaway watch goes at once.
                if !r.canceled {
                    stream.send(cancel_request(r.watch_id));
                }
                return Next::Continue;
            }
            None => {
                log::warn!("watch created that was never asked for (id {})", r.watch_id);
                return Next::Continue;
            }
        };
        let Some(e) = self.entries.get_mut(&id) else {
            // Canceled while its create was in flight.
            if !r.canceled {
                stream.send(cancel_request(r.watch_id));
            }
            return Next::Continue;
        };
        if r.canceled {
            // etcd checks a watch's permission with the token the stream
            // was opened with; once that token is gone (expired, or the
            // member restarted) creates are refused. Retry once on a new
            // stream with a new token before believing the refusal.
            if self.authenticated && !e.auth_retried && error::is_auth_refusal(&r.cancel_reason) {
                e.auth_retried = true;
                e.state = State::Idle;
                return Next::RenewToken;
            }
            let e = self.entries.remove(&id).expect("watch entry");
            e.finish(end_error(r));
            return Next::Continue;
        }
        e.auth_retried = false;
        let header: ResponseHeader = r.header.into();
        e.state = State::Active;
        e.server_id = Some(r.watch_id);
        self.by_server_id.insert(r.watch_id, id);
        if e.next_rev == 0 {
            e.next_rev = if e.w.create.start_revision > 0 {
                e.w.create.start_revision
            } else {
                header.revision() + 1
            };
        }
        // Only the first creation is the user's; re-creations after a
        // reconnect or a suspension are invisible.
        if e.w.created.try_send(Ok(())).is_ok() && e.w.notify_created {
            e.offer(WatchResponse {
                header,
                watch_id: id,
                events: Vec::new(),
                created: true,
                progress_notify: false,
            });
        }
        Next::Continue
    }
}

impl Watches {
    /// Takes a user's new watch, and creates it at once if a stream is
    /// open (otherwise the stream's opening creates it).
    fn add(&mut self, w: NewWatch, stream: &mut WatchStream) {
        let id = w.id;
        let entry = WatchEntry {
            w,
            state: State::Idle,
            server_id: None,
            next_rev: 0,
            partial: None,
            auth_retried: false,
        };
        metrics::watchers(1);
        self.entries.insert(id, entry);
        if stream.is_open() {
            self.start_create(id, stream);
        }
    }

    /// A progress answer for the whole stream. Only users ask for them
    /// (the probe creates a watch instead), so each goes to every active
    /// watcher that has room.
    fn on_stream_progress(&mut self, r: pb::WatchResponse) {
        let header = ResponseHeader::from(r.header);
        for (id, e) in &self.entries {
            if e.state == State::Active {
                e.offer(notice(header, *id));
            }
        }
    }

    /// Everything addressed to one watch: its end, a fragment, a
    /// progress notice or events.
    fn on_watch_response(&mut self, r: pb::WatchResponse, stream: &mut WatchStream) {
        // Answers for watches that were canceled or suspended are stale.
        let Some(&id) = self.by_server_id.get(&r.watch_id) else {
            return;
        };
        if r.canceled {
            self.by_server_id.remove(&r.watch_id);
            if r.compact_revision != 0 {
                // etcd ends a compacted watch but keeps its watcher until
                // the client cancels it (or the stream closes).
                stream.send(cancel_request(r.watch_id));
            }
            let e = self.entries.remove(&id).expect("mapped watch");
            e.finish(end_error(r));
            return;
        }
        let e = self.entries.get_mut(&id).expect("mapped watch");
        let Some(mut r) = e.reassemble(r) else {
            return;
        };
        if r.events.is_empty() {
            // The watch's own periodic notice (`progress_notify`): not an
            // event, so offered like the stream's progress answers and
            // dropped when the buffer is full (a later one says more),
            // never a reason to suspend the watch.
            e.offer(notice(r.header.into(), id));
            return;
        }
        if let Some(ns) = &e.w.namespace {
            ns.events(&mut r.events);
        }
        if !e.deliver(id, r) {
            self.suspend(id, stream);
        }
    }

    /// Cancels a watch whose consumer is behind on the server; it is
    /// created again from the same `next_rev` once the consumer catches up
    /// ([`tick`](Driver::tick)).
    fn suspend(&mut self, id: u64, stream: &mut WatchStream) {
        let e = self.entries.get_mut(&id).expect("watch entry");
        log::debug!(
            "watch {id}: consumer is behind; suspending at revision {}",
            e.next_rev
        );
        e.state = State::Suspended;
        metrics::watchers_suspended(1);
        self.suspended.insert(id);
        e.w.shared.suspended.store(true, Ordering::Relaxed);
        if let Some(sid) = e.server_id.take() {
            self.by_server_id.remove(&sid);
            stream.send(cancel_request(sid));
        }
    }
}

/// A progress notice (no events) for watcher `id`.
fn notice(header: ResponseHeader, id: u64) -> WatchResponse {
    WatchResponse {
        header,
        watch_id: id,
        events: Vec::new(),
        created: false,
        progress_notify: true,
    }
}

impl Driver for Watches {
    type Req = pb::WatchRequest;
    type Resp = pb::WatchResponse;
    type Command = WatchCommand;
    const METHOD: &'static Method<pb::WatchRequest, pb::WatchResponse> = &methods::WATCH_WATCH;
    // The watch stream closes with the last watch: users can count on a
    // watch-free client holding none.
    const LINGER: Duration = Duration::ZERO;

    fn wants_stream(&self) -> bool {
        !self.entries.is_empty()
    }

    fn command(&mut self, cmd: WatchCommand, stream: &mut WatchStream) {
        match cmd {
            WatchCommand::Create(w) => self.add(*w, stream),
            WatchCommand::CreateMany(ws) => {
                for w in ws {
                    self.add(w, stream);
                }
            }
            WatchCommand::Cancel { id, end } => {
                if let Some(e) = self.entries.remove(&id) {
                    if let Some(sid) = e.server_id {
                        self.by_server_id.remove(&sid);
                        stream.send(cancel_request(sid));
                    }
                    // A create still in flight stays in `creating` so later
                    // answers keep their positions; its answer is dropped.
                    if let Some(err) = end {
                        e.finish(err);
                    }
                }
            }
            WatchCommand::Progress => {
                if stream.is_open() {
                    stream.send(progress_request());
                }
            }
        }
    }

    /// A fresh stream: create every watch on it again, each from where its
    /// consumer left off. Suspended watches wait for their consumers.
    fn on_open(&mut self, now: Instant, stream: &mut WatchStream) {
        self.new_stream(now);
        self.by_server_id.clear();
        self.creating.clear();
        let mut ids: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| e.state != State::Suspended)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        for id in ids {
            if self.entries[&id].next_rev > 0 {
                metrics::watch_resumed(Resume::Reconnect);
            }
            self.start_create(id, stream);
        }
    }

    fn on_broken(&mut self) {
        self.new_stream(Instant::now());
        self.by_server_id.clear();
        self.creating.clear();
        for e in self.entries.values_mut() {
            e.server_id = None;
            e.partial = None;
            if e.state != State::Suspended {
                e.state = State::Idle;
            }
        }
    }

    fn on_response(
        &mut self,
        r: pb::WatchResponse,
        now: Instant,
        stream: &mut WatchStream,
    ) -> Next {
        // Anything at all proves the member alive.
        self.last_heard = now;
        if self.probe_sent.take().is_some() {
            self.probe_timeout = PROBE_TIMEOUT;
        }
        if r.created {
            self.on_created(r, stream)
        } else if r.watch_id == -1 {
            self.on_stream_progress(r);
            Next::Continue
        } else {
            self.on_watch_response(r, stream);
            Next::Continue
        }
    }

    /// Resumes suspended watches whose consumers caught up, and probes a
    /// silent stream. Returns when it wants to look again.
    fn tick(&mut self, now: Instant, stream: &mut WatchStream) -> (Option<Instant>, Next) {
        // Only suspended watches are looked at; canceled ones drop out.
        let entries = &self.entries;
        self.suspended.retain(|id| entries.contains_key(id));
        let ready: Vec<u64> = self
            .suspended
            .iter()
            .copied()
            .filter(|id| {
                let e = &self.entries[id];
                e.w.tx.len() <= e.w.capacity / 2
            })
            .collect();
        for id in ready {
            self.suspended.remove(&id);
            let e = self.entries.get_mut(&id).expect("watch entry");
            e.w.shared.suspended.store(false, Ordering::Relaxed);
            metrics::watchers_suspended(-1);
            metrics::watch_resumed(Resume::SlowConsumer);
            log::debug!(
                "watch {id}: consumer caught up; resuming at revision {}",
                e.next_rev
            );
            if stream.is_open() {
                self.start_create(id, stream);
            } else {
                e.state = State::Idle;
            }
        }
        let resume_check = (!self.suspended.is_empty()).then(|| now + SUSPENDED_POLL);
        let (probe_at, next) = self.probe(now, stream);
        let again = [resume_check, probe_at].into_iter().flatten().min();
        (again, next)
    }

    /// The client is closing: every watch ends with `ClientClosed`.
    fn shutdown(&mut self) {
        for (_, e) in self.entries.drain() {
            e.finish(Error::ClientClosed);
        }
    }
}

/// The error that ends a watch etcd canceled.
fn end_error(r: pb::WatchResponse) -> Error {
    if r.compact_revision != 0 {
        Error::Compacted {
            compact_revision: Some(r.compact_revision),
        }
    } else {
        Error::WatchCanceled {
            reason: r.cancel_reason,
        }
    }
}

fn cancel_request(server_id: i64) -> pb::WatchRequest {
    pb::WatchRequest {
        request_union: Some(pb::watch_request::Request_union::CancelRequest(
            pb::WatchCancelRequest {
                watch_id: server_id,
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}
