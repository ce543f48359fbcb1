//! Watches as the user sees them: [`WatchOptions`], the [`Watcher`] handle
//! and the `watch` calls. The pump's watch driver (`pump/watch.rs`) keeps
//! them on one shared stream and defines the values they deliver.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::proto::rpc as pb;
use crate::pump::watch::{NewWatch, WatchCommand, WatchResponse, WatcherShared};
use crate::pump::{Command, PumpHandle};
use crate::types::Range;
use crate::wait::CancelHook;

/// Options of a watch. The default watches one key from the next revision.
///
/// Read the current state, then follow every change after it without a
/// gap: the watch starts at the revision after the read's.
///
/// ```no_run
/// use etcd_blocking::{GetOptions, WatchOptions};
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let state = client.get_with("config/", GetOptions::new().prefix())?;
/// for kv in state.kvs() {
///     println!("{} = {}", kv.key_str()?, kv.value_str()?);
/// }
/// let from = state.header().revision() + 1;
/// let watcher = client.watch_with(
///     "config/",
///     WatchOptions::new().prefix().start_revision(from).prev_kv().no_delete(),
/// )?;
/// for ev in watcher.recv()?.events() {
///     let old = ev.prev_kv().map(|kv| kv.value().to_vec());
///     println!("{} changed at {} (was {old:?})", ev.kv().key_str()?, ev.revision());
/// }
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchOptions {
    pub(crate) range: Range,
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
    crate::types::range_setters!();
    /// Start at this revision (replaying history from it) instead of the
    /// next one.
    ///
    /// A negative revision is refused by [`Client::watch_with`] with
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest) before
    /// anything is sent: etcd 3.4.38, 3.5.24, 3.6.6 and later reject it
    /// (as a compacted revision), and older servers give it no documented
    /// meaning. 0 (the default) means the next revision.
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

/// A live watch. Read it with [`recv`](Self::recv),
/// [`try_recv`](Self::try_recv), [`recv_timeout`](Self::recv_timeout),
/// [`iter`](Self::iter), or [`receiver`](Self::receiver) in a
/// `crossbeam_channel::select!`. Dropping it cancels the watch on the
/// server.
///
/// The watch ends with one error: [`Error::Compacted`] when its next
/// revision was compacted away, [`Error::WatchCanceled`] when etcd ended it
/// (permission revoked, …), [`Error::ClientClosed`] when the client closed,
/// [`Error::Canceled`] when the cancel token of the handle that made it
/// fired ([`Client::with_cancel`]; the watch is canceled on the server).
/// After that, reads return [`Error::WatchCanceled`].
///
/// A consumer that handles the end of its watch: a compacted watch
/// re-reads the state and watches again from there.
///
/// ```no_run
/// use std::time::Duration;
/// use etcd_blocking::{Error, EventType, GetOptions, WatchOptions};
/// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
/// let mut from = client.get_with("jobs/", GetOptions::new().prefix().count_only())?
///     .header()
///     .revision()
///     + 1;
/// loop {
///     let opts = WatchOptions::new().prefix().start_revision(from);
///     let watcher = client.watch_with("jobs/", opts)?;
///     loop {
///         match watcher.recv_timeout(Duration::from_secs(30)) {
///             Ok(Some(resp)) => {
///                 for ev in resp.events() {
///                     match ev.event_type() {
///                         EventType::Put => println!("{} queued", ev.kv().key_str()?),
///                         EventType::Delete => println!("{} done", ev.kv().key_str()?),
///                     }
///                     from = ev.revision() + 1;
///                 }
///             }
///             Ok(None) => println!("no change for 30 s"),
///             Err(Error::Compacted { compact_revision }) => {
///                 // Too far behind: the history it needs is gone.
///                 eprintln!("revisions before {compact_revision:?} are gone");
///                 let state = client.get_with("jobs/", GetOptions::new().prefix())?;
///                 // … rebuild from `state`, then watch from after it …
///                 from = state.header().revision() + 1;
///                 break;
///             }
///             Err(e) => return Err(e),
///         }
///     }
/// }
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
pub struct Watcher {
    id: u64,
    rx: Receiver<Result<WatchResponse>>,
    shared: Arc<WatcherShared>,
    pump: Arc<PumpHandle>,
    /// Ends the watch when the handle's cancel token fires; registered
    /// with the token, which holds it weakly.
    _on_cancel: Option<CancelHook>,
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
    ///
    /// The channel disconnects after the error that ends the watch.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use crossbeam_channel::select;
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// let config = client.watch("app/config")?;
    /// let leader = client.watch("app/leader")?;
    /// loop {
    ///     select! {
    ///         recv(config.receiver()) -> msg => match msg {
    ///             Ok(resp) => println!("config: {} events", resp?.events().len()),
    ///             Err(_) => break, // the watch ended
    ///         },
    ///         recv(leader.receiver()) -> msg => match msg {
    ///             Ok(resp) => println!("leader: {} events", resp?.events().len()),
    ///             Err(_) => break,
    ///         },
    ///         default(Duration::from_secs(10)) => println!("quiet"),
    ///     }
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn receiver(&self) -> &Receiver<Result<WatchResponse>> {
        &self.rx
    }

