//! etcd's v2 errors as one typed kind, and the one place where an error
//! answer of a v2 server becomes an [`Error`].
//!
//! The keys API answers a failure with `{"errorCode":100,"message":…,
//! "cause":…,"index":…}`; the members and auth APIs with an HTTP status and
//! `{"message":…}`. Both end up as a [`V2Error`] inside [`Error::V2`], so a
//! caller matches on [`ErrorKind`] and never on a message.

use std::fmt;

use serde::Deserialize;

use super::Error;

macro_rules! v2_codes {
    ($( $(#[$doc:meta])* $kind:ident = ($code:literal, $msg:literal), )*) => {
        /// What went wrong, one variant per error code of etcd's v2 store
        /// (`etcd/error`), plus the HTTP answers of the members and auth APIs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $( $(#[$doc])* $kind, )*
            /// The members or auth API answered 404 (no such member, user or
            /// role).
            NotFound,
            /// The members API answered 410: the member was removed, and
            /// its id cannot come back.
            Gone,
            /// The members or auth API answered 409 (the member, user or role
            /// already exists, or the change conflicts with the cluster).
            Conflict,
            /// The members or auth API answered 400 (a malformed request:
            /// bad URLs, an invalid name, a missing field).
            BadRequest,
            /// The members or auth API answered 412 (auth cannot be enabled
            /// or disabled in this state, e.g. no root user).
            PreconditionFailed,
            /// The server's answer could not be understood (not the JSON
            /// etcd sends, or an unexpected status); the message says what
            /// came.
            BadAnswer,
            /// An error code or HTTP status this client does not know.
            Other,
        }

        impl ErrorKind {
            /// The kind of etcd's v2 error code `code`.
            pub fn from_code(code: u32) -> ErrorKind {
                match code { $( $code => ErrorKind::$kind, )* _ => ErrorKind::Other }
            }

            /// etcd's error code for this kind (`None` for the kinds of the
            /// members and auth APIs, which have none).
            pub fn code(self) -> Option<u32> {
                match self { $( ErrorKind::$kind => Some($code), )* _ => None }
            }

            /// etcd's message for this kind.
            pub fn message(self) -> &'static str {
                match self {
                    $( ErrorKind::$kind => $msg, )*
                    ErrorKind::NotFound => "Not found",
                    ErrorKind::Gone => "Gone",
                    ErrorKind::Conflict => "Conflict",
                    ErrorKind::BadRequest => "Bad request",
                    ErrorKind::PreconditionFailed => "Precondition failed",
                    ErrorKind::BadAnswer => "Unexpected answer",
                    ErrorKind::Other => "Unknown error",
                }
            }
        }
    };
}

v2_codes! {
    /// 100: the key does not exist.
    KeyNotFound = (100, "Key not found"),
    /// 101: a `prev_value` / `prev_index` condition did not hold.
    TestFailed = (101, "Compare failed"),
    /// 102: the operation needs a key and found a directory.
    NotFile = (102, "Not a file"),
    /// 103: the cluster has its maximum of peers.
    NoMorePeer = (103, "Reached the max number of peers in the cluster"),
    /// 104: the operation needs a directory and found a key.
    NotDir = (104, "Not a directory"),
    /// 105: the key exists (a create, or `prev_exist(false)`).
    NodeExist = (105, "Key already exists"),
    /// 106: the key's prefix is reserved by etcd.
    KeyIsPreserved = (106, "The prefix of given key is a keyword in etcd"),
    /// 107: the root directory cannot be changed.
    RootReadOnly = (107, "Root is read only"),
    /// 108: a non-recursive delete of a directory with children.
    DirNotEmpty = (108, "Directory not empty"),
    /// 109: the peer address is already in use.
    ExistingPeerAddr = (109, "Peer address has existed"),
    /// 110: the user may not do this, or the credentials are wrong
    /// (etcd says "Insufficient credentials" for both).
    Unauthorized = (110, "The request requires user authentication"),
    /// 200: a value is required.
    ValueRequired = (200, "Value is Required in POST form"),
    /// 201: a previous value is required.
    PrevValueRequired = (201, "PrevValue is Required in POST form"),
    /// 202: the TTL is not a number.
    TtlNaN = (202, "The given TTL in POST form is not a number"),
    /// 203: the index is not a number.
    IndexNaN = (203, "The given index in POST form is not a number"),
    /// 204: a value or a TTL is required.
    ValueOrTtlRequired = (204, "Value or TTL is required in POST form"),
    /// 205: the timeout is not a number.
    TimeoutNaN = (205, "The given timeout in POST form is not a number"),
    /// 206: a name is required.
    NameRequired = (206, "Name is required in POST form"),
    /// 207: an index or a value is required.
    IndexOrValueRequired = (207, "Index or value is required"),
    /// 208: index and value are mutually exclusive.
    IndexValueMutex = (208, "Index and value cannot both be specified"),
    /// 209: a field has a value etcd cannot parse (e.g. `prevExist` not
    /// a boolean).
    InvalidField = (209, "Invalid field"),
    /// 210: the form is invalid.
    InvalidForm = (210, "Invalid POST form"),
    /// 211: a refresh carried a value.
    RefreshValue = (211, "Value provided on refresh"),
    /// 212: a refresh carried no TTL.
    RefreshTtlRequired = (212, "A TTL must be provided on refresh"),
    /// 300: raft failed inside etcd (transient).
    RaftInternal = (300, "Raft Internal Error"),
    /// 301: a leader election is running (transient).
    LeaderElect = (301, "During Leader Election"),
    /// 400: the watcher was cleared because etcd recovered from a snapshot.
    WatcherCleared = (400, "watcher is cleared due to etcd recovery"),
    /// 401: the events from the requested index are gone from etcd's
    /// history (it keeps the last 1000); [`V2Error::index`] is the current
    /// index: read the state again and watch from after it.
    EventIndexCleared = (401, "The event in requested index is outdated and cleared"),
    /// 402: standby internal error.
    StandbyInternal = (402, "Standby Internal Error"),
    /// 403: invalid active size.
    InvalidActiveSize = (403, "Invalid active size"),
    /// 404: standby remove delay.
    InvalidRemoveDelay = (404, "Standby remove delay"),
    /// 500: client internal error.
    ClientInternal = (500, "Client Internal Error"),
}

