//! The v2 keys API (`/v2/keys`): get, set, create, create in order,
//! update, delete, and the option builders of each, as the Go client's
//! `KeysAPI`.
//!
//! Every write is sent once: if it may have reached a member and no answer
//! came, it fails with [`Error::Ambiguous`] instead of going to another
//! member (see the [`v2`](crate::v2) module docs).

use std::time::Duration;

use crate::error::{Error, Result};

use super::handle::{key_response, Handle};
use super::transport::{encode_path, query, Method, Request, Retry};
use super::types::Response;
use super::watcher::{V2Watcher, WatcherOptions};

/// Options of [`Keys::get_with`].
#[derive(Debug, Clone, Default)]
pub struct V2GetOptions {
    recursive: bool,
    sorted: bool,
    quorum: bool,
}

impl V2GetOptions {
    /// No options: the node, and a directory's direct children.
    pub fn new() -> Self {
        Self::default()
    }

    /// Return a directory's whole subtree, not only its direct children.
    pub fn recursive(mut self) -> Self {
        self.recursive = true;
        self
    }

    /// Sort children by key.
    pub fn sorted(mut self) -> Self {
        self.sorted = true;
        self
    }

    /// Read through raft (a linearizable read) instead of the answering
    /// member's local store, which may lag.
    pub fn quorum(mut self) -> Self {
        self.quorum = true;
        self
    }
}

/// Whether a set needs the key to exist (the Go client's `PrevExistType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrevExist {
    /// Either way (the default).
    #[default]
    Ignore,
    /// The key must exist (an update).
    Exist,
    /// The key must not exist (a create).
    NoExist,
}

/// Options of [`Keys::set_with`].
#[derive(Debug, Clone, Default)]
pub struct SetOptions {
    prev_value: Option<String>,
    prev_index: u64,
    prev_exist: PrevExist,
    ttl: Option<Duration>,
    refresh: bool,
    dir: bool,
    no_value_on_success: bool,
}

impl SetOptions {
    /// No conditions, no TTL.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only if the current value is this (compare-and-swap).
    pub fn prev_value(mut self, v: impl Into<String>) -> Self {
        self.prev_value = Some(v.into());
        self
    }

    /// Only if the key was last modified at this index (compare-and-swap).
    pub fn prev_index(mut self, index: u64) -> Self {
        self.prev_index = index;
        self
    }

    /// Whether the key must exist, or must not.
    pub fn prev_exist(mut self, p: PrevExist) -> Self {
        self.prev_exist = p;
        self
    }

    /// The key expires after this long (whole seconds; under a second is
    /// an [`Error::InvalidRequest`]).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Reset the TTL of an existing key without changing its value or
    /// notifying watchers (give [`ttl`](Self::ttl) and an empty value).
    pub fn refresh(mut self) -> Self {
        self.refresh = true;
        self
    }

    /// Make a directory instead of a key (the value must be empty).
    pub fn dir(mut self) -> Self {
        self.dir = true;
        self
    }

    /// Leave the node out of a successful answer (etcd then sends only
    /// the action: the response's node is empty).
    pub fn no_value_on_success(mut self) -> Self {
        self.no_value_on_success = true;
        self
    }
}

/// Options of [`Keys::delete_with`].
#[derive(Debug, Clone, Default)]
pub struct V2DeleteOptions {
    prev_value: Option<String>,
    prev_index: u64,
    recursive: bool,
    dir: bool,
}

impl V2DeleteOptions {
    /// No conditions: deletes a key (not a directory).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only if the current value is this (compare-and-delete).
    pub fn prev_value(mut self, v: impl Into<String>) -> Self {
        self.prev_value = Some(v.into());
        self
    }

    /// Only if the key was last modified at this index.
    pub fn prev_index(mut self, index: u64) -> Self {
        self.prev_index = index;
        self
    }

    /// Delete a directory with everything under it.
    pub fn recursive(mut self) -> Self {
        self.recursive = true;
        self
    }

    /// The key is a directory (an empty one, unless `recursive`).
    pub fn dir(mut self) -> Self {
        self.dir = true;
        self
    }
}

/// The v2 keys API of a [`Client`](super::Client), optionally under a key
/// prefix.
///
/// ```no_run
/// use std::time::Duration;
/// use etcd_blocking::v2::{self, V2GetOptions, SetOptions};
/// let client = v2::Client::connect(["http://127.0.0.1:2379"])?;
/// let keys = client.keys_with_prefix("/myapp");
/// keys.set_with("/lock", "me", SetOptions::new().ttl(Duration::from_secs(10)))?;
/// keys.create_in_order("/jobs", "job-1")?;
/// let jobs = keys.get_with("/jobs", V2GetOptions::new().sorted().recursive())?;
/// for job in &jobs.node.nodes {
///     println!("{} = {}", job.key, job.value_str());
/// }
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Keys {
    handle: Handle,
    prefix: String,
}

