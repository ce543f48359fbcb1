//! Cluster membership: list, add (as a voter or a learner), remove, update
//! peer URLs, promote a learner.
//!
//! Peer URLs are checked before anything is sent: a typo is an
//! [`Error::InvalidRequest`] at once, not a member that can never start.

use crate::client::Client;
use crate::error::{Error, Result};
use crate::proto::{methods, rpc as pb};
use crate::transport::Retry;
use crate::types::ResponseHeader;

/// One member of the cluster, as etcd reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    id: u64,
    name: String,
    peer_urls: Vec<String>,
    client_urls: Vec<String>,
    is_learner: bool,
}

impl Member {
    /// The member id.
    pub fn id(&self) -> u64 {
        self.id
    }
    /// The member's `--name`; empty until the member has started and
    /// joined (a member added through the API has no name before that).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The URLs the other members reach it on.
    pub fn peer_urls(&self) -> &[String] {
        &self.peer_urls
    }
    /// The URLs clients reach it on; empty until the member has started.
    pub fn client_urls(&self) -> &[String] {
        &self.client_urls
    }
    /// Whether it is a non-voting learner.
    pub fn is_learner(&self) -> bool {
        self.is_learner
    }
    /// Whether the member has started and published its name and client
    /// URLs (the way `etcdctl member list` tells "unstarted" members).
    pub fn is_started(&self) -> bool {
        !self.name.is_empty()
    }
}

impl From<pb::Member> for Member {
    fn from(m: pb::Member) -> Self {
        Member {
            id: m.ID,
            name: m.name,
            peer_urls: m.peerURLs,
            client_urls: m.clientURLs,
            is_learner: m.isLearner,
        }
    }
}

fn members(v: Vec<pb::Member>) -> Vec<Member> {
    v.into_iter().map(Member::from).collect()
}

/// Result of listing the members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberListResponse {
    header: ResponseHeader,
    members: Vec<Member>,
}

impl MemberListResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// Every member, voters and learners, started or not.
    pub fn members(&self) -> &[Member] {
        &self.members
    }
    /// Takes the members out of the response.
    pub fn into_members(self) -> Vec<Member> {
        self.members
    }
}

/// Result of adding a member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberAddResponse {
    header: ResponseHeader,
    member: Member,
    members: Vec<Member>,
}

impl MemberAddResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The member just added (its id, its peer URLs; no name yet).
    pub fn member(&self) -> &Member {
        &self.member
    }
    /// The whole membership afterwards, the new member included.
    pub fn members(&self) -> &[Member] {
        &self.members
    }
}

macro_rules! membership_response {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            header: ResponseHeader,
            members: Vec<Member>,
        }

        impl $name {
            /// The response header.
            pub fn header(&self) -> &ResponseHeader {
                &self.header
            }
            /// The whole membership afterwards.
            pub fn members(&self) -> &[Member] {
                &self.members
            }
        }
    };
}

membership_response!(
    /// Result of removing a member.
    MemberRemoveResponse
);
membership_response!(
    /// Result of updating a member's peer URLs.
    MemberUpdateResponse
);
membership_response!(
    /// Result of promoting a learner.
    MemberPromoteResponse
);

/// Checks one peer URL: `http://host:port` or `https://host:port`, with an
/// IPv6 host in brackets, and nothing else (no path, query or user info),
/// as etcd's own `types.NewURLs` wants it.
fn check_peer_url(url: &str) -> std::result::Result<(), &'static str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    if rest.contains(['/', '?', '#', '@']) || rest.contains(char::is_whitespace) {
        return Err("must be scheme://host:port, with no path, query or user info");
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed '['")?;
        (host, after.strip_prefix(':').ok_or("missing port")?)
    } else {
        let (host, port) = rest.rsplit_once(':').ok_or("missing port")?;
        if host.contains(':') {
            return Err("IPv6 addresses need brackets, as in http://[::1]:2380");
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("missing host");
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err("port must be 1-65535"),
    }
}

/// Collects and checks the peer URLs of an add or update: at least one, each
/// `http(s)://host:port`.
fn peer_urls<I, S>(urls: I) -> Result<Vec<String>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let urls: Vec<String> = urls.into_iter().map(|u| u.as_ref().to_string()).collect();
    if urls.is_empty() {
        return Err(Error::InvalidRequest("no peer URLs given".into()));
    }
    for u in &urls {
        check_peer_url(u).map_err(|why| Error::InvalidRequest(format!("peer URL {u:?}: {why}")))?;
    }
    Ok(urls)
}

