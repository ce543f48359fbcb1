//! `ClientBuilder::from_env` / `Client::from_env` against real etcd:
//! plain endpoints, TLS with a client certificate (endpoints without a
//! scheme, as etcdctl users write them), user and password in both of
//! etcdctl's forms, every variable read, builder calls overriding the
//! environment, and every malformed value refused with
//! `Error::InvalidConfig` naming the variable and the value.
//!
//! The process environment is global, so every test holds [`ENV`] while
//! it sets variables, and clusters are started before it does (the
//! harness reads `ETCD_*` variables when it starts etcd).

#![cfg(feature = "tls")]

mod common;

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use etcd_blocking::{Client, ClientBuilder, Error, EtcdError};

use common::{pki, Cluster, ClusterBuilder, TlsFiles};

/// Every `ETCDCTL_*` variable `from_env` reads.
const VARS: &[&str] = &[
    "ETCDCTL_ENDPOINTS",
    "ETCDCTL_CACERT",
    "ETCDCTL_CERT",
    "ETCDCTL_KEY",
    "ETCDCTL_USER",
    "ETCDCTL_PASSWORD",
    "ETCDCTL_DIAL_TIMEOUT",
    "ETCDCTL_COMMAND_TIMEOUT",
    "ETCDCTL_KEEPALIVE_TIME",
    "ETCDCTL_KEEPALIVE_TIMEOUT",
    "ETCDCTL_INSECURE_TRANSPORT",
    "ETCDCTL_INSECURE_SKIP_TLS_VERIFY",
    "ETCDCTL_INSECURE_DISCOVERY",
    "ETCDCTL_DISCOVERY_SRV",
    "ETCDCTL_DISCOVERY_SRV_NAME",
];

static ENV: Mutex<()> = Mutex::new(());

/// The environment set to exactly `vars` (other `ETCDCTL_*` removed) until
/// the guard drops.
struct EnvGuard<'a> {
    _lock: MutexGuard<'a, ()>,
}

fn set_env(vars: &[(&str, &str)]) -> EnvGuard<'static> {
    let lock = ENV.lock().unwrap_or_else(|p| p.into_inner());
    clear();
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    EnvGuard { _lock: lock }
}

fn clear() {
    for k in VARS {
        std::env::remove_var(k);
    }
}

impl Drop for EnvGuard<'_> {
    fn drop(&mut self) {
        clear();
    }
}

fn plain() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| Cluster::start(1))
}

fn tls_server() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| {
        let pki = pki();
        ClusterBuilder::new(1)
            .tls(TlsFiles {
                cert: pki.path("server.pem"),
                key: pki.path("server.key"),
                ca: pki.path("ca.pem"),
                client_cert_auth: true,
            })
            .start()
    })
}

/// A server with auth on and a root user `root` / `rootpw`.
fn secured() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| {
        let cluster = Cluster::start(1);
        let admin = Client::connect(cluster.endpoints()).unwrap();
        admin.user_add("root", "rootpw").unwrap();
        admin.user_grant_role("root", "root").unwrap();
        admin.auth_enable().unwrap();
        admin.close().unwrap();
        cluster
    })
}

fn put_get(c: &Client, key: &str) {
    let key = format!("{}{key}", common::unique_prefix("env"));
    c.put(&*key, "from env").unwrap();
    let got = c.get(&*key).unwrap();
    assert_eq!(got.kvs()[0].value(), b"from env");
}

fn invalid(r: Result<ClientBuilder, Error>) -> String {
    match r {
        Err(Error::InvalidConfig(m)) => m,
        Err(e) => panic!("expected Error::InvalidConfig, got {e:?}"),
        Ok(b) => panic!("expected Error::InvalidConfig, got {b:?}"),
    }
}

#[test]
fn plain_endpoints_and_timeouts() {
    let c = plain();
    // A dead endpoint first: the list is comma-separated, with spaces.
    let eps = format!("127.0.0.1:1, {}", c.endpoint(0));
    let _env = set_env(&[
        ("ETCDCTL_ENDPOINTS", &eps),
        ("ETCDCTL_DIAL_TIMEOUT", "3s"),
        ("ETCDCTL_COMMAND_TIMEOUT", "1m30s"),
        ("ETCDCTL_KEEPALIVE_TIME", "20s"),
        ("ETCDCTL_KEEPALIVE_TIMEOUT", "250ms"),
        ("ETCDCTL_INSECURE_TRANSPORT", "true"),
        ("ETCDCTL_INSECURE_DISCOVERY", "false"),
    ]);
    let client = Client::from_env().unwrap();
    assert_eq!(client.timeout(), Duration::from_secs(90));
    assert_eq!(
        client.endpoints(),
        ["http://127.0.0.1:1".to_string(), c.client_url(0)]
    );
    put_get(&client, "plain");
    // The settings that cannot be observed through a client, through the
    // builder's Debug.
    let dbg = format!("{:?}", ClientBuilder::from_env().unwrap());
    for want in [
        "connect_timeout: 3s",
        "request_timeout: 90s",
        "keepalive_time: 20s",
        "keepalive_timeout: 250ms",
        "tls: None",
        "discovery: None",
    ] {
        assert!(dbg.contains(want), "{want} not in {dbg}");
    }
    client.close().unwrap();
}

