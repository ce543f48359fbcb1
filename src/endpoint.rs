//! Endpoint parsing: what users write (`host:port`, `http://host:port`,
//! `https://host:port`) turned into what gRPC dials, checked up front so a
//! typo is an [`Error::InvalidConfig`] at build time, not a timeout later.

use std::fmt;

use crate::error::{Error, Result};

/// One etcd member's client URL, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    tls: bool,
    host: String,
    port: u16,
}

impl Endpoint {
    /// Parses `host:port`, `http://host:port` or `https://host:port`
    /// (IPv6 hosts in brackets: `[::1]:2379`). A trailing `/` is allowed;
    /// any other path, a missing or zero port, or another scheme is an error.
    pub fn parse(s: &str) -> Result<Endpoint> {
        let bad = |why: &str| Error::InvalidConfig(format!("endpoint {s:?}: {why}"));
        let trimmed = s.trim();
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
        Ok(Endpoint { tls, host, port })
    }

    /// Whether the endpoint asked for TLS (`https://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// `host:port`, the address gRPC dials.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The host part (IPv6 addresses keep their brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
            "unix:///tmp/sock",
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
