//! The global flags and the client they configure.
//!
//! Each flag stands for the `ETCDCTL_*` variable of its name and is handed
//! to `ClientBuilder::from_env()` as that variable, so flags and variables
//! are parsed by the same code, etcdctl's way.

use clap::Args;
use etcd_blocking::{Client, ClientBuilder, Error};

use crate::exit::{go_message, go_message_with_cause, Exit, Fail, Res};

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

/// Each global flag, the `ETCDCTL_*` variable it stands for, and the exit
/// code for a value the client's configuration refuses: etcdctl's TLS
/// files are loaded when its client is made (`ExitBadArgs`); the other
/// values are parsed by cobra (a flag: its error, exit 1) or ignored (a
/// variable: here an error naming it, exit 1 too).
const FLAGS: &[(&str, &str, Exit)] = &[
    ("--endpoints", "ETCDCTL_ENDPOINTS", Exit::Error),
    ("--cacert", "ETCDCTL_CACERT", Exit::BadArgs),
    ("--cert", "ETCDCTL_CERT", Exit::BadArgs),
    ("--key", "ETCDCTL_KEY", Exit::BadArgs),
    ("--user", "ETCDCTL_USER", Exit::Error),
    ("--password", "ETCDCTL_PASSWORD", Exit::Error),
    ("--dial-timeout", "ETCDCTL_DIAL_TIMEOUT", Exit::Error),
    ("--command-timeout", "ETCDCTL_COMMAND_TIMEOUT", Exit::Error),
    ("--keepalive-time", "ETCDCTL_KEEPALIVE_TIME", Exit::Error),
    (
        "--keepalive-timeout",
        "ETCDCTL_KEEPALIVE_TIMEOUT",
        Exit::Error,
    ),
    (
        "--insecure-transport",
        "ETCDCTL_INSECURE_TRANSPORT",
        Exit::Error,
    ),
    ("--discovery-srv", "ETCDCTL_DISCOVERY_SRV", Exit::Error),
    (
        "--discovery-srv-name",
        "ETCDCTL_DISCOVERY_SRV_NAME",
        Exit::Error,
    ),
];

/// The variables set from a flag (a refused value is then the flag's).
static FROM_FLAGS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();

/// Hands the global flags to `from_env` as the variables they stand for.
pub fn apply_flags(g: &Global) {
    let endpoints = (!g.endpoints.is_empty()).then(|| g.endpoints.join(","));
    let values = [
        &endpoints,
        &g.cacert,
        &g.cert,
        &g.key,
        &g.user,
        &g.password,
        &g.dial_timeout,
        &g.command_timeout,
        &g.keepalive_time,
        &g.keepalive_timeout,
        &g.insecure_transport,
        &g.discovery_srv,
        &g.discovery_srv_name,
    ];
    let mut given = Vec::new();
    for ((_, var, _), value) in FLAGS.iter().zip(values) {
        if let Some(v) = value {
            // Still one thread: nothing reads the environment concurrently.
            std::env::set_var(var, v);
            given.push(*var);
        }
    }
    let _ = FROM_FLAGS.set(given);
}

/// A configuration the client refuses: the exit code of the flag or
/// variable at fault, and the flag named as pflag names it when the
/// value came from one. `Error::InvalidConfig` carries its text only, in
/// which `from_env` always names the variable (`… for ETCDCTL_X: …`):
/// that name is what is looked for, nothing else of the wording.
fn refused(e: &Error) -> Fail {
    let msg = e.to_string();
    let at_fault = FLAGS
        .iter()
        .find(|(_, var, _)| msg.contains(&format!(" for {var}:")));
    let Some((flag, var, code)) = at_fault else {
        return Fail(Exit::BadArgs, msg);
    };
    let from_flag = FROM_FLAGS.get().is_some_and(|g| g.contains(var));
    if !from_flag {
        return Fail(*code, msg);
    }
    let msg = msg
        .replacen("invalid value", "invalid argument", 1)
        .replacen(
            &format!(" for {var}:"),
            &format!(" for \"{flag}\" flag:"),
            1,
        );
    Fail(*code, msg)
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
    ClientBuilder::from_env().map_err(|e| refused(&e))
}

/// A client, or the failure etcdctl reports when it has none.
pub fn connect() -> Res<Client> {
    builder()?.connect().map_err(|e| match e {
        // etcdctl 3.4 does not fail the dial itself: its first call fails
        // with Go's words and exit code 1.
        Error::Unavailable(_) => Fail::new(Exit::Error, go_message_with_cause(&e)),
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
