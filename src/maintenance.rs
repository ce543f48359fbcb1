//! Maintenance: member status, defragmentation, hashes, alarms and leader
//! transfer. Snapshots are `snapshot.rs`'s.
//!
//! Status, defragment, hash and snapshot are about one member's own state:
//! they go to whichever member the handle picks, so aim them with
//! [`Client::with_endpoint`] (`client.with_endpoint(ep)?.status()`) to ask a
//! given member.
//!
//! With auth on, hash, hash_kv, defragment and snapshot need a user with
//! the root role on every etcd version, and so does status on etcd 3.5.28
//! to 3.5.31 and 3.6.0 to 3.6.11 (any logged-in user before and after).
//! A refusal is [`EtcdError::PermissionDenied`] however the server words
//! it (3.4 and 3.5 pass some on as the auth store's own message).

use crate::client::Client;
use crate::error::{Error, EtcdError, Result};
use crate::proto::{methods, rpc as pb};
use crate::transport::Retry;
use crate::types::ResponseHeader;

/// One member's status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusResponse {
    header: ResponseHeader,
    version: String,
    db_size: i64,
    db_size_in_use: i64,
    leader: u64,
    raft_index: u64,
    raft_term: u64,
    raft_applied_index: u64,
    is_learner: bool,
    errors: Vec<String>,
    storage_version: String,
    db_size_quota: i64,
    downgrade: Option<DowngradeInfo>,
}

/// A downgrade under way in the cluster, as a member's
/// [`StatusResponse::downgrade_info`] reports it (etcd 3.6 on).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DowngradeInfo {
    enabled: bool,
    target_version: String,
}

impl DowngradeInfo {
    /// Whether a downgrade is enabled (the cluster is moving to
    /// [`target_version`](Self::target_version)).
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    /// The version the cluster is downgrading to (empty when none).
    pub fn target_version(&self) -> &str {
        &self.target_version
    }
}

impl StatusResponse {
    /// The response header; its member id is the member that answered.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The member's etcd version (e.g. `3.5.1`).
    pub fn version(&self) -> &str {
        &self.version
    }
    /// Size of the member's backend file, in bytes.
    pub fn db_size(&self) -> i64 {
        self.db_size
    }
    /// Bytes of the backend actually in use; the rest is free space that
    /// [`Client::defragment`] gives back.
    pub fn db_size_in_use(&self) -> i64 {
        self.db_size_in_use
    }
    /// Id of the leader as this member knows it (0: none).
    pub fn leader(&self) -> u64 {
        self.leader
    }
    /// Whether the answering member is the leader.
    pub fn is_leader(&self) -> bool {
        self.leader != 0 && self.leader == self.header.member_id()
    }
    /// The member's raft index (committed entries).
    pub fn raft_index(&self) -> u64 {
        self.raft_index
    }
    /// The member's raft term.
    pub fn raft_term(&self) -> u64 {
        self.raft_term
    }
    /// The raft index the member has applied.
    pub fn raft_applied_index(&self) -> u64 {
        self.raft_applied_index
    }
    /// Whether the member is a learner.
    pub fn is_learner(&self) -> bool {
        self.is_learner
    }
    /// Problems the member reports (no leader, active alarms), as etcd
    /// words them.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }
    /// The storage format version of the member's backend (e.g. `3.6.0`).
    /// etcd 3.6 and later only: empty from 3.4 and 3.5, which do not send it.
    pub fn storage_version(&self) -> &str {
        &self.storage_version
    }
    /// The member's backend quota in bytes (`--quota-backend-bytes`, or
    /// etcd's default when unset). etcd 3.6 and later only: 0 from 3.4 and
    /// 3.5, which do not send it.
    pub fn db_size_quota(&self) -> i64 {
        self.db_size_quota
    }
    /// The cluster's downgrade state as this member knows it. etcd 3.6 and
    /// later only: `None` from 3.4 and 3.5, which do not send it.
    pub fn downgrade_info(&self) -> Option<&DowngradeInfo> {
        self.downgrade.as_ref()
    }
}

