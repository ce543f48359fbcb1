//! The `Client` handle, its builder, and the per-call settings (deadline,
//! cancel token) that ride on a handle.
//!
//! A `Client` is an `Arc` to the shared state plus two small per-handle
//! fields, so `clone`, `with_timeout` and `with_cancel` are cheap and every
//! handle shares one set of connections. The shared state is torn down by
//! `close()` or when its last handle is dropped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use grpcio::Method;
use parking_lot::{Mutex, RwLock};
use protobuf::Message;

use crate::auth::Credentials;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::namespace::{Mapped, Namespace};
use crate::pump::{Pump, PumpHandle};
use crate::tls::TlsOptions;
use crate::transport::{CallCtx, Retry, Transport};
use crate::wait::{CancelToken, Interrupt, CLOSE_POLL};

/// Default for [`ClientBuilder::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`ClientBuilder::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`ClientBuilder::max_send_message_size`]: 2 MiB, as the Go
/// client (etcd's own request limit is 1.5 MiB by default).
pub const DEFAULT_MAX_SEND_MESSAGE_SIZE: usize = 2 * 1024 * 1024;

/// Default for [`ClientBuilder::attempt_fraction`].
pub const DEFAULT_ATTEMPT_FRACTION: f64 = 1.0 / 3.0;

/// How long closing waits for gRPC's threads before giving up on them.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

/// Settings for a [`Client`]; [`connect`](Self::connect) makes the client.
///
/// ```no_run
/// use std::time::Duration;
/// let client = etcd_blocking::Client::builder(["127.0.0.1:2379", "127.0.0.1:22379"])
///     .request_timeout(Duration::from_secs(2))
///     .connect()?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    pub(crate) endpoints: Vec<String>,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) keepalive_time: Duration,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) max_send_message_size: usize,
    pub(crate) max_receive_message_size: Option<usize>,
    pub(crate) cq_threads: usize,
    pub(crate) require_leader: bool,
    pub(crate) tls: Option<TlsOptions>,
    pub(crate) watch_buffer: usize,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) attempt_fraction: f64,
    pub(crate) auto_sync: Option<Duration>,
}

impl ClientBuilder {
    /// Settings with the defaults, for these endpoints (`host:port`,
    /// `http://host:port` or `https://host:port`).
    pub fn new<I, S>(endpoints: I) -> ClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ClientBuilder {
            endpoints: endpoints
                .into_iter()
                .map(|s| s.as_ref().to_string())
                .collect(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            keepalive_time: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            max_send_message_size: DEFAULT_MAX_SEND_MESSAGE_SIZE,
            max_receive_message_size: None,
            cq_threads: 1,
            require_leader: false,
            tls: None,
            watch_buffer: crate::watch::DEFAULT_WATCH_BUFFER,
            credentials: None,
            attempt_fraction: DEFAULT_ATTEMPT_FRACTION,
            auto_sync: None,
        }
    }

    /// How long [`connect`](Self::connect) waits for the first endpoint to
    /// answer (default 5 s). If none does, it fails with
    /// [`Error::Unavailable`] naming each endpoint.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// The deadline of every call unless a handle from
    /// [`Client::with_timeout`] says otherwise (default 5 s). It covers
    /// the whole call, retries on other endpoints included.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Interval of HTTP/2 keepalive pings while calls or streams are open
    /// (default 30 s). etcd's server rejects pings closer than its
    /// `--grpc-keepalive-min-time` (5 s by default), so stay above that.
    pub fn keepalive_time(mut self, d: Duration) -> Self {
        self.keepalive_time = d;
        self
    }

    /// How long a keepalive ping may go unanswered before the connection is
    /// considered dead (default 10 s).
    pub fn keepalive_timeout(mut self, d: Duration) -> Self {
        self.keepalive_timeout = d;
        self
    }