impl Keys {
    pub(crate) fn new(handle: Handle, prefix: &str) -> Keys {
        Keys {
            handle,
            prefix: prefix.to_string(),
        }
    }

    /// The same keys API with another deadline for its calls.
    pub fn with_timeout(&self, timeout: Duration) -> Keys {
        Keys {
            handle: self.handle.with_timeout(timeout),
            prefix: self.prefix.clone(),
        }
    }

    /// The handle's prefix (`""` for none).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key's URL path, `/v2/keys` + prefix + key, with one `/`
    /// between parts and a trailing `/` kept (as the Go client).
    pub(crate) fn path(&self, key: &str) -> String {
        let mut p = String::from("/v2/keys");
        for part in [self.prefix.as_str(), key] {
            if !part.is_empty() && !part.starts_with('/') {
                p.push('/');
            }
            p.push_str(part);
        }
        let mut clean = String::with_capacity(p.len());
        for c in p.chars() {
            if !(c == '/' && clean.ends_with('/')) {
                clean.push(c);
            }
        }
        encode_path(&clean)
    }

    /// Reads a key or directory.
    pub fn get(&self, key: &str) -> Result<Response> {
        self.get_with(key, V2GetOptions::new())
    }

    /// Reads a key or directory with options.
    pub fn get_with(&self, key: &str, opts: V2GetOptions) -> Result<Response> {
        let mut q = Vec::new();
        for (name, on) in [
            ("recursive", opts.recursive),
            ("sorted", opts.sorted),
            ("quorum", opts.quorum),
        ] {
            if on {
                q.push((name, "true".to_string()));
            }
        }
        let path = format!("{}{}", self.path(key), query(&q));
        self.send(Request::new(Method::Get, path, Retry::Safe))
    }

    /// Sets a key's value, creating it if needed.
    pub fn set(&self, key: &str, value: &str) -> Result<Response> {
        self.set_with(key, value, SetOptions::new())
    }

