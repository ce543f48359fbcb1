//! A blocking, thread-safe client for etcd v3.
//!
//! No async runtime: every call blocks the calling thread and returns within
//! a deadline (the client-side lock and campaign waits of
//! [`concurrency`] excepted: they wait as long as it takes unless bounded). gRPC runs on grpcio's C-core channels; a [`Client`] is cheap
//! to clone and all clones share one set of connections.
//!
//! # Quick start
//!
//! ```no_run
//! use etcd_blocking::{Client, GetOptions};
//!
//! let client = Client::connect(["127.0.0.1:2379"])?;
//! client.put("app/greeting", "hello")?;
//! let resp = client.get_with("app/", GetOptions::new().prefix())?;
//! for kv in resp.kvs() {
//!     println!("{} = {}", kv.key_str()?, kv.value_str()?);
//! }
//! client.close()?;
//! # Ok::<(), etcd_blocking::Error>(())
//! ```
//!
//! # Deadlines and cancellation
//!
//! Every call has a deadline: [`ClientBuilder::request_timeout`] (5 s by
//! default) unless the handle came from [`Client::with_timeout`]. The
//! deadline covers the whole call, including tries on other endpoints.
//! [`Client::with_cancel`] ties calls to a [`CancelToken`] that another
//! thread can fire.
//!
//! ```no_run
//! # use etcd_blocking::{Client, Error};
//! # let client = Client::connect(["127.0.0.1:2379"])?;
//! use std::time::Duration;
//! match client.with_timeout(Duration::from_millis(50)).get("k") {
//!     Ok(resp) => println!("{} keys", resp.count()),
//!     Err(Error::DeadlineExceeded(d)) => eprintln!("no answer within {d:?}"),
//!     Err(e) => return Err(e),
//! }
//! # Ok::<(), etcd_blocking::Error>(())
//! ```
//!
//! # Errors
//!
//! One [`Error`] type; each case a caller may handle differently is its own
//! variant, one per condition whoever noticed it (an empty key, a request
//! too large, a compacted revision, a canceled watch, a lease not found
//! are the same variant whether the client or etcd found them), and every
//! other error etcd itself reports is an [`EtcdError`] kind:
//!
//! ```no_run
//! # use etcd_blocking::{Client, Error, EtcdError, GetOptions};
//! # let client = Client::connect(["127.0.0.1:2379"])?;
//! match client.get_with("k", GetOptions::new().revision(1)) {
//!     Err(Error::Compacted { .. }) => { /* read a newer revision */ }
//!     Err(Error::Etcd(EtcdError::FutureRevision)) => { /* not there yet */ }
//!     Err(Error::EmptyKey) => unreachable!(),
//!     other => { other?; }
//! }
//! # Ok::<(), etcd_blocking::Error>(())
//! ```
//!
//! # Watches and leases
//!
//! Watches and lease keepalives run on long-lived gRPC streams that a
//! background thread of the client (`etcd-pump`) owns: one Watch stream
//! for every [`Watcher`], one LeaseKeepAlive stream for every
//! [`KeepAlive`]. After a broken stream it reopens on a working member
//! and resumes every watch from the revision after the last one delivered,
//! so a watch never loses or repeats an event.
//!
//! ```no_run
//! use etcd_blocking::{Client, PutOptions, WatchOptions};
//! # let client = Client::connect(["127.0.0.1:2379"])?;
//! let lease = client.grant(10)?;
//! client.put_with("services/me", "10.0.0.7", PutOptions::new().lease(lease.id()))?;
//! let _alive = client.keep_alive(lease.id())?; // refreshed until dropped
//!
//! let watcher = client.watch_with("services/", WatchOptions::new().prefix())?;
//! while let Some(resp) = watcher.recv_timeout(std::time::Duration::from_secs(1))? {
//!     println!("{} events", resp.events().len());
//! }
//! # Ok::<(), etcd_blocking::Error>(())
//! ```
//!
//! # Threads and closing
//!
//! A client starts gRPC's completion-queue threads (named `etcd-grpc-N`)
//! and, with its first watch or keepalive, the `etcd-pump` thread.
//! [`Client::close`], or dropping the last handle, cancels calls in flight,
//! ends watches and keepalives with [`Error::ClientClosed`], cancels their
//! streams on the server, closes the connections and joins those threads.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

// Three layers, lowest first (the README's architecture section draws
// them): a module uses only modules of its own layer or a lower one.
// 1. Values and mechanisms every layer shares.
mod endpoint;
mod error;
mod metrics;
mod namespace;
mod proto;
mod tls;
mod types;
mod wait;
// 2. Configuration and the connection machinery.
mod channel;
mod config;
mod discovery;
mod env;
mod pump;
mod session;
mod transport;
// 3. The handle and the public calls.
mod auth;
mod builder;
mod client;
mod cluster;
pub mod concurrency;
mod iter;
mod kv;
mod lease;
mod lock;
mod maintenance;
mod snapshot;
mod txn;
#[cfg(feature = "v2")]
pub mod v2;
mod watch;
// The property test that no public input panics.
#[cfg(test)]
mod no_panic;

pub use auth::{
    AuthResponse, AuthStatusResponse, Permission, PermissionType, RoleGetResponse,
    RoleListResponse, UserGetResponse, UserListResponse,
};
pub use builder::ClientBuilder;
pub use client::Client;
pub use cluster::{
    Member, MemberAddResponse, MemberListResponse, MemberPromoteResponse, MemberRemoveResponse,
    MemberUpdateResponse,
};
pub use config::{
    DEFAULT_ATTEMPT_FRACTION, DEFAULT_CONNECT_TIMEOUT, DEFAULT_CQ_THREADS, DEFAULT_KEEPALIVE_TIME,
    DEFAULT_KEEPALIVE_TIMEOUT, DEFAULT_MAX_SEND_MESSAGE_SIZE, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SERVER_KEEPALIVE_MIN_TIME, DEFAULT_WATCH_BUFFER, MAX_CQ_THREADS,
};
pub use endpoint::Endpoint;
pub use error::{Code, EndpointError, Error, EtcdError, Result};
pub use iter::RangeIter;
pub use kv::{
    CompactOptions, CompactResponse, DeleteOptions, DeleteResponse, GetOptions, GetResponse,
    PutOptions, PutResponse, SortOrder, SortTarget,
};
pub use lease::{
    KeepAlive, LeaseGrantOptions, LeaseGrantResponse, LeaseLeasesResponse, LeaseRevokeResponse,
    LeaseTimeToLiveResponse, TimeToLiveOptions,
};
pub use lock::{
    CampaignResponse, LeaderKey, LeaderResponse, LockResponse, ProclaimResponse, ResignResponse,
    UnlockResponse,
};
pub use maintenance::{
    Alarm, AlarmResponse, AlarmType, DefragmentResponse, DowngradeAction, DowngradeResponse,
    HashKvResponse, HashResponse, MoveLeaderResponse, StatusResponse,
};
pub use pump::lease::{KeepAliveResponse, LeaseState};
pub use pump::watch::{EventType, WatchEvent, WatchResponse};
pub use session::Credentials;
pub use snapshot::SnapshotInfo;
pub use tls::TlsOptions;
pub use txn::{Compare, CompareOp, Op, OpResponse, Txn, TxnResponse};
pub use types::{prefix_range_end, KeyValue, ResponseHeader};
pub use wait::CancelToken;
pub use watch::{WatchOptions, Watcher};