    /// Largest request the client sends (default 2 MiB). A larger request
    /// fails with [`Error::RequestTooLarge`] and is not sent.
    pub fn max_send_message_size(mut self, bytes: usize) -> Self {
        self.max_send_message_size = bytes;
        self
    }

    /// Largest response the client accepts; `None` (the default) means
    /// unlimited.
    pub fn max_receive_message_size(mut self, bytes: Option<usize>) -> Self {
        self.max_receive_message_size = bytes;
        self
    }

    /// Number of gRPC completion-queue threads (default 1). They only move
    /// bytes and wake callers; more help only under heavy concurrency.
    pub fn completion_queue_threads(mut self, n: usize) -> Self {
        self.cq_threads = n;
        self
    }

    /// Ask etcd to refuse unary calls on a member that has no leader
    /// (`hasleader` metadata), so a partitioned member cannot answer with
    /// stale data; the call then fails over to another endpoint.
    pub fn require_leader(mut self, yes: bool) -> Self {
        self.require_leader = yes;
        self
    }

    /// TLS settings for `https://` endpoints (needs the `tls` feature).
    pub fn tls(mut self, opts: TlsOptions) -> Self {
        self.tls = Some(opts);
        self
    }

    /// Refresh the endpoint list from the cluster's member list at this
    /// interval (off by default): new members are added, removed ones
    /// dropped, learners skipped. [`Client::sync_endpoints`] does it once.
    pub fn auto_sync_interval(mut self, every: Duration) -> Self {
        self.auto_sync = Some(every);
        self
    }

    /// The share of a call's deadline that one attempt of a repeatable
    /// call (reads, lease and member queries) may use while other members
    /// remain to be tried (default 1/3). A member that does not answer in
    /// that time is passed over for the next, so one frozen member cannot
    /// eat the whole deadline. 1.0 gives every attempt the whole deadline.
    /// Writes always get the whole deadline: they are never sent twice.
    pub fn attempt_fraction(mut self, share: f64) -> Self {
        self.attempt_fraction = share;
        self
    }

    /// Authenticate as this user: the client logs in at connect (a wrong
    /// password is [`EtcdError::AuthFailed`](crate::EtcdError::AuthFailed)
    /// then, with no retries), attaches the token to every call and stream,
    /// and logs in again once when etcd says the token is stale.
    pub fn credentials(mut self, creds: Credentials) -> Self {
        self.credentials = Some(creds);
        self
    }

    /// Shorthand for [`credentials`](Self::credentials).
    pub fn user(self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials(Credentials::new(name, password))
    }

    /// Default capacity of each watcher's channel, in responses (default
    /// 1024). A watcher whose consumer falls this far behind is paused on
    /// the server and resumed without loss when it catches up; see
    /// [`Watcher`](crate::Watcher).
    pub fn watch_buffer(mut self, responses: usize) -> Self {
        self.watch_buffer = responses.max(1);
        self
    }

    /// Connects: builds one connection per endpoint and waits until one of
    /// them answers.
    pub fn connect(self) -> Result<Client> {
        self.validate()?;
        let transport = Arc::new(Transport::connect(&self)?);
        let auto_sync = self.auto_sync;
        let client = Client {
            timeout: self.request_timeout,
            token: None,
            target: None,
            namespace: None,
            shared: Arc::new(Shared {
                transport: RwLock::new(Some(transport)),
                closed: AtomicBool::new(false),
                pump: Mutex::new(None),
                watch_ids: AtomicU64::new(1),
                kept_leases: Arc::default(),
                config: self,
            }),
        };
        if auto_sync.is_some() {
            // Auto-sync runs on the pump, so it starts now, not on the
            // first watch.
            client.pump()?;
        }
        Ok(client)
    }

    pub(crate) fn parsed_endpoints(&self) -> Result<Vec<Endpoint>> {
        if self.endpoints.is_empty() {
            return Err(Error::InvalidConfig("no endpoints given".into()));
        }
        self.endpoints.iter().map(|e| Endpoint::parse(e)).collect()
    }

