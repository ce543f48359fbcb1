//! The v2 [`Client`] handle and its builder: endpoints, deadlines, basic
//! auth, TLS, endpoint selection and the endpoint list's sync.
//!
//! A `Client` is a [`Handle`] (an `Arc` to the shared state plus two
//! per-handle fields, deadline and cancel token, so clones and
//! `with_timeout` are cheap) and its endpoint [`Selection`]. The only
//! thread it may start is the auto-sync thread (`etcd-v2-sync`), which
//! `close()` and the last handle's `Drop` stop and join. The API handles
//! it makes ([`Keys`], [`Members`], [`Auth`], ...) get the [`Handle`], not
//! the `Client`, so they sit below this file.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};

use crate::config::DEFAULT_REQUEST_TIMEOUT;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::tls::TlsOptions;
use crate::wait::CancelToken;

use super::auth::{Auth, Roles, Users};
use super::handle::{decode, Handle, Shared};
use super::keys::Keys;
use super::members::Members;
use super::transport::{basic_auth, Method, Request, Retry, Settings, Transport};
use super::types::Version;

/// Default for [`ClientBuilder::per_request_timeout`].
pub const DEFAULT_PER_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// How the client orders its endpoints (the Go client's
/// `EndpointSelectionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Selection {
    /// Shuffle the endpoints (at connect, `set_endpoints` and every sync), so
    /// clients spread over the members. The default.
    #[default]
    Random,
    /// Keep the given order, except that every sync puts the leader first:
    /// writes then go straight to the leader instead of being forwarded.
    PrioritizeLeader,
}

/// Settings for a v2 [`Client`]; [`connect`](Self::connect) makes it.
///
/// ```no_run
/// use std::time::Duration;
/// use etcd_blocking::v2::{Client, Selection};
/// let client = Client::builder(["http://127.0.0.1:2379", "http://127.0.0.1:22379"])
///     .request_timeout(Duration::from_secs(3))
///     .per_request_timeout(Some(Duration::from_millis(500)))
///     .selection(Selection::PrioritizeLeader)
///     .basic_auth("root", "secret")
///     .connect()?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    endpoints: Vec<String>,
    request_timeout: Duration,
    per_request_timeout: Option<Duration>,
    credentials: Option<(String, String)>,
    tls: Option<TlsOptions>,
    selection: Selection,
    auto_sync: Option<Duration>,
    watch_poll: Duration,
}

