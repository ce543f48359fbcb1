//! The client's settings as a plain value, with every default as a named
//! constant. [`ClientBuilder`](crate::ClientBuilder) is the user's way to
//! make one; the layers below the client handle (session, channels,
//! transport, pump) take this value, or the few fields they need, and
//! never the builder.

use std::time::Duration;

use crate::discovery::SrvDiscovery;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::session::{self, Credentials, StaticToken};
use crate::tls::TlsOptions;

/// Default for [`ClientBuilder::request_timeout`](crate::ClientBuilder::request_timeout).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`ClientBuilder::connect_timeout`](crate::ClientBuilder::connect_timeout).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`ClientBuilder::keepalive_time`](crate::ClientBuilder::keepalive_time).
pub const DEFAULT_KEEPALIVE_TIME: Duration = Duration::from_secs(30);
/// Default for [`ClientBuilder::keepalive_timeout`](crate::ClientBuilder::keepalive_timeout).
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`ClientBuilder::server_keepalive_min_time`](crate::ClientBuilder::server_keepalive_min_time):
/// etcd's own default `--grpc-keepalive-min-time`.
pub const DEFAULT_SERVER_KEEPALIVE_MIN_TIME: Duration = Duration::from_secs(5);
/// Default for [`ClientBuilder::max_send_message_size`](crate::ClientBuilder::max_send_message_size):
/// 2 MiB, as the Go client (etcd's own request limit is 1.5 MiB by
/// default).
pub const DEFAULT_MAX_SEND_MESSAGE_SIZE: usize = 2 * 1024 * 1024;
/// Default for [`ClientBuilder::attempt_fraction`](crate::ClientBuilder::attempt_fraction).
pub const DEFAULT_ATTEMPT_FRACTION: f64 = 1.0 / 3.0;
/// Default for [`WatchOptions::buffer`](crate::WatchOptions::buffer) and
/// [`ClientBuilder::watch_buffer`](crate::ClientBuilder::watch_buffer).
pub const DEFAULT_WATCH_BUFFER: usize = 1024;
/// Default for [`ClientBuilder::completion_queue_threads`](crate::ClientBuilder::completion_queue_threads).
pub const DEFAULT_CQ_THREADS: usize = 1;
/// Most completion-queue threads a client may ask for
/// ([`ClientBuilder::completion_queue_threads`](crate::ClientBuilder::completion_queue_threads)):
/// gRPC starts them all at connect, and cannot report a failed start.
pub const MAX_CQ_THREADS: usize = 256;

/// Every setting of a client.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub endpoints: Vec<String>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub keepalive_time: Duration,
    pub keepalive_timeout: Duration,
    /// The servers' `--grpc-keepalive-min-time`: pings closer than this
    /// get the connection closed with `too_many_pings`.
    pub server_keepalive_min_time: Duration,
    pub max_send_message_size: usize,
    /// `None`: unlimited.
    pub max_receive_message_size: Option<usize>,
    pub cq_threads: usize,
    pub require_leader: bool,
    /// Serializable reads answered behind the highest revision seen are
    /// retried elsewhere (monotonic reads).
    pub monotonic_reads: bool,
    pub tls: Option<TlsOptions>,
    pub watch_buffer: usize,
    pub credentials: Option<Credentials>,
    /// A token to use as is, instead of logging in.
    pub auth_token: Option<StaticToken>,
    pub attempt_fraction: f64,
    /// Endpoint auto-sync interval; `None`: off.
    pub auto_sync: Option<Duration>,
    /// The oldest etcd (major, minor) the client accepts at connect.
    pub min_server_version: Option<(u32, u32)>,
    /// DNS SRV discovery: when set, [`connect`](crate::ClientBuilder::connect)
    /// takes the endpoints from these records instead of `endpoints`.
    pub discovery: Option<SrvDiscovery>,
}

impl Config {
    /// The defaults, for these endpoints.
    pub fn new(endpoints: Vec<String>) -> Config {
        Config {
            endpoints,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            keepalive_time: DEFAULT_KEEPALIVE_TIME,
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
            server_keepalive_min_time: DEFAULT_SERVER_KEEPALIVE_MIN_TIME,
            max_send_message_size: DEFAULT_MAX_SEND_MESSAGE_SIZE,
            max_receive_message_size: None,
            cq_threads: DEFAULT_CQ_THREADS,
            require_leader: false,
            monotonic_reads: true,
            tls: None,
            watch_buffer: DEFAULT_WATCH_BUFFER,
            credentials: None,
            auth_token: None,
            attempt_fraction: DEFAULT_ATTEMPT_FRACTION,
            auto_sync: None,
            min_server_version: None,
            discovery: None,
        }
    }