    /// Cancels the watch on the server. Dropping the watcher does the same.
    pub fn cancel(self) {}
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.pump.send(Command::Watch(WatchCommand::Cancel {
            id: self.id,
            end: None,
        }));
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
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// let watcher = client.watch("config/mode")?;
    /// // Blocks until the key is written or deleted.
    /// for ev in watcher.recv()?.events() {
    ///     println!("{:?}: mode is now {:?}", ev.event_type(), ev.kv().value_str()?);
    /// }
    /// watcher.cancel();
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
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
        let (watcher, new, created) = self.prepare_watch(key.into(), opts)?;
        if !watcher
            .pump
            .send(Command::Watch(WatchCommand::Create(Box::new(new))))
        {
            return Err(Error::ClientClosed);
        }
        let mut watcher = watcher;
        self.end_on_cancel(&mut watcher);
        // On error the watcher is dropped here, which cancels the watch.
        self.wait_for(&created).map(|()| watcher)
    }

    /// Creates many watches at once: their creates go out together on the
    /// client's one watch stream and are confirmed together, so the call
    /// costs about one round trip however many there are (10,000 watches
    /// from one thread, against one [`watch_with`](Self::watch_with) round
    /// trip each). Every guarantee of `watch_with` holds for each: when
    /// this returns, every change after it is seen, from the start
    /// revision asked for, with nothing lost.
    ///
    /// Input is checked first: a bad key or option (an empty key, a
    /// negative start revision, a request over the send limit) fails the
    /// whole call before anything is sent. Each watch etcd refuses (no
    /// read permission, a compacted start revision) is an `Err` in its
    /// place in the returned list; the others are created. The whole batch
    /// runs within the handle's deadline: if it passes before every watch
    /// is confirmed, the call fails with [`Error::DeadlineExceeded`] and
    /// the watches created so far are canceled.
    ///
    /// ```no_run
    /// use etcd_blocking::{Client, WatchOptions};
    /// # let client = Client::connect(["127.0.0.1:2379"])?;
    /// let watchers = client.watch_many(
    ///     (0..1000).map(|i| (format!("jobs/{i}/"), WatchOptions::new().prefix())),
    /// )?;
    /// for w in &watchers {
    ///     match w {
    ///         Ok(w) => println!("watching as {}", w.id()),
    ///         Err(e) => println!("refused: {e}"),
    ///     }
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn watch_many<K: Into<Vec<u8>>>(
        &self,
        watches: impl IntoIterator<Item = (K, WatchOptions)>,
    ) -> Result<Vec<Result<Watcher>>> {
        let mut watchers = Vec::new();
        let mut news = Vec::new();
        let mut confirmations = Vec::new();
        for (key, opts) in watches {
            let (watcher, new, created) = self.prepare_watch(key.into(), opts)?;
            watchers.push(watcher);
            news.push(new);
            confirmations.push(created);
        }
        let Some(pump) = watchers.first().map(|w| w.pump.clone()) else {
            return Ok(Vec::new());
        };
        if !pump.send(Command::Watch(WatchCommand::CreateMany(news))) {
            return Err(Error::ClientClosed);
        }
        for w in &mut watchers {
            self.end_on_cancel(w);
        }
        // One deadline for the batch; on an error of the call itself every
        // watcher is dropped, which cancels its watch.
        let ctx = self.ctx();
        let mut out = Vec::with_capacity(watchers.len());
        for (watcher, created) in watchers.into_iter().zip(&confirmations) {
            out.push(match self.wait_in(&ctx, created) {
                Ok(()) => Ok(watcher),
                // The call's own end: the rest will not be confirmed.
                Err(e @ (Error::DeadlineExceeded(_) | Error::Canceled | Error::ClientClosed)) => {
                    return Err(e)
                }
                // etcd refused this one.
                Err(e) => Err(e),
            });
        }
        Ok(out)
    }

    /// With a cancel token on this handle, makes the token end the watch:
    /// registered after the create was sent, so the pump never sees the
    /// end first. The pump delivers the error after what it already
    /// queued, then disconnects; it sends the server's cancel too.
    fn end_on_cancel(&self, watcher: &mut Watcher) {
        let Some(token) = self.cancel_token() else {
            return;
        };
        let (pump, id) = (watcher.pump.clone(), watcher.id);
        let hook: CancelHook = Arc::new(move || {
            pump.send(Command::Watch(WatchCommand::Cancel {
                id,
                end: Some(Error::Canceled),
            }));
        });
        token.on_cancel(&hook);
        watcher._on_cancel = Some(hook);
    }

    /// Checks a watch's key and options and builds everything the pump and
    /// the user's handle need, sending nothing.
    fn prepare_watch(
        &self,
        key: Vec<u8>,
        opts: WatchOptions,
    ) -> Result<(Watcher, NewWatch, Receiver<Result<()>>)> {
        use pb::watch_create_request::FilterType;
        if opts.start_revision < 0 {
            return Err(Error::InvalidRequest(format!(
                "watch start revision {} is negative (0 means the next revision)",
                opts.start_revision
            )));
        }
        let (key, range_end) = opts.range.resolve(key)?;
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
            pump,
            _on_cancel: None,
        };
        let new = NewWatch {
            id,
            create,
            tx,
            created: created_tx,
            notify_created: opts.created_notify,
            shared,
            capacity: buffer,
            namespace,
        };
        Ok((watcher, new, created_rx))
    }
}
