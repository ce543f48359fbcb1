//! TLS against real etcd (`--features tls`): a trusted client with a client
//! certificate, an untrusted server, a missing client certificate, server
//! name checks and overrides, and TLS settings rejected before dialing.
//!
//! A throwaway PKI is made once per test binary with the `openssl` CLI
//! (Debian package `openssl`; `common::pki`, from the harness): two
//! unrelated CAs, a server certificate for `IP:127.0.0.1, DNS:localhost`, a
//! server certificate for `DNS:etcd.test` only, and a client certificate. The files live in the harness directory,
//! which goes away with the test process, as do the two etcd servers
//! (`common::ClusterBuilder::tls`, both with `--client-cert-auth`).
//!
//! Every failing connect runs on a helper thread, so a hang fails the test
//! instead of blocking it.

// Without the feature an `https://` endpoint is a config error; nothing
// here could connect.
#![cfg(feature = "tls")]

mod common;

use std::sync::{mpsc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::{Client, ClientBuilder, Error, EventType, TlsOptions};

use common::{pki, Cluster, ClusterBuilder, TlsFiles};

/// Connect timeout for connects that must fail.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How much later than the connect timeout a failing connect may return.
const SLACK: Duration = Duration::from_secs(2);
/// After this long a connect counts as hung.
const HANG: Duration = Duration::from_secs(20);
/// Connect timeout for connects that must succeed.
const GOOD_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Servers and clients
// ---------------------------------------------------------------------------

fn tls_cluster(cert: &str) -> Result<Cluster, String> {
    let pki = pki();
    ClusterBuilder::new(1)
        .tls(TlsFiles {
            cert: pki.path(&format!("{cert}.pem")),
            key: pki.path(&format!("{cert}.key")),
            ca: pki.path("ca.pem"),
            client_cert_auth: true,
        })
        .try_start()
}

/// etcd serving `server.pem` (`IP:127.0.0.1, DNS:localhost`) and requiring
/// client certificates. Shared by the tests of this binary.
fn server() -> &'static Cluster {
    static SERVER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    match SERVER.get_or_init(|| tls_cluster("server")) {
        Ok(c) => c,
        Err(e) => panic!("the TLS etcd did not start:\n{e}"),
    }
}

/// etcd serving `server-named.pem` (only `DNS:etcd.test`) and requiring
/// client certificates.
fn named_server() -> &'static Cluster {
    static SERVER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    match SERVER.get_or_init(|| tls_cluster("server-named")) {
        Ok(c) => c,
        Err(e) => panic!("the TLS etcd (DNS:etcd.test) did not start:\n{e}"),
    }
}

/// Trusts our CA and presents the client certificate (from files).
fn trusted() -> TlsOptions {
    let pki = pki();
    TlsOptions::new()
        .ca_file(pki.path("ca.pem"))
        .unwrap()
        .identity_files(pki.path("client.pem"), pki.path("client.key"))
        .unwrap()
}

/// Connects on a helper thread; panics if that takes longer than [`HANG`].
fn connect_or_hang(b: ClientBuilder) -> (Result<Client, Error>, Duration) {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let started = Instant::now();
        let r = b.connect();
        let _ = tx.send((r, started.elapsed()));
    });
    match rx.recv_timeout(HANG) {
        Ok(done) => done,
        Err(_) => panic!("connect() hung: no answer after {HANG:?}"),
    }
}

/// Connects to `endpoint` with `tls` (if any), expecting a prompt
/// [`Error::Unavailable`] that names the endpoint.
fn assert_connect_fails(endpoint: &str, tls: Option<TlsOptions>, what: &str) -> Error {
    let mut b = Client::builder([endpoint]).connect_timeout(CONNECT_TIMEOUT);
    if let Some(tls) = tls {
        b = b.tls(tls);
    }
    let (r, elapsed) = connect_or_hang(b);
    let e = match r {
        Err(e) => e,
        Ok(c) => {
            let probe = c.with_timeout(Duration::from_secs(2)).get("tls-probe");
            panic!(
                "{what}: connect to {endpoint} succeeded after {elapsed:?}; \
                 a get then gave {probe:?}"
            )
        }
    };
    eprintln!("{what}: {e} (after {elapsed:?})");
    assert!(
        elapsed < CONNECT_TIMEOUT + SLACK,
        "{what}: connect took {elapsed:?} (timeout {CONNECT_TIMEOUT:?}): {e}"
    );
    match &e {
        Error::Unavailable(causes) => {
            assert_eq!(causes.len(), 1, "{what}: {e}");
            assert_eq!(causes[0].endpoint, endpoint, "{what}: {e}");
            // The handshake failed; the channel did not just sit connecting.
            assert!(
                causes[0].cause.contains("failed"),
                "{what}: cause should say the connection failed: {e}"
            );
        }
        other => panic!("{what}: expected Error::Unavailable, got {other:?} ({other})"),
    }
    assert!(e.to_string().contains(endpoint), "{what}: {e}");
    assert!(e.is_retryable(), "{what}: {e}");
    e
}