/// Result of a defragmentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragmentResponse {
    header: ResponseHeader,
}

impl DefragmentResponse {
    /// The response header (etcd 3.4 and 3.5 send it empty: all zero).
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
}

/// Hash of a member's whole backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashResponse {
    header: ResponseHeader,
    hash: u32,
}

impl HashResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// CRC-32 of the backend's contents.
    pub fn hash(&self) -> u32 {
        self.hash
    }
}

/// Hash of a member's key-value history up to a revision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashKvResponse {
    header: ResponseHeader,
    hash: u32,
    compact_revision: i64,
    hash_revision: i64,
}

impl HashKvResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// CRC-32 of the key-value history between the compaction revision and
    /// the requested revision.
    pub fn hash(&self) -> u32 {
        self.hash
    }
    /// The member's compaction revision when the hash was taken.
    pub fn compact_revision(&self) -> i64 {
        self.compact_revision
    }
    /// The revision the hash covers up to. etcd 3.6 and later only: 0 from
    /// 3.4 and 3.5, which do not send it (there it is the requested
    /// revision, or the latest for 0).
    pub fn hash_revision(&self) -> i64 {
        self.hash_revision
    }
}

/// What an alarm is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlarmType {
    /// The backend reached its quota (`--quota-backend-bytes`): the
    /// cluster refuses writes until space is freed (compact, defragment)
    /// and the alarm is disarmed.
    NoSpace,
    /// A member's data was found to differ from the others'.
    Corrupt,
}

impl AlarmType {
    fn to_proto(self) -> pb::AlarmType {
        match self {
            AlarmType::NoSpace => pb::AlarmType::NOSPACE,
            AlarmType::Corrupt => pb::AlarmType::CORRUPT,
        }
    }
}

impl std::fmt::Display for AlarmType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AlarmType::NoSpace => "NOSPACE",
            AlarmType::Corrupt => "CORRUPT",
        })
    }
}

/// An alarm raised by a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Alarm {
    member_id: u64,
    alarm: AlarmType,
}

impl Alarm {
    /// Id of the member that raised it.
    pub fn member_id(&self) -> u64 {
        self.member_id
    }
    /// What it is about.
    pub fn alarm(&self) -> AlarmType {
        self.alarm
    }
}

/// Result of listing or disarming alarms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlarmResponse {
    header: ResponseHeader,
    alarms: Vec<Alarm>,
}

impl AlarmResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The alarms: those active (for a list) or those disarmed (for a
    /// disarm).
    pub fn alarms(&self) -> &[Alarm] {
        &self.alarms
    }
}

/// Result of a leader transfer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MoveLeaderResponse {
    header: ResponseHeader,
}

impl MoveLeaderResponse {
    /// The response header (etcd 3.4 and 3.5 send it empty: all zero).
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
}

/// What [`Client::downgrade`] asks of the cluster (etcd 3.5+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DowngradeAction {
    /// Check that the cluster can be downgraded to the version; changes
    /// nothing.
    Validate,
    /// Start downgrading the cluster version to it.
    Enable,
    /// Cancel a downgrade in progress.
    Cancel,
}

/// Result of [`Client::downgrade`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DowngradeResponse {
    header: ResponseHeader,
    version: String,
}

impl DowngradeResponse {
    /// The response header.
    pub fn header(&self) -> &ResponseHeader {
        &self.header
    }
    /// The cluster version as the server reports it.
    pub fn version(&self) -> &str {
        &self.version
    }
}

