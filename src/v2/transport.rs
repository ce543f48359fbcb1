//! The v2 client's endpoint policy and HTTP attempts: the one place where a
//! request meets the network, and where its outcome becomes a result.
//!
//! * **Pinned endpoint.** Calls go to the endpoint that last worked; a
//!   transport error or a 5xx answer moves the pin to the next one.
//! * **Per-request timeout.** Connecting, and for reads receiving the
//!   answer's headers, may take at most [`ClientBuilder::per_request_timeout`]
//!   per endpoint (the Go client's `HeaderTimeoutPerRequest`), so a frozen
//!   member costs a read one such timeout, not the call's whole deadline.
//!   etcd sends a watch's headers at once and its body when the event
//!   comes, so watches keep this rule too. A write that was sent waits for
//!   its answer until the deadline: it could not go elsewhere anyway.
//! * **Writes are never sent twice.** A read moves on to the next endpoint
//!   after any failure. A write moves on only when it provably never left
//!   the client (the connection was refused, the connect or TLS handshake
//!   failed); once it may have been sent, any failure, a 5xx answer
//!   included, is [`Error::Ambiguous`].
//! * **All failed.** One [`Error::Unavailable`] with every endpoint's
//!   cause (the Go client's `ClusterError`), or [`Error::Unsupported`] when
//!   every endpoint answered that it does not serve the v2 API.
//!
//! Closing: ureq's [`Agent::shutdown`](ureq::Agent::shutdown) shuts down the
//! socket of every connection the agent holds, in use or idle, so a call
//! blocked in a long poll returns at once with an I/O error, which the
//! closed flag turns into [`Error::ClientClosed`]. No thread of ours is
//! involved; a blocked read cannot be interrupted any other way. A call
//! with a [`CancelToken`] (which has no way to notify us) runs on an agent
//! of its own, shut down by a watchdog thread that polls the token for the
//! length of the call.
//!
//! [`ClientBuilder::per_request_timeout`]: crate::v2::ClientBuilder::per_request_timeout

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use crate::error::{EndpointError, Error, Result};
use crate::wait::CancelToken;

use super::error::{bad_answer, from_answer};

/// How often a cancelable call's watchdog looks at its token.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// Largest answer body accepted (a recursive get of a big tree).
const MAX_BODY: u64 = 512 * 1024 * 1024;

/// HTTP method of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Put,
    Post,
    Delete,
}

/// Whether a request may be sent again to another member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads and other repeatable requests: any failure moves on.
    Safe,
    /// Writes: move on only if the request was never sent.
    Never,
}

/// One request, independent of the endpoint it goes to.
pub(crate) struct Request<'a> {
    pub method: Method,
    /// Path and query, already encoded (`/v2/keys/a?recursive=true`).
    pub path: String,
    /// `application/x-www-form-urlencoded` fields for PUT and POST.
    pub form: Vec<(&'static str, String)>,
    /// A JSON body instead of a form.
    pub json: Option<Vec<u8>>,
    pub retry: Retry,
    /// Called with `X-Etcd-Index` as soon as the headers of a successful
    /// answer arrive, before its body (watchers learn where they start).
    pub on_headers: Option<&'a dyn Fn(u64)>,
}

impl Request<'_> {
    pub fn new(method: Method, path: String, retry: Retry) -> Self {
        Request {
            method,
            path,
            form: Vec::new(),
            json: None,
            retry,
            on_headers: None,
        }
    }
}

/// A server's answer (any status).
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    /// `X-Etcd-Index` (0 if absent).
    pub index: u64,
    /// `X-Etcd-Cluster-Id`.
    pub cluster_id: String,
}

impl Answer {
    /// The answer as `Ok` if it is a success, else its error.
    pub fn ok(self) -> Result<Answer> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        Err(from_answer(self.status, &self.body).unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&self.body);
            bad_answer(format!("HTTP {}: {}", self.status, text.trim()))
        }))
    }
}

/// What limits one call.
pub(crate) struct CallCtx<'a> {
    /// The handle's timeout, reported in [`Error::DeadlineExceeded`].
    pub timeout: Duration,
    pub deadline: Instant,
    pub token: Option<&'a CancelToken>,
}

/// Settings the transport needs from the builder.
pub(crate) struct Settings {
    pub per_request_timeout: Option<Duration>,
    /// `Authorization` header value, if basic auth is on.
    pub authorization: Option<String>,
}

pub(crate) struct Transport {
    agent: ureq::Agent,
    endpoints: RwLock<Vec<String>>,
    /// Index (into `endpoints`) of the endpoint calls go to first.
    pinned: AtomicUsize,
    closed: AtomicBool,
    settings: Settings,
}

/// How one attempt failed.
enum Failure {
    /// The request never left the client: any request may move on.
    NotSent(String),
    /// The request may have reached the server.
    Sent(String),
    /// The endpoint answered that it does not serve v2 (nothing applied).
    NotServed(String),
    /// The call's deadline passed.
    Deadline,
}

impl Transport {
    pub fn new(agent: ureq::Agent, endpoints: Vec<String>, settings: Settings) -> Transport {
        Transport {
            agent,
            endpoints: RwLock::new(endpoints),
            pinned: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            settings,
        }
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.endpoints.read().clone()
    }

