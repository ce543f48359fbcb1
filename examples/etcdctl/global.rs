//! The global flags and the client they configure.
//!
//! Each flag stands for the `ETCDCTL_*` variable of its name and is handed
//! to `ClientBuilder::from_env()` as that variable, so flags and variables
//! are parsed by the same code, etcdctl's way.

use clap::Args;
use etcd_blocking::{Client, ClientBuilder, Error};

use crate::exit::{bad_args, go_message, Exit, Fail, Res};

/// The global flags: each stands for the `ETCDCTL_*` variable of its name.
#[derive(Args)]
pub struct Global {
    /// gRPC endpoints (repeated: they add up, as in etcdctl)
    #[arg(long, global = true, action = clap::ArgAction::Append)]
    pub endpoints: Vec<String>,
    /// verify certificates of TLS-enabled secure servers using this CA bundle
    #[arg(long, global = true)]
    pub cacert: Option<String>,
    /// identify secure client using this TLS certificate file
    #[arg(long, global = true)]
    pub cert: Option<String>,
    /// identify secure client using this TLS key file
    // Its own id: `key` is the positional argument of get, put, ...
    #[arg(long = "key", id = "tls_key", global = true)]
    pub key: Option<String>,
    /// username[:password] for authentication
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// password for authentication
    #[arg(long, global = true)]
    pub password: Option<String>,
    /// dial timeout for client connections
    #[arg(long, global = true)]
    pub dial_timeout: Option<String>,
    /// timeout for short running command (excluding dial timeout)
    #[arg(long, global = true)]
    pub command_timeout: Option<String>,
    /// keepalive time for client connections
    #[arg(long, global = true)]
    pub keepalive_time: Option<String>,
    /// keepalive timeout for client connections
    #[arg(long, global = true)]
    pub keepalive_timeout: Option<String>,
    /// disable transport security for client connections
    #[arg(long, global = true)]
    pub insecure_transport: Option<String>,
    /// domain name to query for SRV records describing cluster endpoints
    #[arg(long, short = 'd', global = true)]
    pub discovery_srv: Option<String>,
    /// service name to query when using DNS discovery
    #[arg(long, global = true)]
    pub discovery_srv_name: Option<String>,
    /// set the output format (simple, json)
    #[arg(long, short = 'w', global = true, default_value = "simple")]
    pub write_out: String,
}

/// Hands the global flags to `from_env` as the variables they stand for.
pub fn apply_flags(g: &Global) {
    let endpoints = (!g.endpoints.is_empty()).then(|| g.endpoints.join(","));
    let flags = [
        ("ETCDCTL_ENDPOINTS", &endpoints),
        ("ETCDCTL_CACERT", &g.cacert),
        ("ETCDCTL_CERT", &g.cert),
        ("ETCDCTL_KEY", &g.key),
        ("ETCDCTL_USER", &g.user),
        ("ETCDCTL_PASSWORD", &g.password),
        ("ETCDCTL_DIAL_TIMEOUT", &g.dial_timeout),
        ("ETCDCTL_COMMAND_TIMEOUT", &g.command_timeout),
        ("ETCDCTL_KEEPALIVE_TIME", &g.keepalive_time),
        ("ETCDCTL_KEEPALIVE_TIMEOUT", &g.keepalive_timeout),
        ("ETCDCTL_INSECURE_TRANSPORT", &g.insecure_transport),
        ("ETCDCTL_DISCOVERY_SRV", &g.discovery_srv),
        ("ETCDCTL_DISCOVERY_SRV_NAME", &g.discovery_srv_name),
    ];
    for (var, value) in flags {
        if let Some(v) = value {
            // Still one thread: nothing reads the environment concurrently.
            std::env::set_var(var, v);
        }
    }
}

/// The endpoints as the user wrote them, for `endpoint status|health`.
pub fn written_endpoints() -> Vec<String> {
    std::env::var("ETCDCTL_ENDPOINTS")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "127.0.0.1:2379".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The client's configuration, from the variables and the flags.
pub fn builder() -> Res<ClientBuilder> {
    ClientBuilder::from_env().map_err(|e| bad_args(e.to_string()))
}

/// A client, or the failure etcdctl reports when it has none.
pub fn connect() -> Res<Client> {
    builder()?.connect().map_err(|e| match e {
        // etcdctl 3.4 does not fail the dial itself: its first call fails
        // with Go's words and exit code 1.
        Error::Unavailable(_) => Fail::new(Exit::Error, format!("context deadline exceeded ({e})")),
        e => Fail(Exit::BadConnection, go_message(&e)),
    })
}

/// A handle aimed at `ep` as the user wrote it (with TLS on, a written
/// `host:port` is dialed as `https://host:port`).
pub fn aim(client: &Client, ep: &str) -> Res<Client> {
    client
        .with_endpoint(ep)
        .or_else(|_| client.with_endpoint(&format!("https://{ep}")))
        .map_err(Fail::from)
}