/// Maintenance calls.
impl Client {
    /// The status of the member this handle talks to: version, backend
    /// size, leader, raft indexes, alarms. To ask a given member, aim the
    /// handle at it: `client.with_endpoint(ep)?.status()`.
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// // `etcdctl endpoint status`: every member, one at a time.
    /// for ep in client.endpoints() {
    ///     match client.with_endpoint(&ep)?.status() {
    ///         Ok(s) => println!(
    ///             "{ep}: {:x} v{} db {} B ({} B in use) leader={} term {} index {} {:?}",
    ///             s.header().member_id(),
    ///             s.version(),
    ///             s.db_size(),
    ///             s.db_size_in_use(),
    ///             s.is_leader(),
    ///             s.raft_term(),
    ///             s.raft_index(),
    ///             s.errors(),
    ///         ),
    ///         Err(e) => println!("{ep}: {e}"),
    ///     }
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn status(&self) -> Result<StatusResponse> {
        let r = self.unary(
            &methods::MAINTENANCE_STATUS,
            &pb::StatusRequest::default(),
            Retry::Safe,
        )?;
        Ok(StatusResponse {
            header: r.header.into(),
            version: r.version,
            db_size: r.dbSize,
            db_size_in_use: r.dbSizeInUse,
            leader: r.leader,
            raft_index: r.raftIndex,
            raft_term: r.raftTerm,
            raft_applied_index: r.raftAppliedIndex,
            is_learner: r.isLearner,
            errors: r.errors,
            storage_version: r.storageVersion,
            db_size_quota: r.dbSizeQuota,
            downgrade: r.downgradeInfo.into_option().map(|d| DowngradeInfo {
                enabled: d.enabled,
                target_version: d.targetVersion,
            }),
        })
    }

    /// Defragments the backend of the member this handle talks to, giving
    /// free space back to the file system. Defragment each member in turn
    /// with `client.with_endpoint(ep)?.defragment()`. The member serves
    /// nothing while it runs, which can take long on a large backend: give
    /// the handle a longer deadline with [`Client::with_timeout`].
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// for ep in client.endpoints() {
    ///     let member = client.with_endpoint(&ep)?.with_timeout(Duration::from_secs(120));
    ///     let before = member.status()?.db_size();
    ///     member.defragment()?;
    ///     println!("{ep}: {before} -> {} bytes", member.status()?.db_size());
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn defragment(&self) -> Result<DefragmentResponse> {
        let r = self.unary(
            &methods::MAINTENANCE_DEFRAGMENT,
            &pb::DefragmentRequest::default(),
            Retry::Never,
        )?;
        Ok(DefragmentResponse {
            header: r.header.into(),
        })
    }

    /// Hash of the whole backend of the member this handle talks to (aim
    /// it with `client.with_endpoint(ep)?.hash()`). For comparing members,
    /// [`hash_kv`](Self::hash_kv) at a fixed revision is the better check.
    pub fn hash(&self) -> Result<HashResponse> {
        let r = self.unary(
            &methods::MAINTENANCE_HASH,
            &pb::HashRequest::default(),
            Retry::Safe,
        )?;
        Ok(HashResponse {
            header: r.header.into(),
            hash: r.hash,
        })
    }

    /// Hash of the key-value history of the member this handle talks to, up
    /// to `revision` (0: the latest). Members that agree return the same
    /// hash for the same revision: compare them with
    /// `client.with_endpoint(ep)?.hash_kv(rev)`. A revision the member has
    /// not applied yet fails with
    /// [`EtcdError::FutureRevision`](crate::EtcdError::FutureRevision), a
    /// compacted one with [`Error::Compacted`](crate::Error::Compacted).
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// // Do the members agree on the history up to now?
    /// let rev = client.status()?.header().revision();
    /// let mut first = None;
    /// for ep in client.endpoints() {
    ///     let h = client.with_endpoint(&ep)?.hash_kv(rev)?;
    ///     // Hashes compare only between members compacted at the same revision.
    ///     let (hash, compacted) = *first.get_or_insert((h.hash(), h.compact_revision()));
    ///     if h.compact_revision() == compacted && h.hash() != hash {
    ///         println!("{ep} differs at revision {rev}");
    ///     }
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn hash_kv(&self, revision: i64) -> Result<HashKvResponse> {
        let req = pb::HashKVRequest {
            revision,
            ..Default::default()
        };
        let r = self.unary(&methods::MAINTENANCE_HASH_KV, &req, Retry::Safe)?;
        Ok(HashKvResponse {
            header: r.header.into(),
            hash: r.hash,
            compact_revision: r.compact_revision,
            hash_revision: r.hash_revision,
        })
    }

