//! [`ClientBuilder`]: the user's way to make a client's
//! [`Config`](crate::config::Config), and the constructors on [`Client`].

use std::net::SocketAddr;
use std::time::Duration;

use crate::client::Client;
use crate::config::Config;
use crate::discovery::SrvDiscovery;
use crate::error::{Error, Result};
use crate::session::Credentials;
use crate::tls::TlsOptions;

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
    cfg: Config,
}

impl ClientBuilder {
    /// Settings with the defaults, for these endpoints (`host:port`,
    /// `http://host:port`, `https://host:port` or `unix://path`; a bare
    /// `host:port` is TLS when [`tls`](Self::tls) options are set, as in
    /// Go's clientv3, and plain text otherwise).
    pub fn new<I, S>(endpoints: I) -> ClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ClientBuilder {
            cfg: Config::new(
                endpoints
                    .into_iter()
                    .map(|s| s.as_ref().to_string())
                    .collect(),
            ),
        }
    }

    /// Settings from etcdctl's environment variables (etcdctl 3.4 and 3.5,
    /// with etcdctl's parsing and defaults), so a command-line tool is
    /// configured the way its users already configure `etcdctl`:
    ///
    /// | variable | setting | unset |
    /// |---|---|---|
    /// | `ETCDCTL_ENDPOINTS` | comma-separated endpoints | `127.0.0.1:2379` |
    /// | `ETCDCTL_CACERT` | CA file: TLS on | |
    /// | `ETCDCTL_CERT`, `ETCDCTL_KEY` | client certificate and key files: TLS on | |
    /// | `ETCDCTL_USER` | `name` or `name:password` | no auth |
    /// | `ETCDCTL_PASSWORD` | the password (then `ETCDCTL_USER` is the whole name) | |
    /// | `ETCDCTL_DIAL_TIMEOUT` | [`connect_timeout`](Self::connect_timeout) | 2 s |
    /// | `ETCDCTL_COMMAND_TIMEOUT` | [`request_timeout`](Self::request_timeout) | 5 s |
    /// | `ETCDCTL_KEEPALIVE_TIME` | [`keepalive_time`](Self::keepalive_time), at least 10 s as in Go's gRPC | 10 s |
    /// | `ETCDCTL_KEEPALIVE_TIMEOUT` | [`keepalive_timeout`](Self::keepalive_timeout) | 6 s |
    /// | `ETCDCTL_INSECURE_TRANSPORT` | `false`: TLS even without certificates (system roots) | `true` |
    /// | `ETCDCTL_DISCOVERY_SRV` | [`discovery_srv`](Self::discovery_srv) domain | |
    /// | `ETCDCTL_DISCOVERY_SRV_NAME` | [`discovery_srv_name`](Self::discovery_srv_name) | |
    /// | `ETCDCTL_INSECURE_DISCOVERY` | [`insecure_discovery`](Self::insecure_discovery); `false` also checks certificates against the domain | `true` |
    ///
    /// Durations use Go's syntax (`5s`, `1m30s`, `250ms`), booleans Go's
    /// (`true`, `false`, `1`, `0`, `t`, `f`); an empty variable counts as
    /// unset. When TLS is on, endpoints without a scheme are dialed with
    /// TLS (as etcdctl does); `http://` ones stay plain. A value that cannot
    /// be parsed, or a certificate file that cannot be read, is
    /// [`Error::InvalidConfig`] naming the variable and its value (never a
    /// password). `ETCDCTL_USER` without a password and without
    /// `ETCDCTL_PASSWORD` is an error too: etcdctl prompts, a library
    /// cannot. `ETCDCTL_INSECURE_SKIP_TLS_VERIFY=true` is refused, as
    /// this client always verifies servers.
    ///
    /// Builder calls made afterwards override the environment:
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let client = etcd_blocking::ClientBuilder::from_env()?
    ///     .request_timeout(Duration::from_secs(30)) // wins over ETCDCTL_COMMAND_TIMEOUT
    ///     .connect()?;
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn from_env() -> Result<ClientBuilder> {
        let var = |name: &str| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::InvalidConfig(format!(
                "invalid value for {name}: not valid UTF-8"
            ))),
        };
        Ok(ClientBuilder {
            cfg: crate::env::config_from(&var)?,
        })
    }

    /// Replaces the endpoints (and turns off SRV discovery): for a
    /// command-line `--endpoints` that overrides the environment.
    pub fn endpoints<I, S>(mut self, endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.cfg.endpoints = endpoints
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .collect();
        self.cfg.discovery = None;
        self
    }

    /// Take the endpoints from DNS SRV records of `domain`, as etcdctl's
    /// `--discovery-srv`: [`connect`](Self::connect) looks up
    /// `_etcd-client-ssl._tcp.<domain>` (endpoints `https://target:port`)
    /// and `_etcd-client._tcp.<domain>` (`http://target:port`) and uses
    /// every target they list instead of the endpoints given. A domain
    /// with neither record is [`Error::InvalidConfig`]; a DNS server that
    /// does not answer within the connect timeout is
    /// [`Error::Unavailable`]. [`Client::rediscover`] looks again. Needs
    /// the `discovery-srv` cargo feature (without it, `connect` fails
    /// with [`Error::InvalidConfig`]).
    ///
    /// ```no_run
    /// // The endpoints given are replaced by those of the SRV records.
    /// let client = etcd_blocking::Client::builder(Vec::<String>::new())
    ///     .discovery_srv("example.com")
    ///     .connect()?;
    /// println!("found {:?}", client.endpoints());
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn discovery_srv(mut self, domain: impl Into<String>) -> Self {
        let old = self.cfg.discovery.take();
        let mut d = SrvDiscovery::new(domain.into());
        if let Some(old) = old {
            d.service_name = old.service_name;
            d.resolver = old.resolver;
            d.insecure = old.insecure;
        }
        self.cfg.discovery = Some(d);
        self
    }

    /// The service name of SRV discovery (etcdctl's
    /// `--discovery-srv-name`): the records looked up become
    /// `_etcd-client-ssl-<name>._tcp.<domain>` and
    /// `_etcd-client-<name>._tcp.<domain>`. Only with
    /// [`discovery_srv`](Self::discovery_srv).
    pub fn discovery_srv_name(mut self, name: impl Into<String>) -> Self {
        if let Some(d) = &mut self.cfg.discovery {
            d.service_name = Some(name.into()).filter(|n| !n.is_empty());
        }
        self
    }

    /// The DNS server SRV discovery asks (default: the first `nameserver`
    /// of `/etc/resolv.conf`). Only with [`discovery_srv`](Self::discovery_srv).
    pub fn dns_resolver(mut self, server: SocketAddr) -> Self {
        if let Some(d) = &mut self.cfg.discovery {
            d.resolver = Some(server);
        }
        self
    }

    /// Whether SRV discovery accepts `http://` endpoints
    /// (`_etcd-client._tcp` records); `true` by default, as etcdctl's
    /// `--insecure-discovery`. Only with [`discovery_srv`](Self::discovery_srv).
    pub fn insecure_discovery(mut self, yes: bool) -> Self {
        if let Some(d) = &mut self.cfg.discovery {
            d.insecure = yes;
        }
        self
    }

    /// How long [`connect`](Self::connect) waits for the first endpoint to
    /// answer (default 5 s). If none does, it fails with
    /// [`Error::Unavailable`](crate::Error::Unavailable) naming each endpoint.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.cfg.connect_timeout = d;
        self
    }

    /// The deadline of every call unless a handle from
    /// [`Client::with_timeout`] says otherwise (default 5 s). It covers
    /// the whole call, retries on other endpoints included.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.cfg.request_timeout = d;
        self
    }

    /// Interval of HTTP/2 keepalive pings while calls or streams are open
    /// (default 30 s). etcd's server rejects pings closer than its
    /// `--grpc-keepalive-min-time` (5 s by default): a shorter time is
    /// refused at connect unless
    /// [`server_keepalive_min_time`](Self::server_keepalive_min_time) says
    /// the servers allow it. gRPC counts it in milliseconds in 32 bits:
    /// anything longer than about 24.8 days is taken as that (never, in
    /// practice).
    pub fn keepalive_time(mut self, d: Duration) -> Self {
        self.cfg.keepalive_time = d;
        self
    }

    /// The servers' `--grpc-keepalive-min-time` (etcd's default, 5 s,
    /// unless set): etcd closes a connection whose pings come closer than
    /// that (`too_many_pings`), so [`connect`](Self::connect) refuses a
    /// [`keepalive_time`](Self::keepalive_time) below it with
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig). Lower it
    /// only for servers started with a lower minimum.
    pub fn server_keepalive_min_time(mut self, d: Duration) -> Self {
        self.cfg.server_keepalive_min_time = d;
        self
    }

    /// How long a keepalive ping may go unanswered before the connection is
    /// considered dead (default 10 s; as for
    /// [`keepalive_time`](Self::keepalive_time), at most about 24.8 days).
    pub fn keepalive_timeout(mut self, d: Duration) -> Self {
        self.cfg.keepalive_timeout = d;
        self
    }

    /// Largest request the client sends (default 2 MiB). A larger request
    /// fails with [`Error::RequestTooLarge`](crate::Error::RequestTooLarge) and is not sent.
    pub fn max_send_message_size(mut self, bytes: usize) -> Self {
        self.cfg.max_send_message_size = bytes;
        self
    }

    /// Largest response the client accepts; `None` (the default) means
    /// unlimited.
    pub fn max_receive_message_size(mut self, bytes: Option<usize>) -> Self {
        self.cfg.max_receive_message_size = bytes;
        self
    }

    /// Number of gRPC completion-queue threads (default 1). They only move
    /// bytes and wake callers; more help only under heavy concurrency.
    /// 0, or more than
    /// [`MAX_CQ_THREADS`](crate::MAX_CQ_THREADS), is
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) at connect.
    pub fn completion_queue_threads(mut self, n: usize) -> Self {
        self.cfg.cq_threads = n;
        self
    }

    /// Ask etcd to refuse unary calls on a member that has no leader
    /// (`hasleader` metadata), so a partitioned member cannot answer with
    /// stale data; the call then fails over to another endpoint, writes
    /// included: etcd refuses such a call before it looks at the request,
    /// so a write refused this way was not applied and is sent to the
    /// next member (never twice applied).
    pub fn require_leader(mut self, yes: bool) -> Self {
        self.cfg.require_leader = yes;
        self
    }

    /// Monotonic reads (default on): the client remembers the highest
    /// revision in any answer it has had (reads, writes, watch events,
    /// lease answers), and a serializable read answered by a member that
    /// is behind it (possible after a switch to a member cut off from the
    /// others, or slow to apply) is not returned. The read goes to the
    /// next member, and round again after a short backoff, until one
    /// answers at that revision or later; past the deadline it fails with
    /// [`Error::StaleRead`](crate::Error::StaleRead). This is Go's opt-in
    /// `ordering` wrapper, on by default.
    ///
    /// Cost: one atomic maximum per answer, and for serializable reads one
    /// comparison; nothing else unless a member is behind. Linearizable
    /// reads (the default) are never behind, so they are not checked.
    /// Turn it off to read a member as it is, however far behind (an
    /// operator looking at one member, say).
    pub fn monotonic_reads(mut self, yes: bool) -> Self {
        self.cfg.monotonic_reads = yes;
        self
    }

    /// TLS settings for `https://` endpoints (needs the `tls` feature).
    /// Setting them with no `https://` endpoint is an
    /// [`Error::InvalidConfig`](crate::Error::InvalidConfig) at connect,
    /// rather than a plaintext connection the caller believes protected.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use etcd_blocking::{Client, TlsOptions};
    /// let client = Client::builder(["https://etcd-0.example:2379", "https://etcd-1.example:2379"])
    ///     .tls(TlsOptions::new().ca_file("ca.pem")?)
    ///     .connect_timeout(Duration::from_secs(3))
    ///     .connect()?;
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn tls(mut self, opts: TlsOptions) -> Self {
        self.cfg.tls = Some(opts);
        self
    }

    /// Refresh the endpoint list from the cluster's member list at this
    /// interval (off by default): new members are added, removed ones
    /// dropped, learners skipped. [`Client::sync_endpoints`] does it once.
    /// A zero interval is [`Error::InvalidConfig`] at connect.
    pub fn auto_sync_interval(mut self, every: Duration) -> Self {
        self.cfg.auto_sync = Some(every);
        self
    }

    /// The share of a call's deadline that one attempt of a repeatable
    /// call (reads, lease and member queries) may use while other members
    /// remain to be tried (default 1/3). A member that does not answer in
    /// that time is passed over for the next, so one frozen member cannot
    /// eat the whole deadline. 1.0 gives every attempt the whole deadline.
    /// Writes always get the whole deadline: they are never sent twice.
    /// A call whose deadline runs out on a member (a write on a frozen
    /// member) still moves the pin on, so the next call goes elsewhere:
    /// a frozen member costs a write-only program one request timeout,
    /// not every write until HTTP/2 keepalive gives up (40 s by default).
    pub fn attempt_fraction(mut self, share: f64) -> Self {
        self.cfg.attempt_fraction = share;
        self
    }

    /// Authenticate as this user: the client logs in at connect (a wrong
    /// password is [`EtcdError::AuthFailed`](crate::EtcdError::AuthFailed)
    /// then, with no retries), attaches the token to every call and stream,
    /// and logs in again once when etcd says the token is stale.
    pub fn credentials(mut self, creds: Credentials) -> Self {
        self.cfg.credentials = Some(creds);
        self
    }

    /// Authenticate with this token, obtained elsewhere (another
    /// process's login, a secret store), instead of logging in: it is
    /// attached to every call and stream as is and never renewed, so when
    /// it expires etcd's refusal
    /// ([`EtcdError::InvalidAuthToken`](crate::EtcdError::InvalidAuthToken))
    /// reaches the caller. Not together with [`credentials`](Self::credentials).
    /// The token never appears in logs or `Debug` output. gRPC metadata
    /// carries printable ASCII only: a token with anything else (a
    /// trailing newline read from a secret file, say) is
    /// [`Error::InvalidConfig`] at connect.
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.cfg.auth_token = Some(crate::session::StaticToken(token.into()));
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
        self.cfg.watch_buffer = responses.max(1);
        self
    }

    /// Refuse servers older than etcd `major.minor` (Go's
    /// `RejectOldCluster`): [`connect`](Self::connect) asks every endpoint
    /// for its version, one after another within one more connect timeout,
    /// each with an equal share of the time left (so a frozen member cannot
    /// keep the others from being asked), and fails with
    /// [`Error::Unsupported`](crate::Error::Unsupported) naming the first
    /// that runs an older one. Members that do not answer are passed over;
    /// if none answers, `connect` fails with the last one's error.
    pub fn min_server_version(mut self, major: u32, minor: u32) -> Self {
        self.cfg.min_server_version = Some((major, minor));
        self
    }

    /// Connects: builds one connection per endpoint and waits until one of
    /// them answers. With [`discovery_srv`](Self::discovery_srv), the
    /// endpoints are looked up first.
    pub fn connect(mut self) -> Result<Client> {
        if let Some(d) = &self.cfg.discovery {
            self.cfg.endpoints = d.endpoints(self.cfg.connect_timeout)?;
        }
        Client::from_config(self.cfg)
    }

    /// What [`connect`](Self::connect) does before it dials, for the
    /// property test of `no_panic.rs`: the checks, a channel per endpoint
    /// with these settings (gRPC connects lazily: nothing is sent), the
    /// token's metadata.
    #[cfg(test)]
    pub(crate) fn dry_run(&self) -> Result<()> {
        self.cfg.validate()?;
        let channels = crate::channel::Channels::new(&self.cfg);
        let members = self
            .cfg
            .parsed_endpoints()?
            .into_iter()
            .map(|e| channels.member(e))
            .collect::<Result<Vec<_>>>()?;
        if let Some(t) = &self.cfg.auth_token {
            drop(crate::session::Session::with_token(t));
        }
        drop(members);
        if !channels.shutdown(std::time::Duration::from_secs(5)) {
            return Err(Error::ShutdownTimeout(std::time::Duration::from_secs(5)));
        }
        Ok(())
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

    /// Connects with the settings of etcdctl's environment variables:
    /// `ClientBuilder::from_env()?.connect()`; see
    /// [`ClientBuilder::from_env`].
    ///
    /// ```no_run
    /// // ETCDCTL_ENDPOINTS=https://10.0.0.1:2379 ETCDCTL_CACERT=ca.pem ...
    /// let client = etcd_blocking::Client::from_env()?;
    /// client.put("k", "v")?;
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn from_env() -> Result<Client> {
        ClientBuilder::from_env()?.connect()
    }

    /// Settings for a client, to adjust before [`ClientBuilder::connect`].
    pub fn builder<I, S>(endpoints: I) -> ClientBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ClientBuilder::new(endpoints)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

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