#[test]
fn defaults_are_etcdctls() {
    let _env = set_env(&[]);
    let dbg = format!("{:?}", ClientBuilder::from_env().unwrap());
    for want in [
        "endpoints: [\"127.0.0.1:2379\"]",
        "connect_timeout: 2s",
        "request_timeout: 5s",
        // etcdctl's 2 s, raised to Go gRPC's 10 s floor.
        "keepalive_time: 10s",
        "keepalive_timeout: 6s",
        "credentials: None",
    ] {
        assert!(dbg.contains(want), "{want} not in {dbg}");
    }
    // Nothing listens on 127.0.0.1:2379 here (the harness uses other
    // ports): the 2 s dial timeout applies.
    let t = std::time::Instant::now();
    let e = Client::from_env().unwrap_err();
    assert!(matches!(e, Error::Unavailable(_)), "{e}");
    assert!(e.to_string().contains("127.0.0.1:2379"), "{e}");
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[test]
fn tls_with_client_certificate() {
    let server = tls_server();
    let pki = pki();
    // No scheme, as etcdctl users write it: with certificates set, it is
    // dialed with TLS.
    let ep = server
        .tls_client_url(0)
        .trim_start_matches("https://")
        .to_string();
    let (ca, cert, key) = (
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client.key"),
    );
    let (ca, cert, key) = (
        ca.to_str().unwrap(),
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
    );
    let _env = set_env(&[
        ("ETCDCTL_ENDPOINTS", &ep),
        ("ETCDCTL_CACERT", ca),
        ("ETCDCTL_CERT", cert),
        ("ETCDCTL_KEY", key),
        ("ETCDCTL_DIAL_TIMEOUT", "10s"),
    ]);
    let client = Client::from_env().unwrap_or_else(|e| panic!("{e}\n{}", server.logs_report()));
    assert_eq!(client.endpoints(), [format!("https://{ep}")]);
    put_get(&client, "tls");
    client.close().unwrap();

    // Without the client certificate the server refuses the handshake.
    drop(_env);
    let _env = set_env(&[
        ("ETCDCTL_ENDPOINTS", &ep),
        ("ETCDCTL_CACERT", ca),
        ("ETCDCTL_DIAL_TIMEOUT", "2s"),
    ]);
    let e = Client::from_env().unwrap_err();
    assert!(matches!(e, Error::Unavailable(_)), "{e}");

    // ETCDCTL_INSECURE_TRANSPORT=false without a CA: TLS with the system's
    // roots, which do not know our CA.
    drop(_env);
    let _env = set_env(&[
        ("ETCDCTL_ENDPOINTS", &ep),
        ("ETCDCTL_INSECURE_TRANSPORT", "false"),
        ("ETCDCTL_DIAL_TIMEOUT", "2s"),
    ]);
    // (That a bare endpoint is dialed with TLS is shown above.)
    let b = ClientBuilder::from_env().unwrap();
    assert!(format!("{b:?}").contains(&ep), "{b:?}");
    let e = b.connect().unwrap_err();
    assert!(matches!(e, Error::Unavailable(_)), "{e}");
}

#[test]
fn user_and_password() {
    let server = secured();
    let ep = server.endpoint(0);
    for vars in [
        vec![("ETCDCTL_USER", "root:rootpw")],
        vec![("ETCDCTL_USER", "root"), ("ETCDCTL_PASSWORD", "rootpw")],
    ] {
        let mut vars = vars;
        vars.push(("ETCDCTL_ENDPOINTS", &ep));
        let _env = set_env(&vars);
        let client = Client::from_env().unwrap_or_else(|e| panic!("{vars:?}: {e}"));
        put_get(&client, "auth");
        client.close().unwrap();
    }
    // A wrong password fails at connect, typed; its text never shows.
    let _env = set_env(&[("ETCDCTL_USER", "root:n0tIt"), ("ETCDCTL_ENDPOINTS", &ep)]);
    let e = Client::from_env().unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::AuthFailed)), "{e}");
    assert!(!format!("{e} {e:?}").contains("n0tIt"));
    assert!(!format!("{:?}", ClientBuilder::from_env().unwrap()).contains("n0tIt"));
    drop(_env);
    // No user: etcd refuses the call.
    let _env = set_env(&[("ETCDCTL_ENDPOINTS", &ep)]);
    let client = Client::from_env().unwrap();
    let e = client.get("k").unwrap_err();
    assert!(matches!(e, Error::Etcd(_)), "{e}");
}