    /// The active alarms of the cluster.
    ///
    /// Out of space: free it (compact, defragment every member), then
    /// disarm.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use etcd_blocking::{AlarmType, CompactOptions};
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// let active = client.alarms()?;
    /// for a in active.alarms() {
    ///     println!("member {:x}: {}", a.member_id(), a.alarm());
    /// }
    /// if active.alarms().iter().any(|a| a.alarm() == AlarmType::NoSpace) {
    ///     let rev = client.status()?.header().revision();
    ///     client.compact_with(rev, CompactOptions::new().physical())?;
    ///     for ep in client.endpoints() {
    ///         let member = client.with_endpoint(&ep)?.with_timeout(Duration::from_secs(120));
    ///         member.defragment()?;
    ///     }
    ///     let disarmed = client.disarm_all()?;
    ///     println!("disarmed {} alarms", disarmed.alarms().len());
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn alarms(&self) -> Result<AlarmResponse> {
        self.alarm_request(pb::alarm_request::AlarmAction::GET, 0, pb::AlarmType::NONE)
    }

    /// Disarms one alarm of one member; the response lists what was
    /// disarmed (nothing if there was no such alarm). Disarming NOSPACE
    /// before freeing space (compact, then defragment every member) only
    /// lets the next write raise it again.
    pub fn alarm_disarm(&self, member_id: u64, alarm: AlarmType) -> Result<AlarmResponse> {
        self.alarm_request(
            pb::alarm_request::AlarmAction::DEACTIVATE,
            member_id,
            alarm.to_proto(),
        )
    }

    /// Disarms every active alarm (as `etcdctl alarm disarm`): lists them,
    /// then disarms each, all within one deadline. The response lists
    /// what was disarmed.
    pub fn disarm_all(&self) -> Result<AlarmResponse> {
        let deadline = self.deadline();
        let active = self.within(&deadline)?.alarms()?;
        let mut out = AlarmResponse {
            header: active.header,
            alarms: Vec::new(),
        };
        for a in active.alarms {
            let r = self.within(&deadline)?.alarm_disarm(a.member_id, a.alarm)?;
            out.header = r.header;
            out.alarms.extend(r.alarms);
        }
        Ok(out)
    }

    fn alarm_request(
        &self,
        action: pb::alarm_request::AlarmAction,
        member_id: u64,
        alarm: pb::AlarmType,
    ) -> Result<AlarmResponse> {
        let req = pb::AlarmRequest {
            action: action.into(),
            memberID: member_id,
            alarm: alarm.into(),
            ..Default::default()
        };
        let retry = match action {
            pb::alarm_request::AlarmAction::GET => Retry::Safe,
            _ => Retry::Never,
        };
        let r = self.unary(&methods::MAINTENANCE_ALARM, &req, retry)?;
        let mut alarms = Vec::with_capacity(r.alarms.len());
        for a in r.alarms {
            let alarm = match a.alarm.enum_value() {
                Ok(pb::AlarmType::NOSPACE) => AlarmType::NoSpace,
                Ok(pb::AlarmType::CORRUPT) => AlarmType::Corrupt,
                Ok(pb::AlarmType::NONE) => continue,
                Err(n) => {
                    return Err(Error::Protocol(format!(
                        "etcd reported an alarm of unknown type {n}"
                    )))
                }
            };
            alarms.push(Alarm {
                member_id: a.memberID,
                alarm,
            });
        }
        Ok(AlarmResponse {
            header: r.header.into(),
            alarms,
        })
    }

