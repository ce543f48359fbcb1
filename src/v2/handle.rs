//! What every v2 API handle ([`Keys`](super::Keys), [`V2Watcher`](super::V2Watcher),
//! [`Members`](super::Members), [`Auth`](super::Auth), ...) calls through:
//! the client's shared state, the handle's deadline and cancel token, and
//! the decoding of answers.
//!
//! It sits between the API files and [`transport`](super::transport), so
//! the API files import downwards only: [`Client`](super::Client) (above
//! them) hands each of them a [`Handle`], and none of them knows the
//! `Client` type.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::Mutex;

use crate::error::Result;
use crate::wait::CancelToken;

use super::error::bad_answer;
use super::transport::{Answer, CallCtx, Request, Transport};
use super::types::{Response, ResponseBody};

/// The state every handle of one client shares. Dropping the last one
/// closes the client (unless it is the auto-sync thread's own, which only
/// shares the transport).
pub(crate) struct Shared {
    pub transport: Arc<Transport>,
    /// The auto-sync thread and the sender whose drop stops it.
    sync: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
    pub watch_poll: Duration,
    /// Whether dropping this closes the client.
    owner: bool,
}

impl Shared {
    pub fn new(transport: Arc<Transport>, watch_poll: Duration, owner: bool) -> Shared {
        Shared {
            transport,
            sync: Mutex::new(None),
            watch_poll,
            owner,
        }
    }

    /// Hands over the auto-sync thread, for [`shutdown`](Self::shutdown)
    /// to stop and join.
    pub fn set_sync_thread(&self, stop: Sender<()>, thread: JoinHandle<()>) {
        *self.sync.lock() = Some((stop, thread));
    }

    /// Closes the transport (waking every blocked call) and joins the
    /// auto-sync thread, unless this runs on it.
    pub fn shutdown(&self) {
        self.transport.close();
        if let Some((stop, thread)) = self.sync.lock().take() {
            drop(stop);
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if self.owner {
            self.shutdown();
        }
    }
}

/// The shared state plus the per-handle settings (deadline, cancel
/// token): cheap to clone, and what every API handle holds.
#[derive(Clone)]
pub(crate) struct Handle {
    pub shared: Arc<Shared>,
    pub timeout: Duration,
    /// The deadline of an enclosing call made of several requests (see
    /// [`Handle::bounded`]), which each of them ends by.
    pub until: Option<Instant>,
    pub token: Option<CancelToken>,
}

impl Handle {
    /// A handle on `shared` with `timeout` and no cancel token.
    pub fn new(shared: Arc<Shared>, timeout: Duration) -> Handle {
        Handle {
            shared,
            timeout,
            until: None,
            token: None,
        }
    }

    /// The same connections with another deadline.
    pub fn with_timeout(&self, timeout: Duration) -> Handle {
        Handle {
            timeout,
            until: None,
            ..self.clone()
        }
    }

    /// This handle with its deadline fixed from now: for a call made of
    /// several requests, which together end within the timeout.
    pub fn bounded(&self) -> Handle {
        Handle {
            until: Some(crate::wait::instant_after(self.timeout)),
            ..self.clone()
        }
    }

    /// The same connections with a cancel token.
    pub fn with_cancel(&self, token: &CancelToken) -> Handle {
        Handle {
            token: Some(token.clone()),
            ..self.clone()
        }
    }

    pub fn transport(&self) -> &Transport {
        &self.shared.transport
    }

    pub fn watch_poll(&self) -> Duration {
        self.shared.watch_poll
    }

    pub fn ctx(&self) -> CallCtx<'_> {
        CallCtx {
            timeout: self.timeout,
            deadline: self
                .until
                .unwrap_or_else(|| crate::wait::instant_after(self.timeout)),
            token: self.token.as_ref(),
        }
    }

    /// Sends `req` with this handle's deadline; a non-2xx answer is its
    /// error.
    pub fn request(&self, req: Request<'_>) -> Result<Answer> {
        self.call(&req, &self.ctx())
    }

    /// Sends `req` within `ctx`; a non-2xx answer is its error.
    pub fn call(&self, req: &Request<'_>, ctx: &CallCtx<'_>) -> Result<Answer> {
        self.shared.transport.call(req, ctx)?.ok()
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("v2::Client")
            .field("endpoints", &self.shared.transport.endpoints())
            .field("timeout", &self.timeout)
            .field("closed", &self.shared.transport.is_closed())
            .finish()
    }
}

/// Decodes a JSON answer body.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        bad_answer(format!(
            "{e}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    })
}

/// A keys answer (a get, a write, a watch event) as a [`Response`].
pub(crate) fn key_response(a: Answer) -> Result<Response> {
    let body: ResponseBody = decode(&a.body)?;
    Ok(Response {
        action: body.action,
        node: body.node,
        prev_node: body.prev_node,
        index: a.index,
        cluster_id: a.cluster_id,
    })
}