/// An error answer of an etcd v2 server (inside [`Error::V2`]).
///
/// ```no_run
/// use etcd_blocking::v2::{self, ErrorKind, V2Error};
/// use etcd_blocking::Error;
/// # let client = v2::Client::connect(["http://127.0.0.1:2379"])?;
/// match client.keys().get("/config/missing") {
///     Ok(resp) => println!("{:?}", resp.node.value),
///     Err(Error::V2(V2Error { kind: ErrorKind::KeyNotFound, index, .. })) => {
///         println!("not there at index {index}")
///     }
///     Err(e) => return Err(e),
/// }
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct V2Error {
    /// What went wrong.
    pub kind: ErrorKind,
    /// etcd's error code (`errorCode`), 0 for errors of the members and
    /// auth APIs.
    pub code: u32,
    /// The HTTP status of the answer.
    pub status: u16,
    /// etcd's message.
    pub message: String,
    /// What the error is about (usually the key), as etcd said it.
    pub cause: String,
    /// The store's index when the error happened (0 when etcd gave none).
    pub index: u64,
}

impl V2Error {
    /// Whether another try may succeed unchanged (raft trouble, an
    /// election in progress).
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::RaftInternal | ErrorKind::LeaderElect)
    }
}

impl fmt::Display for V2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code != 0 {
            write!(f, "{}: {}", self.code, self.message)?;
        } else {
            write!(f, "HTTP {}: {}", self.status, self.message)?;
        }
        if !self.cause.is_empty() {
            write!(f, " ({})", self.cause)?;
        }
        if self.index != 0 {
            write!(f, " [{}]", self.index)?;
        }
        Ok(())
    }
}

impl std::error::Error for V2Error {}

#[derive(Deserialize)]
struct StoreErrorBody {
    #[serde(rename = "errorCode")]
    code: u32,
    #[serde(default)]
    message: String,
    #[serde(default)]
    cause: String,
    #[serde(default)]
    index: u64,
}

#[derive(Deserialize)]
struct HttpErrorBody {
    message: String,
}

/// The error of a failed answer: `status` and `body` as the server sent
/// them. `None` if the body is not one of etcd's v2 error documents (a
/// server that does not serve v2 answers its own 404 page).
pub(crate) fn from_answer(status: u16, body: &[u8]) -> Option<Error> {
    if let Ok(e) = serde_json::from_slice::<StoreErrorBody>(body) {
        return Some(Error::V2(V2Error {
            kind: ErrorKind::from_code(e.code),
            code: e.code,
            status,
            message: e.message,
            cause: e.cause,
            index: e.index,
        }));
    }
    let e = serde_json::from_slice::<HttpErrorBody>(body).ok()?;
    let kind = match status {
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        410 => ErrorKind::Gone,
        409 => ErrorKind::Conflict,
        400 => ErrorKind::BadRequest,
        412 => ErrorKind::PreconditionFailed,
        _ => ErrorKind::Other,
    };
    Some(Error::V2(V2Error {
        kind,
        code: 0,
        status,
        message: e.message,
        cause: String::new(),
        index: 0,
    }))
}

/// An answer that could not be understood.
pub(crate) fn bad_answer(message: String) -> Error {
    Error::V2(V2Error {
        kind: ErrorKind::BadAnswer,
        code: 0,
        status: 0,
        message,
        cause: String::new(),
        index: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_become_kinds() {
        let body = br#"{"errorCode":100,"message":"Key not found","cause":"/foo","index":7}"#;
        match from_answer(404, body) {
            Some(Error::V2(e)) => {
                assert_eq!(e.kind, ErrorKind::KeyNotFound);
                assert_eq!((e.code, e.status, e.index), (100, 404, 7));
                assert_eq!(e.cause, "/foo");
                assert_eq!(e.to_string(), "100: Key not found (/foo) [7]");
            }
            other => panic!("{other:?}"),
        }
        for code in [100, 101, 102, 104, 105, 107, 108, 110, 209, 300, 401] {
            let k = ErrorKind::from_code(code);
            assert_ne!(k, ErrorKind::Other, "{code}");
            assert_eq!(k.code(), Some(code));
        }
        assert_eq!(ErrorKind::from_code(999), ErrorKind::Other);
    }

    #[test]
    fn api_errors_keep_status_and_message() {
        match from_answer(409, br#"{"message":"auth: User a already exists."}"#) {
            Some(Error::V2(e)) => {
                assert_eq!((e.kind, e.status, e.code), (ErrorKind::Conflict, 409, 0));
                assert_eq!(e.message, "auth: User a already exists.");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_page_is_not_an_etcd_error() {
        assert!(from_answer(404, b"404 page not found\n").is_none());
        assert!(from_answer(200, b"").is_none());
    }
}
