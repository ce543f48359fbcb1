//! The v2 members API (`/v2/members`): list, add, remove, update, leader,
//! as the Go client's `MembersAPI`. Member changes are writes: they are
//! never sent to a second member once they may have reached one.

use crate::error::{Error, Result};

use super::handle::{decode, Handle};
use super::transport::{encode_path, Method, Request, Retry};
use super::types::{MemberList, V2Member};

/// The members API of a [`Client`](super::Client).
///
/// ```no_run
/// use etcd_blocking::v2;
/// let client = v2::Client::connect(["http://127.0.0.1:2379"])?;
/// for m in client.members().list()? {
///     println!("{} {} {:?}", m.id, m.name, m.client_urls);
/// }
/// let leader = client.members().leader()?;
/// # Ok::<(), etcd_blocking::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Members {
    handle: Handle,
}

impl Members {
    pub(crate) fn new(handle: Handle) -> Members {
        Members { handle }
    }

    /// Every member of the cluster.
    pub fn list(&self) -> Result<Vec<V2Member>> {
        let a =
            self.handle
                .request(Request::new(Method::Get, "/v2/members".into(), Retry::Safe))?;
        Ok(decode::<MemberList>(&a.body)?.members)
    }

    /// Adds a member that will join at `peer_url`; returns it (with its
    /// new id, and no name or client URLs until it starts).
    pub fn add(&self, peer_url: &str) -> Result<V2Member> {
        check_url(peer_url)?;
        let mut req = Request::new(Method::Post, "/v2/members".into(), Retry::Never);
        req.json = Some(peer_urls_json(peer_url));
        let a = self.handle.request(req)?;
        decode(&a.body)
    }

    /// Removes the member with this id (hex, as [`V2Member::id`]).
    pub fn remove(&self, id: &str) -> Result<()> {
        let req = Request::new(Method::Delete, member_path(id)?, Retry::Never);
        self.handle.request(req).map(drop)
    }

    /// Changes the peer URL of the member with this id.
    pub fn update(&self, id: &str, peer_url: &str) -> Result<()> {
        check_url(peer_url)?;
        let mut req = Request::new(Method::Put, member_path(id)?, Retry::Never);
        req.json = Some(peer_urls_json(peer_url));
        self.handle.request(req).map(drop)
    }

    /// The current leader.
    pub fn leader(&self) -> Result<V2Member> {
        let a = self.handle.request(Request::new(
            Method::Get,
            "/v2/members/leader".into(),
            Retry::Safe,
        ))?;
        decode(&a.body)
    }
}

fn member_path(id: &str) -> Result<String> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::InvalidRequest(format!(
            "member id {id:?} is not hexadecimal"
        )));
    }
    Ok(format!("/v2/members/{}", encode_path(id)))
}

fn check_url(url: &str) -> Result<()> {
    crate::Endpoint::parse(url)
        .map(drop)
        .map_err(|_| Error::InvalidRequest(format!("peer URL {url:?} is not http(s)://host:port")))
}

fn peer_urls_json(url: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "peerURLs": [url] })).expect("JSON of strings")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v2::Client;

    #[test]
    fn bad_member_input_is_refused_before_sending() {
        let c = Client::connect(["http://127.0.0.1:1"]).unwrap();
        let m = c.members();
        assert!(matches!(m.remove(""), Err(Error::InvalidRequest(_))));
        assert!(matches!(m.remove("../x"), Err(Error::InvalidRequest(_))));
        assert!(matches!(m.add("not a url"), Err(Error::InvalidRequest(_))));
        assert!(matches!(
            m.update("abc", "ftp://h:1"),
            Err(Error::InvalidRequest(_))
        ));
    }
}
