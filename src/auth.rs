//! Auth administration: enabling auth, users, roles and their permissions.
//! The client's own login and token live below the transport, in
//! `session.rs`.

use crate::client::Client;
use crate::error::{Code, Error, Result};
use crate::proto::{auth as authpb, methods, rpc as pb};
use crate::transport::Retry;
use crate::types::{Range, ResponseHeader};

/// What a role may do with a key or range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionType {
    /// Read.
    Read,
    /// Write.
    Write,
    /// Read and write.
    ReadWrite,
}

/// A permission of a role: a type over a key, a prefix or a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    kind: PermissionType,
    key: Vec<u8>,
    range_end: Vec<u8>,
}

impl Permission {
    fn new(kind: PermissionType, key: impl Into<Vec<u8>>) -> Permission {
        Permission {
            kind,
            key: key.into(),
            range_end: Vec::new(),
        }
    }
    /// Read access to `key`.
    pub fn read(key: impl Into<Vec<u8>>) -> Permission {
        Permission::new(PermissionType::Read, key)
    }
    /// Write access to `key`.
    pub fn write(key: impl Into<Vec<u8>>) -> Permission {
        Permission::new(PermissionType::Write, key)
    }
    /// Read and write access to `key`.
    pub fn read_write(key: impl Into<Vec<u8>>) -> Permission {
        Permission::new(PermissionType::ReadWrite, key)
    }
    /// Extends the permission to every key with the key as prefix (as
    /// [`GetOptions::prefix`](crate::GetOptions::prefix)).
    pub fn prefix(mut self) -> Permission {
        self.range_end = crate::types::prefix_range_end(&self.key);
        self
    }
    /// Extends the permission to `[key, end)` (as
    /// [`GetOptions::range_end`](crate::GetOptions::range_end)).
    pub fn range_end(mut self, end: impl Into<Vec<u8>>) -> Permission {
        self.range_end = end.into();
        self
    }
    /// The type.
    pub fn permission_type(&self) -> PermissionType {
        self.kind
    }
    /// The key (start of the range).
    pub fn key(&self) -> &[u8] {
        &self.key
    }
    /// End of the range (exclusive); empty for a single key.
    pub fn end(&self) -> &[u8] {
        &self.range_end
    }

    fn into_proto(self) -> authpb::Permission {
        use authpb::permission::Type;
        authpb::Permission {
            permType: match self.kind {
                PermissionType::Read => Type::READ,
                PermissionType::Write => Type::WRITE,
                PermissionType::ReadWrite => Type::READWRITE,
            }
            .into(),
            key: self.key,
            range_end: self.range_end,
            ..Default::default()
        }
    }

    fn from_proto(p: authpb::Permission) -> Permission {
        use authpb::permission::Type;
        Permission {
            kind: match p.permType.enum_value() {
                Ok(Type::WRITE) => PermissionType::Write,
                Ok(Type::READWRITE) => PermissionType::ReadWrite,
                _ => PermissionType::Read,
            },
            key: p.key,
            range_end: p.range_end,
        }
    }
}

/// The answer to an auth call that returns nothing but its header (enable,
/// disable, adding and deleting users and roles, grants and revokes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthResponse {
    header: ResponseHeader,
}

impl AuthResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
}

impl From<protobuf::MessageField<pb::ResponseHeader>> for AuthResponse {
    fn from(header: protobuf::MessageField<pb::ResponseHeader>) -> Self {
        AuthResponse {
            header: header.into(),
        }
    }
}

/// A user's roles ([`Client::user_get`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserGetResponse {
    header: ResponseHeader,
    roles: Vec<String>,
}

impl UserGetResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The roles granted to the user.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }
}

/// Every user ([`Client::user_list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListResponse {
    header: ResponseHeader,
    users: Vec<String>,
}

impl UserListResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The user names.
    pub fn users(&self) -> &[String] {
        &self.users
    }
}

/// A role's permissions ([`Client::role_get`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGetResponse {
    header: ResponseHeader,
    permissions: Vec<Permission>,
}

impl RoleGetResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The role's permissions.
    pub fn permissions(&self) -> &[Permission] {
        &self.permissions
    }
}

/// Every role ([`Client::role_list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleListResponse {
    header: ResponseHeader,
    roles: Vec<String>,
}

impl RoleListResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The role names.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }
}

/// Whether auth is on, and the auth store's revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthStatusResponse {
    header: ResponseHeader,
    enabled: bool,
    auth_revision: u64,
}

impl AuthStatusResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// Whether authentication is enabled.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    /// Revision of the auth store (changes with every user/role change).
    pub fn auth_revision(&self) -> u64 {
        self.auth_revision
    }
}

