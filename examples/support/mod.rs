//! Where the examples find etcd: `ETCD_ENDPOINTS` (comma-separated) when it
//! is set, otherwise a throwaway single-member etcd on a free loopback port
//! (the `etcd` on PATH, or `ETCD_BIN`), removed when the example ends.
//! The throwaway server comes from the test harness (the `etcd-harness`
//! package), so examples and tests start etcd the same way.

/// Keeps the throwaway server (if any) alive while the example runs.
pub struct Etcd {
    _server: Option<etcd_harness::Cluster>,
    /// The endpoints to connect to.
    pub endpoints: Vec<String>,
}

/// The endpoints to use, saying which on stdout.
pub fn etcd() -> Etcd {
    let _ = env_logger::try_init();
    match std::env::var("ETCD_ENDPOINTS") {
        Ok(list) if !list.trim().is_empty() => {
            println!("using ETCD_ENDPOINTS={list}");
            Etcd {
                _server: None,
                endpoints: list.split(',').map(|s| s.trim().to_string()).collect(),
            }
        }
        _ => {
            let cluster = etcd_harness::Cluster::single();
            let endpoints = cluster.endpoints();
            println!(
                "ETCD_ENDPOINTS is unset: started a throwaway etcd {:?} at {}",
                etcd_harness::etcd_version(),
                endpoints.join(",")
            );
            Etcd {
                _server: Some(cluster),
                endpoints,
            }
        }
    }
}
