//! Watches: the user's [`Watcher`] handle, and the pump's driver that keeps
//! every watch of a client on one shared gRPC Watch stream.
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
//!   [`Error::WatchCompacted`].
//! - **Revisions stay whole.** Fragmented responses are put back together
//!   before delivery; events of one revision reach the user in one
//!   [`WatchResponse`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::kv::{KeyValue, Range, ResponseHeader};
use crate::namespace::Namespace;
use crate::proto::{kv as mvccpb, rpc as pb};
use crate::pump::{Command, Duplex, PumpHandle};

/// Default for [`WatchOptions::buffer`] and
/// [`ClientBuilder::watch_buffer`](crate::ClientBuilder::watch_buffer).
pub const DEFAULT_WATCH_BUFFER: usize = 1024;

/// How often a suspended watch checks whether its consumer caught up,
/// besides being nudged by the consumer itself.
const SUSPENDED_POLL: Duration = Duration::from_millis(50);

/// Options of a watch. The default watches one key from the next revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchOptions {
    range: Range,
    start_revision: i64,
    prev_kv: bool,
    progress_notify: bool,
    no_put: bool,
    no_delete: bool,
    fragment: bool,
    created_notify: bool,
    buffer: Option<usize>,
}

impl WatchOptions {
    /// Watch one key, from the next revision.
    pub fn new() -> Self {
        Self::default()
    }
    crate::kv::range_setters!();
    /// Start at this revision (replaying history from it) instead of the
    /// next one.
    pub fn start_revision(mut self, rev: i64) -> Self {
        self.start_revision = rev;
        self
    }
    /// Include each key's previous value in its events.
    pub fn prev_kv(mut self) -> Self {
        self.prev_kv = true;
        self
    }
    /// Ask etcd for periodic empty responses while nothing happens
    /// ([`WatchResponse::is_progress_notify`]).
    pub fn progress_notify(mut self) -> Self {
        self.progress_notify = true;
        self
    }
    /// Leave out put events.
    pub fn no_put(mut self) -> Self {
        self.no_put = true;
        self
    }
    /// Leave out delete events.
    pub fn no_delete(mut self) -> Self {
        self.no_delete = true;
        self
    }
    /// Let etcd split very large responses (over its request size limit)
    /// into fragments; the client joins them before delivery.
    pub fn fragment(mut self) -> Self {
        self.fragment = true;
        self
    }
    /// Deliver the "created" response as the first message.
    pub fn created_notify(mut self) -> Self {
        self.created_notify = true;
        self
    }
    /// Capacity of this watcher's channel, in responses (default: the
    /// client's [`watch_buffer`](crate::ClientBuilder::watch_buffer)).
    pub fn buffer(mut self, responses: usize) -> Self {
        self.buffer = Some(responses.max(1));
        self
    }
}

/// Kind of a [`WatchEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// The key was created or updated.
    Put,
    /// The key was deleted (or its lease expired).
    Delete,
}

/// One change to one key.
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
    /// [`WatchOptions::prev_kv`].
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
    /// The watcher's id ([`Watcher::id`]).
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
    /// ([`WatchOptions::created_notify`]).
    pub fn is_created(&self) -> bool {
        self.created
    }
    /// Whether this is a progress notification (no events).
    pub fn is_progress_notify(&self) -> bool {
        self.progress_notify
    }
}

/// What the watcher handle and the pump share.
struct WatcherShared {
    /// Set by the pump while the watch is suspended for a full buffer;
    /// the consumer nudges the pump after reading while it is set.
    suspended: AtomicBool,
}

/// A live watch. Read it with [`recv`](Self::recv),
/// [`try_recv`](Self::try_recv), [`recv_timeout`](Self::recv_timeout),
/// [`iter`](Self::iter), or [`receiver`](Self::receiver) in a
/// `crossbeam_channel::select!`. Dropping it cancels the watch on the
/// server.
///
/// The watch ends with one error: [`Error::WatchCompacted`] when its next
/// revision was compacted away, [`Error::WatchCanceled`] when etcd ended it
/// (permission revoked, …), [`Error::ClientClosed`] when the client closed.
/// After that, reads return [`Error::WatchCanceled`].
pub struct Watcher {
    id: u64,
    rx: Receiver<Result<WatchResponse>>,
    shared: Arc<WatcherShared>,
    pump: Arc<PumpHandle>,
}

impl Watcher {
    /// This watcher's id, stable across reconnects (etcd's own watch id
    /// changes when the watch is re-created on a new stream).
    pub fn id(&self) -> u64 {
        self.id
    }

    fn after_read<T>(&self, r: T) -> T {
        if self.shared.suspended.load(Ordering::Relaxed) {
            self.pump.nudge();
        }
        r
    }