fn not_empty(what: &str, name: &str) -> Result<()> {
    if name.is_empty() {
        Err(Error::InvalidRequest(format!("{what} name is empty")))
    } else {
        Ok(())
    }
}

/// Auth administration.
///
/// ```no_run
/// use etcd_blocking::{Client, Credentials, Permission};
/// # let client = Client::connect(["127.0.0.1:2379"])?;
/// client.user_add("root", "root-secret")?;
/// client.user_grant_role("root", "root")?;
/// client.role_add("app-reader")?;
/// client.role_grant_permission("app-reader", Permission::read("app/").prefix())?;
/// client.user_add("alice", "alice-secret")?;
/// client.user_grant_role("alice", "app-reader")?;
/// client.auth_enable()?;
///
/// // From now on calls need credentials.
/// let alice = Client::builder(["127.0.0.1:2379"])
///     .credentials(Credentials::new("alice", "alice-secret"))
///     .connect()?;
/// alice.get("app/config")?; // allowed: a read under app/
/// assert!(alice.put("app/config", "x").is_err()); // not a writer
/// let root = Client::builder(["127.0.0.1:2379"])
///     .credentials(Credentials::new("root", "root-secret"))
///     .connect()?;
/// assert_eq!(root.user_get("alice")?.roles(), ["app-reader"]);
/// let perms = root.role_get("app-reader")?;
/// assert_eq!(perms.permissions()[0].key(), b"app/");
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
impl Client {
    /// Turns authentication on (needs a `root` user with the `root` role).
    pub fn auth_enable(&self) -> Result<AuthResponse> {
        let r = self.unary(
            &methods::AUTH_AUTH_ENABLE,
            &pb::AuthEnableRequest::default(),
            Retry::Safe,
        )?;
        Ok(r.header.into())
    }

    /// Turns authentication off (as root).
    pub fn auth_disable(&self) -> Result<AuthResponse> {
        let r = self.unary(
            &methods::AUTH_AUTH_DISABLE,
            &pb::AuthDisableRequest::default(),
            Retry::Safe,
        )?;
        Ok(r.header.into())
    }

    /// Whether auth is enabled, and the auth revision. Needs etcd 3.5; on
    /// 3.4 it fails with [`Error::Unsupported`].
    pub fn auth_status(&self) -> Result<AuthStatusResponse> {
        match self.unary(
            &methods::AUTH_AUTH_STATUS,
            &pb::AuthStatusRequest::default(),
            Retry::Safe,
        ) {
            Ok(r) => Ok(AuthStatusResponse {
                header: r.header.into(),
                enabled: r.enabled,
                auth_revision: r.authRevision,
            }),
            Err(Error::Grpc {
                code: Code::Unimplemented,
                ..
            }) => Err(Error::Unsupported(
                "auth status needs etcd 3.5 or later".into(),
            )),
            Err(e) => Err(e),
        }
    }

    /// Adds a user with a password.
    pub fn user_add(&self, name: &str, password: &str) -> Result<AuthResponse> {
        not_empty("user", name)?;
        let req = pb::AuthUserAddRequest {
            name: name.into(),
            password: password.into(),
            ..Default::default()
        };
        Ok(self
            .unary(&methods::AUTH_USER_ADD, &req, Retry::Never)?
            .header
            .into())
    }

