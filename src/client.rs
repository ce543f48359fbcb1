//! The `Client` handle and the per-call settings that ride on a handle
//! (deadline, cancel token, target member, namespace). The builder that
//! makes one is `builder.rs`'s.
//!
//! A `Client` is an `Arc` to the shared state plus small per-handle
//! fields, so `clone`, `with_timeout` and `with_cancel` are cheap and every
//! handle shares one set of connections. The shared state is torn down by
//! `close()` or when its last handle is dropped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use grpcio::Method;
use parking_lot::{Mutex, RwLock};
use protobuf::Message;

use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::metrics::{self, Refusal};
use crate::namespace::{Mapped, Namespace};
use crate::proto::{methods, rpc as pb, Answer};
use crate::pump::watch::WatchCommand;
use crate::pump::{Command, Pump, PumpHandle};
use crate::transport::{CallCtx, Retry, ServerStream, Transport};
use crate::wait::{CancelToken, Deadline, Interrupt, CLOSE_POLL};

/// How long closing waits for gRPC's threads before giving up on them.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

/// A blocking etcd v3 client.
///
/// Cheap to clone; every clone shares the connections. Every call blocks
/// the calling thread until the answer arrives or the deadline passes.
/// See the [crate documentation](crate) for a tour.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    timeout: Duration,
    /// The deadline of an enclosing call, for a handle made by
    /// [`within`](Self::within): its calls end with it and report its
    /// timeout, not the time that happened to be left.
    until: Option<Deadline>,
    token: Option<CancelToken>,
    /// Member every call of this handle goes to, if any.
    target: Option<Endpoint>,
    /// Key prefix of this handle, if any.
    namespace: Option<Arc<Namespace>>,
    /// This handle's require-leader setting, if it overrides the client's.
    require_leader: Option<bool>,
}

struct Shared {
    /// `None` once closed. Calls hold the read lock while in flight, so
    /// closing (the write lock) waits for them; they notice the closed flag
    /// within [`crate::wait::CLOSE_POLL`] and cancel themselves. No user
    /// code runs under it: a server stream holds it only while it waits
    /// for a message, not while its callback runs (closing cancels such a
    /// stream itself).
    transport: RwLock<Option<Arc<Transport>>>,
    closed: AtomicBool,
    /// The stream pump, started by the first watch or keepalive.
    pump: Mutex<Option<Pump>>,
    /// The endpoints when the client closed, for
    /// [`Client::endpoints`] after that.
    final_endpoints: Mutex<Vec<String>>,
    /// Client-side watch ids (stable across reconnects).
    watch_ids: AtomicU64,
    config: Config,
}

impl Shared {
    fn shutdown(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        // The pump goes first: it holds streams on the channels.
        if let Some(pump) = self.pump.lock().take() {
            pump.stop();
        }
        let transport = {
            let mut slot = self.transport.write();
            let Some(transport) = slot.take() else {
                return Ok(());
            };
            *self.final_endpoints.lock() = transport.members().endpoints();
            transport
        };
        log::debug!("closing client");
        // Only the pump shared the transport, and it has been joined.
        let stopped = match Arc::try_unwrap(transport) {
            Ok(t) => t.shutdown(SHUTDOWN_LIMIT),
            Err(_) => false,
        };
        if stopped {
            Ok(())
        } else {
            Err(Error::ShutdownTimeout(SHUTDOWN_LIMIT))
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            log::warn!("closing etcd client: {e}");
        }
    }
}

impl Client {
    /// Connects with these settings: builds one connection per endpoint
    /// and waits until one of them answers.
    pub(crate) fn from_config(config: Config) -> Result<Client> {
        config.validate()?;
        let transport = Arc::new(Transport::connect(&config)?);
        let client = Client {
            timeout: config.request_timeout,
            until: None,
            token: None,
            target: None,
            namespace: None,
            require_leader: None,
            shared: Arc::new(Shared {
                transport: RwLock::new(Some(transport)),
                closed: AtomicBool::new(false),
                pump: Mutex::new(None),
                final_endpoints: Mutex::new(Vec::new()),
                watch_ids: AtomicU64::new(1),
                config,
            }),
        };
        if let Some(min) = client.shared.config.min_server_version {
            client.check_server_versions(min)?;
        }
        if client.shared.config.auto_sync.is_some() {
            // Auto-sync runs on the pump, so it starts now, not on the
            // first watch.
            client.pump()?;
        }
        Ok(client)
    }