    /// Blocks until the next response or the end of the watch.
    pub fn recv(&self) -> Result<WatchResponse> {
        let r = self.rx.recv().unwrap_or_else(|_| Err(ended()));
        self.after_read(r)
    }

    /// The next response if one is waiting (`Ok(None)` if not).
    pub fn try_recv(&self) -> Result<Option<WatchResponse>> {
        let r = match self.rx.try_recv() {
            Ok(r) => r.map(Some),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(ended()),
        };
        self.after_read(r)
    }

    /// Like [`recv`](Self::recv), but gives up after `timeout` with
    /// `Ok(None)`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<WatchResponse>> {
        let r = match self.rx.recv_timeout(timeout) {
            Ok(r) => r.map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(ended()),
        };
        self.after_read(r)
    }

    /// A blocking iterator over the responses; it yields the error that
    /// ends the watch, then stops.
    pub fn iter(&self) -> impl Iterator<Item = Result<WatchResponse>> + '_ {
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let r = self.recv();
            done = r.is_err();
            Some(r)
        })
    }

    /// The channel behind this watcher, for `crossbeam_channel::select!`.
    /// Reading it directly works too, but a suspended watch resumes only on
    /// the pump's next check (within 50 ms) instead of at once.
    pub fn receiver(&self) -> &Receiver<Result<WatchResponse>> {
        &self.rx
    }

    /// Asks etcd for a progress notification on this client's watch
    /// stream: every watcher of the client gets a response whose header
    /// revision says how far the watches have caught up.
    pub fn request_progress(&self) -> Result<()> {
        if self.pump.send(Command::Watch(WatchCommand::Progress)) {
            Ok(())
        } else {
            Err(Error::ClientClosed)
        }
    }

    /// Cancels the watch on the server. Dropping the watcher does the same.
    pub fn cancel(self) {}
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.pump
            .send(Command::Watch(WatchCommand::Cancel { id: self.id }));
    }
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").field("id", &self.id).finish()
    }
}

fn ended() -> Error {
    Error::WatchCanceled {
        reason: "the watch has ended".into(),
    }
}

/// Watch calls.
impl Client {
    /// Watches one key from the next revision.
    pub fn watch(&self, key: impl Into<Vec<u8>>) -> Result<Watcher> {
        self.watch_with(key, WatchOptions::new())
    }

    /// Watches with options (ranges, prefixes, start revision, filters,
    /// previous values, progress notifications, fragments).
    ///
    /// Returns once etcd has created the watch (so every change after this
    /// returns is seen), within the call deadline.
    ///
    /// ```no_run
    /// use etcd_blocking::{Client, WatchOptions};
    /// # let client = Client::connect(["127.0.0.1:2379"])?;
    /// let watcher = client.watch_with("jobs/", WatchOptions::new().prefix())?;
    /// for resp in watcher.iter() {
    ///     for ev in resp?.events() {
    ///         println!("{:?} {}", ev.event_type(), ev.kv().key_str()?);
    ///     }
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn watch_with(&self, key: impl Into<Vec<u8>>, opts: WatchOptions) -> Result<Watcher> {
        use pb::watch_create_request::FilterType;
        let (key, range_end) = opts.range.resolve(key.into())?;
        let mut filters = Vec::new();
        if opts.no_put {
            filters.push(FilterType::NOPUT.into());
        }
        if opts.no_delete {
            filters.push(FilterType::NODELETE.into());
        }
        let mut create = pb::WatchCreateRequest {
            key,
            range_end,
            start_revision: opts.start_revision,
            progress_notify: opts.progress_notify,
            filters,
            prev_kv: opts.prev_kv,
            fragment: opts.fragment,
            ..Default::default()
        };
        let namespace = self.namespace().cloned();
        if let Some(ns) = &namespace {
            ns.watch_request(&mut create);
        }
        self.check_size(&create)?;
        let pump = self.pump()?;
        let id = self.next_watch_id();
        let buffer = opts.buffer.unwrap_or(self.watch_buffer());
        // Unbounded underneath, bounded by the pump (it alone sends, and
        // checks the length first): a bounded crossbeam channel would
        // allocate every slot up front, ~90 KB per idle watcher.
        let (tx, rx) = crossbeam_channel::unbounded();
        let (created_tx, created_rx) = crossbeam_channel::bounded(1);
        let shared = Arc::new(WatcherShared {
            suspended: AtomicBool::new(false),
        });
        let watcher = Watcher {
            id,
            rx,
            shared: shared.clone(),
            pump: pump.clone(),
        };
        let sent = pump.send(Command::Watch(WatchCommand::Create(Box::new(NewWatch {
            id,
            create,
            tx,
            created: created_tx,
            notify_created: opts.created_notify,
            shared,
            capacity: buffer,
            namespace,
        }))));
        if !sent {
            return Err(Error::ClientClosed);
        }
        // On error the watcher is dropped here, which cancels the watch.
        self.wait_for(&created_rx).map(|()| watcher)
    }
}

