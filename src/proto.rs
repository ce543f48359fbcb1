//! The raw etcd v3 wire API, generated from `protos/` by `build.rs`: every
//! message, and one `grpcio::Method` per RPC in [`methods`]. Private: the
//! public API is built on it, and protobuf's generated types stay out of
//! the crate's semver surface (a field etcd adds is exposed through the
//! typed API instead).

#![allow(
    missing_docs,
    dead_code,
    clippy::all,
    clippy::pedantic,
    unreachable_pub
)]

include!(concat!(env!("OUT_DIR"), "/proto/mod.rs"));

/// An RPC's answer, as the transport sees it: the revision in its header
/// (0 when it has none), so the client can track the highest revision it
/// has seen for monotonic reads.
pub(crate) trait Answer {
    fn revision(&self) -> i64;
}

include!(concat!(env!("OUT_DIR"), "/answers.rs"));

/// One `grpcio::Method` constant per etcd RPC, named `SERVICE_METHOD`
/// (for example `KV_RANGE`, `LEASE_LEASE_KEEP_ALIVE`).
pub mod methods {
    include!(concat!(env!("OUT_DIR"), "/methods.rs"));
}