    /// Validates, starts or cancels a downgrade of the cluster version to
    /// `version` (`major.minor`, one minor below the cluster's), as
    /// `etcdctl downgrade`. Needs etcd 3.5; on 3.4 it fails with
    /// [`Error::Unsupported`]. etcd's refusals are typed
    /// ([`EtcdError::InvalidDowngradeTargetVersion`],
    /// [`EtcdError::WrongDowngradeVersionFormat`],
    /// [`EtcdError::DowngradeInProcess`], [`EtcdError::NoInflightDowngrade`]).
    ///
    /// ```no_run
    /// use etcd_blocking::{Client, DowngradeAction};
    /// # let client = Client::connect(["127.0.0.1:2379"])?;
    /// let r = client.downgrade(DowngradeAction::Validate, "3.4")?;
    /// println!("cluster at {}", r.version());
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn downgrade(&self, action: DowngradeAction, version: &str) -> Result<DowngradeResponse> {
        use pb::downgrade_request::DowngradeAction as Action;
        let (action, retry) = match action {
            DowngradeAction::Validate => (Action::VALIDATE, Retry::Safe),
            DowngradeAction::Enable => (Action::ENABLE, Retry::Never),
            DowngradeAction::Cancel => (Action::CANCEL, Retry::Never),
        };
        let req = pb::DowngradeRequest {
            action: action.into(),
            version: version.to_string(),
            ..Default::default()
        };
        match self.unary(&methods::MAINTENANCE_DOWNGRADE, &req, retry) {
            Ok(r) => Ok(DowngradeResponse {
                header: r.header.into(),
                version: r.version,
            }),
            Err(Error::Grpc {
                code: crate::Code::Unimplemented,
                ..
            }) => Err(Error::Unsupported(
                "downgrade needs etcd 3.5 or later".into(),
            )),
            Err(e) => Err(e),
        }
    }

    /// Makes `target_member_id` the leader. Only the leader can hand over,
    /// so when the member this handle talks to is not the leader, the call
    /// finds the leader among the client's endpoints (by their status,
    /// each asked with an equal share of the time left, so a frozen member
    /// cannot use it all) and asks it; if none of them is the leader it fails with
    /// [`EtcdError::NotLeader`](crate::EtcdError::NotLeader). A target that
    /// is not a voting member fails with
    /// [`EtcdError::BadLeaderTransferee`](crate::EtcdError::BadLeaderTransferee).
    /// All of it within the handle's one deadline.
    ///
    /// ```no_run
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// // Hand leadership to another voter, e.g. before restarting the leader.
    /// let leader = client.status()?.leader();
    /// let members = client.member_list()?;
    /// let next = members.members().iter().find(|m| !m.is_learner() && m.id() != leader);
    /// if let Some(next) = next {
    ///     client.move_leader(next.id())?;
    ///     println!("leader {leader:x} -> {:x}", next.id());
    /// }
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn move_leader(&self, target_member_id: u64) -> Result<MoveLeaderResponse> {
        let deadline = self.deadline();
        let req = pb::MoveLeaderRequest {
            targetID: target_member_id,
            ..Default::default()
        };
        let send = |c: &Client| -> Result<MoveLeaderResponse> {
            let r = c.unary(&methods::MAINTENANCE_MOVE_LEADER, &req, Retry::Never)?;
            Ok(MoveLeaderResponse {
                header: r.header.into(),
            })
        };
        // A refusal with NotLeader means nothing happened: asking the
        // leader instead is safe.
        let not_leader = match send(self) {
            Err(e @ Error::Etcd(EtcdError::NotLeader)) => e,
            other => return other,
        };
        for (ep, member) in self.each_member_within(&deadline) {
            match member.and_then(|m| Ok((m.status()?, m))) {
                Ok((s, m)) if s.is_leader() => return send(&m.within(&deadline)?),
                Ok(_) => {}
                Err(e) => log::debug!("move_leader: status of {ep}: {e}"),
            }
        }
        Err(not_leader)
    }
}
