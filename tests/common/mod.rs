//! Helpers shared by the integration tests (`mod common;`).
//!
//! The crate-independent harness (throwaway etcd clusters, faults, ports,
//! HTTP probes, the shared cluster, the TCP proxy) is the `etcd-harness`
//! package in `harness/`, which depends on neither this crate nor its
//! tests; it is re-exported here so test files reach all of it as
//! `common::…`. This file adds the helpers that depend on the crate under
//! test, `etcd_blocking`.

use std::time::Duration;

pub use etcd_harness::*;

// Each test file compiles this module into its own test crate and uses only
// some of the helpers below, so in the others they would be dead code; the
// `allow`s are on these items alone (everything re-exported from
// etcd-harness is a library's public API and never warns).

/// The keys of a read, as text.
#[allow(dead_code)]
pub fn keys(r: &etcd_blocking::GetResponse) -> Vec<String> {
    r.kvs()
        .iter()
        .map(|kv| kv.key_str().unwrap().to_string())
        .collect()
}

/// A client for [`fast_keepalive_cluster`]: pings every second and gives
/// up on a silent member after another.
#[allow(dead_code)]
pub fn fast_keepalive_client(cluster: &Cluster) -> etcd_blocking::ClientBuilder {
    etcd_blocking::Client::builder(cluster.endpoints())
        .keepalive_time(Duration::from_secs(1))
        .keepalive_timeout(Duration::from_secs(1))
        .server_keepalive_min_time(Duration::from_secs(1))
}