    fn validate(&self) -> Result<()> {
        self.parsed_endpoints()?;
        let positive = [
            ("connect timeout", self.connect_timeout),
            ("request timeout", self.request_timeout),
            ("keepalive time", self.keepalive_time),
            ("keepalive timeout", self.keepalive_timeout),
        ];
        for (name, d) in positive {
            if d.is_zero() {
                return Err(Error::InvalidConfig(format!("{name} must be positive")));
            }
        }
        if !(self.attempt_fraction > 0.0 && self.attempt_fraction <= 1.0) {
            return Err(Error::InvalidConfig(
                "attempt fraction must be in (0, 1]".into(),
            ));
        }
        if self.cq_threads == 0 {
            return Err(Error::InvalidConfig(
                "completion queue threads must be at least 1".into(),
            ));
        }
        if self.max_send_message_size == 0 {
            return Err(Error::InvalidConfig(
                "max send message size must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// A blocking etcd v3 client.
///
/// Cheap to clone; every clone shares the connections. Every call blocks
/// the calling thread until the answer arrives or the deadline passes.
/// See the [crate documentation](crate) for a tour.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    timeout: Duration,
    token: Option<CancelToken>,
    /// Member every call of this handle goes to, if any.
    target: Option<Endpoint>,
    /// Key prefix of this handle, if any.
    namespace: Option<Arc<Namespace>>,
}

struct Shared {
    /// `None` once closed. Calls hold the read lock while in flight, so
    /// closing (the write lock) waits for them; they notice the closed flag
    /// within [`crate::wait::CLOSE_POLL`] and cancel themselves.
    transport: RwLock<Option<Arc<Transport>>>,
    closed: AtomicBool,
    /// The stream pump, started by the first watch or keepalive.
    pump: Mutex<Option<Pump>>,
    /// Client-side watch ids (stable across reconnects).
    watch_ids: AtomicU64,
    /// Leases with a live keepalive handle (one handle per lease).
    kept_leases: Arc<Mutex<std::collections::HashSet<i64>>>,
    config: ClientBuilder,
}

impl Shared {
    fn shutdown(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        // The pump goes first: it holds streams on the channels.
        if let Some(pump) = self.pump.lock().take() {
            pump.stop();
        }
        let Some(transport) = self.transport.write().take() else {
            return Ok(());
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
            Err(Error::Grpc {
                code: crate::Code::Internal,
                message: format!("gRPC threads did not stop within {SHUTDOWN_LIMIT:?}"),
            })
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
    /// Connects to these endpoints with default settings.
    pub fn connect<I, S>(endpoints: I) -> Result<Client>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ClientBuilder::new(endpoints).connect()
    }

    /// Settings for a client, to adjust before [`ClientBuilder::connect`].
    pub fn builder<I, S>(endpoints: I) -> ClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ClientBuilder::new(endpoints)
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
        let wanted = Endpoint::parse(endpoint)?;
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

    pub(crate) fn namespace(&self) -> Option<&Namespace> {
        self.namespace.as_deref()
    }

    /// The deadline this handle gives its calls.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The endpoints, as configured.
    ///
    /// After [`sync_endpoints`](Self::sync_endpoints) (or auto-sync) these
    /// are the cluster's members' client URLs.
    pub fn endpoints(&self) -> Vec<String> {
        self.with_transport(|t| Ok(t.members().endpoints()))
            .unwrap_or_else(|_| self.shared.config.endpoints.clone())
    }

    /// Replaces the endpoints with the client URLs of the cluster's voting
    /// members (from a member list call; learners are skipped), keeping
    /// the connections of endpoints that stay. Returns the new list.
    pub fn sync_endpoints(&self) -> Result<Vec<String>> {
        self.with_transport(|t| t.sync_endpoints(&self.ctx()))
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

    fn ctx(&self) -> CallCtx<'_> {
        CallCtx {
            timeout: self.timeout,
            deadline: Instant::now() + self.timeout,
            intr: Interrupt {
                closed: &self.shared.closed,
                token: self.token.as_ref(),
            },
            target: self.target.as_ref(),
        }
    }

    /// Runs `f` with the transport, or fails if the client is closed.
    fn with_transport<T>(&self, f: impl FnOnce(&Transport) -> Result<T>) -> Result<T> {
        if self.is_closed() {
            return Err(Error::ClientClosed);
        }
        let guard = self.shared.transport.read();
        f(guard.as_ref().ok_or(Error::ClientClosed)?)
    }

    /// A server-streaming call; each message goes to `on_message`.
    pub(crate) fn server_streaming<Req, Resp>(
        &self,
        method: &Method<Req, Resp>,
        req: &Req,
        on_message: &mut dyn FnMut(Resp) -> Result<()>,
    ) -> Result<()> {
        self.with_transport(|t| t.server_streaming(method, req, &self.ctx(), on_message))
    }

    /// Runs one unary RPC through the transport with this handle's
    /// deadline and cancel token.
    pub(crate) fn unary<Req: Message, Resp: Unpin>(
        &self,
        method: &Method<Req, Resp>,
        req: &Req,
        retry: Retry,
    ) -> Result<Resp> {
        self.with_transport(|t| t.unary(method, req, retry, &self.ctx()))
    }

    /// [`unary`](Self::unary) for a KV or Txn call: the handle's namespace
    /// (if any) maps the request's keys in and the response's keys out.
    pub(crate) fn unary_mapped<Req: Message + Mapped, Resp: Unpin + Mapped>(
        &self,
        method: &Method<Req, Resp>,
        mut req: Req,
        retry: Retry,
    ) -> Result<Resp> {
        let ns = self.namespace();
        if let Some(ns) = ns {
            req.map(ns);
        }
        let mut resp = self.unary(method, &req, retry)?;
        if let Some(ns) = ns {
            resp.map(ns);
        }
        Ok(resp)
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
        let p = Pump::start(transport.clone(), self.shared.config.auto_sync);
        let handle = p.handle.clone();
        *pump = Some(p);
        Ok(handle)
    }

    pub(crate) fn kept_leases(&self) -> Arc<Mutex<std::collections::HashSet<i64>>> {
        self.shared.kept_leases.clone()
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

    /// Why a wait on this handle must stop now (closed client, canceled
    /// token), if it must.
    pub(crate) fn interrupted(&self) -> Option<Error> {
        self.ctx().intr.check()
    }

    /// Waits for the pump's answer to a command, within this handle's
    /// deadline, and as interruptible as any call.
    pub(crate) fn wait_for<T>(&self, rx: &Receiver<Result<T>>) -> Result<T> {
        let ctx = self.ctx();
        loop {
            if let Some(e) = ctx.intr.check() {
                return Err(e);
            }
            let left = ctx.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::DeadlineExceeded(self.timeout));
            }
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
        check::<ClientBuilder>();
        check::<crate::Error>();
        check::<crate::CancelToken>();
        fn movable<T: Send + Sync + 'static>() {}
        movable::<crate::Watcher>();
        movable::<crate::KeepAlive>();
    }

    #[test]
    fn bad_settings_fail_before_connecting() {
        let e = ClientBuilder::new(Vec::<String>::new())
            .connect()
            .unwrap_err();
        assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
        let e = Client::connect(["localhost"]).unwrap_err();
        assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
        let e = Client::builder(["127.0.0.1:2379"])
            .request_timeout(Duration::ZERO)
            .connect()
            .unwrap_err();
        assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
        let e = Client::builder(["127.0.0.1:2379"])
            .completion_queue_threads(0)
            .connect()
            .unwrap_err();
        assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
    }
}
