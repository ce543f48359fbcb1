//! DNS SRV discovery (`--features discovery-srv`) against a real DNS
//! server on loopback: Debian's dnsmasq (`common::DnsServer`) serving SRV
//! records for `*.test` domains that point at real etcd servers, plain and
//! TLS. Covers etcdctl's record names (with and without a service name),
//! SRV priority order, `from_env` with `ETCDCTL_DISCOVERY_SRV`,
//! `rediscover`, and the errors: a domain without records, only `http`
//! records when insecure discovery is off, and a DNS server that does not
//! answer.

#![cfg(all(feature = "tls", feature = "discovery-srv"))]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use etcd_blocking::{Client, ClientBuilder, Error};

use common::{pki, Cluster, ClusterBuilder, DnsServer, SrvRecord, TlsFiles};

struct World {
    plain: Cluster,
    tls: Cluster,
    /// A loopback port nothing listens on.
    dead_port: u16,
    dns: DnsServer,
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let plain = Cluster::start(1);
        let pki = pki();
        let tls = ClusterBuilder::new(1)
            .tls(TlsFiles {
                cert: pki.path("server.pem"),
                key: pki.path("server.key"),
                ca: pki.path("ca.pem"),
                client_cert_auth: true,
            })
            .start();
        let dead_port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let plain_port = port_of(&plain.client_url(0));
        let tls_port = port_of(&tls.tls_client_url(0));
        let mut low = SrvRecord::new("_etcd-client._tcp.multi.test", "localhost", dead_port);
        low.priority = 10;
        let records = [
            SrvRecord::new("_etcd-client._tcp.plain.test", "localhost", plain_port),
            SrvRecord::new("_etcd-client-ssl._tcp.tls.test", "localhost", tls_port),
            SrvRecord::new("_etcd-client-prod._tcp.named.test", "localhost", plain_port),
            low,
            SrvRecord::new("_etcd-client._tcp.multi.test", "localhost", plain_port),
        ];
        let dns = DnsServer::start(
            &records,
            &[
                "plain.test",
                "tls.test",
                "named.test",
                "multi.test",
                "empty.test",
            ],
        );
        World {
            plain,
            tls,
            dead_port,
            dns,
        }
    })
}

fn srv(domain: &str) -> ClientBuilder {
    ClientBuilder::new(Vec::<String>::new())
        .discovery_srv(domain)
        .dns_resolver(world().dns.addr())
        .connect_timeout(Duration::from_secs(5))
}

fn put_get(c: &Client, key: &str) {
    let key = format!("{}{key}", common::unique_prefix("srv"));
    c.put(&*key, "found by SRV").unwrap();
    assert_eq!(c.get(&*key).unwrap().kvs()[0].value(), b"found by SRV");
}

#[test]
fn plain_records_give_http_endpoints() {
    let w = world();
    let c = srv("plain.test").connect().unwrap();
    let port = port_of(&w.plain.client_url(0));
    assert_eq!(c.endpoints(), [format!("http://localhost:{port}")]);
    put_get(&c, "plain");
    c.close().unwrap();
}

#[test]
fn ssl_records_give_https_endpoints() {
    let w = world();
    let pki = pki();
    let tls = etcd_blocking::TlsOptions::new()
        .ca_file(pki.path("ca.pem"))
        .unwrap()
        .identity_files(pki.path("client.pem"), pki.path("client.key"))
        .unwrap();
    let c = srv("tls.test")
        .tls(tls)
        .connect()
        .unwrap_or_else(|e| panic!("{e}\n{}", w.tls.logs_report()));
    let port = port_of(&w.tls.tls_client_url(0));
    assert_eq!(c.endpoints(), [format!("https://localhost:{port}")]);
    put_get(&c, "tls");
    c.close().unwrap();
}

#[test]
fn service_name_suffix() {
    let c = srv("named.test")
        .discovery_srv_name("prod")
        .connect()
        .unwrap();
    put_get(&c, "named");
    c.close().unwrap();
    // Without the name, the domain has no records.
    let e = srv("named.test").connect().unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
}