    /// Adds a user that cannot log in with a password (etcd 3.5; for
    /// users authenticated by TLS common name).
    pub fn user_add_no_password(&self, name: &str) -> Result<AuthResponse> {
        not_empty("user", name)?;
        let req = pb::AuthUserAddRequest {
            name: name.into(),
            options: protobuf::MessageField::some(authpb::UserAddOptions {
                no_password: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        Ok(self
            .unary(&methods::AUTH_USER_ADD, &req, Retry::Never)?
            .header
            .into())
    }

    /// Deletes a user.
    pub fn user_delete(&self, name: &str) -> Result<AuthResponse> {
        not_empty("user", name)?;
        let req = pb::AuthUserDeleteRequest {
            name: name.into(),
            ..Default::default()
        };
        Ok(self
            .unary(&methods::AUTH_USER_DELETE, &req, Retry::Never)?
            .header
            .into())
    }

    /// The roles granted to a user.
    pub fn user_get(&self, name: &str) -> Result<UserGetResponse> {
        not_empty("user", name)?;
        let req = pb::AuthUserGetRequest {
            name: name.into(),
            ..Default::default()
        };
        let r = self.unary(&methods::AUTH_USER_GET, &req, Retry::Safe)?;
        Ok(UserGetResponse {
            header: r.header.into(),
            roles: r.roles,
        })
    }

    /// Every user name.
    pub fn user_list(&self) -> Result<UserListResponse> {
        let r = self.unary(
            &methods::AUTH_USER_LIST,
            &pb::AuthUserListRequest::default(),
            Retry::Safe,
        )?;
        Ok(UserListResponse {
            header: r.header.into(),
            users: r.users,
        })
    }

    /// Changes a user's password.
    pub fn user_change_password(&self, name: &str, password: &str) -> Result<AuthResponse> {
        not_empty("user", name)?;
        let req = pb::AuthUserChangePasswordRequest {
            name: name.into(),
            password: password.into(),
            ..Default::default()
        };
        let r = self.unary(&methods::AUTH_USER_CHANGE_PASSWORD, &req, Retry::Never)?;
        Ok(r.header.into())
    }

    /// Grants a role to a user.
    pub fn user_grant_role(&self, user: &str, role: &str) -> Result<AuthResponse> {
        not_empty("user", user)?;
        not_empty("role", role)?;
        let req = pb::AuthUserGrantRoleRequest {
            user: user.into(),
            role: role.into(),
            ..Default::default()
        };
        let r = self.unary(&methods::AUTH_USER_GRANT_ROLE, &req, Retry::Never)?;
        Ok(r.header.into())
    }

    /// Revokes a role from a user.
    pub fn user_revoke_role(&self, user: &str, role: &str) -> Result<AuthResponse> {
        not_empty("user", user)?;
        not_empty("role", role)?;
        let req = pb::AuthUserRevokeRoleRequest {
            name: user.into(),
            role: role.into(),
            ..Default::default()
        };
        let r = self.unary(&methods::AUTH_USER_REVOKE_ROLE, &req, Retry::Never)?;
        Ok(r.header.into())
    }

    /// Adds a role.
    pub fn role_add(&self, name: &str) -> Result<AuthResponse> {
        not_empty("role", name)?;
        let req = pb::AuthRoleAddRequest {
            name: name.into(),
            ..Default::default()
        };
        Ok(self
            .unary(&methods::AUTH_ROLE_ADD, &req, Retry::Never)?
            .header
            .into())
    }

    /// Deletes a role.
    pub fn role_delete(&self, name: &str) -> Result<AuthResponse> {
        not_empty("role", name)?;
        let req = pb::AuthRoleDeleteRequest {
            role: name.into(),
            ..Default::default()
        };
        Ok(self
            .unary(&methods::AUTH_ROLE_DELETE, &req, Retry::Never)?
            .header
            .into())
    }

    /// A role's permissions.
    pub fn role_get(&self, name: &str) -> Result<RoleGetResponse> {
        not_empty("role", name)?;
        let req = pb::AuthRoleGetRequest {
            role: name.into(),
            ..Default::default()
        };
        let r = self.unary(&methods::AUTH_ROLE_GET, &req, Retry::Safe)?;
        Ok(RoleGetResponse {
            header: r.header.into(),
            permissions: r.perm.into_iter().map(Permission::from_proto).collect(),
        })
    }

    /// Every role name.
    pub fn role_list(&self) -> Result<RoleListResponse> {
        let r = self.unary(
            &methods::AUTH_ROLE_LIST,
            &pb::AuthRoleListRequest::default(),
            Retry::Safe,
        )?;
        Ok(RoleListResponse {
            header: r.header.into(),
            roles: r.roles,
        })
    }

    /// Grants a permission to a role.
    pub fn role_grant_permission(&self, role: &str, perm: Permission) -> Result<AuthResponse> {
        not_empty("role", role)?;
        if perm.key.is_empty() {
            return Err(Error::EmptyKey);
        }
        let req = pb::AuthRoleGrantPermissionRequest {
            name: role.into(),
            perm: protobuf::MessageField::some(perm.into_proto()),
            ..Default::default()
        };
        let r = self.unary(&methods::AUTH_ROLE_GRANT_PERMISSION, &req, Retry::Never)?;
        Ok(r.header.into())
    }

    /// Revokes a role's permission on exactly this key or range (as it
    /// was granted; the permission type does not matter).
    pub fn role_revoke_permission(&self, role: &str, perm: &Permission) -> Result<AuthResponse> {
        not_empty("role", role)?;
        let (key, range_end) = if perm.range_end.is_empty() {
            Range::Key.resolve(perm.key.clone())?
        } else {
            (perm.key.clone(), perm.range_end.clone())
        };
        let req = pb::AuthRoleRevokePermissionRequest {
            role: role.into(),
            key,
            range_end,
            ..Default::default()
        };
        let r = self.unary(&methods::AUTH_ROLE_REVOKE_PERMISSION, &req, Retry::Never)?;
        Ok(r.header.into())
    }
}