/// Membership calls.
///
/// Changes (add, remove, update, promote) are never retried by the client:
/// one that fails for a transport reason or a timeout may still have been
/// applied, so list the members before trying again.
///
/// With its default `--strict-reconfig-check`, an etcd member refuses
/// changes with [`EtcdError::Unhealthy`](crate::EtcdError::Unhealthy)
/// until it has been connected to the other members for 5 seconds (just
/// after a start or a restart, or while a member is down). Such a refusal
/// changed nothing and may be tried again.
impl Client {
    /// Lists the members, linearizably: the answer reflects every change
    /// committed before the call (etcd 3.5; etcd 3.4 always answers from
    /// the member's local view, which may lag just after a change).
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// for m in client.member_list()?.members() {
    ///     let name = if m.is_started() { m.name() } else { "(unstarted)" };
    ///     let role = if m.is_learner() { "learner" } else { "voter" };
    ///     println!("{:x} {name} {role} peers={:?} clients={:?}",
    ///         m.id(), m.peer_urls(), m.client_urls());
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn member_list(&self) -> Result<MemberListResponse> {
        self.member_list_request(true)
    }

    /// Lists the members from the answering member's local view, without
    /// going through consensus: works on a member cut off from the leader,
    /// but may miss a change just committed.
    pub fn member_list_serializable(&self) -> Result<MemberListResponse> {
        self.member_list_request(false)
    }

    fn member_list_request(&self, linearizable: bool) -> Result<MemberListResponse> {
        let req = pb::MemberListRequest {
            linearizable,
            ..Default::default()
        };
        let r = self.unary(&methods::CLUSTER_MEMBER_LIST, &req, Retry::Safe)?;
        Ok(MemberListResponse {
            header: r.header.into(),
            members: members(r.members),
        })
    }