    /// Refuses the client if a member that answers runs an etcd older than
    /// `min` (major, minor), asking the members within one connect timeout.
    fn check_server_versions(&self, (major, minor): (u32, u32)) -> Result<()> {
        let deadline = Deadline::after(self.shared.config.connect_timeout);
        let mut unanswered = None;
        let mut answered = false;
        for (ep, member) in self.each_member_within(&deadline) {
            let status = match member.and_then(|m| m.status()) {
                Ok(s) => s,
                Err(e) => {
                    unanswered = Some(e);
                    continue;
                }
            };
            answered = true;
            let mut parts = status.version().split('.').map(|p| p.parse::<u32>());
            let found = match (parts.next(), parts.next()) {
                (Some(Ok(a)), Some(Ok(b))) => (a, b),
                _ => {
                    return Err(Error::Protocol(format!(
                        "{ep} reports version {:?}",
                        status.version()
                    )))
                }
            };
            if found < (major, minor) {
                return Err(Error::Unsupported(format!(
                    "{ep} runs etcd {}, older than the {major}.{minor} this client requires",
                    status.version()
                )));
            }
        }
        match unanswered {
            Some(e) if !answered => Err(e),
            _ => Ok(()),
        }
    }

    /// Each endpoint, with a handle aimed at it that has an equal share of
    /// what is left of `deadline` when its turn comes (the deadline's
    /// error once nothing is), so that a frozen member cannot leave the
    /// others unasked.
    pub(crate) fn each_member_within<'a>(
        &'a self,
        deadline: &'a Deadline,
    ) -> impl Iterator<Item = (String, Result<Client>)> + 'a {
        let endpoints = self.endpoints();
        let n = endpoints.len();
        endpoints.into_iter().enumerate().map(move |(i, ep)| {
            let member = deadline.remaining().and_then(|left| {
                let share = left / u32::try_from(n - i).unwrap_or(u32::MAX);
                self.with_endpoint(&ep)?.within(&deadline.cut(share))
            });
            (ep, member)
        })
    }

    /// A handle on the same connections whose calls use `timeout` as their
    /// deadline: the blocking counterpart of Go's `context.WithTimeout`.
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// use std::time::Duration;
    /// let v = client.with_timeout(Duration::from_millis(200)).get("k")?;
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            timeout,
            until: None,
            ..self.clone()
        }
    }

    /// A handle on the same connections whose calls are canceled by
    /// `token`: calling [`CancelToken::cancel`] from any thread makes them
    /// return [`Error::Canceled`].
    pub fn with_cancel(&self, token: &CancelToken) -> Client {
        Client {
            token: Some(token.clone()),
            ..self.clone()
        }
    }

    /// A handle on the same connections whose calls all go to one member,
    /// with no failover: for operator calls aimed at a member (status,
    /// defragment, hash), as `etcdctl --endpoints=one`. `endpoint` must be
    /// one of the client's endpoints, in any accepted form.
    pub fn with_endpoint(&self, endpoint: &str) -> Result<Client> {
        let wanted = self.shared.config.parse_endpoint(endpoint)?;
        self.with_transport(|t| {
            t.members().index_of(&wanted).map(drop).ok_or_else(|| {
                Error::InvalidConfig(format!("{endpoint} is not one of the client's endpoints"))
            })
        })?;
        Ok(Client {
            target: Some(wanted),
            ..self.clone()
        })
    }

    /// A handle on the same connections that lives under `prefix`: it puts
    /// the prefix in front of every key it sends (reads, writes, deletes,
    /// transactions, watches) and takes it off every key it receives, as
    /// Go's `namespace` package does. Ranges stay inside the namespace:
    /// "every key" and from-key reads stop at its end. Nested namespaces
    /// add up.
    ///
    /// ```no_run
    /// use etcd_blocking::GetOptions;
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// let billing = client.with_namespace("apps/billing/");
    /// billing.put("config/rate", "0.2")?; // stored as apps/billing/config/rate
    /// assert_eq!(client.get("apps/billing/config/rate")?.count(), 1);
    ///
    /// // An empty prefix is every key of the namespace, and nothing else;
    /// // keys come back without the namespace.
    /// for kv in billing.get_with("", GetOptions::new().prefix())?.kvs() {
    ///     println!("{}", kv.key_str()?); // config/rate
    /// }
    /// let watcher = billing.watch("config/rate")?; // watches apps/billing/config/rate
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn with_namespace(&self, prefix: impl AsRef<[u8]>) -> Client {
        let mut full = self
            .namespace
            .as_deref()
            .map(Namespace::prefix)
            .unwrap_or_default()
            .to_vec();
        full.extend_from_slice(prefix.as_ref());
        Client {
            namespace: (!full.is_empty()).then(|| Arc::new(Namespace::new(full))),
            ..self.clone()
        }
    }

    /// A handle on the same connections whose unary calls do (or do not)
    /// require the member to have a leader, overriding
    /// [`ClientBuilder::require_leader`](crate::ClientBuilder::require_leader)
    /// for this handle: a member cut off from the others then refuses the
    /// call instead of answering from what it last knew, and the call
    /// fails over (writes too: the refusal comes before etcd looks at the
    /// request). Streams always require one.
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// use etcd_blocking::GetOptions;
    /// let fresh = client.with_require_leader(true);
    /// let v = fresh.get_with("config", GetOptions::new().serializable())?;
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn with_require_leader(&self, yes: bool) -> Client {
        Client {
            require_leader: Some(yes),
            ..self.clone()
        }
    }

    pub(crate) fn namespace(&self) -> Option<&Namespace> {
        self.namespace.as_deref()
    }

    /// The deadline this handle gives its calls.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The endpoints calls go to, as URLs in one normalised form:
    /// `http://host:port`, `https://host:port` or `unix://path`. A
    /// configured `127.0.0.1:2379` is listed as `http://127.0.0.1:2379`
    /// (or `https://` with TLS options); [`with_endpoint`](Self::with_endpoint)
    /// takes either form.
    ///
    /// After [`set_endpoints`](Self::set_endpoints),
    /// [`sync_endpoints`](Self::sync_endpoints) or auto-sync, these are the
    /// new endpoints (for a sync, the cluster's members' client URLs).
    /// Once the client is closed, the list it had last.
    pub fn endpoints(&self) -> Vec<String> {
        match self.shared.transport.read().as_ref() {
            Some(t) => t.members().endpoints(),
            // Set by `shutdown` while it held the write lock.
            None => self.shared.final_endpoints.lock().clone(),
        }
    }

    /// The endpoint calls go to now (the pinned member), in the form of
    /// [`endpoints`](Self::endpoints):
    /// the first that connected, until a failure moves the pin on. A call
    /// may still go elsewhere when this one fails; streams (watches,
    /// keepalives) follow the same pin when they open. `None` once the
    /// client is closed.
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379", "127.0.0.1:22379"])?;
    /// println!("talking to {:?} of {:?}", client.pinned_endpoint(), client.endpoints());
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn pinned_endpoint(&self) -> Option<String> {
        self.with_transport(|t| Ok(t.members().pinned().endpoint.to_string()))
            .ok()
    }

    /// Asks etcd for a progress notification on this client's watch
    /// stream (Go's `Client.RequestProgress`): every watcher of the client
    /// gets a response ([`WatchResponse::is_progress_notify`](crate::WatchResponse::is_progress_notify))
    /// whose header revision says how far the watches have caught up.
    /// Without watches there is nothing to ask, and nothing is sent.
    ///
    /// When etcd answers depends on its version, for this client as for
    /// Go's: up to 3.4.24 and 3.5.7 at once; from 3.4.25 and in 3.5.8 to
    /// 3.5.12 only once every watch of the client has caught up (requests
    /// made meanwhile get one answer together); from 3.5.13 on (and in 3.6
    /// and 3.7) a request made while a watch is still catching up, or
    /// waits for a start revision in the future, is not answered at all:
    /// ask again later. Every answer the client gets is delivered; the
    /// client's own stall probe never uses progress requests, so it can
    /// neither take a user's answer nor be misled by one that never comes.
    pub fn request_progress(&self) -> Result<()> {
        let pump = self.shared.pump.lock().as_ref().map(|p| p.handle.clone());
        if self.is_closed() {
            return Err(Error::ClientClosed);
        }
        match pump {
            None => Ok(()),
            Some(p) if p.send(Command::Watch(WatchCommand::Progress)) => Ok(()),
            Some(_) => Err(Error::ClientClosed),
        }
    }

    /// Replaces the endpoints with the client URLs of the cluster's voting
    /// members (from a member list call; learners are skipped), keeping
    /// the connections of endpoints that stay. Returns the new list.
    pub fn sync_endpoints(&self) -> Result<Vec<String>> {
        self.with_transport(|t| t.sync_endpoints(&self.ctx()))
    }

    /// Replaces the endpoints at run time, as Go's `SetEndpoints`:
    /// connections to endpoints that stay are kept, new ones are dialed
    /// in the background, dropped ones close once no call uses them. The
    /// pinned member stays pinned if it is still listed. An empty list or a
    /// malformed endpoint is [`Error::InvalidConfig`] and changes nothing.
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// client.set_endpoints(["10.0.0.1:2379", "10.0.0.2:2379"])?;
    /// assert_eq!(client.endpoints().len(), 2);
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn set_endpoints<I, S>(&self, endpoints: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list: Vec<Endpoint> = Vec::new();
        for e in endpoints {
            let e = self.shared.config.parse_endpoint(e.as_ref())?;
            if !list.contains(&e) {
                list.push(e);
            }
        }
        if list.is_empty() {
            return Err(Error::InvalidConfig("no endpoints given".into()));
        }
        self.with_transport(|t| t.set_endpoints(list)).map(drop)
    }

    /// Looks up the DNS SRV records of
    /// [`ClientBuilder::discovery_srv`](crate::ClientBuilder::discovery_srv)
    /// again and [`set_endpoints`](Self::set_endpoints) to what they list
    /// now; returns the new list. A client made without discovery gets
    /// [`Error::InvalidConfig`]; a failed lookup changes nothing. The
    /// lookup is bounded by the handle's timeout, and is the one call that
    /// a cancel token or [`close`](Self::close) does not cut short: it
    /// ends at that timeout at the latest, and the endpoints are set only
    /// if the client is still open.
    pub fn rediscover(&self) -> Result<Vec<String>> {
        let d = self.shared.config.discovery.as_ref().ok_or_else(|| {
            Error::InvalidConfig("the client was not made with DNS SRV discovery".into())
        })?;
        if let Some(e) = self.ctx().intr.check() {
            return Err(e);
        }
        let found = d.endpoints(self.timeout)?;
        self.set_endpoints(&found)?;
        Ok(self.endpoints())
    }

    /// Closes the client for every handle: calls in flight return
    /// [`Error::ClientClosed`] promptly (and are canceled on the server),
    /// later calls fail with it at once, and the connections and gRPC's
    /// threads are released before this returns. Idempotent.
    ///
    /// Dropping the last handle does the same, ignoring errors.
    pub fn close(&self) -> Result<()> {
        self.shared.shutdown()
    }

    /// Whether [`close`](Self::close) was called on any handle.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// The deadline of a call made on this handle now.
    pub(crate) fn deadline(&self) -> Deadline {
        self.until.unwrap_or_else(|| Deadline::after(self.timeout))
    }

    /// This handle bound by `deadline`, for the steps of a call made of
    /// several calls: a step that runs out reports the whole call's
    /// timeout, as [`Error::DeadlineExceeded`] promises. An error at once
    /// if `deadline` has passed.
    pub(crate) fn within(&self, deadline: &Deadline) -> Result<Client> {
        Ok(Client {
            timeout: deadline.remaining()?,
            until: Some(*deadline),
            ..self.clone()
        })
    }

    /// One attempt's share of `deadline` (the `attempt_fraction` of what
    /// is left), as the failover loop gives a repeatable unary call, for a
    /// stream that must not hold a whole call on a frozen member; all of
    /// it when there is no other member to try (one endpoint, or a handle
    /// aimed at one).
    pub(crate) fn attempt_within(&self, deadline: &Deadline) -> Result<Client> {
        let others = self.target.is_none() && self.endpoints().len() > 1;
        if !others {
            return self.within(deadline);
        }
        let share = deadline
            .remaining()?
            .mul_f64(self.shared.config.attempt_fraction);
        self.within(&deadline.cut(share))
    }

    pub(crate) fn ctx(&self) -> CallCtx<'_> {
        CallCtx {
            deadline: self.deadline(),
            require_leader: self
                .require_leader
                .unwrap_or(self.shared.config.require_leader),
            intr: Interrupt {
                closed: &self.shared.closed,
                token: self.token.as_ref(),
            },
            target: self.target.as_ref(),
            monotonic: false,
        }
    }

    /// Runs `f` with the transport, or fails if the client is closed.
    fn with_transport<T>(&self, f: impl FnOnce(&Transport) -> Result<T>) -> Result<T> {
        if self.is_closed() {
            metrics::refused(Refusal::Closed);
            return Err(Error::ClientClosed);
        }
        let guard = self.shared.transport.read();
        f(guard.as_ref().ok_or(Error::ClientClosed)?)
    }

    /// A server-streaming call; each message goes to `on_message`, which
    /// runs with no lock held: the transport is borrowed only while a
    /// message is awaited. So `on_message` (user code: an observer, a
    /// snapshot's progress) may call the client or close it; closing
    /// cancels the stream, and the call then ends with
    /// [`Error::ClientClosed`].
    pub(crate) fn server_streaming<Req, Resp: Answer + Send + 'static>(
        &self,
        method: &Method<Req, Resp>,
        req: &Req,
        on_message: &mut dyn FnMut(Resp) -> Result<()>,
    ) -> Result<()> {
        let ctx = self.ctx();
        let mut stream = ServerStream::new(method, req);
        let mut next = self.with_transport(|t| t.next_message(&mut stream, &ctx));
        loop {
            let Some(msg) = next? else {
                return Ok(());
            };
            // An error drops `stream`, which cancels the call.
            on_message(msg)?;
            next = match self.shared.transport.read().as_ref() {
                Some(t) => t.next_message(&mut stream, &ctx),
                None => Err(Error::ClientClosed),
            };
        }
    }

    /// Runs one unary RPC through the transport with this handle's
    /// deadline and cancel token.
    pub(crate) fn unary<Req: Message, Resp: Unpin + Answer>(
        &self,
        method: &Method<Req, Resp>,
        req: &Req,
        retry: Retry,
    ) -> Result<Resp> {
        self.with_transport(|t| t.unary(method, req, retry, &self.ctx()))
    }

    /// [`unary`](Self::unary) for a KV or Txn call: the handle's namespace
    /// (if any) maps the request's keys in and the response's keys out.
    pub(crate) fn unary_mapped<Req: Message + Mapped, Resp: Unpin + Mapped + Answer>(
        &self,
        method: &Method<Req, Resp>,
        req: Req,
        retry: Retry,
    ) -> Result<Resp> {
        self.call_mapped(method, req, retry, false)
    }

    /// A range read through [`unary_mapped`](Self::unary_mapped); a
    /// serializable one is held to the highest revision seen when
    /// monotonic reads are on.
    pub(crate) fn range(&self, req: pb::RangeRequest) -> Result<pb::RangeResponse> {
        let monotonic = req.serializable && self.shared.config.monotonic_reads;
        self.call_mapped(&methods::KV_RANGE, req, Retry::Safe, monotonic)
    }

    fn call_mapped<Req: Message + Mapped, Resp: Unpin + Mapped + Answer>(
        &self,
        method: &Method<Req, Resp>,
        mut req: Req,
        retry: Retry,
        monotonic: bool,
    ) -> Result<Resp> {
        let ns = self.namespace();
        if let Some(ns) = ns {
            req.map(ns);
        }
        let ctx = CallCtx {
            monotonic,
            ..self.ctx()
        };
        let mut resp = self.with_transport(|t| t.unary(method, &req, retry, &ctx))?;
        if let Some(ns) = ns {
            resp.map(ns);
        }
        Ok(resp)
    }

    /// Sleeps for `d`, or less if this handle is canceled or the client
    /// closed (then that error).
    pub(crate) fn sleep(&self, d: Duration) -> Result<()> {
        crate::wait::sleep(&self.ctx().intr, d)
    }

    /// Logs in again now (a no-op without credentials), within this
    /// handle's deadline.
    pub(crate) fn renew_token(&self) -> Result<()> {
        self.with_transport(|t| t.renew_token_now(&self.ctx()))
    }

    /// Refuses a request over the send limit, for requests that travel
    /// on a stream rather than through [`unary`](Self::unary).
    pub(crate) fn check_size(&self, req: &impl Message) -> Result<()> {
        self.with_transport(|t| t.check_size(req))
    }

    /// The stream pump, started on first use.
    pub(crate) fn pump(&self) -> Result<Arc<PumpHandle>> {
        let mut pump = self.shared.pump.lock();
        if self.is_closed() {
            return Err(Error::ClientClosed);
        }
        if let Some(p) = pump.as_ref() {
            return Ok(p.handle.clone());
        }
        let guard = self.shared.transport.read();
        let transport = guard.as_ref().ok_or(Error::ClientClosed)?;
        let p = Pump::start(transport.clone(), self.shared.config.auto_sync)?;
        let handle = p.handle.clone();
        *pump = Some(p);
        Ok(handle)
    }

    pub(crate) fn next_watch_id(&self) -> u64 {
        self.shared.watch_ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn watch_buffer(&self) -> usize {
        self.shared.config.watch_buffer
    }

    /// This handle without its cancel token: for cleanup that must run
    /// even after the token fired (withdrawing a canceled lock wait).
    pub(crate) fn uncancelable(&self) -> Client {
        Client {
            token: None,
            ..self.clone()
        }
    }

    /// This handle's cancel token, if any.
    pub(crate) fn cancel_token(&self) -> Option<&CancelToken> {
        self.token.as_ref()
    }

    /// Why a wait on this handle must stop now (closed client, canceled
    /// token), if it must.
    pub(crate) fn interrupted(&self) -> Option<Error> {
        self.ctx().intr.check()
    }

    /// Waits for the pump's answer to a command, within this handle's
    /// deadline, and as interruptible as any call.
    pub(crate) fn wait_for<T>(&self, rx: &Receiver<Result<T>>) -> Result<T> {
        self.wait_in(&self.ctx(), rx)
    }

    /// [`wait_for`](Self::wait_for) within a call context made once, so
    /// several answers share one deadline.
    pub(crate) fn wait_in<T>(&self, ctx: &CallCtx<'_>, rx: &Receiver<Result<T>>) -> Result<T> {
        loop {
            if let Some(e) = ctx.intr.check() {
                return Err(e);
            }
            let left = ctx.deadline.remaining()?;
            match rx.recv_timeout(left.min(CLOSE_POLL)) {
                Ok(r) => return r,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Err(Error::ClientClosed),
            }
        }
    }
}
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.shared.config.endpoints)
            .field("timeout", &self.timeout)
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_shareable() {
        fn check<T: Clone + Send + Sync + 'static>() {}
        check::<Client>();
        check::<crate::ClientBuilder>();
        check::<crate::Error>();
        check::<crate::CancelToken>();
        fn movable<T: Send + Sync + 'static>() {}
        movable::<crate::Watcher>();
        movable::<crate::KeepAlive>();
    }
}
