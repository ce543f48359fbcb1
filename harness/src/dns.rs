//! A throwaway DNS server serving SRV records on loopback: Debian's
//! `dnsmasq` (package `dnsmasq-base`, which has no service of its own)
//! run as a guarded child on `127.0.0.1` and a reserved port, answering
//! only from the records it was given (no upstream, no `/etc/hosts`).
//! Depends on `std` and the rest of this crate.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ports::{reserve_port, PortGuard};
use crate::process::{harness_root, lock, spawn_guarded};

/// One SRV record: `_service._proto.domain` → `target:port`.
#[derive(Clone, Debug)]
pub struct SrvRecord {
    /// The full owner name, e.g. `_etcd-client._tcp.etcd.test`.
    pub name: String,
    /// The host the record points at (e.g. `localhost`).
    pub target: String,
    /// The port it points at.
    pub port: u16,
    /// SRV priority (lower first).
    pub priority: u16,
    /// SRV weight.
    pub weight: u16,
}

impl SrvRecord {
    /// A record with priority and weight 0.
    pub fn new(name: impl Into<String>, target: impl Into<String>, port: u16) -> SrvRecord {
        SrvRecord {
            name: name.into(),
            target: target.into(),
            port,
            priority: 0,
            weight: 0,
        }
    }
}

/// A running dnsmasq; dropping it kills and reaps it.
pub struct DnsServer {
    child: Mutex<Child>,
    addr: SocketAddr,
    _port: PortGuard,
}

impl DnsServer {
    /// Starts dnsmasq serving `records`, authoritative (`--local`) for
    /// every domain in `local_domains`: names there without records are
    /// answered NXDOMAIN at once instead of being forwarded. Panics with
    /// an install hint when dnsmasq is missing, and with its output when
    /// it does not start.
    pub fn start(records: &[SrvRecord], local_domains: &[&str]) -> DnsServer {
        let bin = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!("dnsmasq not found: install the Debian package dnsmasq-base (scripts/install-deps.sh does)")
            });
        let mut last_err = String::new();
        for _ in 0..4 {
            let port = reserve_port();
            let root = harness_root();
            let pid_file = root.join(format!("dnsmasq-{}.pid", port.port));
            let log_path = root.join(format!("dnsmasq-{}.log", port.port));
            let log = std::fs::File::create(&log_path)
                .unwrap_or_else(|e| panic!("{}: {e}", log_path.display()));
            let mut cmd = Command::new(bin);
            cmd.arg("--keep-in-foreground")
                .arg("--conf-file=/dev/null")
                .arg("--no-resolv")
                .arg("--no-hosts")
                .arg("--no-poll")
                .arg("--bind-interfaces")
                .arg("--listen-address=127.0.0.1")
                .arg(format!("--port={}", port.port))
                .arg(format!("--pid-file={}", pid_file.display()))
                .arg("--cache-size=0")
                .arg("--log-facility=-");
            for d in local_domains {
                cmd.arg(format!("--local=/{d}/"));
            }
            for r in records {
                cmd.arg(format!(
                    "--srv-host={},{},{},{},{}",
                    r.name, r.target, r.port, r.priority, r.weight
                ));
            }
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
            // The reservation is an abstract unix socket, not the port
            // itself, so dnsmasq can bind it while we hold the guard.
            let mut child =
                spawn_guarded(cmd).unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
            let addr = SocketAddr::from(([127, 0, 0, 1], port.port));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    let err = std::fs::read_to_string(&log_path).unwrap_or_default();
                    last_err = format!("dnsmasq exited ({status}): {err}");
                    break;
                }
                // dnsmasq listens on TCP as well as UDP: a TCP connect
                // says it is up.
                if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                    return DnsServer {
                        child: Mutex::new(child),
                        addr,
                        _port: port,
                    };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_err = "dnsmasq did not listen within 10 s".into();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("dnsmasq did not start: {last_err}")
    }

    /// Where it answers (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let mut child = lock(&self.child);
        let _ = child.kill();
        let _ = child.wait();
    }
}
