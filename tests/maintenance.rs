//! Maintenance against real etcd: status of each member, defragmentation,
//! hashes, leader transfer, the NOSPACE alarm, and snapshots that
//! `etcdctl` accepts and restores. Each test has its own cluster: they move
//! the leader, fill the quota and raise alarms.

mod common;

use std::fs;
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{Cluster, ClusterBuilder};
use etcd_blocking::{
    Alarm, AlarmType, Client, CompactOptions, Error, EtcdError, GetOptions, HashKvResponse,
};
use sha2::{Digest, Sha256};

fn connect(cluster: &Cluster) -> Client {
    Client::connect(cluster.endpoints()).expect("connect")
}

/// A handle aimed at member `i`.
fn at(c: &Client, cluster: &Cluster, i: usize) -> Client {
    c.with_endpoint(&cluster.endpoint(i))
        .expect("with_endpoint")
}

/// Retries `f` until it returns `Some`, for at most `secs` seconds.
fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn status_of_each_member() {
    let cluster = Cluster::start(3);
    let c = connect(&cluster);
    let (major, minor, patch) = common::etcd_version();
    let version = format!("{major}.{minor}.{patch}");
    let leader = cluster.member_id(cluster.wait_leader(Duration::from_secs(10)));
    let mut leaders = 0;
    for i in 0..3 {
        // Any accepted form of the endpoint aims the handle.
        let s = c
            .with_endpoint(&cluster.client_url(i))
            .unwrap()
            .status()
            .unwrap();
        assert_eq!(Some(s.header().member_id()), cluster.member_id(i));
        assert_eq!(s.version(), version);
        assert_eq!(Some(s.leader()), leader, "member {i} sees another leader");
        assert!(s.db_size() > 0);
        assert!(s.db_size_in_use() > 0 && s.db_size_in_use() <= s.db_size());
        assert!(s.raft_term() >= 1);
        assert!(s.raft_index() > 0 && s.raft_applied_index() > 0);
        assert!(!s.is_learner());
        assert!(s.errors().is_empty(), "{:?}", s.errors());
        // etcd 3.6's fields: absent from older servers, and said so.
        if common::etcd_at_least(3, 6) {
            assert!(!s.storage_version().is_empty());
            assert!(s.db_size_quota() > 0);
            assert!(s.downgrade_info().is_some_and(|d| !d.enabled()));
        } else {
            assert_eq!(s.storage_version(), "");
            assert_eq!(s.db_size_quota(), 0);
            assert_eq!(s.downgrade_info(), None);
        }
        if s.is_leader() {
            leaders += 1;
            assert_eq!(Some(s.header().member_id()), leader);
        }
    }
    assert_eq!(leaders, 1);
    // Not one of the client's endpoints.
    assert!(matches!(
        c.with_endpoint("127.0.0.1:1"),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn defragment_gives_space_back_on_each_member() {
    let cluster = Cluster::start(3);
    let c = connect(&cluster);
    let value = vec![b'x'; 16 * 1024];
    for i in 0..150 {
        c.put(format!("defrag/{i:03}"), value.clone()).unwrap();
    }
    let del = c
        .delete_with("defrag/", etcd_blocking::DeleteOptions::new().prefix())
        .unwrap();
    assert_eq!(del.deleted(), 150);
    let full: Vec<i64> = (0..3)
        .map(|i| at(&c, &cluster, i).status().unwrap().db_size())
        .collect();
    c.compact_with(del.header().revision(), CompactOptions::new().physical())
        .unwrap();
    for (i, full) in full.into_iter().enumerate() {
        let member = at(&c, &cluster, i).with_timeout(Duration::from_secs(30));
        // The compaction reaches each member on its own time (and its
        // freed pages show in the size in use only at the backend's next
        // commit): defragment until the file shrinks.
        let after = eventually(10, "defragmentation to shrink the file", || {
            member.defragment().unwrap();
            let s = member.status().unwrap();
            (s.db_size() < full / 2).then_some(s)
        });
        assert!(after.db_size_in_use() <= after.db_size());
    }
    c.put("defrag/after", "v").unwrap();
    assert_eq!(c.get("defrag/after").unwrap().count(), 1);
}

#[test]
fn hashes_agree_across_members() {
    let cluster = Cluster::start(3);
    let c = connect(&cluster);
    let mut rev = 0;
    for i in 0..50 {
        rev = c
            .put(format!("hash/{i}"), format!("v{i}"))
            .unwrap()
            .header()
            .revision();
    }
    // Each member hashes the same history up to `rev` once it has applied
    // it (before, it says the revision is in its future).
    let hash_at = |i: usize, rev: i64| -> HashKvResponse {
        let member = at(&c, &cluster, i);
        eventually(10, "a member to apply the revision", || {
            match member.hash_kv(rev) {
                Ok(h) => Some(h),
                Err(Error::Etcd(EtcdError::FutureRevision)) => None,
                Err(e) => panic!("hash_kv on member {i}: {e}"),
            }
        })
    };
    let hashes: Vec<HashKvResponse> = (0..3).map(|i| hash_at(i, rev)).collect();
    for (i, h) in hashes.iter().enumerate() {
        assert_eq!(Some(h.header().member_id()), cluster.member_id(i));
        assert_eq!(h.hash(), hashes[0].hash(), "member {i}");
        assert_eq!(h.compact_revision(), hashes[0].compact_revision());
        assert!(h.header().revision() >= rev);
        // etcd 3.6 says which revision it hashed; older servers send 0.
        let want = if common::etcd_at_least(3, 6) { rev } else { 0 };
        assert_eq!(h.hash_revision(), want);
    }
    assert_ne!(hashes[0].hash(), 0);
    // Another revision, another hash.
    assert_ne!(hash_at(0, rev - 1).hash(), hashes[0].hash());
    // Beyond the store: typed errors.
    assert!(matches!(
        c.hash_kv(rev + 1000),
        Err(Error::Etcd(EtcdError::FutureRevision))
    ));

    // After a compaction every member reports it and still agrees.
    let compacted = rev - 10;
    c.compact_with(compacted, CompactOptions::new().physical())
        .unwrap();
    let after: Vec<HashKvResponse> = (0..3)
        .map(|i| {
            let member = at(&c, &cluster, i);
            eventually(10, "the compaction to reach every member", || {
                let h = member.hash_kv(rev).unwrap();
                (h.compact_revision() == compacted).then_some(h)
            })
        })
        .collect();
    assert!(after.iter().all(|h| h.hash() == after[0].hash()));
    assert!(matches!(
        c.hash_kv(compacted - 1),
        Err(Error::Compacted { .. })
    ));

    // The whole-backend hash agrees too once the members have applied the
    // same entries (it covers more than the key-value history).
    let whole = eventually(10, "the backends to agree", || {
        let h: Vec<u32> = (0..3)
            .map(|i| at(&c, &cluster, i).hash().unwrap().hash())
            .collect();
        h.iter().all(|x| *x == h[0]).then_some(h[0])
    });
    assert_ne!(whole, 0);
}

/// A frozen member listed before the leader gets a share of the time
/// left, not all of it: the leader is still found (the call failed with
/// DeadlineExceeded before, the leader never asked).
#[test]
fn move_leader_finds_the_leader_past_a_frozen_member() {
    let cluster = Cluster::start(3);
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let (frozen, target) = ((leader + 1) % 3, (leader + 2) % 3);
    let c = Client::builder([frozen, target, leader].map(|i| cluster.endpoint(i)))
        .request_timeout(Duration::from_secs(3))
        .connect()
        .unwrap();
    let target_id = cluster.member_id(target).unwrap();
    cluster.stop(frozen);
    let t = Instant::now();
    // Aimed at a follower that answers NotLeader; then the search.
    let moved = c
        .with_endpoint(&cluster.endpoint(target))
        .unwrap()
        .move_leader(target_id);
    let took = t.elapsed();
    cluster.cont(frozen);
    moved.unwrap();
    // The frozen member's third of 3 s, then answers (slack for a busy
    // machine): not the whole deadline.
    assert!(took < Duration::from_millis(2500), "{took:?}");
    eventually(10, "the target to lead", || {
        at(&c, &cluster, target)
            .status()
            .ok()
            .filter(|s| s.is_leader())
    });
}

#[test]
fn move_leader_to_a_follower() {
    let cluster = Cluster::start(3);
    let c = connect(&cluster);
    let ids: Vec<u64> = (0..3).map(|i| cluster.member_id(i).unwrap()).collect();
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let wait_leader = |want: usize| {
        eventually(10, "every member to see the new leader", || {
            (0..3)
                .all(|i| at(&c, &cluster, i).status().unwrap().leader() == ids[want])
                .then_some(())
        });
        assert!(at(&c, &cluster, want).status().unwrap().is_leader());
    };

    let target = (leader + 1) % 3;
    c.move_leader(ids[target]).unwrap();
    wait_leader(target);

    // A handle aimed at a follower: the call finds the leader among the
    // client's endpoints.
    let next = (target + 1) % 3;
    c.with_endpoint(&cluster.endpoint(next))
        .unwrap()
        .move_leader(ids[next])
        .unwrap();
    wait_leader(next);

    // A client that reaches no leader cannot move it.
    let follower = (next + 1) % 3;
    let only_follower = Client::connect([cluster.endpoint(follower)]).unwrap();
    assert!(matches!(
        only_follower.move_leader(ids[follower]),
        Err(Error::Etcd(EtcdError::NotLeader))
    ));
    // Not a member.
    assert!(matches!(
        c.move_leader(0x0bad_c0ff_ee00_0002),
        Err(Error::Etcd(EtcdError::BadLeaderTransferee))
    ));
    assert!(at(&c, &cluster, next).status().unwrap().is_leader());
    c.put("moved/k", "v").unwrap();
}

/// Overwrites one key with 256 KiB values until etcd refuses for lack of
/// space; returns how many writes went through.
fn fill(c: &Client) -> usize {
    let value = vec![b'q'; 256 * 1024];
    for n in 0..200 {
        match c.put("alarm/fill", value.clone()) {
            Ok(_) => {}
            Err(Error::Etcd(EtcdError::NoSpace)) => return n,
            Err(e) => panic!("put {n}: {e}"),
        }
    }
    panic!("200 writes of 256 KiB fit in the quota");
}

/// Compacts the history away and defragments, so the backend is small.
fn free_space(c: &Client, quota: i64) {
    let rev = c.get("alarm/fill").unwrap().header().revision();
    c.compact_with(rev, CompactOptions::new().physical())
        .unwrap();
    c.with_timeout(Duration::from_secs(30))
        .defragment()
        .unwrap();
    let s = c.status().unwrap();
    assert!(
        s.db_size() < quota / 2,
        "{} bytes after defrag",
        s.db_size()
    );
}

#[test]
fn nospace_alarm_is_listed_and_disarmed() {
    const QUOTA: i64 = 4 * 1024 * 1024;
    let cluster = ClusterBuilder::new(1)
        .arg(format!("--quota-backend-bytes={QUOTA}"))
        .start();
    let c = connect(&cluster);
    let id = cluster.member_id(0).unwrap();
    assert!(c.alarms().unwrap().alarms().is_empty());
    assert!(fill(&c) > 0);
    let alarms = c.alarms().unwrap();
    assert_eq!(alarms.alarms().len(), 1, "{alarms:?}");
    let nospace: Alarm = alarms.alarms()[0];
    assert_eq!(nospace.member_id(), id);
    assert_eq!(nospace.alarm(), AlarmType::NoSpace);

    // Armed: writes fail, reads work, and the member reports it.
    assert!(matches!(
        c.put("alarm/other", "v"),
        Err(Error::Etcd(EtcdError::NoSpace))
    ));
    assert_eq!(c.get("alarm/fill").unwrap().count(), 1);
    let errors = c.status().unwrap().errors().to_vec();
    assert!(errors.iter().any(|e| e.contains("NOSPACE")), "{errors:?}");

    // Disarming an alarm that is not raised changes nothing.
    assert!(c
        .alarm_disarm(id, AlarmType::Corrupt)
        .unwrap()
        .alarms()
        .is_empty());
    assert_eq!(c.alarms().unwrap().alarms(), [nospace]);

    // Free the space, disarm, write again.
    free_space(&c, QUOTA);
    assert!(matches!(
        c.put("alarm/other", "v"),
        Err(Error::Etcd(EtcdError::NoSpace))
    ));
    assert_eq!(
        c.alarm_disarm(id, AlarmType::NoSpace).unwrap().alarms(),
        [nospace]
    );
    assert!(c.alarms().unwrap().alarms().is_empty());
    assert!(c.status().unwrap().errors().is_empty());
    c.put("alarm/other", "v").unwrap();

    // Again, disarming everything at once.
    assert!(fill(&c) > 0);
    assert_eq!(c.alarms().unwrap().alarms(), [nospace]);
    free_space(&c, QUOTA);
    assert_eq!(c.disarm_all().unwrap().alarms(), [nospace]);
    assert!(c.alarms().unwrap().alarms().is_empty());
    assert!(c.disarm_all().unwrap().alarms().is_empty());
    c.put("alarm/other", "v2").unwrap();
}

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

const ETCDCTL: &str = "/usr/bin/etcdctl";

/// Runs `etcdctl` (API v3) and returns its stdout; panics with its output
/// if it fails.
fn etcdctl(args: &[&str]) -> String {
    let mut cmd = Command::new(ETCDCTL);
    cmd.env("ETCDCTL_API", "3").args(args).stdin(Stdio::null());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ETCD") && k != "ETCDCTL_API" {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {ETCDCTL}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "etcdctl {args:?} failed ({}):\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// An etcd started by hand on a restored data dir; killed when dropped.
struct Restored {
    child: Child,
    log: PathBuf,
}

impl Restored {
    fn start(data_dir: &Path, client_url: &str, peer_url: &str, log: PathBuf) -> Restored {
        let out = fs::File::create(&log).unwrap();
        let mut cmd = Command::new(common::etcd_bin());
        cmd.args(["--name", "m0", "--data-dir"])
            .arg(data_dir)
            .args(["--listen-client-urls", client_url])
            .args(["--advertise-client-urls", client_url])
            .args(["--listen-peer-urls", peer_url])
            .args(["--initial-advertise-peer-urls", peer_url])
            .args(["--initial-cluster", &format!("m0={peer_url}")])
            .args(["--logger", "zap", "--log-outputs", "stderr"])
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out));
        // etcd reads every ETCD_* variable as a flag (ETCD_BIN included).
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("ETCD") {
                cmd.env_remove(k);
            }
        }
        // Dies with the thread that started it if the test goes away
        // without dropping it.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn etcd");
        Restored { child, log }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Restored {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn snapshot_save_is_what_etcdctl_restores() {
    let cluster = Cluster::start(1);
    let c = connect(&cluster);
    let mut rev = 0;
    for i in 0..100 {
        rev = c
            .put(format!("snap/{i:03}"), format!("value {i}"))
            .unwrap()
            .header()
            .revision();
    }
    c.put("snap/key", "before").unwrap();
    let dir = tempfile::tempdir_in(common::harness_root()).unwrap();

    // Into memory, with progress.
    let mut buf = Vec::new();
    let mut calls: Vec<(u64, u64)> = Vec::new();
    let info = c
        .snapshot_to(&mut buf, |done, left| calls.push((done, left)))
        .unwrap();
    assert_eq!(info.size(), buf.len() as u64);
    assert_eq!(info.db_size() + 32, info.size());
    // The storage version comes with the stream from etcd 3.6 on.
    assert_eq!(info.version().is_empty(), !common::etcd_at_least(3, 6));
    let (db, sum) = buf.split_at(buf.len() - 32);
    assert_eq!(sum, &Sha256::digest(db)[..]);
    assert_eq!(info.sha256(), sum);
    assert_eq!(calls.last(), Some(&(info.size(), 0)));
    assert_eq!(calls[0].0 + calls[0].1, info.db_size());
    assert!(calls
        .windows(2)
        .all(|w| w[0].0 < w[1].0 && w[0].1 >= w[1].1));

    // Into a file.
    let path = dir.path().join("backup.db");
    let saved = c.snapshot_save(&path).unwrap();
    assert_eq!(entries(dir.path()), ["backup.db"], "no temporary file left");
    let file = fs::read(&path).unwrap();
    assert_eq!(file.len() as u64, saved.size());
    let (db, sum) = file.split_at(file.len() - 32);
    assert_eq!(sum, &Sha256::digest(db)[..]);

    // etcdctl reads it…
    let status = etcdctl(&["snapshot", "status", path.to_str().unwrap(), "-w", "json"]);
    let snap_rev: i64 = common::json_field(&status, "revision")
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no revision in {status}"));
    assert!(snap_rev > rev, "{status}");
    let total_keys: i64 = common::json_field(&status, "totalKey")
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no totalKey in {status}"));
    assert!(total_keys >= 101, "{status}");

    // …restores it (checking the checksum)…
    let peer_url = cluster.alloc_peer_url();
    let client_url = cluster.alloc_peer_url();
    let data_dir = dir.path().join("restored");
    etcdctl(&[
        "snapshot",
        "restore",
        path.to_str().unwrap(),
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--name",
        "m0",
        "--initial-cluster",
        &format!("m0={peer_url}"),
        "--initial-advertise-peer-urls",
        &peer_url,
    ]);

    // …and an etcd started on it serves what was written before.
    let restored = Restored::start(
        &data_dir,
        &client_url,
        &peer_url,
        dir.path().join("etcd.log"),
    );
    let r = eventually(30, "the restored etcd to serve", || {
        let r = Client::connect([&client_url]).ok()?;
        r.get("snap/key").ok().map(|_| r)
    });
    let got = r.get("snap/key").unwrap();
    assert_eq!(
        got.first().map(|kv| kv.value().to_vec()),
        Some(b"before".to_vec()),
        "{}",
        restored.log()
    );
    let all = r
        .get_with("snap/", GetOptions::new().prefix().count_only())
        .unwrap();
    assert_eq!(all.count(), 101);
    r.close().unwrap();
    drop(restored);
}

/// A writer that fails once `limit` bytes went through.
struct FailAfter {
    written: usize,
    limit: usize,
}

impl Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() > self.limit {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn failed_snapshots_leave_no_file() {
    let cluster = Cluster::start(1);
    let c = connect(&cluster);
    let value = vec![b's'; 128 * 1024];
    for i in 0..16 {
        c.put(format!("snapfail/{i}"), value.clone()).unwrap();
    }
    let dir = tempfile::tempdir_in(common::harness_root()).unwrap();
    let path = dir.path().join("s.db");

    // A writer that fails: the error is its own, and the stream is dropped.
    let e = c
        .snapshot_to(
            &mut FailAfter {
                written: 0,
                limit: 100_000,
            },
            |_, _| {},
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::StorageFull),
        "{e:?}"
    );
    c.put("snapfail/after", "v").unwrap();

    // No time to finish: nothing is left behind, an old file is kept.
    fs::write(&path, b"old").unwrap();
    let e = c
        .with_timeout(Duration::from_millis(1))
        .snapshot_save(&path)
        .unwrap_err();
    assert!(matches!(e, Error::DeadlineExceeded(_)), "{e:?}");
    assert_eq!(entries(dir.path()), ["s.db"]);
    assert_eq!(fs::read(&path).unwrap(), b"old");

    // A directory that does not exist.
    let e = c
        .snapshot_save(dir.path().join("missing/s.db"))
        .unwrap_err();
    assert!(
        matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::NotFound),
        "{e:?}"
    );
    // Not a file name.
    assert!(matches!(
        c.snapshot_save(dir.path().join("..")),
        Err(Error::InvalidRequest(_))
    ));

    // A good one replaces the old file.
    let info = c.snapshot_save(&path).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), info.size());
    assert_eq!(entries(dir.path()), ["s.db"]);
}

#[test]
fn downgrade_is_typed_on_3_5_and_unsupported_before() {
    use etcd_blocking::DowngradeAction;
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    if !common::etcd_at_least(3, 5) {
        let e = c.downgrade(DowngradeAction::Validate, "3.3").unwrap_err();
        assert!(matches!(e, Error::Unsupported(_)), "{e}");
        return;
    }
    let r = c.downgrade(DowngradeAction::Validate, "3.4").unwrap();
    assert!(r.version().starts_with("3.5"), "{}", r.version());
    let e = c.downgrade(DowngradeAction::Validate, "3.3").unwrap_err();
    assert!(
        matches!(e, Error::Etcd(EtcdError::InvalidDowngradeTargetVersion)),
        "{e}"
    );
    let e = c.downgrade(DowngradeAction::Validate, "three").unwrap_err();
    assert!(
        matches!(e, Error::Etcd(EtcdError::WrongDowngradeVersionFormat)),
        "{e}"
    );
    let e = c.downgrade(DowngradeAction::Cancel, "").unwrap_err();
    assert!(
        matches!(e, Error::Etcd(EtcdError::NoInflightDowngrade)),
        "{e}"
    );
}

#[test]
fn closing_from_inside_a_snapshot_progress_returns() {
    let c = Client::connect(common::shared().endpoints()).expect("connect");
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let mut closed = None;
        let r = c.snapshot_to(&mut io::sink(), |_, _| {
            if closed.is_none() {
                closed = Some(c.close());
            }
        });
        let _ = tx.send((r.map(drop), closed));
    });
    let (r, closed) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("close inside a snapshot's progress blocked (deadlock)");
    assert!(matches!(closed, Some(Ok(()))), "{closed:?}");
    // The snapshot stream was canceled by the close.
    assert!(matches!(r, Err(Error::ClientClosed)), "{r:?}");
}