/// Commands from users to the watch driver.
pub(crate) enum WatchCommand {
    Create(Box<NewWatch>),
    Cancel { id: u64 },
    Progress,
}

pub(crate) struct NewWatch {
    id: u64,
    create: pb::WatchCreateRequest,
    tx: Sender<Result<WatchResponse>>,
    created: Sender<Result<()>>,
    notify_created: bool,
    shared: Arc<WatcherShared>,
    capacity: usize,
    /// Taken off the keys of delivered events.
    namespace: Option<Namespace>,
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

    /// Ends the watch with `err` (best effort: a full buffer keeps its
    /// data, and the disconnect still tells the consumer it ended).
    fn finish(self, err: Error) {
        let _ = self.w.created.try_send(Err(err.clone()));
        let _ = self.w.tx.try_send(Err(err));
    }
}

/// The pump's side of every watch of a client.
pub(crate) struct Watches {
    entries: HashMap<u64, WatchEntry>,
    by_server_id: HashMap<i64, u64>,
    /// Watches whose create request is on the stream, in sending order:
    /// etcd answers creates in order, and a failed create may not carry
    /// the watch id, so answers are matched by position.
    creating: VecDeque<u64>,
    /// Whether the client logs in (so refusals may be stale tokens).
    authenticated: bool,
    /// Set when a create was refused for auth reasons: the pump renews
    /// the token and reopens the stream.
    pub renew_token: bool,
    /// Watches suspended for a full buffer, so the periodic check does not
    /// walk every watch.
    suspended: std::collections::BTreeSet<u64>,
}

impl Watches {
    pub fn new(authenticated: bool) -> Watches {
        Watches {
            entries: HashMap::new(),
            by_server_id: HashMap::new(),
            creating: VecDeque::new(),
            authenticated,
            renew_token: false,
            suspended: Default::default(),
        }
    }

    pub fn wants_stream(&self) -> bool {
        !self.entries.is_empty()
    }

    pub fn command(
        &mut self,
        cmd: WatchCommand,
        stream: &mut Duplex<pb::WatchRequest, pb::WatchResponse>,
    ) {
        match cmd {
            WatchCommand::Create(w) => {
                let id = w.id;
                let entry = WatchEntry {
                    w: *w,
                    state: State::Idle,
                    server_id: None,
                    next_rev: 0,
                    partial: None,
                    auth_retried: false,
                };
                self.entries.insert(id, entry);
                if stream.is_open() {
                    self.start_create(id, stream);
                }
            }
            WatchCommand::Cancel { id } => {
                if let Some(e) = self.entries.remove(&id) {
                    if let Some(sid) = e.server_id {
                        self.by_server_id.remove(&sid);
                        stream.send(cancel_request(sid));
                    }
                    // A create still in flight stays in `creating` so later
                    // answers keep their positions; its answer is dropped.
                }
            }
            WatchCommand::Progress => {
                stream.send(pb::WatchRequest {
                    request_union: Some(pb::watch_request::Request_union::ProgressRequest(
                        pb::WatchProgressRequest::default(),
                    )),
                    ..Default::default()
                });
            }
        }
    }

    fn start_create(&mut self, id: u64, stream: &mut Duplex<pb::WatchRequest, pb::WatchResponse>) {
        let e = self.entries.get_mut(&id).expect("watch entry");
        e.state = State::Creating;
        e.server_id = None;
        e.partial = None;
        stream.send(e.create_request());
        self.creating.push_back(id);
    }