impl ClientBuilder {
    /// Settings with the defaults, for these endpoints (`http://host:port`
    /// or `https://host:port`; a bare `host:port` is `http`).
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
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            per_request_timeout: Some(DEFAULT_PER_REQUEST_TIMEOUT),
            credentials: None,
            tls: None,
            selection: Selection::Random,
            auto_sync: None,
            watch_poll: Duration::from_secs(30),
        }
    }

    /// The deadline of every call unless a handle from
    /// [`Client::with_timeout`] says otherwise (default 5 s). It covers the
    /// whole call, tries on other endpoints included.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// How long one endpoint may take to accept the connection and, for a
    /// read, to send the answer's headers before the call moves on to the
    /// next (default 1 s; the Go client's `HeaderTimeoutPerRequest`,
    /// which is off there by default). `None` lets one endpoint use the
    /// whole deadline. A write that was sent is never sent elsewhere, so it
    /// waits for its answer until the deadline
    /// ([`Error::DeadlineExceeded`]); a connection that breaks under it is
    /// [`Error::Ambiguous`].
    pub fn per_request_timeout(mut self, d: Option<Duration>) -> Self {
        self.per_request_timeout = d;
        self
    }

    /// Send HTTP basic auth with every request (v2 auth).
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// TLS settings for `https://` endpoints: the CA to trust and a client
    /// identity. [`TlsOptions::server_name`] is not supported by the v2
    /// client (an [`Error::InvalidConfig`] at connect). Without this, `https`
    /// endpoints are checked against the system's roots.
    ///
    /// ```no_run
    /// use etcd_blocking::{v2, TlsOptions};
    /// let tls = TlsOptions::new()
    ///     .ca_file("ca.pem")?
    ///     .identity_files("client.pem", "client-key.pem")?;
    /// let client = v2::Client::builder(["https://10.0.0.1:2379"]).tls(tls).connect()?;
    /// println!("{:?}", client.version()?);
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn tls(mut self, opts: TlsOptions) -> Self {
        self.tls = Some(opts);
        self
    }

    /// How endpoints are ordered (default [`Selection::Random`]).
    pub fn selection(mut self, s: Selection) -> Self {
        self.selection = s;
        self
    }

    /// Refresh the endpoint list from the members API at this interval, on
    /// a thread of the client (`etcd-v2-sync`) that `close()` joins (the Go
    /// client's `AutoSync`). Off by default; [`Client::sync`] does it once.
    pub fn auto_sync_interval(mut self, every: Duration) -> Self {
        self.auto_sync = Some(every);
        self
    }

    /// The longest a watcher's long poll stays on one connection before
    /// it is asked again (default 30 s). A member that froze (SIGSTOP, a
    /// partition TCP does not see) during a poll is found out at the next
    /// one, within one per-request timeout; nothing is lost, as the poll
    /// is asked again from the same index.
    pub fn watch_poll_interval(mut self, d: Duration) -> Self {
        self.watch_poll = d;
        self
    }

    /// Makes the client (the name is the v3
    /// [`ClientBuilder::connect`](crate::ClientBuilder::connect)'s). Unlike
    /// the v3 one it sends nothing: a bad endpoint or setting is an
    /// [`Error::InvalidConfig`] here, and an unreachable cluster shows at
    /// the first call, which opens the connections it needs.
    pub fn connect(self) -> Result<Client> {
        let endpoints = parse_endpoints(&self.endpoints)?;
        for (name, d) in [
            ("request timeout", Some(self.request_timeout)),
            ("per-request timeout", self.per_request_timeout),
            ("watch poll interval", Some(self.watch_poll)),
            ("auto-sync interval", self.auto_sync),
        ] {
            if d.is_some_and(|d| d.is_zero()) {
                return Err(Error::InvalidConfig(format!("{name} must be positive")));
            }
        }
        let agent = agent(self.tls.as_ref())?;
        let settings = Settings {
            per_request_timeout: self.per_request_timeout,
            authorization: self.credentials.as_ref().map(|(u, p)| basic_auth(u, p)),
        };
        let transport = Arc::new(Transport::new(
            agent,
            order(endpoints, self.selection),
            settings,
        ));
        let client = Client {
            handle: Handle::new(
                Arc::new(Shared::new(transport.clone(), self.watch_poll, true)),
                self.request_timeout,
            ),
            selection: self.selection,
        };
        if let Some(every) = self.auto_sync {
            let syncer = Client {
                handle: Handle::new(
                    Arc::new(Shared::new(transport, self.watch_poll, false)),
                    self.request_timeout,
                ),
                selection: self.selection,
            };
            let (stop, thread) = auto_sync(syncer, every)?;
            client.handle.shared.set_sync_thread(stop, thread);
        }
        Ok(client)
    }
}

/// Starts the auto-sync thread (`etcd-v2-sync`), which syncs `syncer`'s
/// endpoints every `every` until the returned sender is dropped.
fn auto_sync(syncer: Client, every: Duration) -> Result<(Sender<()>, JoinHandle<()>)> {
    let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
    let thread = std::thread::Builder::new()
        .name("etcd-v2-sync".into())
        .spawn(move || loop {
            match stopped.recv_timeout(every) {
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = syncer.sync() {
                        log::warn!("v2 auto-sync: {e}");
                    }
                }
                _ => return,
            }
        })
        .map_err(|e| Error::InvalidConfig(format!("cannot start etcd-v2-sync: {e}")))?;
    Ok((stop, thread))
}

