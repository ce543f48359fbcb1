//! TLS settings for `https://` endpoints (the `tls` cargo feature, backed by
//! the system OpenSSL through grpcio).
//!
//! Certificates are checked when the options are built, as far as that is
//! possible without a TLS library of our own: a file that cannot be read,
//! or data without the expected PEM block, is an [`Error::InvalidConfig`]
//! before any connection is attempted. A PEM block whose contents are not
//! a usable certificate or key, or a key that does not match its
//! certificate, is only found by the handshake: connect then fails with
//! [`Error::Unavailable`](crate::Error::Unavailable) after the connect
//! timeout.

use crate::endpoint::Endpoint;
use crate::error::{Error, Result};

/// Certificates and names for TLS connections, given to
/// [`ClientBuilder::tls`](crate::ClientBuilder::tls) (or the v2 client's
/// builder). Connecting over TLS needs the `tls` cargo feature.
///
/// A cluster with its own CA that requires client certificates
/// (`--client-cert-auth`):
///
/// ```no_run
/// use etcd_blocking::{Client, TlsOptions};
/// let tls = TlsOptions::new()
///     .ca_file("/etc/etcd/pki/ca.pem")?
///     .identity_files("/etc/etcd/pki/client.pem", "/etc/etcd/pki/client-key.pem")?;
/// let client = Client::builder(["https://10.0.0.1:2379", "https://10.0.0.2:2379"])
///     .tls(tls)
///     .connect()?;
/// client.put("k", "v")?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
///
/// Certificates held in memory (from a secret store, say), and servers
/// reached by address whose certificates name them otherwise:
///
/// ```no_run
/// # let ca_pem = String::new();
/// let tls = etcd_blocking::TlsOptions::new()
///     .ca_pem(ca_pem)?
///     .server_name("etcd.internal.example");
/// let client = etcd_blocking::Client::builder(["https://10.0.0.1:2379"])
///     .tls(tls)
///     .connect()?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct TlsOptions {
    pub(crate) ca: Option<Vec<u8>>,
    pub(crate) identity: Option<(Vec<u8>, Vec<u8>)>,
    pub(crate) server_name: Option<String>,
}

impl std::fmt::Debug for TlsOptions {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca", &self.ca.is_some())
            .field("client_identity", &self.identity.is_some())
            .field("server_name", &self.server_name)
            .finish()
    }
}

impl TlsOptions {
    /// Options that trust the system's default roots and send no client
    /// certificate.
    pub fn new() -> TlsOptions {
        TlsOptions::default()
    }

    /// Trust servers signed by this CA (PEM).
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Result<TlsOptions> {
        self.ca = Some(check_pem("CA certificate", pem.into(), "CERTIFICATE")?);
        Ok(self)
    }

    /// Trust servers signed by the CA in this PEM file.
    pub fn ca_file(self, path: impl AsRef<std::path::Path>) -> Result<TlsOptions> {
        let pem = read("CA certificate", path.as_ref())?;
        self.ca_pem(pem)
    }

    /// Present this client certificate and private key (PEM), for servers
    /// that require client certificates (`--client-cert-auth`).
    pub fn identity_pem(
        mut self,
        cert: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Result<TlsOptions> {
        let cert = check_pem("client certificate", cert.into(), "CERTIFICATE")?;
        let key = check_pem("client key", key.into(), "PRIVATE KEY")?;
        self.identity = Some((cert, key));
        Ok(self)
    }

    /// Like [`identity_pem`](Self::identity_pem), from files.
    pub fn identity_files(
        self,
        cert: impl AsRef<std::path::Path>,
        key: impl AsRef<std::path::Path>,
    ) -> Result<TlsOptions> {
        let c = read("client certificate", cert.as_ref())?;
        let k = read("client key", key.as_ref())?;
        self.identity_pem(c, k)
    }

    /// Check the server's certificate against this name instead of the
    /// endpoint's host. It must be a host name as TLS sends it: ASCII
    /// (an international name in its `xn--` form), with no space or
    /// control character; anything else is [`Error::InvalidConfig`] at
    /// connect.
    pub fn server_name(mut self, name: impl Into<String>) -> TlsOptions {
        self.server_name = Some(name.into());
        self
    }

    /// Refuses what gRPC could not take (it panics on a NUL byte).
    pub(crate) fn validate(&self) -> Result<()> {
        match &self.server_name {
            Some(n) if n.is_empty() || !n.bytes().all(|b| b.is_ascii_graphic()) => {
                Err(Error::InvalidConfig(format!(
                    "TLS server name {n:?}: not a host name (empty, not ASCII, or with a \
                     space or control character)"
                )))
            }
            _ => Ok(()),
        }
    }
}

fn read(what: &str, path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::InvalidConfig(format!("{what} {}: {e}", path.display())))
}

fn check_pem(what: &str, pem: Vec<u8>, label: &str) -> Result<Vec<u8>> {
    // gRPC takes PEM as a C string.
    if pem.contains(&0) {
        return Err(Error::InvalidConfig(format!(
            "{what} is not PEM (it has a NUL byte)"
        )));
    }
    let text = String::from_utf8_lossy(&pem);
    let ok = text
        .lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.ends_with("-----") && l.contains(label));
    if ok {
        Ok(pem)
    } else {
        Err(Error::InvalidConfig(format!(
            "{what} is not PEM (no BEGIN …{label} block)"
        )))
    }
}

/// Applies the TLS settings to a channel for `endpoint`.
#[cfg(feature = "tls")]
pub(crate) fn secure(
    b: grpcio::ChannelBuilder,
    opts: Option<&TlsOptions>,
    _endpoint: &Endpoint,
) -> Result<grpcio::ChannelBuilder> {
    let opts = opts.cloned().unwrap_or_default();
    let mut creds = grpcio::ChannelCredentialsBuilder::new();
    if let Some(ca) = opts.ca {
        creds = creds.root_cert(ca);
    }
    if let Some((cert, key)) = opts.identity {
        creds = creds.cert(cert, key);
    }
    let mut b = b.set_credentials(creds.build());
    if let Some(name) = opts.server_name {
        b = b.override_ssl_target(name);
    }
    Ok(b)
}

/// Without the `tls` feature an `https://` endpoint cannot be served.
#[cfg(not(feature = "tls"))]
pub(crate) fn secure(
    _b: grpcio::ChannelBuilder,
    _opts: Option<&TlsOptions>,
    endpoint: &Endpoint,
) -> Result<grpcio::ChannelBuilder> {
    Err(Error::InvalidConfig(format!(
        "{endpoint}: https endpoints need the `tls` cargo feature"
    )))
}
