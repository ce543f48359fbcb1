//! DNS SRV discovery, as etcdctl's `--discovery-srv`: the client endpoints
//! of a cluster from the SRV records `_etcd-client-ssl._tcp.<domain>`
//! (`https://`) and `_etcd-client._tcp.<domain>` (`http://`), with a
//! `-<name>` suffix on the service when a service name is given
//! (`--discovery-srv-name`).
//!
//! The lookup is one blocking DNS query per name over UDP (TCP when the
//! answer is truncated), written and read with the `simple-dns` wire-format
//! crate behind the `discovery-srv` cargo feature: no resolver thread pool
//! and no async runtime. The resolver is the first `nameserver` of
//! `/etc/resolv.conf` unless one is given (tests run their own on
//! loopback). Targets are returned as names, as etcdctl does: gRPC
//! resolves them, and TLS checks certificates against them.

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::{Error, Result};

/// What to look up: the settings behind
/// [`ClientBuilder::discovery_srv`](crate::ClientBuilder::discovery_srv).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SrvDiscovery {
    pub domain: String,
    /// etcdctl's `--discovery-srv-name`: a suffix on the service names.
    pub service_name: Option<String>,
    /// The DNS server to ask; `None`: the system's (`/etc/resolv.conf`).
    pub resolver: Option<SocketAddr>,
    /// Whether `http://` endpoints are accepted (etcdctl's
    /// `--insecure-discovery`, true by default there and here).
    pub insecure: bool,
}

impl SrvDiscovery {
    /// Discovery of `domain` with etcdctl's defaults.
    pub fn new(domain: String) -> SrvDiscovery {
        SrvDiscovery {
            domain,
            service_name: None,
            resolver: None,
            insecure: true,
        }
    }

    /// The two SRV names, `https` first, each with whether it is TLS.
    pub fn names(&self) -> [(String, bool); 2] {
        let suffix = match self.service_name.as_deref() {
            Some(n) if !n.is_empty() => format!("-{n}"),
            _ => String::new(),
        };
        let domain = self.domain.trim_end_matches('.');
        [
            (format!("_etcd-client-ssl{suffix}._tcp.{domain}"), true),
            (format!("_etcd-client{suffix}._tcp.{domain}"), false),
        ]
    }

    /// Looks the records up and returns the endpoints they list
    /// (`https://target:port` and `http://target:port`), lowest priority
    /// value first. A domain with neither record, or whose records are
    /// all `http` when those are refused, is [`Error::InvalidConfig`]; a
    /// DNS server that does not answer within `timeout` (both queries
    /// together) is [`Error::Unavailable`].
    pub fn endpoints(&self, timeout: Duration) -> Result<Vec<String>> {
        if self.domain.trim().is_empty() {
            return Err(Error::InvalidConfig(
                "DNS SRV discovery: empty domain".into(),
            ));
        }
        lookup::endpoints(self, timeout)
    }
}

/// One SRV record's target and port, and its order keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "discovery-srv"), allow(dead_code))]
struct Target {
    priority: u16,
    weight: u16,
    host: String,
    port: u16,
}

/// The endpoints of the records found, TLS ones first, each group in SRV
/// order (priority ascending, then weight descending), without
/// duplicates and without `http` ones unless `insecure`.
#[cfg_attr(not(feature = "discovery-srv"), allow(dead_code))]
fn to_endpoints(https: Vec<Target>, http: Vec<Target>, insecure: bool) -> Vec<String> {
    let mut out = Vec::new();
    for (scheme, mut targets) in [("https", https), ("http", http)] {
        if scheme == "http" && !insecure {
            continue;
        }
        targets.sort_by(|a, b| (a.priority, b.weight).cmp(&(b.priority, a.weight)));
        for t in targets {
            let host = t.host.trim_end_matches('.');
            let ep = if host.contains(':') {
                format!("{scheme}://[{host}]:{}", t.port)
            } else {
                format!("{scheme}://{host}:{}", t.port)
            };
            if !out.contains(&ep) {
                out.push(ep);
            }
        }
    }
    out
}