#[test]
fn builder_calls_override_the_environment() {
    let c = plain();
    let _env = set_env(&[
        ("ETCDCTL_ENDPOINTS", "127.0.0.1:1"),
        ("ETCDCTL_COMMAND_TIMEOUT", "7s"),
        ("ETCDCTL_DISCOVERY_SRV", "etcd.invalid"),
    ]);
    let client = ClientBuilder::from_env()
        .unwrap()
        .endpoints(c.endpoints())
        .request_timeout(Duration::from_secs(3))
        .connect()
        .unwrap();
    assert_eq!(client.timeout(), Duration::from_secs(3));
    assert_eq!(client.endpoints(), c.client_urls());
    put_get(&client, "override");
    // rediscover needs discovery, which `.endpoints(..)` turned off.
    assert!(matches!(client.rediscover(), Err(Error::InvalidConfig(_))));
    client.close().unwrap();
}

#[test]
fn every_malformed_value_is_a_typed_error_naming_it() {
    let cases = [
        ("ETCDCTL_ENDPOINTS", "localhost"),
        ("ETCDCTL_ENDPOINTS", "127.0.0.1:2379,ftp://h:1"),
        ("ETCDCTL_ENDPOINTS", "\"127.0.0.1:2379"),
        ("ETCDCTL_CACERT", "/nonexistent/ca.pem"),
        ("ETCDCTL_CERT", "/nonexistent/client.pem"),
        ("ETCDCTL_KEY", "/nonexistent/client.key"),
        ("ETCDCTL_DIAL_TIMEOUT", "5"),
        ("ETCDCTL_DIAL_TIMEOUT", "-1s"),
        ("ETCDCTL_COMMAND_TIMEOUT", "five seconds"),
        ("ETCDCTL_COMMAND_TIMEOUT", "0s"),
        ("ETCDCTL_KEEPALIVE_TIME", "10x"),
        ("ETCDCTL_KEEPALIVE_TIMEOUT", "1.5.s"),
        ("ETCDCTL_INSECURE_TRANSPORT", "yes"),
        ("ETCDCTL_INSECURE_DISCOVERY", "nope"),
        ("ETCDCTL_DISCOVERY_SRV", "not a domain"),
        ("ETCDCTL_DISCOVERY_SRV_NAME", "orphan"),
    ];
    for (var, value) in cases {
        let _env = set_env(&[(var, value)]);
        let m = invalid(ClientBuilder::from_env());
        assert!(m.contains(var), "{var}={value}: {m}");
        assert!(m.contains(&format!("{value:?}")), "{var}={value}: {m}");
        // The shortcut fails the same way, before dialing anything.
        assert!(
            matches!(Client::from_env(), Err(Error::InvalidConfig(_))),
            "{var}={value}"
        );
    }
    // A file that is not PEM names the variable and the path.
    let pki = pki();
    let key = pki.path("client.key");
    let key = key.to_str().unwrap();
    let _env = set_env(&[("ETCDCTL_CACERT", key)]);
    let m = invalid(ClientBuilder::from_env());
    assert!(m.contains("ETCDCTL_CACERT") && m.contains(key), "{m}");
    drop(_env);
    // Half a client identity.
    let cert = pki.path("client.pem");
    let _env = set_env(&[("ETCDCTL_CERT", cert.to_str().unwrap())]);
    let m = invalid(ClientBuilder::from_env());
    assert!(
        m.contains("ETCDCTL_CERT") && m.contains("ETCDCTL_KEY"),
        "{m}"
    );
    drop(_env);
    // User errors never quote the value: it may hold the password.
    for vars in [
        vec![("ETCDCTL_USER", ":s3cret")],
        vec![("ETCDCTL_PASSWORD", "s3cret")],
        vec![("ETCDCTL_USER", "root")],
    ] {
        let _env = set_env(&vars);
        let m = invalid(ClientBuilder::from_env());
        assert!(
            m.contains("ETCDCTL_USER") || m.contains("ETCDCTL_PASSWORD"),
            "{m}"
        );
        assert!(!m.contains("s3cret"), "{m}");
    }
    let _env = set_env(&[("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "true")]);
    let m = invalid(ClientBuilder::from_env());
    assert!(m.contains("ETCDCTL_INSECURE_SKIP_TLS_VERIFY"), "{m}");
}
