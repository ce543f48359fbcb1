//! v2 watchers: a long poll (`?wait=true&waitIndex=N`) per event, with the
//! index kept between calls so a sequence of calls misses nothing.
//!
//! The next index is the last event's `modifiedIndex + 1`; before the
//! first event it comes from the `X-Etcd-Index` header of the first poll,
//! which etcd sends as soon as the watch is registered. A poll that fails
//! is asked again, of another member if need be, from the same index, so a
//! member going down loses or repeats nothing; etcd keeps the last 1000
//! events, and a watcher that falls further behind gets
//! [`ErrorKind::EventIndexCleared`](crate::v2::ErrorKind::EventIndexCleared).
//! A poll lasts at most the client's watch poll interval, so a member that
//! froze during one is found out at the next.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

use super::handle::{key_response, Handle};
use super::transport::{query, CallCtx, Method, Request, Retry};
use super::types::Response;

/// Options of [`Keys::watcher`](super::Keys::watcher).
#[derive(Debug, Clone, Default)]
pub struct WatcherOptions {
    after_index: u64,
    recursive: bool,
}

impl WatcherOptions {
    /// Watch from the next change on.
    pub fn new() -> Self {
        Self::default()
    }

    /// Report changes after this index (the first event is the first one
    /// with a higher index, even if it happened before the watcher was
    /// made).
    pub fn after_index(mut self, index: u64) -> Self {
        self.after_index = index;
        self
    }

    /// Watch everything under the key, not only the key.
    pub fn recursive(mut self) -> Self {
        self.recursive = true;
        self
    }
}

/// Waits for changes of a key or directory, one event per call (the Go
/// client's `Watcher`).
///
/// ```no_run
/// use std::time::Duration;
/// use etcd_blocking::v2::{self, WatcherOptions};
/// let client = v2::Client::connect(["http://127.0.0.1:2379"])?;
/// let mut watcher = client.keys().watcher("/config", WatcherOptions::new().recursive());
/// while let Some(event) = watcher.next_event_timeout(Duration::from_secs(10))? {
///     println!("{:?} {} = {}", event.action, event.node.key, event.node.value_str());
/// }
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct V2Watcher {
    handle: Handle,
    /// The key's URL path, the handle's prefix included.
    path: String,
    recursive: bool,
    /// The index the next event must have at least (0: not known yet).
    next_index: u64,
}

impl V2Watcher {
    pub(crate) fn new(handle: Handle, path: String, opts: WatcherOptions) -> V2Watcher {
        V2Watcher {
            handle,
            path,
            recursive: opts.recursive,
            next_index: if opts.after_index > 0 {
                opts.after_index + 1
            } else {
                0
            },
        }
    }

    /// The index the next event will have at least (0 before the first
    /// call of a watcher made without
    /// [`after_index`](WatcherOptions::after_index)).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Waits for the next change within the handle's deadline; fails with
    /// [`Error::DeadlineExceeded`] if none comes (call again to go on:
    /// nothing is missed).
    pub fn next_event(&mut self) -> Result<Response> {
        let timeout = self.handle.timeout;
        match self.poll_until(crate::wait::instant_after(timeout))? {
            Some(r) => Ok(r),
            None => Err(Error::DeadlineExceeded(timeout)),
        }
    }

    /// Waits up to `d` for the next change; `Ok(None)` if none came.
    pub fn next_event_timeout(&mut self, d: Duration) -> Result<Option<Response>> {
        self.poll_until(crate::wait::instant_after(d))
    }

    fn poll_until(&mut self, deadline: Instant) -> Result<Option<Response>> {
        let poll = self.handle.watch_poll();
        let token = self.handle.token.as_ref();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let poll_deadline = deadline.min(crate::wait::later(now, poll));
            let mut q = vec![("wait", "true".to_string())];
            if self.recursive {
                q.push(("recursive", "true".into()));
            }
            if self.next_index > 0 {
                q.push(("waitIndex", self.next_index.to_string()));
            }
            let start = Cell::new(self.next_index);
            let on_headers = |index: u64| {
                if start.get() == 0 {
                    start.set(index + 1);
                }
            };
            let path = format!("{}{}", self.path, query(&q));
            let mut req = Request::new(Method::Get, path, Retry::Safe);
            req.on_headers = Some(&on_headers);
            let ctx = CallCtx {
                timeout: poll_deadline - now,
                deadline: poll_deadline,
                token,
            };
            let result = self.handle.call(&req, &ctx);
            // Where this watch started counts even if no event came.
            self.next_index = start.get();
            match result {
                // etcd ends a poll with an empty body when it drops the
                // watch (shutting down, or a slow reader): ask again.
                Ok(a) if a.body.is_empty() => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(a) => {
                    let resp = key_response(a)?;
                    self.next_index = resp.node.modified_index + 1;
                    return Ok(Some(resp));
                }
                Err(Error::DeadlineExceeded(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
}