#[cfg(not(feature = "discovery-srv"))]
mod lookup {
    use super::*;

    pub(super) fn endpoints(d: &SrvDiscovery, _timeout: Duration) -> Result<Vec<String>> {
        let [(ssl, _), (plain, _)] = d.names();
        Err(Error::InvalidConfig(format!(
            "DNS SRV discovery of {} ({ssl}, {plain}) needs the `discovery-srv` cargo feature",
            d.domain
        )))
    }
}

#[cfg(feature = "discovery-srv")]
mod lookup {
    use std::io::{Read, Write};
    use std::net::{TcpStream, UdpSocket};

    use simple_dns::rdata::RData;
    use simple_dns::{Name, Packet, PacketFlag, Question, CLASS, QCLASS, QTYPE, RCODE, TYPE};

    use super::*;
    use crate::error::EndpointError;
    use crate::wait::Deadline;

    /// Why one name gave no targets.
    enum Failure {
        /// The server answered: no such name, no records, or a refusal.
        Answered(String),
        /// The server did not answer, or not in a form we could read.
        Unreachable(String),
    }

    pub(super) fn endpoints(d: &SrvDiscovery, timeout: Duration) -> Result<Vec<String>> {
        let resolver = match d.resolver {
            Some(r) => r,
            None => system_resolver()?,
        };
        // Both names, and a query's retry over TCP, within one timeout.
        let deadline = Deadline::after(timeout);
        let mut found = [Vec::new(), Vec::new()];
        let mut failures = Vec::new();
        for (i, (name, _)) in d.names().iter().enumerate() {
            match query_srv(resolver, name, &deadline) {
                Ok(targets) => found[i] = targets,
                Err(f) => failures.push((name.clone(), f)),
            }
        }
        let [https, http] = found;
        let any_records = !https.is_empty() || !http.is_empty();
        if !any_records {
            if failures
                .iter()
                .all(|(_, f)| matches!(f, Failure::Unreachable(_)))
            {
                return Err(Error::Unavailable(
                    failures
                        .into_iter()
                        .map(|(name, f)| EndpointError {
                            endpoint: format!("dns://{resolver}"),
                            cause: match f {
                                Failure::Unreachable(why) | Failure::Answered(why) => {
                                    format!("SRV {name}: {why}")
                                }
                            },
                        })
                        .collect(),
                ));
            }
            let why = failures
                .iter()
                .map(|(name, f)| match f {
                    Failure::Answered(w) | Failure::Unreachable(w) => format!("{name}: {w}"),
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(Error::InvalidConfig(format!(
                "DNS SRV discovery of {} (resolver {resolver}) found no etcd client records: {why}",
                d.domain
            )));
        }
        let eps = to_endpoints(https, http, d.insecure);
        if eps.is_empty() {
            return Err(Error::InvalidConfig(format!(
                "DNS SRV discovery of {}: only http:// endpoints found, and insecure discovery is off",
                d.domain
            )));
        }
        log::debug!("SRV discovery of {}: {eps:?}", d.domain);
        Ok(eps)
    }

    /// The first `nameserver` of `/etc/resolv.conf`, port 53.
    fn system_resolver() -> Result<SocketAddr> {
        let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        conf.lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .filter_map(|rest| {
                rest.trim()
                    .split('%')
                    .next()?
                    .parse::<std::net::IpAddr>()
                    .ok()
            })
            .map(|ip| SocketAddr::new(ip, 53))
            .next()
            .ok_or_else(|| {
                Error::InvalidConfig(
                    "DNS SRV discovery: no nameserver in /etc/resolv.conf; give a resolver".into(),
                )
            })
    }

    /// Time left of `deadline` for one exchange, or the failure of a
    /// server that did not answer in time.
    fn time_left(deadline: &Deadline) -> std::result::Result<Duration, Failure> {
        match deadline.left() {
            left if left.is_zero() => Err(Failure::Unreachable(format!(
                "no answer within {:?}",
                deadline.timeout()
            ))),
            left => Ok(left),
        }
    }

    fn query_srv(
        resolver: SocketAddr,
        name: &str,
        deadline: &Deadline,
    ) -> std::result::Result<Vec<Target>, Failure> {
        let id = query_id();
        let mut q = Packet::new_query(id);
        q.set_flags(PacketFlag::RECURSION_DESIRED);
        let qname = Name::new(name).map_err(|e| Failure::Answered(format!("bad name: {e}")))?;
        q.questions.push(Question::new(
            qname,
            QTYPE::TYPE(TYPE::SRV),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        let query = q
            .build_bytes_vec()
            .map_err(|e| Failure::Answered(format!("cannot encode the query: {e}")))?;
        let unreachable = |e: std::io::Error| Failure::Unreachable(e.to_string());
        let mut answer = udp_exchange(resolver, &query, id, deadline).map_err(unreachable)?;
        if Packet::parse(&answer)
            .map(|p| p.has_flags(PacketFlag::TRUNCATION))
            .unwrap_or(false)
        {
            time_left(deadline)?;
            answer = tcp_exchange(resolver, &query, deadline).map_err(unreachable)?;
        }
        let p = Packet::parse(&answer)
            .map_err(|e| Failure::Unreachable(format!("unreadable answer: {e}")))?;
        match p.rcode() {
            RCODE::NoError => {}
            RCODE::NameError => return Err(Failure::Answered("no such name (NXDOMAIN)".into())),
            other => return Err(Failure::Answered(format!("server answered {other:?}"))),
        }
        let targets: Vec<Target> = p
            .answers
            .iter()
            .filter_map(|rr| match &rr.rdata {
                RData::SRV(srv) => Some(Target {
                    priority: srv.priority,
                    weight: srv.weight,
                    host: srv.target.to_string(),
                    port: srv.port,
                }),
                _ => None,
            })
            // RFC 2782: a target of "." means the service is not offered.
            .filter(|t| !t.host.is_empty() && t.host != ".")
            .collect();
        if targets.is_empty() {
            return Err(Failure::Answered("no SRV records".into()));
        }
        Ok(targets)
    }

    /// Sends `query` over UDP and waits for the answer with its id,
    /// resending twice before `deadline`.
    fn udp_exchange(
        resolver: SocketAddr,
        query: &[u8],
        id: u16,
        deadline: &Deadline,
    ) -> std::io::Result<Vec<u8>> {
        let local: SocketAddr = if resolver.is_ipv4() {
            "0.0.0.0:0".parse().unwrap()
        } else {
            "[::]:0".parse().unwrap()
        };
        let sock = UdpSocket::bind(local)?;
        sock.connect(resolver)?;
        let timeout = deadline.timeout();
        let per_try = (deadline.left() / 3).max(Duration::from_millis(50));
        let deadline = deadline.at();
        let mut buf = vec![0u8; 65535];
        loop {
            sock.send(query)?;
            let try_end = crate::wait::instant_after(per_try).min(deadline);
            loop {
                let left = try_end.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                sock.set_read_timeout(Some(left))?;
                match sock.recv(&mut buf) {
                    Ok(n) if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id => {
                        return Ok(buf[..n].to_vec());
                    }
                    // Someone else's answer, or a late one: keep waiting.
                    Ok(_) => continue,
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        break
                    }
                    Err(e) => return Err(e),
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {timeout:?}"),
                ));
            }
        }
    }

    /// The same query over TCP (RFC 1035 4.2.2: a two-byte length first),
    /// for answers too large for UDP. `deadline` bounds the whole
    /// exchange, not each step: a server that accepts and then trickles its
    /// answer byte by byte still ends by then.
    fn tcp_exchange(
        resolver: SocketAddr,
        query: &[u8],
        deadline: &Deadline,
    ) -> std::io::Result<Vec<u8>> {
        let (end, timeout) = (deadline.at(), deadline.timeout());
        // Time left for the next step, or a timeout error once none is.
        let left = || {
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no answer within {timeout:?}"),
                ))
            } else {
                Ok(left)
            }
        };
        let mut s = TcpStream::connect_timeout(&resolver, left()?)?;
        let len = u16::try_from(query.len()).expect("a DNS query is small");
        let mut msg = len.to_be_bytes().to_vec();
        msg.extend_from_slice(query);
        s.set_write_timeout(Some(left()?))?;
        s.write_all(&msg)?;
        let mut read_all = |buf: &mut [u8]| -> std::io::Result<()> {
            let mut done = 0;
            while done < buf.len() {
                s.set_read_timeout(Some(left()?))?;
                match s.read(&mut buf[done..]) {
                    Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => done += n,
                    // A read that timed out: `left` says whether any time
                    // is left for another.
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::Interrupted
                                | std::io::ErrorKind::WouldBlock
                                | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        };
        let mut len = [0u8; 2];
        read_all(&mut len)?;
        let mut answer = vec![0u8; u16::from_be_bytes(len) as usize];
        read_all(&mut answer)?;
        Ok(answer)
    }

    /// A query id nobody can guess from the outside (no RNG dependency:
    /// std's randomly keyed hasher).
    fn query_id() -> u16 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        h.finish() as u16
    }