fn parse_endpoints(eps: &[String]) -> Result<Vec<String>> {
    if eps.is_empty() {
        return Err(Error::InvalidConfig("no endpoints given".into()));
    }
    eps.iter()
        .map(|e| Endpoint::parse(e).map(|e| e.to_string()))
        .collect()
}

fn order(mut eps: Vec<String>, selection: Selection) -> Vec<String> {
    if selection == Selection::Random {
        // A Fisher-Yates shuffle seeded by std's random hasher keys: no
        // dependency for one shuffle.
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        for i in (1..eps.len()).rev() {
            h.write_usize(i);
            let j = (h.finish() % (i as u64 + 1)) as usize;
            eps.swap(i, j);
        }
    }
    eps
}

/// The HTTP agent: no redirects (etcd's v2 API does not send any), no
/// proxy from the environment (the members are addressed directly), 4xx
/// and 5xx answers as answers, and TLS through the system OpenSSL.
fn agent(tls: Option<&TlsOptions>) -> Result<ureq::Agent> {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};
    let bad = |what: &str, e: ureq::Error| Error::InvalidConfig(format!("{what}: {e}"));
    let mut t = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(RootCerts::PlatformVerifier);
    if let Some(opts) = tls {
        if opts.server_name.is_some() {
            return Err(Error::InvalidConfig(
                "the v2 client cannot check a server name other than the endpoint's host".into(),
            ));
        }
        if let Some(ca) = &opts.ca {
            let certs = ureq::tls::parse_pem(ca)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<std::result::Result<Vec<Certificate<'static>>, _>>()
                .map_err(|e| bad("CA certificate", e))?;
            t = t.root_certs(RootCerts::new_with_certs(&certs));
        }
        if let Some((cert, key)) = &opts.identity {
            let cert = Certificate::from_pem(cert).map_err(|e| bad("client certificate", e))?;
            let key = PrivateKey::from_pem(key).map_err(|e| bad("client key", e))?;
            t = t.client_cert(Some(ClientCert::new_with_certs(&[cert], key)));
        }
    }
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .user_agent("etcd-blocking-v2")
        .tls_config(t.build())
        .build();
    Ok(ureq::Agent::new_with_config(config))
}

/// A blocking client for etcd's v2 API (`--enable-v2` on etcd 3.4 and
/// 3.5).
///
/// Cheap to clone; clones share connections. Every call blocks until the
/// answer comes or the handle's deadline passes.
///
/// ```no_run
/// use etcd_blocking::v2;
/// let client = v2::Client::connect(["http://127.0.0.1:2379"])?;
/// let keys = client.keys();
/// keys.set("/config/mode", "fast")?;
/// let resp = keys.get("/config/mode")?;
/// assert_eq!(resp.node.value.as_deref(), Some("fast"));
/// client.close();
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    handle: Handle,
    selection: Selection,
}

impl Client {
    /// A client for these endpoints with the default settings (see
    /// [`ClientBuilder::connect`]: nothing is sent yet).
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

