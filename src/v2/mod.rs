//! A blocking client for etcd's legacy **v2 API** (feature `v2`): keys,
//! watchers, members and auth over HTTP/JSON, as the Go client
//! `go.etcd.io/etcd/client` offers them.
//!
//! etcd 3.4 and 3.5 serve v2 when started with `--enable-v2`; etcd 3.6
//! removed it. A server that does not serve it is an
//! [`Error::Unsupported`](crate::Error::Unsupported), not a parse failure.
//!
//! This is a second, small client beside the v3 [`Client`](crate::Client):
//! it does not use gRPC, and starts no thread unless auto-sync is asked
//! for. It shares the crate's [`Error`](crate::Error), deadlines
//! ([`Client::with_timeout`]), [`CancelToken`](crate::CancelToken)s,
//! [`TlsOptions`](crate::TlsOptions) and `log`.
//!
//! ```no_run
//! use etcd_blocking::v2::{self, ErrorKind, V2Error, WatcherOptions};
//! use etcd_blocking::Error;
//!
//! let client = v2::Client::connect(["http://127.0.0.1:2379"])?;
//! let keys = client.keys();
//! keys.set("/app/greeting", "hello")?;
//! match keys.create("/app/greeting", "again") {
//!     Err(Error::V2(V2Error { kind: ErrorKind::NodeExist, .. })) => {}
//!     other => panic!("{other:?}"),
//! }
//! let mut watcher = keys.watcher("/app", WatcherOptions::new().recursive());
//! keys.set("/app/greeting", "bye")?;
//! let event = watcher.next_event()?;
//! assert_eq!(event.node.value_str(), "bye");
//! client.close();
//! # Ok::<(), etcd_blocking::Error>(())
//! ```
//!
//! # Names
//!
//! The same words as the v3 client's: [`Client::connect`] and
//! [`Client::builder`]`(..)`[`.connect()`](ClientBuilder::connect) (which
//! send nothing yet: v2 is plain HTTP), `with_timeout`, `with_cancel`, a
//! `_with(options)` twin for calls with options. An item whose name the
//! crate root also has carries a `V2` prefix, as [`V2Error`] does
//! ([`V2GetOptions`], [`V2DeleteOptions`], [`V2Watcher`], [`V2Member`],
//! [`V2PermissionType`]; [`DEFAULT_REQUEST_TIMEOUT`] is the root's own
//! constant), so both modules can be glob-imported together; only the
//! entry points are then written with their module, `v2::Client`.
//!
//! # Failover
//!
//! Calls stick to the endpoint that last worked. A transport error or a
//! 5xx answer moves a read on to the next endpoint; so does a member that
//! does not answer within the per-request timeout (1 s by default), so a
//! frozen member costs one such timeout. A write (set, create, create in
//! order, update, delete, member and auth changes) moves on only if it
//! never left the client; once it may have reached a member, a failure is
//! [`Error::Ambiguous`](crate::Error::Ambiguous) and the write is not sent
//! again. When every endpoint fails, [`Error::Unavailable`](crate::Error::Unavailable)
//! lists each one's cause. [`V2GetOptions::quorum`] reads through raft.
//!
//! # Closing
//!
//! [`Client::close`] (or dropping the last handle) shuts down every
//! connection: a call blocked in a watcher's long poll returns
//! [`Error::ClientClosed`](crate::Error::ClientClosed) at once, and the
//! auto-sync thread, if any, is joined.

mod auth;
mod client;
mod error;
mod handle;
mod keys;
mod members;
mod transport;
mod types;
mod watcher;

/// The default of [`ClientBuilder::request_timeout`]: the v3 client's, the
/// same constant.
pub use crate::config::DEFAULT_REQUEST_TIMEOUT;
pub use auth::{Auth, Roles, Users};
pub use client::{Client, ClientBuilder, Selection, DEFAULT_PER_REQUEST_TIMEOUT};
pub use error::{ErrorKind, V2Error};
pub use keys::{Keys, PrevExist, SetOptions, V2DeleteOptions, V2GetOptions};
pub use members::Members;
pub use types::{
    Action, Node, Permissions, Response, Role, RwPermission, User, V2Member, V2PermissionType,
    Version,
};
pub use watcher::{V2Watcher, WatcherOptions};