    /// A fresh stream: create every watch on it again, each from where its
    /// consumer left off. Suspended watches wait for their consumers.
    pub fn on_open(&mut self, stream: &mut Duplex<pb::WatchRequest, pb::WatchResponse>) {
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
            self.start_create(id, stream);
        }
    }

    pub fn on_broken(&mut self) {
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

    pub fn on_response(
        &mut self,
        r: pb::WatchResponse,
        stream: &mut Duplex<pb::WatchRequest, pb::WatchResponse>,
    ) {
        if r.created {
            self.on_created(r, stream);
            return;
        }
        if r.watch_id == -1 {
            // A progress answer for the whole stream.
            let header = ResponseHeader::from(r.header);
            for (id, e) in &mut self.entries {
                if e.state == State::Active {
                    let _ = e.w.tx.try_send(Ok(WatchResponse {
                        header,
                        watch_id: *id,
                        events: Vec::new(),
                        created: false,
                        progress_notify: true,
                    }));
                }
            }
            return;
        }
        // Answers for watches that were canceled or suspended are stale.
        let Some(&id) = self.by_server_id.get(&r.watch_id) else {
            return;
        };
        let e = self.entries.get_mut(&id).expect("mapped watch");
        if r.canceled {
            self.by_server_id.remove(&r.watch_id);
            let e = self.entries.remove(&id).expect("mapped watch");
            e.finish(end_error(r));
            return;
        }
        if r.fragment {
            match &mut e.partial {
                Some(p) => p.events.extend(r.events),
                None => e.partial = Some(r),
            }
            return;
        }
        let mut r = match e.partial.take() {
            Some(mut p) => {
                p.events.extend(r.events);
                p.header = r.header;
                p
            }
            None => r,
        };
        if let Some(ns) = &e.w.namespace {
            ns.events(&mut r.events);
        }
        let last_rev = r
            .events
            .last()
            .and_then(|ev| ev.kv.as_ref())
            .map(|kv| kv.mod_revision);
        let resp = WatchResponse {
            header: r.header.into(),
            watch_id: id,
            progress_notify: r.events.is_empty(),
            events: r.events.into_iter().map(WatchEvent::from).collect(),
            created: false,
        };
        // Only the pump sends, so the length cannot grow between the
        // check and the send.
        if e.w.tx.len() < e.w.capacity {
            // A send fails only when the watcher is gone; its cancel
            // command is on the way.
            if e.w.tx.send(Ok(resp)).is_ok() {
                if let Some(rev) = last_rev {
                    e.next_rev = rev + 1;
                }
            }
        } else {
            // Not delivered, so not counted: the watch resumes from
            // the same `next_rev` once the consumer catches up.
            log::debug!(
                "watch {id}: consumer is behind; suspending at revision {}",
                e.next_rev
            );
            e.state = State::Suspended;
            self.suspended.insert(id);
            e.w.shared.suspended.store(true, Ordering::Relaxed);
            self.by_server_id.remove(&r.watch_id);
            e.server_id = None;
            stream.send(cancel_request(r.watch_id));
        }
    }

    fn on_created(
        &mut self,
        r: pb::WatchResponse,
        stream: &mut Duplex<pb::WatchRequest, pb::WatchResponse>,
    ) {
        let Some(id) = self.creating.pop_front() else {
            log::warn!("watch created that was never asked for (id {})", r.watch_id);
            return;
        };
        let Some(e) = self.entries.get_mut(&id) else {
            // Canceled while its create was in flight.
            if !r.canceled {
                stream.send(cancel_request(r.watch_id));
            }
            return;
        };
        if r.canceled {
            // etcd checks a watch's permission with the token the stream
            // was opened with; once that token is gone (expired, or the
            // member restarted) creates are refused. Retry once on a new
            // stream with a new token before believing the refusal.
            if self.authenticated && !e.auth_retried && is_auth_refusal(&r.cancel_reason) {
                e.auth_retried = true;
                e.state = State::Idle;
                self.renew_token = true;
                return;
            }
            let e = self.entries.remove(&id).expect("watch entry");
            e.finish(end_error(r));
            return;
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
            let _ = e.w.tx.try_send(Ok(WatchResponse {
                header,
                watch_id: id,
                events: Vec::new(),
                created: true,
                progress_notify: false,
            }));
        }
    }

    /// Resumes suspended watches whose consumers caught up. Returns when
    /// it wants to look again.
    pub fn tick(
        &mut self,
        _now: Instant,
        stream: &mut Duplex<pb::WatchRequest, pb::WatchResponse>,
    ) -> Option<Instant> {
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
        (!self.suspended.is_empty()).then(|| Instant::now() + SUSPENDED_POLL)
    }

    /// The client is closing: every watch ends with `ClientClosed`.
    pub fn shutdown(&mut self) {
        for (_, e) in self.entries.drain() {
            e.finish(Error::ClientClosed);
        }
    }
}

/// The error that ends a watch etcd canceled.
fn end_error(r: pb::WatchResponse) -> Error {
    if r.compact_revision != 0 {
        Error::WatchCompacted {
            compact_revision: r.compact_revision,
        }
    } else {
        Error::WatchCanceled {
            reason: r.cancel_reason,
        }
    }
}

/// Whether etcd refused a watch for auth reasons (its reason is free text).
fn is_auth_refusal(reason: &str) -> bool {
    [
        "permission denied",
        "invalid auth token",
        "auth store is old",
    ]
    .iter()
    .any(|s| reason.contains(s))
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