    /// The endpoints, parsed; an empty list or a malformed endpoint is
    /// [`Error::InvalidConfig`].
    pub fn parsed_endpoints(&self) -> Result<Vec<Endpoint>> {
        if self.endpoints.is_empty() {
            return Err(Error::InvalidConfig("no endpoints given".into()));
        }
        self.endpoints
            .iter()
            .map(|e| self.parse_endpoint(e))
            .collect()
    }

    /// One endpoint as this configuration dials it. Without a scheme it is
    /// TLS when TLS options are set and plain text otherwise, as Go's
    /// clientv3 and etcdctl dial it; `http://` is always plain text.
    pub fn parse_endpoint(&self, e: &str) -> Result<Endpoint> {
        if self.tls.is_some() && !e.contains("://") {
            Endpoint::parse(&format!("https://{e}"))
        } else {
            Endpoint::parse(e)
        }
    }

    /// Refuses settings that cannot work, before anything is dialed.
    pub fn validate(&self) -> Result<()> {
        let endpoints = self.parsed_endpoints()?;
        if self.credentials.is_some() && self.auth_token.is_some() {
            return Err(Error::InvalidConfig(
                "give credentials or a token, not both".into(),
            ));
        }
        if self.tls.is_some() && !endpoints.iter().any(|e| e.is_tls()) {
            // Without this the client would connect in plaintext and the
            // caller would believe it was protected.
            return Err(Error::InvalidConfig(
                "TLS options are set but no endpoint is https://".into(),
            ));
        }
        if self.keepalive_time < self.server_keepalive_min_time {
            return Err(Error::InvalidConfig(format!(
                "keepalive time {:?} is below the servers' minimum of {:?}: etcd would close \
                 the connection (too_many_pings); raise it, or declare a lower server \
                 --grpc-keepalive-min-time with server_keepalive_min_time",
                self.keepalive_time, self.server_keepalive_min_time
            )));
        }
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
        if self.cq_threads == 0 || self.cq_threads > MAX_CQ_THREADS {
            return Err(Error::InvalidConfig(format!(
                "completion queue threads must be 1 to {MAX_CQ_THREADS}, not {}",
                self.cq_threads
            )));
        }
        if self.auto_sync.is_some_and(|d| d.is_zero()) {
            return Err(Error::InvalidConfig(
                "auto-sync interval must be positive".into(),
            ));
        }
        if let Some(t) = &self.auth_token {
            session::check_token(&t.0)
                .map_err(|why| Error::InvalidConfig(format!("auth token: {why}")))?;
        }
        if let Some(tls) = &self.tls {
            tls.validate()?;
        }
        if self.max_send_message_size == 0 {
            return Err(Error::InvalidConfig(
                "max send message size must be positive".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused() {
        assert!(matches!(
            Config::new(Vec::new()).validate(),
            Err(Error::InvalidConfig(_))
        ));
        assert!(matches!(
            Config::new(vec!["localhost".into()]).validate(),
            Err(Error::InvalidConfig(_))
        ));
        let mut c = Config::new(vec!["127.0.0.1:2379".into()]);
        assert!(c.validate().is_ok());
        c.request_timeout = Duration::ZERO;
        assert!(matches!(c.validate(), Err(Error::InvalidConfig(_))));
        let mut c = Config::new(vec!["127.0.0.1:2379".into()]);
        c.cq_threads = 0;
        assert!(matches!(c.validate(), Err(Error::InvalidConfig(_))));
        c.cq_threads = 1;
        c.attempt_fraction = 1.5;
        assert!(matches!(c.validate(), Err(Error::InvalidConfig(_))));
    }

    #[test]
    fn settings_the_server_would_refuse_are_refused() {
        let mut c = Config::new(vec!["127.0.0.1:2379".into()]);
        c.keepalive_time = Duration::from_secs(1);
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("too_many_pings"), "{e}");
        c.server_keepalive_min_time = Duration::from_secs(1);
        assert!(c.validate().is_ok());

        let mut c = Config::new(vec!["http://127.0.0.1:2379".into()]);
        c.tls = Some(TlsOptions::new());
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("https"), "{e}");
        c.endpoints.push("https://127.0.0.1:2380".into());
        assert!(c.validate().is_ok());
        // Without a scheme: TLS with TLS options, plain text without.
        c.endpoints = vec!["127.0.0.1:2379".into()];
        assert!(c.parsed_endpoints().unwrap()[0].is_tls());
        c.tls = None;
        assert!(!c.parsed_endpoints().unwrap()[0].is_tls());
    }
}
