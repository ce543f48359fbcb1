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

/// Decodes a message as grpcio's `pb_de` does, but straight from the
/// received bytes when they are one slice, as every small answer is (a
/// watch event, a put's answer). `pb_de` reads through a `BufRead` over the
/// slices, whose per-message set-up and end-of-input checks cost ~300
/// instructions more per message (callgrind, watch 16/4: ~2 messages per
/// event). A message that spans slices is read through the slices as
/// before rather than copied together, so a large answer costs no second
/// buffer.
fn decode<T: protobuf::Message>(mut reader: grpcio::MessageReader) -> grpcio::Result<T> {
    use std::io::BufRead;
    let whole = reader.len();
    let first = reader
        .fill_buf()
        .map_err(|e| grpcio::Error::Codec(Box::new(e)))?;
    if first.len() != whole {
        return grpcio::pb_de(reader);
    }
    let mut m = T::new();
    m.merge_from_bytes(first)?;
    Ok(m)
}

/// One `grpcio::Method` constant per etcd RPC, named `SERVICE_METHOD`
/// (for example `KV_RANGE`, `LEASE_LEASE_KEEP_ALIVE`).
pub mod methods {
    include!(concat!(env!("OUT_DIR"), "/methods.rs"));
}