    /// Sets a key's value (or makes a directory) with conditions and a
    /// TTL. A failed condition is [`ErrorKind::TestFailed`], a key that
    /// must not exist but does [`ErrorKind::NodeExist`], one that must
    /// exist but does not [`ErrorKind::KeyNotFound`].
    ///
    /// [`ErrorKind::TestFailed`]: crate::v2::ErrorKind::TestFailed
    /// [`ErrorKind::NodeExist`]: crate::v2::ErrorKind::NodeExist
    /// [`ErrorKind::KeyNotFound`]: crate::v2::ErrorKind::KeyNotFound
    ///
    /// Compare-and-swap: change a value only if nobody changed it since it
    /// was read.
    ///
    /// ```no_run
    /// use etcd_blocking::v2::{self, ErrorKind, SetOptions, V2Error};
    /// use etcd_blocking::Error;
    /// let client = v2::Client::connect(["http://127.0.0.1:2379"])?;
    /// let keys = client.keys();
    /// let read = keys.get("/counter")?;
    /// let n: u64 = read.node.value_str().parse().unwrap_or(0);
    /// let cas = SetOptions::new().prev_index(read.node.modified_index);
    /// match keys.set_with("/counter", &(n + 1).to_string(), cas) {
    ///     Ok(r) => println!("{:?}: counter is {}", r.action, r.node.value_str()),
    ///     Err(Error::V2(V2Error { kind: ErrorKind::TestFailed, .. })) => {
    ///         println!("changed meanwhile: read again and retry")
    ///     }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn set_with(&self, key: &str, value: &str, opts: SetOptions) -> Result<Response> {
        require_key(key)?;
        let mut form = Vec::new();
        // etcd refuses a value on a refresh or a directory if the field is
        // there at all, so an empty one is left out for those.
        if !(opts.dir || opts.refresh) || !value.is_empty() {
            form.push(("value", value.to_string()));
        }
        if let Some(v) = opts.prev_value {
            form.push(("prevValue", v));
        }
        if opts.prev_index != 0 {
            form.push(("prevIndex", opts.prev_index.to_string()));
        }
        match opts.prev_exist {
            PrevExist::Ignore => {}
            PrevExist::Exist => form.push(("prevExist", "true".into())),
            PrevExist::NoExist => form.push(("prevExist", "false".into())),
        }
        if let Some(ttl) = opts.ttl {
            form.push(("ttl", ttl_secs(ttl)?));
        }
        for (name, on) in [
            ("refresh", opts.refresh),
            ("dir", opts.dir),
            ("noValueOnSuccess", opts.no_value_on_success),
        ] {
            if on {
                form.push((name, "true".into()));
            }
        }
        let mut req = Request::new(Method::Put, self.path(key), Retry::Never);
        req.form = form;
        self.send(req)
    }

    /// Creates a key; fails with
    /// [`ErrorKind::NodeExist`](crate::v2::ErrorKind::NodeExist) if it
    /// exists.
    pub fn create(&self, key: &str, value: &str) -> Result<Response> {
        self.set_with(key, value, SetOptions::new().prev_exist(PrevExist::NoExist))
    }

    /// Updates an existing key; fails with
    /// [`ErrorKind::KeyNotFound`](crate::v2::ErrorKind::KeyNotFound) if
    /// there is none.
    pub fn update(&self, key: &str, value: &str) -> Result<Response> {
        self.set_with(key, value, SetOptions::new().prev_exist(PrevExist::Exist))
    }

    /// Creates a key with a new, increasing name in directory `dir` (a
    /// queue): the answer's node has the key.
    pub fn create_in_order(&self, dir: &str, value: &str) -> Result<Response> {
        self.create_in_order_inner(dir, value, None)
    }

    /// [`create_in_order`](Self::create_in_order) with a TTL for the new
    /// key.
    pub fn create_in_order_with_ttl(
        &self,
        dir: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<Response> {
        self.create_in_order_inner(dir, value, Some(ttl))
    }

    fn create_in_order_inner(
        &self,
        dir: &str,
        value: &str,
        ttl: Option<Duration>,
    ) -> Result<Response> {
        require_key(dir)?;
        let mut req = Request::new(Method::Post, self.path(dir), Retry::Never);
        req.form.push(("value", value.to_string()));
        if let Some(ttl) = ttl {
            req.form.push(("ttl", ttl_secs(ttl)?));
        }
        self.send(req)
    }

    /// Deletes a key (not a directory).
    pub fn delete(&self, key: &str) -> Result<Response> {
        self.delete_with(key, V2DeleteOptions::new())
    }

    /// Deletes a key or directory with conditions.
    pub fn delete_with(&self, key: &str, opts: V2DeleteOptions) -> Result<Response> {
        require_key(key)?;
        let mut q = Vec::new();
        if let Some(v) = opts.prev_value {
            q.push(("prevValue", v));
        }
        if opts.prev_index != 0 {
            q.push(("prevIndex", opts.prev_index.to_string()));
        }
        if opts.recursive {
            q.push(("recursive", "true".into()));
        }
        if opts.dir {
            q.push(("dir", "true".into()));
        }
        let path = format!("{}{}", self.path(key), query(&q));
        self.send(Request::new(Method::Delete, path, Retry::Never))
    }

    /// A watcher for changes of `key` (or of everything under it, with
    /// [`WatcherOptions::recursive`]). Nothing is sent until its first
    /// [`next_event`](V2Watcher::next_event).
    pub fn watcher(&self, key: &str, opts: WatcherOptions) -> V2Watcher {
        V2Watcher::new(self.handle.clone(), self.path(key), opts)
    }

    fn send(&self, req: Request<'_>) -> Result<Response> {
        key_response(self.handle.request(req)?)
    }
}

fn require_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::EmptyKey);
    }
    Ok(())
}

fn ttl_secs(ttl: Duration) -> Result<String> {
    if ttl.as_secs() == 0 {
        return Err(Error::InvalidRequest(format!(
            "TTL {ttl:?} is under the v2 API's resolution of one second"
        )));
    }
    Ok(ttl.as_secs().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v2::Client;

    #[test]
    fn paths_join_prefix_and_key_as_go_does() {
        let c = Client::connect(["http://127.0.0.1:1"]).unwrap();
        assert_eq!(c.keys().path("/a/b"), "/v2/keys/a/b");
        assert_eq!(c.keys().path("a"), "/v2/keys/a");
        assert_eq!(c.keys().path(""), "/v2/keys");
        assert_eq!(c.keys().path("/"), "/v2/keys/");
        assert_eq!(c.keys_with_prefix("/p/").path("/a/"), "/v2/keys/p/a/");
        assert_eq!(c.keys_with_prefix("p").path("a b"), "/v2/keys/p/a%20b");
    }

    #[test]
    fn bad_input_is_refused_before_sending() {
        // Port 1 refuses; these never get that far.
        let c = Client::connect(["http://127.0.0.1:1"]).unwrap();
        let k = c.keys();
        assert!(matches!(k.set("", "v"), Err(Error::EmptyKey)));
        assert!(matches!(k.delete(""), Err(Error::EmptyKey)));
        assert!(matches!(k.create_in_order("", "v"), Err(Error::EmptyKey)));
        assert!(matches!(
            k.set_with("/a", "v", SetOptions::new().ttl(Duration::from_millis(500))),
            Err(Error::InvalidRequest(_))
        ));
    }
}