#[test]
fn records_in_priority_order() {
    let w = world();
    let c = srv("multi.test").connect().unwrap();
    let plain_port = port_of(&w.plain.client_url(0));
    assert_eq!(
        c.endpoints(),
        [
            format!("http://localhost:{plain_port}"),
            format!("http://localhost:{}", w.dead_port)
        ]
    );
    put_get(&c, "multi");
    c.close().unwrap();
}

#[test]
fn from_env_with_discovery_and_client_certificates() {
    let w = world();
    let pki = pki();
    // The only test here that touches the environment.
    for (k, v) in [
        ("ETCDCTL_DISCOVERY_SRV", "tls.test".to_string()),
        ("ETCDCTL_CACERT", pki.path("ca.pem").display().to_string()),
        ("ETCDCTL_CERT", pki.path("client.pem").display().to_string()),
        ("ETCDCTL_KEY", pki.path("client.key").display().to_string()),
        ("ETCDCTL_DIAL_TIMEOUT", "5s".to_string()),
    ] {
        std::env::set_var(k, v);
    }
    let b = ClientBuilder::from_env();
    for k in [
        "ETCDCTL_DISCOVERY_SRV",
        "ETCDCTL_CACERT",
        "ETCDCTL_CERT",
        "ETCDCTL_KEY",
        "ETCDCTL_DIAL_TIMEOUT",
    ] {
        std::env::remove_var(k);
    }
    let c = b
        .unwrap()
        .dns_resolver(w.dns.addr())
        .connect()
        .unwrap_or_else(|e| panic!("{e}\n{}", w.tls.logs_report()));
    put_get(&c, "env");
    c.close().unwrap();
}

#[test]
fn rediscover_restores_the_listed_endpoints() {
    let w = world();
    let c = srv("plain.test").connect().unwrap();
    let listed = c.endpoints();
    c.set_endpoints([w.tls.tls_client_url(0)]).unwrap();
    assert_eq!(c.endpoints(), [w.tls.tls_client_url(0)]);
    assert_eq!(c.rediscover().unwrap(), listed);
    assert_eq!(c.endpoints(), listed);
    put_get(&c, "rediscover");
    c.close().unwrap();
}

#[test]
fn a_domain_without_records_is_a_clear_error() {
    let t = Instant::now();
    let e = srv("empty.test").connect().unwrap_err();
    let msg = match &e {
        Error::InvalidConfig(m) => m.clone(),
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    // Promptly, not after some long timeout (loose: the suite runs tests
    // side by side on two cores).
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    for want in [
        "empty.test",
        "_etcd-client-ssl._tcp.empty.test",
        "_etcd-client._tcp.empty.test",
        "NXDOMAIN",
    ] {
        assert!(msg.contains(want), "{want} not in {msg}");
    }
}

#[test]
fn only_http_records_without_insecure_discovery() {
    let e = srv("plain.test")
        .insecure_discovery(false)
        .connect()
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidConfig(m) if m.contains("http")),
        "{e}"
    );
}

#[test]
fn a_silent_dns_server_is_unavailable() {
    // A UDP socket that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = silent.local_addr().unwrap();
    let t = Instant::now();
    let e = ClientBuilder::new(Vec::<String>::new())
        .discovery_srv("plain.test")
        .dns_resolver(addr)
        .connect_timeout(Duration::from_millis(1500))
        .connect()
        .unwrap_err();
    assert!(matches!(e, Error::Unavailable(_)), "{e}");
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
    // Both names within the connect timeout, as documented (a timeout per
    // name took 3 s), plus slack for a busy machine.
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
}

#[test]
fn without_the_builder_setting_nothing_is_looked_up() {
    // dns_resolver and friends only refine discovery_srv.
    let b = ClientBuilder::new(world().plain.endpoints()).dns_resolver(world().dns.addr());
    assert!(format!("{b:?}").contains("discovery: None"));
    let c = b.connect().unwrap();
    put_get(&c, "nodiscovery");
}