    /// Adds a voting member with these peer URLs (each
    /// `http(s)://host:port`; checked before sending). Start the new
    /// member afterwards with `--initial-cluster-state existing`.
    ///
    /// A peer URL another member has fails with
    /// [`EtcdError::PeerUrlExists`](crate::EtcdError::PeerUrlExists).
    /// Adding a voter raises the quorum at once: start the member promptly,
    /// or prefer [`member_add_as_learner`](Self::member_add_as_learner).
    pub fn member_add<I, S>(&self, peer_urls: I) -> Result<MemberAddResponse>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.member_add_request(peer_urls, false)
    }

    /// Adds a non-voting learner with these peer URLs: it receives the log
    /// but does not count for the quorum until
    /// [`member_promote`](Self::member_promote)d. etcd allows one learner
    /// at a time by default; another fails with
    /// [`EtcdError::TooManyLearners`](crate::EtcdError::TooManyLearners).
    ///
    /// Growing the cluster safely: add a learner, start it, promote it
    /// once it has caught up.
    ///
    /// ```no_run
    /// use std::{thread, time::Duration};
    /// use etcd_blocking::{Error, EtcdError};
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// let added = client.member_add_as_learner(["http://10.0.0.4:2380"])?;
    /// let id = added.member().id();
    /// println!("added {id:x}; {} members now", added.members().len());
    /// // … start the new member with `--initial-cluster-state existing` …
    /// loop {
    ///     match client.member_promote(id) {
    ///         Ok(r) => {
    ///             println!("{id:x} votes; {} members", r.members().len());
    ///             break;
    ///         }
    ///         // Still catching up with the leader: nothing changed.
    ///         Err(Error::Etcd(EtcdError::LearnerNotReady)) => thread::sleep(Duration::from_secs(1)),
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn member_add_as_learner<I, S>(&self, peer_urls: I) -> Result<MemberAddResponse>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.member_add_request(peer_urls, true)
    }

    fn member_add_request<I, S>(&self, peer_urls: I, is_learner: bool) -> Result<MemberAddResponse>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let req = pb::MemberAddRequest {
            peerURLs: self::peer_urls(peer_urls)?,
            isLearner: is_learner,
            ..Default::default()
        };
        let r = self.unary(&methods::CLUSTER_MEMBER_ADD, &req, Retry::Never)?;
        Ok(MemberAddResponse {
            header: r.header.into(),
            member: r.member.into_option().map(Member::from).unwrap_or_default(),
            members: members(r.members),
        })
    }

    /// Removes a member. An unknown id fails with
    /// [`EtcdError::MemberNotFound`](crate::EtcdError::MemberNotFound). A
    /// running member that is removed stops itself.
    ///
    /// A change is never sent twice: when its outcome is unknown, look
    /// before trying again.
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// let members = client.member_list()?;
    /// if let Some(old) = members.members().iter().find(|m| m.name() == "etcd-2") {
    ///     let id = old.id();
    ///     match client.member_remove(id) {
    ///         Ok(r) => println!("removed {id:x}; {} members left", r.members().len()),
    ///         Err(e) if e.is_outcome_unknown() => {
    ///             let gone = !client.member_list()?.members().iter().any(|m| m.id() == id);
    ///             println!("removal of {id:x} may have failed; gone now: {gone}");
    ///         }
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn member_remove(&self, id: u64) -> Result<MemberRemoveResponse> {
        let req = pb::MemberRemoveRequest {
            ID: id,
            ..Default::default()
        };
        let r = self.unary(&methods::CLUSTER_MEMBER_REMOVE, &req, Retry::Never)?;
        Ok(MemberRemoveResponse {
            header: r.header.into(),
            members: members(r.members),
        })
    }

    /// Replaces a member's peer URLs (checked before sending). The member
    /// must then listen on the new URLs: changing a running member's URLs
    /// to ones it does not listen on cuts it off from the others.
    ///
    /// Do not update a learner: etcd 3.4 and 3.5.1 then record it as a
    /// voter while raft still treats it as a learner, and it can no longer
    /// be promoted (etcd issue 21694, fixed in later 3.5 and 3.6 patch
    /// releases). Remove the learner and add it again instead.
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// // etcd-1 moved to a new address (it listens there already).
    /// let members = client.member_list()?;
    /// if let Some(m) = members.members().iter().find(|m| m.name() == "etcd-1") {
    ///     client.member_update(m.id(), ["https://10.0.1.5:2380"])?;
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn member_update<I, S>(&self, id: u64, peer_urls: I) -> Result<MemberUpdateResponse>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let req = pb::MemberUpdateRequest {
            ID: id,
            peerURLs: self::peer_urls(peer_urls)?,
            ..Default::default()
        };
        let r = self.unary(&methods::CLUSTER_MEMBER_UPDATE, &req, Retry::Never)?;
        Ok(MemberUpdateResponse {
            header: r.header.into(),
            members: members(r.members),
        })
    }

    /// Promotes a learner to a voting member. Fails with
    /// [`EtcdError::LearnerNotReady`](crate::EtcdError::LearnerNotReady)
    /// while the learner has not caught up with the leader (try again
    /// later), and with
    /// [`EtcdError::MemberNotLearner`](crate::EtcdError::MemberNotLearner)
    /// for a voter.
    pub fn member_promote(&self, id: u64) -> Result<MemberPromoteResponse> {
        let req = pb::MemberPromoteRequest {
            ID: id,
            ..Default::default()
        };
        let r = self.unary(&methods::CLUSTER_MEMBER_PROMOTE, &req, Retry::Never)?;
        Ok(MemberPromoteResponse {
            header: r.header.into(),
            members: members(r.members),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_urls_are_checked() {
        for good in [
            "http://127.0.0.1:2380",
            "https://etcd-0.example:12380",
            "http://[::1]:2380",
        ] {
            assert_eq!(check_peer_url(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "127.0.0.1:2380",
            "unix://sock:1",
            "ftp://h:1",
            "http://h",
            "http://:2380",
            "http://h:0",
            "http://h:65536",
            "http://h:+80",
            "http://h:80/",
            "http://h:80/path",
            "http://user@h:80",
            "http://h:80?x=1",
            "http://::1:2380",
            "http://[::1:2380",
            "http://h :80",
        ] {
            assert!(check_peer_url(bad).is_err(), "{bad:?} passed");
        }
        assert!(matches!(
            peer_urls(Vec::<String>::new()),
            Err(Error::InvalidRequest(_))
        ));
        assert!(matches!(
            peer_urls(["http://a:1", "b:2"]),
            Err(Error::InvalidRequest(m)) if m.contains("\"b:2\"")
        ));
        assert_eq!(
            peer_urls(["http://a:1", "https://b:2"]).unwrap(),
            ["http://a:1", "https://b:2"]
        );
    }
}
