//! The v2 API's documents as Rust values: nodes, key responses, members,
//! users and roles, and the server version. Field names follow etcd's JSON.

use serde::{Deserialize, Serialize};

/// One key or directory of the v2 store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Node {
    /// The full key, as etcd names it: a [`Keys`](crate::v2::Keys) with a
    /// prefix does not take its prefix off (nor does Go's v2 client).
    pub key: String,
    /// The value; `None` for a directory, or after a write with
    /// `no_value_on_success`.
    pub value: Option<String>,
    /// Whether this node is a directory.
    #[serde(default)]
    pub dir: bool,
    /// A directory's children, when they were asked for (a get of a
    /// directory; all levels with `recursive`).
    #[serde(default)]
    pub nodes: Vec<Node>,
    /// Index of the write that created the node.
    #[serde(rename = "createdIndex", default)]
    pub created_index: u64,
    /// Index of the last write to the node.
    #[serde(rename = "modifiedIndex", default)]
    pub modified_index: u64,
    /// When the node expires (RFC 3339, as etcd gave it), if it has a TTL.
    pub expiration: Option<String>,
    /// Seconds left to live, if the node has a TTL (0 otherwise).
    #[serde(default)]
    pub ttl: i64,
}

impl Node {
    /// The value, or `""` for a directory or a node without one.
    pub fn value_str(&self) -> &str {
        self.value.as_deref().unwrap_or("")
    }
}

/// What a key operation did, as etcd names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum Action {
    /// A read.
    Get,
    /// An unconditional write (or one with `prev_exist`).
    Set,
    /// A create (fails if the key exists), or a create in order.
    Create,
    /// An update of an existing key.
    Update,
    /// A delete.
    Delete,
    /// A write with `prev_value` or `prev_index`.
    CompareAndSwap,
    /// A delete with `prev_value` or `prev_index`.
    CompareAndDelete,
    /// A node's TTL ran out (seen by watchers).
    Expire,
    /// An action this client does not know.
    #[serde(other)]
    Unknown,
}

/// The answer of a key operation or a watch event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// What the operation did.
    pub action: Action,
    /// The node after the operation (for a delete, the deleted key with no
    /// value).
    pub node: Node,
    /// The node before the operation, for writes that replaced or removed
    /// one.
    pub prev_node: Option<Node>,
    /// The store's index when the answer was made (`X-Etcd-Index`).
    pub index: u64,
    /// The cluster's id (`X-Etcd-Cluster-Id`), as hex text.
    pub cluster_id: String,
}

#[derive(Deserialize)]
pub(crate) struct ResponseBody {
    pub action: Action,
    /// Absent after a write with `noValueOnSuccess`.
    #[serde(default)]
    pub node: Node,
    #[serde(rename = "prevNode")]
    pub prev_node: Option<Node>,
}

/// One member of the cluster, as the members API lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct V2Member {
    /// The member's id (hex text), empty for a member added but not
    /// started yet.
    pub id: String,
    /// Its name; empty until it has started.
    #[serde(default)]
    pub name: String,
    /// URLs its peers reach it at.
    #[serde(rename = "peerURLs", default)]
    pub peer_urls: Vec<String>,
    /// URLs clients reach it at; empty until it has started.
    #[serde(rename = "clientURLs", default)]
    pub client_urls: Vec<String>,
}

#[derive(Deserialize)]
pub(crate) struct MemberList {
    pub members: Vec<V2Member>,
}

/// The versions `/version` reports.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Version {
    /// The member's version (`"3.4.23"`).
    #[serde(rename = "etcdserver")]
    pub server: String,
    /// The cluster's version (`"3.4.0"`), `"not_decided"` while members
    /// still agree on it.
    #[serde(rename = "etcdcluster")]
    pub cluster: String,
}

/// A user of the v2 auth API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The user's name.
    pub user: String,
    /// The names of the user's roles.
    #[serde(default, deserialize_with = "role_names")]
    pub roles: Vec<String>,
}

/// etcd's user listing gives roles as full documents, a single user's get
/// as names; accept both and keep the names.
fn role_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NameOrRole {
        Name(String),
        Role { role: String },
    }
    let v: Option<Vec<NameOrRole>> = Option::deserialize(d)?;
    Ok(v.unwrap_or_default()
        .into_iter()
        .map(|r| match r {
            NameOrRole::Name(n) => n,
            NameOrRole::Role { role } => role,
        })
        .collect())
}

/// A role of the v2 auth API: which keys its users may read and write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Role {
    /// The role's name.
    pub role: String,
    /// Its key permissions.
    #[serde(default)]
    pub permissions: Permissions,
}

/// Key permissions of a role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Permissions {
    /// Key patterns (a trailing `*` matches a prefix) and what they allow.
    #[serde(rename = "kv", default)]
    pub kv: RwPermission,
}

/// Readable and writable key patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct RwPermission {
    /// Patterns the role may read.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub read: Vec<String>,
    /// Patterns the role may write.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub write: Vec<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// Which access a permission grant or revoke is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum V2PermissionType {
    /// Reading.
    Read,
    /// Writing.
    Write,
    /// Both.
    ReadWrite,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_recursive_get() {
        let body = r#"{"action":"get","node":{"key":"/d","dir":true,"nodes":[
            {"key":"/d/a","value":"1","modifiedIndex":5,"createdIndex":5},
            {"key":"/d/t","value":"2","expiration":"2030-01-01T00:00:00.5Z","ttl":9,
             "modifiedIndex":6,"createdIndex":6}],"modifiedIndex":4,"createdIndex":4}}"#;
        let r: ResponseBody = serde_json::from_str(body).unwrap();
        assert_eq!(r.action, Action::Get);
        assert!(r.node.dir && r.node.value.is_none());
        assert_eq!(r.node.nodes.len(), 2);
        assert_eq!(r.node.nodes[1].ttl, 9);
        assert_eq!(r.node.nodes[0].value_str(), "1");
        let r: ResponseBody =
            serde_json::from_str(r#"{"action":"compareAndSwap","node":{"key":"/k"}}"#).unwrap();
        assert_eq!(r.action, Action::CompareAndSwap);
        let r: ResponseBody =
            serde_json::from_str(r#"{"action":"frobnicate","node":{"key":"/k"}}"#).unwrap();
        assert_eq!(r.action, Action::Unknown);
    }

    #[test]
    fn users_list_roles_either_way() {
        let u: User = serde_json::from_str(r#"{"user":"a","roles":["r1","r2"]}"#).unwrap();
        assert_eq!(u.roles, ["r1", "r2"]);
        let u: User = serde_json::from_str(
            r#"{"user":"a","roles":[{"role":"r1","permissions":{"kv":{"read":null,"write":null}}}]}"#,
        )
        .unwrap();
        assert_eq!(u.roles, ["r1"]);
        let u: User = serde_json::from_str(r#"{"user":"a","roles":null}"#).unwrap();
        assert!(u.roles.is_empty());
    }
}