    #[cfg(test)]
    mod tests {
        use std::net::TcpListener;
        use std::time::Instant;

        use super::*;

        /// A resolver that accepts and then answers a byte every 100 ms:
        /// the exchange ends at its deadline, not at a timeout per read.
        #[test]
        fn a_trickling_tcp_answer_ends_at_the_deadline() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = std::thread::spawn(move || {
                let (mut conn, _) = listener.accept().unwrap();
                // A length of 1,000 bytes, then the bytes one at a time
                // until the client hangs up.
                let mut out = vec![0x03, 0xe8];
                out.resize(1002, 0);
                for b in out {
                    if conn.write_all(&[b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
            let t = Instant::now();
            let deadline = Deadline::after(Duration::from_millis(500));
            let e = tcp_exchange(addr, b"query", &deadline).unwrap_err();
            let took = t.elapsed();
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
            assert!(e.to_string().contains("500ms"), "{e}");
            // One read timeout per byte would have run for 100 s; slack
            // for a busy machine.
            assert!(took < Duration::from_millis(1500), "{took:?}");
            server.join().unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(priority: u16, weight: u16, host: &str, port: u16) -> Target {
        Target {
            priority,
            weight,
            host: host.into(),
            port,
        }
    }

    #[test]
    fn names_follow_etcdctl() {
        let mut d = SrvDiscovery::new("example.com".into());
        assert_eq!(
            d.names(),
            [
                ("_etcd-client-ssl._tcp.example.com".to_string(), true),
                ("_etcd-client._tcp.example.com".to_string(), false),
            ]
        );
        d.service_name = Some("prod".into());
        assert_eq!(d.names()[0].0, "_etcd-client-ssl-prod._tcp.example.com");
        assert_eq!(d.names()[1].0, "_etcd-client-prod._tcp.example.com");
    }

    #[test]
    fn endpoints_in_srv_order_tls_first() {
        let https = vec![t(10, 1, "b.example.", 2379), t(0, 5, "a.example.", 2379)];
        let http = vec![
            t(0, 1, "c.example", 2379),
            t(0, 9, "d.example", 2380),
            t(0, 9, "d.example", 2380),
        ];
        assert_eq!(
            to_endpoints(https.clone(), http.clone(), true),
            [
                "https://a.example:2379",
                "https://b.example:2379",
                "http://d.example:2380",
                "http://c.example:2379",
            ]
        );
        assert_eq!(
            to_endpoints(https, http, false),
            ["https://a.example:2379", "https://b.example:2379"]
        );
    }
}
