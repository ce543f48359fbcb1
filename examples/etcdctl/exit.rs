//! etcdctl's exit codes and how a failure is worded, in one place.
//!
//! The codes are etcdctl's (`etcdctl/ctlv3/command/error.go` in 3.4,
//! `pkg/cobrautl/error.go` in 3.5); which mistake or failure gets which
//! code is the table on [`Exit`], as etcdctl decides it.

use etcd_blocking::Error;

/// etcdctl's exit codes, and which failures end with each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// A request that failed; a flag cobra cannot parse (an unknown flag,
    /// `--dial-timeout=nope`, `--command-timeout=5`: cobra's error, which
    /// etcdctl's `MustStart` ends with 1); an unhealthy endpoint.
    Error = 1,
    /// A client that cannot be made, or a lease keep-alive or time-to-live
    /// call that fails.
    BadConnection = 2,
    /// `txn` input that cannot be parsed.
    InvalidInput = 3,
    /// A valid flag with a value the command does not support (`-w yaml`,
    /// `--consistency=x`, `--sort-by=x`).
    BadFeature = 4,
    /// A watch the server cancelled (compacted revision).
    Interrupted = 5,
    /// A file that cannot be written.
    #[allow(dead_code)] // etcdctl's table, kept whole
    Io = 6,
    /// The command's own argument checks: a missing or extra argument
    /// (`lease grant` without a TTL), a lease ID that is not hex, a TLS
    /// file the client configuration cannot load.
    BadArgs = 128,
}

/// A failed command: etcdctl's exit code and the text after `Error: `.
pub struct Fail(pub Exit, pub String);

impl Fail {
    pub fn new(code: Exit, msg: impl Into<String>) -> Fail {
        Fail(code, msg.into())
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail(Exit::Error, go_message(&e))
    }
}

/// The result of a command.
pub type Res<T = ()> = std::result::Result<T, Fail>;

/// A command's own argument check failed (etcdctl's `ExitBadArgs`).
pub fn bad_args(msg: impl Into<String>) -> Fail {
    Fail(Exit::BadArgs, msg.into())
}

/// The error as etcdctl words it: etcd's own message (`etcdserver: …`),
/// Go's `context deadline exceeded` for a deadline and for endpoints that
/// cannot be reached (Go's client keeps trying them until its deadline;
/// ours knows sooner); our own text for the rest.
pub fn go_message(e: &Error) -> String {
    match e {
        Error::Etcd(e) => format!("etcdserver: {e}"),
        Error::DeadlineExceeded(_) | Error::Unavailable(_) => "context deadline exceeded".into(),
        // The conditions the client may find itself too, in etcd's words
        // when etcd found them.
        Error::EmptyKey => "etcdserver: key is not provided".into(),
        Error::RequestTooLarge { size: None, .. } => "etcdserver: request is too large".into(),
        Error::Compacted {
            compact_revision: None,
        } => "etcdserver: mvcc: required revision has been compacted".into(),
        Error::LeaseNotFound { id: None, reason } => format!("etcdserver: {reason}"),
        other => other.to_string(),
    }
}

/// [`go_message`], with the endpoints' causes after Go's words when they
/// could not be reached.
pub fn go_message_with_cause(e: &Error) -> String {
    match e {
        Error::Unavailable(_) => format!("{} ({e})", go_message(e)),
        e => go_message(e),
    }
}

/// Go's `strconv.ParseInt(s, radix, 64)`, with its error text.
pub fn go_parse_int(s: &str, radix: u32) -> std::result::Result<i64, String> {
    i64::from_str_radix(s, radix).map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing {s:?}: {why}")
    })
}
