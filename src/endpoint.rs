//! Endpoint parsing: what users write (`host:port`, `http://host:port`,
//! `https://host:port`, `unix://path`) turned into what gRPC dials, checked
//! up front so a typo is an [`Error::InvalidConfig`] at build time, not a
//! timeout later.

use std::fmt;

use crate::error::{Error, Result};

/// One etcd member's client URL, parsed: `host:port` (plain), `http://`,
/// `https://` (TLS) or `unix://path`.
///
/// ```
/// use etcd_blocking::Endpoint;
/// let e = Endpoint::parse("https://etcd-1.example:2379")?;
/// assert!(e.is_tls());
/// assert_eq!((e.host(), e.port()), ("etcd-1.example", 2379));
/// assert_eq!(Endpoint::parse("10.0.0.5:2379")?.to_string(), "http://10.0.0.5:2379");
/// assert!(Endpoint::parse("ftp://x:1").is_err());
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    tls: bool,
    /// For a Unix socket, its path; `port` is then 0.
    host: String,
    port: u16,
    unix: bool,
}

impl Endpoint {
    /// Parses `host:port`, `http://host:port`, `https://host:port` (IPv6
    /// hosts in brackets: `[::1]:2379`) or `unix://path` (below). A
    /// trailing `/` is allowed; any other path, a missing or zero port, or
    /// another scheme is an error.
    ///
    /// `unix://path` is a Unix socket, as etcd listens on with
    /// `--listen-client-urls unix://…`: `unix://localhost:2379` is the file
    /// `localhost:2379` in the current directory (etcd's and Go's reading),
    /// `unix:///run/etcd.sock` an absolute path.
    pub fn parse(s: &str) -> Result<Endpoint> {
        let bad = |why: &str| Error::InvalidConfig(format!("endpoint {s:?}: {why}"));
        let trimmed = s.trim();
        // gRPC takes the address as a C string (a NUL would panic in
        // grpcio); no host name or socket path has a control character.
        if trimmed.chars().any(char::is_control) {
            return Err(bad("a control character inside"));
        }
        if let Some(path) = trimmed.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(bad("missing socket path"));
            }
            return Ok(Endpoint {
                tls: false,
                host: path.to_string(),
                port: 0,
                unix: true,
            });
        }
        let (tls, rest) = if let Some(r) = trimmed.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = trimmed.strip_prefix("http://") {
            (false, r)
        } else if trimmed.contains("://") {
            return Err(bad("scheme must be http or https"));
        } else {
            (false, trimmed)
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(bad("a path is not allowed"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            let port = after.strip_prefix(':').ok_or_else(|| bad("missing port"))?;
            (format!("[{host}]"), port)
        } else {
            let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("missing port"))?;
            if host.contains(':') {
                return Err(bad("IPv6 addresses need brackets, as in [::1]:2379"));
            }
            (host.to_string(), port)
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("missing host"));
        }
        let port: u16 = port.parse().map_err(|_| bad("port must be 1-65535"))?;
        if port == 0 {
            return Err(bad("port must be 1-65535"));
        }
        Ok(Endpoint {
            tls,
            host,
            port,
            unix: false,
        })
    }

    /// Whether the endpoint asked for TLS (`https://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The address gRPC dials: `host:port`, or `unix:path` for a Unix
    /// socket.
    pub fn authority(&self) -> String {
        if self.unix {
            format!("unix:{}", self.host)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The host part (IPv6 addresses keep their brackets); a Unix
    /// socket's path.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (0 for a Unix socket).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the endpoint is a Unix socket (`unix://path`).
    pub fn is_unix(&self) -> bool {
        self.unix
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unix {
            return write!(f, "unix://{}", self.host);
        }
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

impl std::str::FromStr for Endpoint {
    type Err = Error;
    fn from_str(s: &str) -> Result<Endpoint> {
        Endpoint::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_forms() {
        let e = Endpoint::parse("127.0.0.1:2379").unwrap();
        assert_eq!(
            (e.is_tls(), e.authority()),
            (false, "127.0.0.1:2379".into())
        );
        let e = Endpoint::parse("http://localhost:2379/").unwrap();
        assert_eq!(e.to_string(), "http://localhost:2379");
        let e = Endpoint::parse("https://etcd.example:2379").unwrap();
        assert!(e.is_tls());
        assert_eq!(e.host(), "etcd.example");
        let e = Endpoint::parse("[::1]:2379").unwrap();
        assert_eq!(e.authority(), "[::1]:2379");
        assert_eq!(e.port(), 2379);
        let e = Endpoint::parse("unix:///run/etcd.sock").unwrap();
        assert!(e.is_unix() && !e.is_tls());
        assert_eq!(e.authority(), "unix:/run/etcd.sock");
        assert_eq!(e.to_string(), "unix:///run/etcd.sock");
        let e = Endpoint::parse("unix://localhost:2379").unwrap();
        assert_eq!(e.authority(), "unix:localhost:2379");
    }

    #[test]
    fn rejects_what_cannot_be_dialed() {
        for bad in [
            "",
            "localhost",
            "localhost:",
            "localhost:0",
            "localhost:70000",
            ":2379",
            "unix://",
            "unixs://sock",
            "http://h:1/v3",
            "::1:2379",
            "[::1:2379",
            "[]:1",
        ] {
            assert!(
                matches!(Endpoint::parse(bad), Err(Error::InvalidConfig(_))),
                "{bad:?} should be rejected"
            );
        }
    }
}