/// A put and a get of a fresh key through `c`.
fn put_get(c: &Client, name: &str) {
    let key = format!("{}k", common::unique_prefix(name));
    let rev = c.put(&*key, "over tls").unwrap().header().revision();
    let got = c.get(&*key).unwrap();
    assert_eq!(got.kvs().len(), 1);
    assert_eq!(got.kvs()[0].value(), b"over tls");
    assert_eq!(got.kvs()[0].mod_revision(), rev);
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn trusted_client_puts_gets_and_watches_over_https() {
    let url = server().tls_client_url(0);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let c = Client::builder([&url])
        .tls(trusted())
        .connect_timeout(GOOD_CONNECT_TIMEOUT)
        .connect()
        .unwrap_or_else(|e| panic!("{e}\n{}", server().logs_report()));
    put_get(&c, "tls-kv");

    // A watch rides its own stream over the same TLS connection.
    let key = format!("{}w", common::unique_prefix("tls-watch"));
    let w = c.watch(&*key).unwrap();
    let rev = c.put(&*key, "seen").unwrap().header().revision();
    let deadline = Instant::now() + Duration::from_secs(10);
    let ev = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match w.recv_timeout(left).unwrap() {
            Some(r) if !r.events().is_empty() => break r.events()[0].clone(),
            Some(_) => continue,
            None => panic!("no watch event over TLS within 10 s"),
        }
    };
    assert_eq!(ev.event_type(), EventType::Put);
    assert_eq!(ev.kv().key(), key.as_bytes());
    assert_eq!(ev.kv().value(), b"seen");
    assert_eq!(ev.revision(), rev);
    drop(w);
    c.close().unwrap();
}

#[test]
fn untrusted_server_certificate_fails_promptly() {
    let pki = pki();
    // Our client certificate, but trusting an unrelated CA: the server's
    // certificate cannot be verified.
    let tls = TlsOptions::new()
        .ca_pem(pki.read("other-ca.pem"))
        .unwrap()
        .identity_pem(pki.read("client.pem"), pki.read("client.key"))
        .unwrap();
    let url = server().tls_client_url(0);
    let t = Instant::now();
    let e = assert_connect_fails(&url, Some(tls), "server signed by an untrusted CA");
    // A refused handshake cannot get better by waiting: connect says so
    // at once, with the TLS library's reason.
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(e.to_string().contains("certificate verify failed"), "{e}");
}

#[test]
fn missing_client_certificate_fails_promptly() {
    // The right CA, but no client certificate for `--client-cert-auth`.
    let tls = TlsOptions::new().ca_file(pki().path("ca.pem")).unwrap();
    assert_connect_fails(
        &server().tls_client_url(0),
        Some(tls),
        "no client certificate",
    );
}

#[test]
fn wrong_server_name_fails() {
    // The certificate is for 127.0.0.1/localhost, not for the name checked.
    let tls = trusted().server_name("wrong.example");
    assert_connect_fails(
        &server().tls_client_url(0),
        Some(tls),
        "server_name(wrong.example)",
    );
    // A certificate only for DNS:etcd.test, dialed as 127.0.0.1 without an
    // override.
    assert_connect_fails(
        &named_server().tls_client_url(0),
        Some(trusted()),
        "DNS:etcd.test certificate dialed as 127.0.0.1",
    );
}

#[test]
fn server_name_override_matches_the_certificate() {
    let pki = pki();
    let tls = TlsOptions::new()
        .ca_pem(pki.read("ca.pem"))
        .unwrap()
        .identity_pem(pki.read("client.pem"), pki.read("client.key"))
        .unwrap()
        .server_name("etcd.test");
    let c = Client::builder(named_server().tls_client_urls())
        .tls(tls)
        .connect_timeout(GOOD_CONNECT_TIMEOUT)
        .connect()
        .unwrap_or_else(|e| panic!("{e}\n{}", named_server().logs_report()));
    put_get(&c, "tls-server-name");
    c.close().unwrap();
}

