//! The v2 auth API (`/v2/auth`): enabling and disabling auth, users and
//! roles, as the Go client's `AuthAPI`, `AuthUserAPI` and `AuthRoleAPI`.
//! Every change is a write, sent at most once.

use serde::Deserialize;
use serde_json::json;

use crate::error::{Error, Result};

use super::handle::{decode, Handle};
use super::transport::{encode_path, Method, Request, Retry};
use super::types::{Role, User, V2PermissionType};

/// Turns v2 auth on and off (needs a `root` user to turn on).
///
/// ```no_run
/// use etcd_blocking::v2;
/// let client = v2::Client::connect(["http://127.0.0.1:2379"])?;
/// client.users().add("root", "rootpw")?;
/// client.auth().enable()?;
/// let root = v2::Client::builder(["http://127.0.0.1:2379"])
///     .basic_auth("root", "rootpw")
///     .connect()?;
/// root.auth().disable()?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Auth {
    handle: Handle,
}

impl Auth {
    pub(crate) fn new(handle: Handle) -> Auth {
        Auth { handle }
    }

    /// Whether auth is on.
    pub fn is_enabled(&self) -> Result<bool> {
        #[derive(Deserialize)]
        struct Enabled {
            enabled: bool,
        }
        let a = self.handle.request(Request::new(
            Method::Get,
            "/v2/auth/enable".into(),
            Retry::Safe,
        ))?;
        Ok(decode::<Enabled>(&a.body)?.enabled)
    }

    /// Turns auth on.
    pub fn enable(&self) -> Result<()> {
        let req = Request::new(Method::Put, "/v2/auth/enable".into(), Retry::Never);
        self.handle.request(req).map(drop)
    }

    /// Turns auth off (as `root`).
    pub fn disable(&self) -> Result<()> {
        let req = Request::new(Method::Delete, "/v2/auth/enable".into(), Retry::Never);
        self.handle.request(req).map(drop)
    }
}

/// The users of v2 auth.
///
/// ```no_run
/// use etcd_blocking::v2::{self, V2PermissionType};
/// let root = v2::Client::builder(["http://127.0.0.1:2379"])
///     .basic_auth("root", "rootpw")
///     .connect()?;
/// // A role that may read and write under /app, and a user with it.
/// root.roles().add("app")?;
/// root.roles().grant("app", &["/app/*"], V2PermissionType::ReadWrite)?;
/// root.users().add("web", "webpw")?;
/// root.users().grant("web", &["app"])?;
/// let web = root.users().get("web")?;
/// println!("{} has roles {:?}", web.user, web.roles);
/// let app = root.roles().get("app")?;
/// println!("app reads {:?}", app.permissions.kv.read);
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Users {
    handle: Handle,
}

impl Users {
    pub(crate) fn new(handle: Handle) -> Users {
        Users { handle }
    }

    /// Every user's name.
    pub fn list(&self) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            users: Option<Vec<User>>,
        }
        let a = self.handle.request(Request::new(
            Method::Get,
            "/v2/auth/users".into(),
            Retry::Safe,
        ))?;
        let list: List = decode(&a.body)?;
        Ok(list
            .users
            .unwrap_or_default()
            .into_iter()
            .map(|u| u.user)
            .collect())
    }

    /// Adds a user, or sets the password of an existing one (one call in
    /// etcd's API, as in the Go client).
    pub fn add(&self, name: &str, password: &str) -> Result<()> {
        self.put(name, json!({ "user": name, "password": password }))
    }

    /// Removes a user.
    pub fn remove(&self, name: &str) -> Result<()> {
        let req = Request::new(Method::Delete, path("users", name)?, Retry::Never);
        self.handle.request(req).map(drop)
    }

    /// A user and the names of its roles.
    pub fn get(&self, name: &str) -> Result<User> {
        let a =
            self.handle
                .request(Request::new(Method::Get, path("users", name)?, Retry::Safe))?;
        decode(&a.body)
    }

    /// Gives a user these roles.
    pub fn grant(&self, name: &str, roles: &[&str]) -> Result<()> {
        self.put(name, json!({ "user": name, "grant": roles }))
    }

    /// Takes these roles from a user.
    pub fn revoke(&self, name: &str, roles: &[&str]) -> Result<()> {
        self.put(name, json!({ "user": name, "revoke": roles }))
    }

    /// Changes a user's password.
    pub fn change_password(&self, name: &str, password: &str) -> Result<()> {
        self.put(name, json!({ "user": name, "password": password }))
    }

    fn put(&self, name: &str, body: serde_json::Value) -> Result<()> {
        let mut req = Request::new(Method::Put, path("users", name)?, Retry::Never);
        req.json = Some(body.to_string().into_bytes());
        self.handle.request(req).map(drop)
    }
}

/// The roles of v2 auth: which key patterns their users may read and
/// write. See [`Users`] for an example.
#[derive(Clone, Debug)]
pub struct Roles {
    handle: Handle,
}

impl Roles {
    pub(crate) fn new(handle: Handle) -> Roles {
        Roles { handle }
    }

    /// Every role's name.
    pub fn list(&self) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            roles: Option<Vec<Role>>,
        }
        let a = self.handle.request(Request::new(
            Method::Get,
            "/v2/auth/roles".into(),
            Retry::Safe,
        ))?;
        let list: List = decode(&a.body)?;
        Ok(list
            .roles
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.role)
            .collect())
    }

    /// Adds a role with no permissions.
    pub fn add(&self, name: &str) -> Result<()> {
        self.put(name, json!({ "role": name }))
    }

    /// Removes a role.
    pub fn remove(&self, name: &str) -> Result<()> {
        let req = Request::new(Method::Delete, path("roles", name)?, Retry::Never);
        self.handle.request(req).map(drop)
    }

    /// A role and its permissions.
    pub fn get(&self, name: &str) -> Result<Role> {
        let a =
            self.handle
                .request(Request::new(Method::Get, path("roles", name)?, Retry::Safe))?;
        decode(&a.body)
    }

    /// Lets the role's users read, write or both the keys matching these
    /// patterns (`/app/*` matches a prefix).
    pub fn grant(&self, name: &str, keys: &[&str], perm: V2PermissionType) -> Result<()> {
        self.put(name, json!({ "role": name, "grant": kv(keys, perm) }))
    }

    /// Takes those permissions away.
    pub fn revoke(&self, name: &str, keys: &[&str], perm: V2PermissionType) -> Result<()> {
        self.put(name, json!({ "role": name, "revoke": kv(keys, perm) }))
    }

    fn put(&self, name: &str, body: serde_json::Value) -> Result<()> {
        let mut req = Request::new(Method::Put, path("roles", name)?, Retry::Never);
        req.json = Some(body.to_string().into_bytes());
        self.handle.request(req).map(drop)
    }
}

fn kv(keys: &[&str], perm: V2PermissionType) -> serde_json::Value {
    let (read, write): (&[&str], &[&str]) = match perm {
        V2PermissionType::Read => (keys, &[]),
        V2PermissionType::Write => (&[], keys),
        V2PermissionType::ReadWrite => (keys, keys),
    };
    json!({ "kv": { "read": read, "write": write } })
}

fn path(kind: &str, name: &str) -> Result<String> {
    if name.is_empty() {
        return Err(Error::InvalidRequest(format!("{kind}: the name is empty")));
    }
    if name.contains('/') {
        return Err(Error::InvalidRequest(format!(
            "{kind}: the name {name:?} contains '/'"
        )));
    }
    Ok(format!("/v2/auth/{kind}/{}", encode_path(name)))
}
