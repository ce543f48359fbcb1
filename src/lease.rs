//! Lease calls: grant, revoke, time-to-live and listing.
//!
//! Leases are ids with a TTL; keys attached to a lease are deleted when it
//! expires or is revoked.

use crate::client::Client;
use crate::error::{Error, Result};
use crate::kv::ResponseHeader;
use crate::proto::{methods, rpc as pb};
use crate::transport::Retry;

/// Result of a lease grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseGrantResponse {
    header: ResponseHeader,
    id: i64,
    ttl: i64,
}

impl LeaseGrantResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The lease id.
    pub fn id(&self) -> i64 {
        self.id
    }
    /// The TTL the server granted, in seconds (it may differ from the one
    /// asked for: etcd enforces a minimum).
    pub fn ttl(&self) -> i64 {
        self.ttl
    }
}

/// Result of a time-to-live query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseTimeToLiveResponse {
    header: ResponseHeader,
    id: i64,
    ttl: i64,
    granted_ttl: i64,
    keys: Vec<Vec<u8>>,
}

impl LeaseTimeToLiveResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The lease id.
    pub fn id(&self) -> i64 {
        self.id
    }
    /// Seconds left; -1 when the lease does not exist (expired or revoked).
    pub fn ttl(&self) -> i64 {
        self.ttl
    }
    /// The TTL the lease was granted with.
    pub fn granted_ttl(&self) -> i64 {
        self.granted_ttl
    }
    /// Keys attached to the lease (only when asked for).
    pub fn keys(&self) -> &[Vec<u8>] {
        &self.keys
    }
}

/// Result of listing leases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseLeasesResponse {
    header: ResponseHeader,
    ids: Vec<i64>,
}

impl LeaseLeasesResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// Ids of every lease the cluster knows.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }
}

/// Result of a lease revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRevokeResponse {
    header: ResponseHeader,
}

impl LeaseRevokeResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
}

/// Lease calls.
impl Client {
    /// Grants a lease with a TTL in seconds; the server picks the id.
    pub fn grant(&self, ttl: i64) -> Result<LeaseGrantResponse> {
        self.grant_with_id(ttl, 0)
    }

    /// Grants a lease with this id (0: the server picks one). A lease id
    /// that exists already fails with [`EtcdError::LeaseExists`](crate::EtcdError::LeaseExists).
    pub fn grant_with_id(&self, ttl: i64, id: i64) -> Result<LeaseGrantResponse> {
        let req = pb::LeaseGrantRequest {
            TTL: ttl,
            ID: id,
            ..Default::default()
        };
        // A grant with id 0 that is repeated could create two leases; with
        // a chosen id the second try fails with LeaseExists instead.
        let retry = if id == 0 { Retry::Never } else { Retry::Safe };
        let r = self.unary(&methods::LEASE_LEASE_GRANT, &req, retry)?;
        if !r.error.is_empty() {
            return Err(Error::Grpc {
                code: crate::Code::Unknown,
                message: r.error,
            });
        }
        Ok(LeaseGrantResponse {
            header: r.header.into(),
            id: r.ID,
            ttl: r.TTL,
        })
    }

    /// Revokes a lease: it ends now and its keys are deleted.
    pub fn revoke(&self, id: i64) -> Result<LeaseRevokeResponse> {
        let req = pb::LeaseRevokeRequest {
            ID: id,
            ..Default::default()
        };
        let r = self.unary(&methods::LEASE_LEASE_REVOKE, &req, Retry::Safe)?;
        Ok(LeaseRevokeResponse {
            header: r.header.into(),
        })
    }

    /// Time left on a lease, optionally with the keys attached to it.
    pub fn time_to_live(&self, id: i64, with_keys: bool) -> Result<LeaseTimeToLiveResponse> {
        let req = pb::LeaseTimeToLiveRequest {
            ID: id,
            keys: with_keys,
            ..Default::default()
        };
        let r = self.unary(&methods::LEASE_LEASE_TIME_TO_LIVE, &req, Retry::Safe)?;
        Ok(LeaseTimeToLiveResponse {
            header: r.header.into(),
            id: r.ID,
            ttl: r.TTL,
            granted_ttl: r.grantedTTL,
            keys: r.keys,
        })
    }

    /// Every lease the cluster knows.
    pub fn leases(&self) -> Result<LeaseLeasesResponse> {
        let r = self.unary(
            &methods::LEASE_LEASE_LEASES,
            &pb::LeaseLeasesRequest::default(),
            Retry::Safe,
        )?;
        Ok(LeaseLeasesResponse {
            header: r.header.into(),
            ids: r.leases.into_iter().map(|l| l.ID).collect(),
        })
    }
}
