//! Clusters as the tests use them: one process-wide single-member cluster
//! shared by every test of a binary, the key prefixes that keep those tests
//! apart, and a 3-member preset for fast failure detection. Depends on
//! `std` and the rest of this crate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cluster::{Cluster, ClusterBuilder};

/// A process-wide single-member cluster, started on first use and shared by
/// every test of the binary (use [`unique_prefix`] to keep tests apart).
/// Never inject faults into it. It dies, and its data is removed, when the
/// test process exits.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
    match SHARED.get_or_init(|| ClusterBuilder::new(1).try_start()) {
        Ok(cluster) => cluster,
        Err(e) => panic!("the shared etcd did not start:\n{e}"),
    }
}

/// A key prefix unique to this call, e.g. `"t/<name>/<n>/<pid>.<nanos>/"`,
/// so tests sharing [`shared`] never see each other's keys.
pub fn unique_prefix(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("t/{name}/{n}/{}.{nanos}/", std::process::id())
}

/// A 3-member cluster that accepts HTTP/2 pings every second, for tests
/// that must notice a frozen or cut-off member quickly (with a client that
/// pings that often: `fast_keepalive_client` in `tests/common/mod.rs`).
pub fn fast_keepalive_cluster() -> Cluster {
    ClusterBuilder::new(3)
        .arg("--grpc-keepalive-min-time=1s")
        .start()
}
