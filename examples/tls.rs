//! Connect over TLS: trust a CA, present a client certificate if the
//! server asks for one (`--client-cert-auth`), then put a key, read it
//! back and print it.
//!
//! Settings come from the command line, else from environment variables:
//!
//! ```text
//! cargo run --features tls --example tls -- \
//!     --endpoints https://10.0.0.1:2379,https://10.0.0.2:2379 \
//!     --cacert ca.pem --cert client.pem --key client-key.pem
//!
//! ETCD_ENDPOINTS=https://10.0.0.1:2379 ETCD_CACERT=ca.pem \
//! ETCD_CERT=client.pem ETCD_KEY=client-key.pem \
//!     cargo run --features tls --example tls
//! ```
//!
//! Endpoints without a scheme are dialed with `https://`. Without any
//! endpoint, it starts a throwaway single-member etcd (the `etcd` on PATH,
//! or `ETCD_BIN`) that serves TLS and requires client certificates, with a
//! throwaway CA and certificates made by the `openssl` CLI, and removes
//! them afterwards.
//!
//! (To read etcdctl's own `ETCDCTL_*` variables instead, one call does it
//! all: `ClientBuilder::from_env()`.)

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use etcd_blocking::{Client, Error, TlsOptions};

#[derive(Parser)]
#[command(about = "Connect to etcd over TLS, put a key and read it back")]
struct Args {
    /// Comma-separated endpoints [env: ETCD_ENDPOINTS]
    #[arg(long, value_delimiter = ',')]
    endpoints: Vec<String>,
    /// CA certificate (PEM) to trust; the system's roots if not given
    /// [env: ETCD_CACERT]
    #[arg(long)]
    cacert: Option<PathBuf>,
    /// Client certificate (PEM) [env: ETCD_CERT]
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM) [env: ETCD_KEY]
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Check the servers' certificates against this name instead of the
    /// endpoints' hosts [env: ETCD_SERVER_NAME]
    #[arg(long)]
    server_name: Option<String>,
}

impl Args {
    /// Fills what the command line left out from the environment.
    fn or_env(mut self) -> Args {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if self.endpoints.is_empty() {
            if let Some(list) = var("ETCD_ENDPOINTS") {
                self.endpoints = list.split(',').map(|s| s.trim().to_string()).collect();
            }
        }
        self.cacert = self
            .cacert
            .or_else(|| var("ETCD_CACERT").map(PathBuf::from));
        if self.cert.is_none() && self.key.is_none() {
            self.cert = var("ETCD_CERT").map(PathBuf::from);
            self.key = var("ETCD_KEY").map(PathBuf::from);
        }
        self.server_name = self.server_name.or_else(|| var("ETCD_SERVER_NAME"));
        self
    }

    /// The TLS settings these arguments ask for.
    fn tls(&self) -> Result<TlsOptions, Error> {
        let mut tls = TlsOptions::new();
        if let Some(ca) = &self.cacert {
            tls = tls.ca_file(ca)?;
        }
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => tls = tls.identity_files(cert, key)?,
            (None, None) => {}
            _ => {
                return Err(Error::InvalidConfig(
                    "a client certificate needs its key, and a key its certificate".into(),
                ))
            }
        }
        if let Some(name) = &self.server_name {
            tls = tls.server_name(name);
        }
        Ok(tls)
    }
}

/// A single-member etcd serving TLS with client certificates required, and
/// the arguments to reach it. The server and its certificates go away
/// when the example ends.
fn throwaway() -> (etcd_harness::Cluster, Args) {
    let pki = etcd_harness::pki();
    let cluster = etcd_harness::ClusterBuilder::new(1)
        .tls(etcd_harness::TlsFiles {
            cert: pki.path("server.pem"), // for IP:127.0.0.1 and DNS:localhost
            key: pki.path("server.key"),
            ca: pki.path("ca.pem"),
            client_cert_auth: true,
        })
        .start();
    let args = Args {
        endpoints: cluster.tls_client_urls(),
        cacert: Some(pki.path("ca.pem")),
        cert: Some(pki.path("client.pem")),
        key: Some(pki.path("client.key")),
        server_name: None,
    };
    (cluster, args)
}

fn main() -> Result<(), Error> {
    let _ = env_logger::try_init();
    let mut args = Args::parse().or_env();
    let _server = if args.endpoints.is_empty() {
        let (cluster, throwaway_args) = throwaway();
        args = throwaway_args;
        println!(
            "no endpoints given: started a throwaway TLS etcd {:?} at {}",
            etcd_harness::etcd_version(),
            args.endpoints.join(",")
        );
        Some(cluster)
    } else {
        None
    };

    // TLS settings apply to `https://` endpoints only: a bare `host:port`
    // is dialed in plain text, and TLS settings with no `https://`
    // endpoint at all are refused at connect.
    let endpoints: Vec<String> = args
        .endpoints
        .iter()
        .map(|e| {
            if e.contains("://") {
                e.clone()
            } else {
                format!("https://{e}")
            }
        })
        .collect();

    // A certificate file that cannot be read, or that holds no PEM block,
    // fails here; a certificate the server does not accept fails the
    // handshake, and so `connect`, with `Error::Unavailable` naming each
    // endpoint and why.
    let client = Client::builder(&endpoints)
        .tls(args.tls()?)
        .connect_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(5))
        .connect()?;
    println!("connected to {}", endpoints.join(","));

    let key = "tls-example/greeting";
    let put = client.put(key, "hello over TLS")?;
    println!("put {key} at revision {}", put.header().revision());
    let resp = client.get(key)?;
    for kv in resp.kvs() {
        println!(
            "{} = {} (version {}, from member {:x})",
            kv.key_str()?,
            kv.value_str()?,
            kv.version(),
            resp.header().member_id()
        );
    }
    client.delete(key)?;
    client.close()?;
    println!("done");
    Ok(())
}