    /// Replaces the endpoints; the pin goes to the first one.
    pub fn set_endpoints(&self, eps: Vec<String>) {
        let mut guard = self.endpoints.write();
        *guard = eps;
        self.pinned.store(0, Ordering::Release);
    }

    /// The endpoint calls go to first.
    pub fn pinned(&self) -> String {
        let eps = self.endpoints.read();
        eps[self.pinned.load(Ordering::Acquire) % eps.len()].clone()
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the transport closed and shuts every connection down, which
    /// wakes every call blocked on a socket.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.agent.clone().shutdown();
    }

    fn interrupted(&self, ctx: &CallCtx<'_>) -> Option<Error> {
        if self.is_closed() {
            return Some(Error::ClientClosed);
        }
        if ctx.token.is_some_and(CancelToken::is_canceled) {
            return Some(Error::Canceled);
        }
        None
    }

    /// Sends `req` under the endpoint policy (see the module docs) and
    /// returns the first answer that is not a failure of the endpoint:
    /// 2xx, or an error answer of etcd's (4xx).
    pub fn call(&self, req: &Request<'_>, ctx: &CallCtx<'_>) -> Result<Answer> {
        if let Some(e) = self.interrupted(ctx) {
            return Err(e);
        }
        let eps = self.endpoints();
        let start = self.pinned.load(Ordering::Acquire);
        let mut causes = Vec::new();
        let mut all_not_served = true;
        for i in 0..eps.len() {
            let idx = (start + i) % eps.len();
            let ep = &eps[idx];
            if let Some(e) = self.interrupted(ctx) {
                return Err(e);
            }
            let failure = match self.attempt(ep, req, ctx) {
                Ok(a) if a.status >= 500 => {
                    let cause = match from_answer(a.status, &a.body) {
                        Some(e) => e.to_string(),
                        None => format!("HTTP {}", a.status),
                    };
                    Failure::Sent(cause)
                }
                Ok(a) => {
                    if idx != start % eps.len() {
                        self.pinned.store(idx, Ordering::Release);
                    }
                    return Ok(a);
                }
                Err(f) => f,
            };
            if let Some(e) = self.interrupted(ctx) {
                return Err(e);
            }
            // Running out of time says nothing about the endpoint (a
            // watcher's poll ends that way), so the pin stays for that.
            if matches!(failure, Failure::Deadline) {
                return Err(Error::DeadlineExceeded(ctx.timeout));
            }
            // The endpoint failed: later calls start at the next one.
            self.pinned.store((idx + 1) % eps.len(), Ordering::Release);
            let cause = match failure {
                Failure::Deadline => unreachable!("handled above"),
                Failure::Sent(cause) if req.retry == Retry::Never => {
                    log::warn!("v2 write to {ep} may have been applied: {cause}");
                    return Err(Error::Ambiguous {
                        endpoint: ep.clone(),
                        cause,
                    });
                }
                Failure::NotServed(c) => c,
                Failure::Sent(c) | Failure::NotSent(c) => {
                    all_not_served = false;
                    c
                }
            };
            log::debug!(
                "v2 {} {} on {ep} failed: {cause}",
                req.method.name(),
                req.path
            );
            causes.push(EndpointError {
                endpoint: ep.clone(),
                cause,
            });
        }
        if all_not_served && !causes.is_empty() {
            return Err(Error::Unsupported(format!(
                "no endpoint serves the etcd v2 API (etcd 3.6 removed it; 3.4 and 3.5 need \
                 --enable-v2): {}",
                causes
                    .iter()
                    .map(|c| c.endpoint.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Err(Error::Unavailable(causes))
    }

    fn attempt(
        &self,
        ep: &str,
        req: &Request<'_>,
        ctx: &CallCtx<'_>,
    ) -> std::result::Result<Answer, Failure> {
        let left = ctx.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Deadline);
        }
        let per_request = self
            .settings
            .per_request_timeout
            .map_or(left, |p| p.min(left));
        // A write, once sent, is never sent elsewhere, so cutting its wait
        // short would gain nothing: it waits for its answer until the
        // deadline (during an election, etcd answers after it).
        let answer_within = match req.retry {
            Retry::Safe => per_request,
            Retry::Never => left,
        };
        let url = format!("{ep}{}", req.path);
        let exchange = |agent: &ureq::Agent| {
            self.send(agent, &url, req, left, per_request, answer_within)
                .and_then(|mut resp| {
                    let index = header(&resp, "X-Etcd-Index")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let status = resp.status().as_u16();
                    if let Some(f) = req.on_headers.filter(|_| status < 300) {
                        f(index);
                    }
                    let cluster_id = header(&resp, "X-Etcd-Cluster-Id").unwrap_or_default();
                    let body = resp
                        .body_mut()
                        .with_config()
                        .limit(MAX_BODY)
                        .read_to_vec()?;
                    Ok(Answer {
                        status,
                        body,
                        index,
                        cluster_id,
                    })
                })
        };
        let result = match ctx.token {
            None => exchange(&self.agent),
            Some(token) => self.cancelable(token, exchange),
        };
        match result {
            // A 404 that is not one of etcd's v2 error documents is the
            // router's page: this server does not serve /v2.
            Ok(a) if a.status == 404 && from_answer(404, &a.body).is_none() => Err(
                Failure::NotServed("does not serve the v2 API (HTTP 404 page)".into()),
            ),
            Ok(a) => Ok(a),
            Err(e) => {
                if Instant::now() >= ctx.deadline {
                    return Err(Failure::Deadline);
                }
                Err(classify(e, per_request, answer_within))
            }
        }
    }

    /// Runs `f` with an agent of its own, which a watchdog thread
    /// (`etcd-v2-cancel`, joined before this returns) shuts down if `token`
    /// is canceled or the client closed meanwhile: the only way to cut a
    /// blocked socket read short. Only calls made with a cancel token pay
    /// for it (a thread, and a connection of their own).
    fn cancelable<T>(&self, token: &CancelToken, f: impl FnOnce(&ureq::Agent) -> T) -> T {
        let agent = ureq::Agent::new_with_config(self.agent.config().clone());
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let watchdog = std::thread::Builder::new()
                .name("etcd-v2-cancel".into())
                .spawn_scoped(s, || {
                    while !done.load(Ordering::Acquire) {
                        if token.is_canceled() || self.is_closed() {
                            agent.clone().shutdown();
                            return;
                        }
                        std::thread::park_timeout(CANCEL_POLL);
                    }
                });
            let r = f(&agent);
            done.store(true, Ordering::Release);
            match watchdog {
                Ok(w) => w.thread().unpark(),
                Err(e) => log::warn!("no etcd-v2-cancel thread ({e}): the call was not cancelable"),
            }
            r
        })
    }

    fn send(
        &self,
        agent: &ureq::Agent,
        url: &str,
        req: &Request<'_>,
        left: Duration,
        per_request: Duration,
        answer_within: Duration,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        macro_rules! configured {
            ($b:expr) => {{
                let mut b = $b
                    .config()
                    .timeout_global(Some(left))
                    .timeout_connect(Some(per_request))
                    .timeout_recv_response(Some(answer_within))
                    .build();
                if let Some(a) = &self.settings.authorization {
                    b = b.header("Authorization", a);
                }
                b
            }};
        }
        match req.method {
            Method::Get => configured!(agent.get(url)).call(),
            Method::Delete => configured!(agent.delete(url)).call(),
            Method::Put | Method::Post => {
                let b = if req.method == Method::Put {
                    agent.put(url)
                } else {
                    agent.post(url)
                };
                let b = configured!(b);
                match &req.json {
                    Some(json) => b.content_type("application/json").send(&json[..]),
                    None => b.send_form(req.form.iter().map(|(k, v)| (*k, v.as_str()))),
                }
            }
        }
    }
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

fn header(resp: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Whether a failed attempt's request may have reached the server.
fn classify(e: ureq::Error, per_request: Duration, answer_within: Duration) -> Failure {
    use std::io::ErrorKind as K;
    use ureq::Timeout as T;
    match e {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound | ureq::Error::BadUri(_) => {
            Failure::NotSent(e.to_string())
        }
        ureq::Error::Timeout(T::Resolve | T::Connect) => {
            Failure::NotSent(format!("connect: no answer within {per_request:?}"))
        }
        ureq::Error::Timeout(T::RecvResponse) => {
            Failure::Sent(format!("no answer within {answer_within:?}"))
        }
        ureq::Error::Io(ref io)
            if matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::NetworkDown
                    | K::AddrNotAvailable
            ) =>
        {
            Failure::NotSent(e.to_string())
        }
        // A TLS handshake that failed sent nothing of the request.
        ureq::Error::Tls(_) | ureq::Error::NativeTls(_) | ureq::Error::Der(_) => {
            Failure::NotSent(format!("TLS: {e}"))
        }
        other => Failure::Sent(other.to_string()),
    }
}

/// Percent-encodes a key for a URL path: unreserved characters and `/`
/// stay, everything else is `%XX`.
pub(crate) fn encode_path(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Encodes a query string from `pairs` (`?a=1&b=2`, or `""`).
pub(crate) fn query(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&encode_path(v).replace('/', "%2F"));
    }
    out
}

/// `Basic …` for a user name and password.
pub(crate) fn basic_auth(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_keys_and_queries() {
        assert_eq!(encode_path("/a b/c?d#e%"), "/a%20b/c%3Fd%23e%25");
        assert_eq!(encode_path("/ü"), "/%C3%BC");
        assert_eq!(
            query(&[("recursive", "true".into()), ("prevValue", "a/b c".into())]),
            "?recursive=true&prevValue=a%2Fb%20c"
        );
        assert_eq!(query(&[]), "");
    }

    #[test]
    fn basic_auth_is_base64() {
        assert_eq!(basic_auth("root", "pw"), "Basic cm9vdDpwdw==");
        assert_eq!(basic_auth("a", "bc"), "Basic YTpiYw==");
        assert_eq!(basic_auth("ab", "cd"), "Basic YWI6Y2Q=");
    }
}
