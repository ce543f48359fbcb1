//! Real-etcd test harness for etcd-blocking's integration tests, examples
//! and benchmark.
//!
//! It starts throwaway etcd clusters on loopback ports, waits until they
//! serve, injects faults (kill, SIGSTOP/SIGCONT, restart) and cleans up after
//! itself. It does not depend on etcd-blocking: only `std`, `libc` and
//! `tempfile`. (The tests' helpers that do use the client live in
//! `tests/common/mod.rs`, which re-exports this crate.)
//!
//! * The etcd binary comes from `ETCD_BIN`, else `etcd` on `PATH`, else
//!   `/usr/bin/etcd` (`bin.rs`).
//! * Every etcd process is spawned from one dedicated, never-exiting thread
//!   with `PR_SET_PDEATHSIG = SIGKILL`, so it dies with the test process even
//!   when that process is killed. A detached watchdog (`/bin/sh` reading a
//!   pipe from the test process) SIGKILLs any survivor and removes this
//!   process's harness directory when the test process goes away, and every
//!   new test process sweeps directories left by dead ones (`process.rs`).
//! * Data lives under `/dev/shm` when available (`ETCD_HARNESS_DIR`
//!   overrides), in `etcd-harness-<pid>-<nonce>/<cluster>/<member>/`.
//! * Ports are taken below the kernel's ephemeral range (so an outgoing
//!   connection can never take a killed member's port before it restarts)
//!   and reserved for the cluster's lifetime with an abstract unix socket
//!   named after the port, which excludes other test processes too
//!   (`cargo nextest`) (`ports.rs`).
//! * Members are probed, and asked for their status, over plain HTTP
//!   (`http.rs`). Clusters and their faults are in `cluster.rs`, the
//!   process-wide shared cluster in `shared.rs`, and a TCP proxy that can
//!   blackhole its connections in [`proxy`].
//!
//! Environment knobs: `ETCD_BIN`, `ETCD_HARNESS_DIR`,
//! `ETCD_HARNESS_LOG_LEVEL` (etcd's `--log-level`, default `warn`),
//! `ETCD_HARNESS_TIMEOUT_SECS` (startup timeout, default 20).

mod bin;
mod cluster;
mod http;
mod ports;
mod process;
pub mod proxy;
mod shared;

pub use bin::{etcd_at_least, etcd_bin, etcd_version};
pub use cluster::{Cluster, ClusterBuilder, TlsFiles};
pub use http::{http_get, http_post_json, json_field, streams_handled, streams_started};
pub use process::harness_root;
pub use shared::{fast_keepalive_cluster, shared, unique_prefix};