#[test]
fn bad_tls_config_is_rejected_before_dialing() {
    let pki = pki();
    let invalid = |what: &str, r: Result<TlsOptions, Error>| match r {
        Err(Error::InvalidConfig(msg)) => msg,
        other => panic!("{what}: expected Error::InvalidConfig, got {other:?}"),
    };
    invalid("ca_pem(not pem)", TlsOptions::new().ca_pem(&b"not pem"[..]));
    let msg = invalid(
        "ca_file(/nonexistent)",
        TlsOptions::new().ca_file("/nonexistent"),
    );
    assert!(msg.contains("/nonexistent"), "{msg}");
    // A key where the certificate belongs, and the reverse.
    invalid(
        "identity_pem(key, cert)",
        TlsOptions::new().identity_pem(pki.read("client.key"), pki.read("client.pem")),
    );
    invalid(
        "identity_pem(cert, not pem)",
        TlsOptions::new().identity_pem(pki.read("client.pem"), &b"not pem"[..]),
    );
    let msg = invalid(
        "identity_files(cert, /nonexistent)",
        TlsOptions::new().identity_files(pki.path("client.pem"), "/nonexistent/client.key"),
    );
    assert!(msg.contains("/nonexistent/client.key"), "{msg}");
}

#[test]
fn https_without_tls_options_uses_system_roots_and_fails() {
    // No `.tls(..)`: the system's roots, which do not include our CA.
    assert_connect_fails(
        &server().tls_client_url(0),
        None,
        "https endpoint without TlsOptions",
    );
    // Likewise an explicit TlsOptions::new() (system roots, no identity).
    assert_connect_fails(
        &server().tls_client_url(0),
        Some(TlsOptions::new()),
        "TlsOptions::new()",
    );
}

#[test]
fn an_endpoint_without_a_scheme_is_tls_when_tls_options_are_set() {
    // As Go's clientv3: the TLS options apply to `host:port`.
    let url = server().tls_client_url(0);
    let bare = url.trim_start_matches("https://").to_string();
    let c = Client::builder([&bare])
        .tls(trusted())
        .connect_timeout(GOOD_CONNECT_TIMEOUT)
        .connect()
        .unwrap_or_else(|e| panic!("{e}\n{}", server().logs_report()));
    put_get(&c, "tls-bare");
    assert_eq!(c.endpoints(), [url]);
    // The same spelling aims a handle at that member.
    c.with_endpoint(&bare).unwrap().get("tls-bare").unwrap();
    c.close().unwrap();
}

#[test]
fn plaintext_client_on_the_tls_port_fails_promptly() {
    let url = server().tls_client_url(0);
    let plain = url.replacen("https://", "http://", 1);
    assert_connect_fails(&plain, None, "http:// on the TLS port");
    // TLS settings with only http:// endpoints would have connected in
    // plaintext: refused before dialing.
    let e = Client::builder([&plain])
        .tls(trusted())
        .connect()
        .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
}

#[test]
fn hostname_endpoint_is_checked_against_the_dns_san() {
    // `localhost` is in the certificate's SAN, so dialing it by name works.
    let url = server()
        .tls_client_url(0)
        .replacen("127.0.0.1", "localhost", 1);
    let c = Client::builder([&url])
        .tls(trusted())
        .connect_timeout(GOOD_CONNECT_TIMEOUT)
        .connect()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    put_get(&c, "tls-localhost");
    c.close().unwrap();
}

/// Input that looks like PEM but cannot be used either passes the build-time
/// check (which looks at the `BEGIN` line only) and then fails the connect
/// like any other handshake failure, or is rejected at build time; it never
/// hangs and never connects.
#[test]
fn unusable_pem_contents_fail_at_build_time_or_promptly_at_connect() {
    let pki = pki();
    let url = server().tls_client_url(0);
    let garbage_ca = b"-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n";
    let garbage_key = b"-----BEGIN PRIVATE KEY-----\nZ2FyYmFnZQ==\n-----END PRIVATE KEY-----\n";
    let cases: Vec<(&str, Result<TlsOptions, Error>)> = vec![
        (
            "CA block that is not a certificate",
            TlsOptions::new()
                .ca_pem(&garbage_ca[..])
                .and_then(|t| t.identity_pem(pki.read("client.pem"), pki.read("client.key"))),
        ),
        (
            "key block that is not a key",
            TlsOptions::new()
                .ca_pem(pki.read("ca.pem"))
                .and_then(|t| t.identity_pem(pki.read("client.pem"), &garbage_key[..])),
        ),
        (
            "client key that does not match the certificate",
            TlsOptions::new()
                .ca_pem(pki.read("ca.pem"))
                .and_then(|t| t.identity_pem(pki.read("client.pem"), pki.read("server.key"))),
        ),
    ];
    for (what, opts) in cases {
        match opts {
            Err(Error::InvalidConfig(_)) => {}
            Err(e) => panic!("{what}: expected Error::InvalidConfig, got {e:?}"),
            Ok(opts) => {
                assert_connect_fails(&url, Some(opts), what);
            }
        }
    }
}
