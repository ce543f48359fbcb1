//! The client's own authenticated session: the credentials from the
//! config and the token every call and stream carries, with the metadata
//! built from it.
//!
//! The token refresh is single-flight: callers that see an invalid token
//! note the token generation they used; the first to take the refresh lock
//! authenticates again, the others find the generation moved on and simply
//! retry with the new token. Passwords and tokens are never logged and
//! never appear in `Debug` output or errors.
//!
//! The session sits below the transport: it does not send anything itself.
//! Logging in goes through the transport's endpoint loop, handed in as a
//! closure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use grpcio::{Metadata, MetadataBuilder};
use parking_lot::{Mutex, MutexGuard, RwLock};

use crate::error::{Error, EtcdError, Result};
use crate::metrics;
use crate::proto::rpc as pb;
use crate::wait::{Deadline, Interrupt, CLOSE_POLL};

/// A user name and password for [`ClientBuilder::credentials`](crate::ClientBuilder::credentials).
/// The client logs in at connect, and again when etcd says the token is no
/// longer valid; the password is never printed (`Debug` hides it).
///
/// ```no_run
/// use etcd_blocking::{Client, Credentials};
/// let client = Client::builder(["127.0.0.1:2379"])
///     .credentials(Credentials::new("app", std::env::var("ETCD_PASSWORD").unwrap_or_default()))
///     .connect()?;
/// client.get("app/config")?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Clone)]
pub struct Credentials {
    user: String,
    password: String,
}

impl Credentials {
    /// Credentials of `user`.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }
    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }
    #[cfg(test)]
    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The metadata a call carries with the current token.
struct Tokened {
    generation: u64,
    /// The token alone.
    plain: Metadata,
    /// The token and `hasleader`.
    leader: Metadata,
}

/// A token given as is ([`ClientBuilder::auth_token`](crate::ClientBuilder::auth_token)),
/// never printed.
#[derive(Clone)]
pub(crate) struct StaticToken(pub String);

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The client's authenticated session.
pub(crate) struct Session {
    /// What to log in with again; `None` for a static token, which cannot
    /// be renewed.
    creds: Option<Credentials>,
    current: RwLock<Option<Arc<Tokened>>>,
    generation: AtomicU64,
    refresh: Mutex<()>,
}

impl Session {
    pub fn new(creds: Credentials) -> Session {
        Session {
            creds: Some(creds),
            current: RwLock::new(None),
            generation: AtomicU64::new(0),
            refresh: Mutex::new(()),
        }
    }

    /// A session on a token obtained elsewhere: used as is, and when etcd
    /// refuses it the refusal is the caller's to see.
    pub fn with_token(token: &StaticToken) -> Session {
        Session {
            creds: None,
            current: RwLock::new(Some(Arc::new(Tokened {
                generation: 1,
                plain: headers(Some(&token.0), false),
                leader: headers(Some(&token.0), true),
            }))),
            generation: AtomicU64::new(1),
            refresh: Mutex::new(()),
        }
    }

    /// Headers for a unary call (with `hasleader` if it requires a
    /// leader), and the token generation they carry.
    pub fn unary_headers(&self, require_leader: bool) -> (u64, Option<Metadata>) {
        match &*self.current.read() {
            Some(t) if require_leader => (t.generation, Some(t.leader.clone())),
            Some(t) => (t.generation, Some(t.plain.clone())),
            None => (0, require_leader.then(|| headers(None, true))),
        }
    }

    /// Headers for a stream (always with `hasleader`), and the token
    /// generation they carry.
    pub fn stream_headers(&self) -> (u64, Metadata) {
        match &*self.current.read() {
            Some(t) => (t.generation, t.leader.clone()),
            None => (0, headers(None, true)),
        }
    }

    /// Authenticates again unless someone already did since `seen` (the
    /// generation the caller's failed call used). `login` sends the
    /// request, through the transport's one endpoint-picking loop, and
    /// returns the token. A wrong password is
    /// [`EtcdError::AuthFailed`](crate::EtcdError::AuthFailed).
    /// A login under way elsewhere is waited for within `deadline`, and
    /// until `intr` fires.
    pub fn refresh(
        &self,
        seen: u64,
        deadline: &Deadline,
        intr: &Interrupt<'_>,
        login: impl FnOnce(&pb::AuthenticateRequest) -> Result<String>,
    ) -> Result<()> {
        let _one_at_a_time = self.turn_to_log_in(deadline, intr)?;
        if self.generation.load(Ordering::Acquire) != seen {
            return Ok(());
        }
        let Some(creds) = &self.creds else {
            return Err(Error::Etcd(EtcdError::InvalidAuthToken));
        };
        let req = pb::AuthenticateRequest {
            name: creds.user.clone(),
            password: creds.password.clone(),
            ..Default::default()
        };
        // The first login is not a renewal.
        let token = login(&req).inspect_err(|_| {
            if seen > 0 {
                metrics::token_renewal(false);
            }
        })?;
        if let Err(why) = check_token(&token) {
            if seen > 0 {
                metrics::token_renewal(false);
            }
            return Err(Error::Protocol(format!(
                "etcd returned a token that cannot be sent back: {why}"
            )));
        }
        if seen > 0 {
            metrics::token_renewal(true);
        }
        let generation = seen + 1;
        *self.current.write() = Some(Arc::new(Tokened {
            generation,
            plain: headers(Some(&token), false),
            leader: headers(Some(&token), true),
        }));
        self.generation.store(generation, Ordering::Release);
        log::debug!("authenticated as {}", creds.user);
        Ok(())
    }
}