    /// A handle on the same connections whose calls have this deadline.
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        Client {
            handle: self.handle.with_timeout(timeout),
            selection: self.selection,
        }
    }

    /// A handle whose calls fail with [`Error::Canceled`] once `token` is
    /// canceled, even while blocked (a watcher's long poll included):
    /// within about 20 ms. To cut a blocked socket read short, each call of
    /// such a handle uses a connection of its own and a short-lived
    /// watchdog thread (`etcd-v2-cancel`) joined before the call returns;
    /// handles without a token share pooled connections and start no
    /// thread.
    pub fn with_cancel(&self, token: &CancelToken) -> Client {
        Client {
            handle: self.handle.with_cancel(token),
            selection: self.selection,
        }
    }

    /// The deadline of this handle's calls.
    pub fn timeout(&self) -> Duration {
        self.handle.timeout
    }

    /// The keys API.
    pub fn keys(&self) -> Keys {
        Keys::new(self.handle.clone(), "")
    }

    /// The keys API under `prefix`: every key is sent with the prefix in
    /// front (Go's `NewKeysAPIWithPrefix`). Keys in answers are etcd's
    /// full keys, prefix included, as Go's v2 client returns them: a
    /// `keys_with_prefix("/app")` handle's `get("/x")` answers with a node
    /// whose key is `/app/x`.
    pub fn keys_with_prefix(&self, prefix: &str) -> Keys {
        Keys::new(self.handle.clone(), prefix)
    }

    /// The members API.
    pub fn members(&self) -> Members {
        Members::new(self.handle.clone())
    }

    /// Enabling and disabling v2 auth.
    pub fn auth(&self) -> Auth {
        Auth::new(self.handle.clone())
    }

    /// The v2 auth users API.
    pub fn users(&self) -> Users {
        Users::new(self.handle.clone())
    }

    /// The v2 auth roles API.
    pub fn roles(&self) -> Roles {
        Roles::new(self.handle.clone())
    }

    /// The endpoints, in the order calls try them (from the pinned one).
    pub fn endpoints(&self) -> Vec<String> {
        let mut eps = self.handle.transport().endpoints();
        let pinned = self.handle.transport().pinned();
        if let Some(i) = eps.iter().position(|e| *e == pinned) {
            eps.rotate_left(i);
        }
        eps
    }

    /// Replaces the endpoints (ordered by the client's [`Selection`]).
    /// A bad URL is an [`Error::InvalidConfig`] and changes nothing.
    pub fn set_endpoints<I, S>(&self, endpoints: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let eps: Vec<String> = endpoints
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .collect();
        let eps = parse_endpoints(&eps)?;
        self.handle
            .transport()
            .set_endpoints(order(eps, self.selection));
        Ok(())
    }

    /// Replaces the endpoints with the client URLs of the cluster's
    /// members (members not started yet have none and are skipped);
    /// with [`Selection::PrioritizeLeader`] the leader's come first.
    /// Returns the new list (the Go client's `Sync`). Its requests (two
    /// with `PrioritizeLeader`) share the handle's deadline.
    pub fn sync(&self) -> Result<Vec<String>> {
        // The member list and (by selection) the leader, in one deadline.
        let steps = Client {
            handle: self.handle.bounded(),
            selection: self.selection,
        };
        let members = steps.members().list()?;
        let mut eps: Vec<String> = members
            .iter()
            .flat_map(|m| m.client_urls.iter().cloned())
            .collect();
        if eps.is_empty() {
            return Err(Error::Unavailable(vec![crate::EndpointError {
                endpoint: self.handle.transport().pinned(),
                cause: "the member list has no client URLs".into(),
            }]));
        }
        eps = parse_endpoints(&eps)?;
        match self.selection {
            Selection::Random => eps = order(eps, Selection::Random),
            Selection::PrioritizeLeader => {
                let leader = steps.members().leader()?;
                let parsed: Vec<String> = parse_endpoints(&leader.client_urls)?;
                eps.retain(|e| !parsed.contains(e));
                eps.splice(0..0, parsed);
            }
        }
        self.handle.transport().set_endpoints(eps.clone());
        Ok(eps)
    }

    /// The server's and the cluster's version, from `/version` of the
    /// endpoint that answers.
    pub fn version(&self) -> Result<Version> {
        let a = self
            .handle
            .request(Request::new(Method::Get, "/version".into(), Retry::Safe))?;
        decode(&a.body)
    }

    /// Closes the client for every handle: calls in flight (watchers
    /// included) return [`Error::ClientClosed`] at once, later calls fail
    /// with it, every connection is closed and the auto-sync thread is
    /// joined before this returns. Idempotent. Dropping the last handle
    /// does the same.
    pub fn close(&self) {
        self.handle.shared.shutdown();
    }

    /// Whether [`close`](Self::close) was called on any handle.
    pub fn is_closed(&self) -> bool {
        self.handle.transport().is_closed()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.handle.fmt(f)
    }
}