impl Session {
    /// The single-flight lock of logging in. Its holder may be a call with
    /// a longer deadline, or one stuck on a cluster without quorum: a
    /// caller waits for it only as long as its own deadline allows, and
    /// notices a cancel or close every [`CLOSE_POLL`].
    fn turn_to_log_in(
        &self,
        deadline: &Deadline,
        intr: &Interrupt<'_>,
    ) -> Result<MutexGuard<'_, ()>> {
        loop {
            if let Some(e) = intr.check() {
                return Err(e);
            }
            let left = deadline.remaining()?;
            if let Some(turn) = self.refresh.try_lock_for(left.min(CLOSE_POLL)) {
                return Ok(turn);
            }
        }
    }
}

/// Whether `token` can travel as gRPC metadata: printable ASCII only
/// (gRPC's rule). Returns why not.
pub(crate) fn check_token(token: &str) -> std::result::Result<(), String> {
    match token.bytes().position(|b| !(b' '..=b'~').contains(&b)) {
        None if token.is_empty() => Err("empty".into()),
        None => Ok(()),
        // Never the token itself: it is a secret.
        Some(i) => Err(format!(
            "byte {i} of {} is not printable ASCII (gRPC metadata allows no other; \
             a trailing newline from a file?)",
            token.len()
        )),
    }
}

/// The metadata of a call: the token, if any, and etcd's `hasleader`, which
/// makes a member without a leader refuse the call. The token has passed
/// [`check_token`] (a configured one at connect, one from etcd when it
/// came).
pub(crate) fn headers(token: Option<&str>, has_leader: bool) -> Metadata {
    let mut b = MetadataBuilder::new();
    if let Some(t) = token {
        b.add_str("token", t).expect("token checked by check_token");
    }
    if has_leader {
        b.add_str("hasleader", "true").expect("static metadata");
    }
    b.build()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::wait::CancelToken;

    /// A session whose login lock another thread holds for `held`.
    fn busy(held: Duration) -> (Arc<Session>, std::thread::JoinHandle<()>) {
        let s = Arc::new(Session::new(Credentials::new("u", "p")));
        let (locked, is_locked) = std::sync::mpsc::channel();
        let holder = {
            let s = s.clone();
            std::thread::spawn(move || {
                let _turn = s.refresh.lock();
                locked.send(()).unwrap();
                std::thread::sleep(held);
            })
        };
        is_locked.recv().unwrap();
        (s, holder)
    }

    #[test]
    fn a_login_elsewhere_is_waited_for_only_within_the_callers_deadline() {
        let (s, holder) = busy(Duration::from_secs(3));
        let closed = AtomicBool::new(false);
        let intr = Interrupt {
            closed: &closed,
            token: None,
        };
        let t = Instant::now();
        let deadline = Deadline::after(Duration::from_millis(200));
        let r = s.refresh(0, &deadline, &intr, |_| unreachable!("not its turn"));
        let took = t.elapsed();
        assert!(
            matches!(r, Err(Error::DeadlineExceeded(d)) if d == Duration::from_millis(200)),
            "{r:?}"
        );
        assert!(took < Duration::from_secs(1), "{took:?}");
        holder.join().unwrap();
    }

    #[test]
    fn a_cancel_ends_the_wait_for_a_login_elsewhere() {
        let (s, holder) = busy(Duration::from_secs(3));
        let closed = AtomicBool::new(false);
        let token = CancelToken::new();
        let intr = Interrupt {
            closed: &closed,
            token: Some(&token),
        };
        let canceler = {
            let token = token.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                token.cancel();
            })
        };
        let t = Instant::now();
        let deadline = Deadline::after(Duration::from_secs(60));
        let r = s.refresh(0, &deadline, &intr, |_| unreachable!("not its turn"));
        assert!(matches!(r, Err(Error::Canceled)), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        canceler.join().unwrap();
        holder.join().unwrap();
    }

    #[test]
    fn the_login_runs_once_the_lock_is_free() {
        let (s, holder) = busy(Duration::from_millis(100));
        let intr = Interrupt::never();
        let deadline = Deadline::after(Duration::from_secs(5));
        s.refresh(0, &deadline, &intr, |_| Ok("token".into()))
            .unwrap();
        assert_eq!(s.generation.load(Ordering::Acquire), 1);
        holder.join().unwrap();
    }
}
