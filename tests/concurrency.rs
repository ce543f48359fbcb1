//! The client-side concurrency recipes (Session, Mutex, Election, STM,
//! and the recipes module) against a real etcd, and against Go's own
//! implementation in `etcdctl lock` / `etcdctl elect`.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use etcd_blocking::concurrency::recipes::{Barrier, DoubleBarrier, PriorityQueue, Queue, RwMutex};
use etcd_blocking::concurrency::{stm_with, Election, Isolation, Mutex, Session, StmOptions};
use etcd_blocking::{CancelToken, Client, Error, EtcdError, GetOptions, Op, Txn};

/// Asserts that `$r` failed with an error matching `$p`.
macro_rules! assert_err {
    ($r:expr, $p:pat) => {{
        let e = $r.unwrap_err();
        assert!(matches!(e, $p), "{e}");
    }};
}

fn client() -> Client {
    Client::connect(common::shared().endpoints()).expect("connect")
}

/// Fires `token` 300 ms from now, and checks that `wait` then ended
/// promptly with `Canceled`.
fn canceled_soon<T: std::fmt::Debug>(token: &CancelToken, wait: impl FnOnce() -> Result<T, Error>) {
    let canceler = {
        let token = token.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            token.cancel();
        })
    };
    let t = Instant::now();
    let e = wait().unwrap_err();
    canceler.join().unwrap();
    assert!(matches!(e, Error::Canceled), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

/// How many keys are queued under a recipe's prefix.
fn queued(c: &Client, prefix: &str) -> usize {
    c.get_with(format!("{prefix}/"), GetOptions::new().prefix())
        .unwrap()
        .kvs()
        .len()
}

#[test]
fn a_session_keeps_its_lease_until_closed() {
    let c = client();
    let s = Session::with_ttl(&c, 2).unwrap();
    let lease = s.lease();
    // Well past the TTL, the keepalive has held it.
    thread::sleep(Duration::from_millis(3500));
    assert!(s.is_alive());
    assert!(c.time_to_live(lease).unwrap().ttl() > 0);
    s.close().unwrap();
    assert!(c.time_to_live(lease).unwrap().ttl() <= 0);

    // Dropping revokes too; orphaning leaves the lease to its TTL.
    let dropped = Session::with_ttl(&c, 30).unwrap();
    let lease = dropped.lease();
    drop(dropped);
    assert!(c.time_to_live(lease).unwrap().ttl() <= 0);
    let orphan = Session::with_ttl(&c, 30).unwrap().orphan();
    assert!(c.time_to_live(orphan).unwrap().ttl() > 0);
    c.revoke(orphan).unwrap();

    assert_err!(Session::with_ttl(&c, 0), Error::InvalidRequest(_));
    assert_err!(
        Session::with_lease(&c, 0x7777_0000_1234),
        Error::LeaseNotFound { .. }
    );
}

#[test]
fn mutex_is_exclusive_and_first_come_first_served() {
    let p = common::unique_prefix("mutex");
    let c = client();
    let s1 = Session::new(&c).unwrap();
    let s2 = Session::new(&c).unwrap();
    let s3 = Session::new(&c).unwrap();
    let mut m1 = s1.mutex(p.clone());
    m1.lock().unwrap();
    assert!(m1.is_owner().unwrap());
    assert_eq!(m1.key(), format!("{p}/{:x}", s1.lease()).as_bytes());

    let (tx, rx) = mpsc::channel();
    let mut m2 = Mutex::new(&s2, p.clone());
    let waiter = thread::spawn(move || {
        m2.lock_within(Duration::from_secs(20)).unwrap();
        tx.send(Instant::now()).unwrap();
        m2
    });
    // The second contender waits while the first holds the lock.
    assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
    // A third is refused at once, and leaves no key behind.
    let mut m3 = s3.mutex(p.clone());
    assert!(matches!(m3.try_lock(), Err(Error::Locked)));
    assert_eq!(queued(&c, &p), 2);

    let released = Instant::now();
    m1.unlock().unwrap();
    let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    eprintln!("lock handed over in {:?}", got - released);
    let mut m2 = waiter.join().unwrap();
    assert!(m2.is_owner().unwrap());
    assert!(!m1.is_owner().unwrap());
    m2.unlock().unwrap();
    m3.try_lock().unwrap();
    m3.unlock().unwrap();
    assert_eq!(queued(&c, &p), 0);
}

#[test]
fn mutex_serializes_read_modify_write() {
    let p = common::unique_prefix("counter");
    let counter = format!("{p}-value");
    let c = client();
    c.put(counter.clone(), "0").unwrap();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let c = Client::connect(common::shared().endpoints()).unwrap();
            let (p, counter) = (p.clone(), counter.clone());
            thread::spawn(move || {
                let s = Session::new(&c).unwrap();
                let mut m = s.mutex(p);
                for _ in 0..20 {
                    m.lock_within(Duration::from_secs(30)).unwrap();
                    let r = c.get(counter.clone()).unwrap();
                    let n: u64 = r.kvs()[0].value_str().unwrap().parse().unwrap();
                    c.put(counter.clone(), (n + 1).to_string()).unwrap();
                    m.unlock().unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let r = c.get(counter).unwrap();
    assert_eq!(r.kvs()[0].value_str().unwrap(), "80");
}

#[test]
fn a_lock_wait_ends_by_deadline_or_cancel_and_gives_up_its_place() {
    let p = common::unique_prefix("wait");
    let c = client();
    let holder = Session::new(&c).unwrap();
    let mut m1 = holder.mutex(p.clone());
    m1.lock().unwrap();

    let waiter = Session::new(&c).unwrap();
    let mut m2 = waiter.mutex(p.clone());
    let t = Instant::now();
    assert_err!(
        m2.lock_within(Duration::from_millis(600)),
        Error::DeadlineExceeded(_)
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(queued(&c, &p), 1, "the waiter's key was not withdrawn");

    let token = CancelToken::new();
    let cancelable =
        Session::new(&c.with_cancel(&token).with_timeout(Duration::from_secs(30))).unwrap();
    let mut m3 = cancelable.mutex(p.clone());
    canceled_soon(&token, || m3.lock());
    // Canceled, it still gave up its place, and its session still revokes
    // its lease.
    assert_eq!(queued(&c, &p), 1);
    let lease = cancelable.lease();
    drop(cancelable);
    assert!(c.time_to_live(lease).unwrap().ttl() <= 0);
    m1.unlock().unwrap();
}

#[test]
fn lock_and_campaign_waits_end_at_the_handle_deadline() {
    // One rule with the server-side `Client::lock` / `campaign`: the wait
    // ends at the deadline of the session's handle.
    let p = common::unique_prefix("ends");
    let c = client();
    let holder = Session::new(&c).unwrap();
    let mut held = holder.mutex(format!("{p}/lock"));
    held.lock().unwrap();
    let mut leader = holder.election(format!("{p}/election"));
    leader.campaign("first").unwrap();

    let short = Session::new(&c.with_timeout(Duration::from_millis(500))).unwrap();
    let mut m = short.mutex(format!("{p}/lock"));
    let mut e = short.election(format!("{p}/election"));
    // Bounded by a watchdog, so the old unbounded wait fails the test
    // instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let t = Instant::now();
        let locked = m.lock();
        let lock_took = t.elapsed();
        let t = Instant::now();
        let led = e.campaign("second");
        let _ = tx.send((locked, lock_took, led, t.elapsed()));
    });
    let (locked, lock_took, led, campaign_took) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("lock() and campaign() waited past their handle's deadline");
    assert_err!(locked, Error::DeadlineExceeded(_));
    assert_err!(led, Error::DeadlineExceeded(_));
    for took in [lock_took, campaign_took] {
        // The deadline, plus the withdrawal and scheduling on a loaded
        // machine; never the holder's lease (60 s).
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_secs(5),
            "{took:?}"
        );
    }
    // Both gave their places back.
    assert_eq!(queued(&c, &format!("{p}/lock")), 1, "withdrawn");
    assert_eq!(queued(&c, &format!("{p}/election")), 1, "withdrawn");
    held.unlock().unwrap();
    leader.resign().unwrap();
}

#[test]
fn a_wait_whose_step_runs_out_reports_the_timeout_it_was_given() {
    // A lock, a campaign, a dequeue and an observe are each several calls; with the
    // server frozen, the first step is the one that runs out, and the
    // error names the caller's timeout, not what was left of it then.
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let session = Session::new(&c).unwrap();
    let mut m = session.mutex("frozen/lock");
    let wait = Duration::from_millis(400);
    let q = Queue::new(&c, "frozen/queue").with_timeout(wait);
    let observer = c.with_timeout(wait);
    let mut e = session.election("frozen/election");
    cluster.stop(0);
    let t = Instant::now();
    let locked = m.lock_within(wait);
    // Joining the line is bounded by `wait`, not by the handle's 5 s.
    let lock_took = t.elapsed();
    let led = e.campaign_within("x", wait);
    let taken = q.dequeue();
    let observed = observer.observe("frozen/election", |_| true);
    cluster.cont(0);
    assert!(
        matches!(locked, Err(Error::DeadlineExceeded(d)) if d == wait),
        "{locked:?}"
    );
    assert!(lock_took < wait + Duration::from_secs(1), "{lock_took:?}");
    assert!(
        matches!(led, Err(Error::DeadlineExceeded(d)) if d == wait),
        "{led:?}"
    );
    assert!(
        matches!(taken, Err(Error::DeadlineExceeded(d)) if d == wait),
        "{taken:?}"
    );
    assert!(
        matches!(observed, Err(Error::DeadlineExceeded(d)) if d == wait),
        "{observed:?}"
    );
    session.close().unwrap();
}

#[test]
fn lock_and_campaign_waits_outlast_the_request_timeout() {
    // Requests time out after 1 s; the waits take 2.5 s and succeed,
    // because a wait given a bound of its own (here none) is not held to
    // the handle's deadline.
    let p = common::unique_prefix("long");
    let c = client();
    let short = c.with_timeout(Duration::from_secs(1));
    let holder = Session::new(&c).unwrap();
    let mut held = holder.mutex(format!("{p}/lock"));
    held.lock().unwrap();
    let mut leader = holder.election(format!("{p}/election"));
    leader.campaign("first").unwrap();

    let waiter = Session::new(&short).unwrap();
    let mut m = waiter.mutex(format!("{p}/lock"));
    let mut e = waiter.election(format!("{p}/election"));
    let t = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(2500));
            held.unlock().unwrap();
            leader.resign().unwrap();
        });
        m.lock_within(Duration::MAX).unwrap();
        e.campaign_within("second", Duration::MAX).unwrap();
    });
    assert!(
        t.elapsed() >= Duration::from_millis(2400),
        "{:?}",
        t.elapsed()
    );
    assert!(m.is_owner().unwrap() && e.is_leader().unwrap());

    // A bounded campaign wait past its deadline fails and withdraws.
    let other = Session::new(&c).unwrap();
    let mut late = other.election(format!("{p}/election"));
    assert_err!(
        late.campaign_within("third", Duration::from_millis(500)),
        Error::DeadlineExceeded(_)
    );
    assert_eq!(queued(&c, &format!("{p}/election")), 1, "withdrawn");
    m.unlock().unwrap();
    e.resign().unwrap();
}

#[test]
fn a_dead_holder_releases_the_lock_when_its_lease_runs_out() {
    let p = common::unique_prefix("crash");
    let c = client();
    // The holder "crashes": its keepalive stops and its lease (TTL 2 s)
    // runs out on its own.
    let holder = Session::with_ttl(&c, 2).unwrap();
    let mut m1 = holder.mutex(p.clone());
    m1.lock().unwrap();
    let _lease = holder.orphan();

    let s2 = Session::new(&c).unwrap();
    let mut m2 = s2.mutex(p.clone());
    let t = Instant::now();
    m2.lock_within(Duration::from_secs(15)).unwrap();
    eprintln!("lock taken over {:?} after the holder stopped", t.elapsed());
    assert!(t.elapsed() >= Duration::from_millis(500));
    assert!(m2.is_owner().unwrap());
    m2.unlock().unwrap();
}

#[test]
fn election_leads_proclaims_and_hands_over() {
    let p = common::unique_prefix("election");
    let c = client();
    let s1 = Session::new(&c).unwrap();
    let s2 = Session::new(&c).unwrap();
    let mut e1 = s1.election(p.clone());
    assert_err!(e1.leader(), Error::Etcd(EtcdError::ElectionNoLeader));
    assert_err!(
        e1.proclaim("early"),
        Error::Etcd(EtcdError::ElectionNotLeader)
    );

    e1.campaign("alpha").unwrap();
    assert!(e1.is_leader().unwrap());
    assert_eq!(e1.leader().unwrap().value(), b"alpha");

    let (tx, rx) = mpsc::channel();
    let mut e2 = Election::new(&s2, p.clone());
    let follower = thread::spawn(move || {
        e2.campaign_within("beta", Duration::from_secs(20)).unwrap();
        tx.send(()).unwrap();
        e2
    });
    assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
    e1.proclaim("alpha-2").unwrap();
    assert_eq!(e1.leader().unwrap().value(), b"alpha-2");

    e1.resign().unwrap();
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut e2 = follower.join().unwrap();
    assert!(e2.is_leader().unwrap());
    assert!(!e1.is_leader().unwrap());
    assert_eq!(e2.leader().unwrap().value(), b"beta");
    assert_err!(
        e1.proclaim("stale"),
        Error::Etcd(EtcdError::ElectionNotLeader)
    );
    e2.resign().unwrap();
    assert!(matches!(
        e2.leader(),
        Err(Error::Etcd(EtcdError::ElectionNoLeader))
    ));
}

// ---------------------------------------------------------------------------
// Session loss
// ---------------------------------------------------------------------------

#[test]
fn session_done_fires_when_the_lease_is_revoked_elsewhere() {
    let p = common::unique_prefix("lost");
    let c = client();
    let other = client();
    // TTL 2: the keepalive refreshes every ~0.7 s and so learns of the
    // revoke within about a second.
    let s = Session::with_ttl(&c, 2).unwrap();
    let done = s.done();
    let mut m = s.mutex(p.clone());
    m.lock().unwrap();
    let mut e = s.election(format!("{p}-election"));
    assert!(matches!(
        done.recv_timeout(Duration::from_millis(300)),
        Err(RecvTimeoutError::Timeout)
    ));

    // The promise (Session::done): a revoke is noticed at the next
    // refresh, within a third of the TTL (667 ms here), plus the refresh's
    // round trip; MARGIN covers both on a loaded machine. The clock starts
    // before the revoke is sent, so the revoke's own round trip counts
    // against the margin too.
    const MARGIN: Duration = Duration::from_millis(500);
    let bound = Duration::from_millis(2000 / 3) + MARGIN;
    let t = Instant::now();
    other.revoke(s.lease()).unwrap();
    assert_eq!(
        done.recv_timeout(bound.saturating_sub(t.elapsed())),
        Err(RecvTimeoutError::Disconnected),
        "session loss not seen within {bound:?} of the revoke"
    );
    eprintln!("session loss seen {:?} after the revoke", t.elapsed());
    assert!(!s.is_alive());
    // A clone handed out before fires as well.
    assert!(s.done().try_recv().is_err());

    // The recipes of the lost session say so on their next call.
    for r in [
        m.is_owner().map(drop),
        m.lock(),
        m.unlock(),
        e.campaign("x"),
    ] {
        assert_err!(r, Error::Etcd(EtcdError::SessionExpired));
    }
    // A fenced write with the lost lock is refused by etcd.
    let fenced = c
        .txn(
            Txn::new()
                .when([m.owner_compare()])
                .and_then([Op::put(format!("{p}-guarded"), "late")]),
        )
        .unwrap();
    assert!(!fenced.succeeded());
    assert_eq!(c.get(format!("{p}-guarded")).unwrap().count(), 0);
}

#[test]
fn a_waiting_lock_ends_when_its_session_is_lost_and_done_fires_on_close() {
    let p = common::unique_prefix("lostwait");
    let c = client();
    let holder = Session::new(&c).unwrap();
    let mut m1 = holder.mutex(p.clone());
    m1.lock().unwrap();

    let waiter = Session::with_ttl(&c, 2).unwrap();
    let lease = waiter.lease();
    let mut m2 = waiter.mutex(p.clone());
    let revoker = {
        let c = client();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(500));
            c.revoke(lease).unwrap();
        })
    };
    let t = Instant::now();
    let e = m2.lock_within(Duration::from_secs(30)).unwrap_err();
    revoker.join().unwrap();
    assert!(matches!(e, Error::Etcd(EtcdError::SessionExpired)), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(queued(&c, &p), 1);

    // Closing fires `done` too (as Go's Close does), and a mutex of the
    // closed session refuses.
    let done = holder.done();
    holder.close().unwrap();
    assert_eq!(
        done.recv_timeout(Duration::from_secs(2)),
        Err(RecvTimeoutError::Disconnected)
    );
    assert_err!(m1.lock(), Error::Etcd(EtcdError::SessionExpired));
    assert_eq!(queued(&c, &p), 0);
}

// ---------------------------------------------------------------------------
// STM
// ---------------------------------------------------------------------------

/// A small deterministic PRNG (xorshift), so the tests need no crate.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn balance(s: &mut etcd_blocking::concurrency::Stm, key: &str) -> Result<i64, Error> {
    Ok(s.get_str(key)?.map_or(0, |v| v.parse().unwrap()))
}

/// 4 threads move random amounts between 10 accounts for `run` under
/// `level`; returns the total afterwards and the retries counted.
fn bank(level: Isolation, run: Duration) -> (i64, u32, u32) {
    const ACCOUNTS: usize = 10;
    let p = common::unique_prefix("bank");
    let c = client();
    let keys: Vec<String> = (0..ACCOUNTS).map(|i| format!("{p}acct/{i}")).collect();
    for k in &keys {
        c.put(k.clone(), "100").unwrap();
    }
    let retries = Arc::new(AtomicU32::new(0));
    let commits = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let (c, keys) = (c.clone(), keys.clone());
            let (retries, commits) = (retries.clone(), commits.clone());
            thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((t + 1) * 0x2545_F491));
                let end = Instant::now() + run;
                let client = c.with_timeout(Duration::from_secs(20));
                while Instant::now() < end {
                    let from = rng.below(ACCOUNTS as u64) as usize;
                    let to = (from + 1 + rng.below(ACCOUNTS as u64 - 1) as usize) % ACCOUNTS;
                    let amount = 1 + rng.below(30) as i64;
                    let opts = StmOptions::new().isolation(level);
                    let done = stm_with(&client, opts, |s| {
                        let a = balance(s, &keys[from])?;
                        let b = balance(s, &keys[to])?;
                        if a >= amount {
                            s.put(keys[from].clone(), (a - amount).to_string());
                            s.put(keys[to].clone(), (b + amount).to_string());
                        }
                        Ok::<_, Error>(())
                    })
                    .unwrap();
                    retries.fetch_add(done.retries(), Ordering::Relaxed);
                    commits.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let r = c
        .get_with(format!("{p}acct/"), GetOptions::new().prefix())
        .unwrap();
    assert_eq!(r.kvs().len(), ACCOUNTS);
    let total = r
        .kvs()
        .iter()
        .map(|kv| kv.value_str().unwrap().parse::<i64>().unwrap())
        .sum();
    (
        total,
        retries.load(Ordering::Relaxed),
        commits.load(Ordering::Relaxed),
    )
}

#[test]
fn stm_transfers_keep_the_total_under_every_serializable_level() {
    for level in [
        Isolation::SerializableSnapshot,
        Isolation::Serializable,
        Isolation::RepeatableReads,
    ] {
        let (total, retries, commits) = bank(level, Duration::from_millis(2500));
        eprintln!("{level:?}: {commits} transfers committed, {retries} retries");
        assert_eq!(total, 1000, "{level:?} changed the total");
        assert!(
            retries > 0,
            "{level:?}: no conflict happened, nothing shown"
        );
        assert!(commits > 20, "{level:?}: only {commits} transfers");
    }
}

/// Runs an increment of `counter` under `level` while another client
/// increments it between the STM's read and its commit (first attempt
/// only). Returns the final counter and the STM's retries.
fn increment_raced(level: Isolation) -> (String, u32) {
    let p = common::unique_prefix("race");
    let key = format!("{p}counter");
    let c = client();
    let other = client();
    c.put(key.clone(), "0").unwrap();
    let mut attempt = 0;
    let done = stm_with(&c, StmOptions::new().isolation(level), |s| {
        let n: i64 = s.get_str(key.clone())?.unwrap().parse().unwrap();
        attempt += 1;
        if attempt == 1 {
            other.put(key.clone(), (n + 1).to_string())?;
        }
        s.put(key.clone(), (n + 1).to_string());
        Ok::<_, Error>(n)
    })
    .unwrap();
    assert!(done.response().succeeded());
    let v = c.get(key).unwrap().kvs()[0]
        .value_str()
        .unwrap()
        .to_string();
    (v, done.retries())
}

#[test]
fn read_committed_loses_a_concurrent_update_the_other_levels_retry() {
    for level in [
        Isolation::SerializableSnapshot,
        Isolation::Serializable,
        Isolation::RepeatableReads,
    ] {
        assert_eq!(increment_raced(level), ("2".to_string(), 1), "{level:?}");
    }
    // The anomaly read committed allows: the other increment is lost.
    assert_eq!(
        increment_raced(Isolation::ReadCommitted),
        ("1".to_string(), 0)
    );
}

#[test]
fn stm_levels_differ_as_documented_on_blind_writes_and_snapshots() {
    let c = client();
    let other = client();

    // Blind write: the closure reads `a` and writes `x` without reading
    // it, while another client writes `x`. Only serializable snapshot
    // refuses that commit.
    for (level, want_retries) in [
        (Isolation::SerializableSnapshot, 1),
        (Isolation::Serializable, 0),
    ] {
        let p = common::unique_prefix("blind");
        let (a, x) = (format!("{p}a"), format!("{p}x"));
        c.put(a.clone(), "1").unwrap();
        let mut attempt = 0;
        let done = stm_with(&c, StmOptions::new().isolation(level), |s| {
            s.get(a.clone())?;
            attempt += 1;
            if attempt == 1 {
                other.put(x.clone(), "other")?;
            }
            s.put(x.clone(), "mine");
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_eq!(done.retries(), want_retries, "{level:?}");
        assert_eq!(c.get(x).unwrap().kvs()[0].value(), b"mine");
    }

    // Snapshot: a transfer from a to b happens between the closure's two
    // reads. Serializable reads both at the first read's revision (a
    // consistent sum); repeatable reads reads b afresh (an inconsistent
    // sum, in an attempt that then cannot commit).
    for (level, first_sum) in [
        (Isolation::Serializable, 100),
        (Isolation::RepeatableReads, 110),
    ] {
        let p = common::unique_prefix("snap");
        let (a, b) = (format!("{p}a"), format!("{p}b"));
        c.put(a.clone(), "50").unwrap();
        c.put(b.clone(), "50").unwrap();
        let mut sums = Vec::new();
        let done = stm_with(&c, StmOptions::new().isolation(level), |s| {
            let va = balance(s, &a)?;
            if sums.is_empty() {
                other.txn(
                    Txn::new().and_then([Op::put(a.clone(), "40"), Op::put(b.clone(), "60")]),
                )?;
            }
            let vb = balance(s, &b)?;
            sums.push(va + vb);
            Ok::<_, Error>(())
        })
        .unwrap();
        assert_eq!(done.retries(), 1, "{level:?}");
        assert_eq!(sums, [first_sum, 100], "{level:?}");
    }
}

#[derive(Debug, PartialEq)]
enum AppError {
    Insufficient(i64),
    Etcd(String),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Etcd(e.to_string())
    }
}

#[test]
fn stm_aborts_with_the_users_error_prefetches_and_returns_the_commit() {
    let p = common::unique_prefix("stmapi");
    let (a, b, watched) = (format!("{p}a"), format!("{p}b"), format!("{p}w"));
    let c = client();
    let other = client();
    c.put(a.clone(), "5").unwrap();

    // Abort: the user's error comes back and nothing is written.
    let e = stm_with(&c, StmOptions::new(), |s| {
        let v: i64 = s.get_str(a.clone())?.unwrap().parse().unwrap();
        s.put(b.clone(), "written?");
        if v < 10 {
            return Err(AppError::Insufficient(v));
        }
        Ok(())
    })
    .unwrap_err();
    assert_eq!(e, AppError::Insufficient(5));
    assert_eq!(c.get(b.clone()).unwrap().count(), 0);

    // A prefetched key is in the read set even if the closure never reads
    // it: changing it under the first attempt makes it run again.
    c.put(watched.clone(), "0").unwrap();
    let mut attempt = 0;
    let done = stm_with(
        &c,
        StmOptions::new()
            .isolation(Isolation::Serializable)
            .prefetch([watched.clone(), a.clone()]),
        |s| {
            attempt += 1;
            if attempt == 1 {
                other.put(watched.clone(), "1")?;
            }
            let v = s.get_str(a.clone())?.unwrap();
            s.put(b.clone(), v.clone());
            Ok::<_, Error>(v)
        },
    )
    .unwrap();
    assert_eq!(done.retries(), 1);
    assert_eq!(done.value(), "5");
    // The commit's response: the put's result, at the revision that wrote b.
    assert!(done.response().succeeded());
    assert_eq!(done.response().responses().len(), 1);
    let rev = done.response().header().revision();
    assert_eq!(c.get(b.clone()).unwrap().kvs()[0].mod_revision(), rev);
    assert_eq!(done.into_value(), "5");
}

#[test]
fn stm_retries_stop_at_the_deadline_and_on_cancel() {
    let p = common::unique_prefix("stmstop");
    let key = format!("{p}hot");
    let c = client();
    let other = client();
    c.put(key.clone(), "0").unwrap();
    // Every attempt conflicts: another write lands before each commit.
    let conflicting = |s: &mut etcd_blocking::concurrency::Stm| {
        let n: i64 = s.get_str(key.clone())?.unwrap().parse().unwrap();
        other.put(key.clone(), (n + 100).to_string())?;
        s.put(key.clone(), (n + 1).to_string());
        Ok::<_, Error>(())
    };
    let t = Instant::now();
    assert_err!(
        stm_with(
            &c.with_timeout(Duration::from_millis(500)),
            StmOptions::new(),
            conflicting,
        ),
        Error::DeadlineExceeded(_)
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());

    let token = CancelToken::new();
    canceled_soon(&token, || {
        stm_with(
            &c.with_cancel(&token).with_timeout(Duration::from_secs(30)),
            StmOptions::new(),
            conflicting,
        )
    });
}

// ---------------------------------------------------------------------------
// Election::observe
// ---------------------------------------------------------------------------

/// Runs `f` until it does not fail with `Unavailable` (nothing was sent),
/// for calls made while a restarted member comes back.
fn when_served<T>(mut f: impl FnMut() -> Result<T, Error>) -> T {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        match f() {
            Err(Error::Unavailable(e)) if Instant::now() < end => {
                eprintln!("not served yet: {e:?}");
                thread::sleep(Duration::from_millis(100));
            }
            r => return r.unwrap(),
        }
    }
}

#[test]
fn observe_sees_every_change_in_order_across_a_member_restart() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let name = "election/observed";
    let s1 = Session::new(&c).unwrap();
    let s2 = Session::new(&c).unwrap();
    let observer_session = Session::new(&c).unwrap();
    let observer = observer_session.election(name).observe().unwrap();

    let mut e1 = s1.election(name);
    e1.campaign("v0").unwrap();
    e1.proclaim("v1").unwrap();
    e1.proclaim("v2").unwrap();
    // Let the observer catch up to part of it before the restart, so the
    // restart falls in the middle of the observation.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let ev = observer
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap();
        seen.push(ev);
    }
    cluster.restart(0);
    when_served(|| e1.proclaim("v3"));
    when_served(|| e1.proclaim("v4"));

    // A second campaigner queues behind, and takes over on resignation.
    let queued_before = c
        .get_with(format!("{name}/"), GetOptions::new().prefix().count_only())
        .unwrap()
        .count();
    assert_eq!(queued_before, 1);
    let mut e2 = Election::new(&s2, name);
    let key2 = e2.key().to_vec();
    // w1 follows w0 at once, so the observer's read of the new leader
    // usually comes after both: it must still report w0 (the read is made
    // at the revision where the old leader went).
    let follower = thread::spawn(move || {
        e2.campaign_within("w0", Duration::from_secs(20)).unwrap();
        e2.proclaim("w1").unwrap();
        e2
    });
    while c
        .get_with(format!("{name}/"), GetOptions::new().prefix().count_only())
        .unwrap()
        .count()
        < 2
    {
        thread::sleep(Duration::from_millis(20));
    }
    e1.resign().unwrap();
    let _e2 = follower.join().unwrap();

    let want = [
        (e1.key().to_vec(), "v0"),
        (e1.key().to_vec(), "v1"),
        (e1.key().to_vec(), "v2"),
        (e1.key().to_vec(), "v3"),
        (e1.key().to_vec(), "v4"),
        (key2.clone(), "w0"),
        (key2, "w1"),
    ];
    while seen.len() < want.len() {
        match observer.recv_timeout(Duration::from_secs(10)).unwrap() {
            Some(ev) => seen.push(ev),
            None => break,
        }
    }
    let got: Vec<(Vec<u8>, &str)> = seen
        .iter()
        .map(|ev| (ev.key().to_vec(), ev.kv().value_str().unwrap()))
        .collect();
    assert_eq!(got, want);
    assert!(seen.windows(2).all(|w| w[0].revision() < w[1].revision()));
    // Nothing more, nothing repeated.
    assert!(observer
        .recv_timeout(Duration::from_millis(300))
        .unwrap()
        .is_none());
}

#[test]
fn observe_reports_every_value_of_the_next_leader_even_when_it_reads_late() {
    // The observer's buffer holds 64 changes; more than that, unread,
    // hold its thread back, so it only sees the first leader go after the
    // second has proclaimed again. Go's observe would then report the
    // second leader's latest value only.
    let c = client();
    let name = "election/late";
    let s1 = Session::new(&c).unwrap();
    let s2 = Session::new(&c).unwrap();
    let observer_session = Session::new(&c).unwrap();
    let observer = observer_session.election(name).observe().unwrap();
    let mut e1 = s1.election(name);
    e1.campaign("v0").unwrap();
    let mut want = vec![(e1.key().to_vec(), "v0".to_string())];
    for i in 1..80 {
        let v = format!("v{i}");
        e1.proclaim(v.as_str()).unwrap();
        want.push((e1.key().to_vec(), v));
    }
    let mut e2 = Election::new(&s2, name);
    let key2 = e2.key().to_vec();
    let follower = thread::spawn(move || {
        e2.campaign_within("w0", Duration::from_secs(20)).unwrap();
        e2
    });
    while queued(&c, name) < 2 {
        thread::sleep(Duration::from_millis(20));
    }
    e1.resign().unwrap();
    let mut e2 = follower.join().unwrap();
    e2.proclaim("w1").unwrap();
    want.push((key2.clone(), "w0".into()));
    want.push((key2, "w1".into()));

    let mut got = Vec::new();
    while got.len() < want.len() {
        match observer.recv_timeout(Duration::from_secs(10)).unwrap() {
            Some(ev) => got.push((ev.key().to_vec(), ev.kv().value_str().unwrap().to_string())),
            None => break,
        }
    }
    assert_eq!(got, want);
    assert!(observer
        .recv_timeout(Duration::from_millis(300))
        .unwrap()
        .is_none());
}

#[test]
fn observe_ends_on_cancel_close_or_drop() {
    let p = common::unique_prefix("obsend");
    let c = client();
    let s = Session::new(&c).unwrap();

    let token = CancelToken::new();
    let cancelable = Session::new(&c.with_cancel(&token)).unwrap();
    let observer = cancelable.election(p.clone()).observe().unwrap();
    // Nobody leads yet: nothing to report.
    assert!(observer
        .recv_timeout(Duration::from_millis(300))
        .unwrap()
        .is_none());
    let mut e = s.election(p.clone());
    e.campaign("a").unwrap();
    let ev = observer
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!((ev.key(), ev.value()), (e.key(), &b"a"[..]));
    assert_eq!(ev.leader_revision(), e.revision());
    assert_eq!(ev.revision(), e.revision());

    let t = Instant::now();
    token.cancel();
    assert_err!(
        observer.recv_timeout(Duration::from_secs(3)),
        Error::Canceled
    );
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(observer.recv().is_err());
    assert_eq!(observer.iter().count(), 1);

    // Dropping stops and joins the thread promptly, even mid-watch.
    let watching = s.election(p.clone()).observe().unwrap();
    assert_eq!(watching.recv().unwrap().value(), b"a");
    let t = Instant::now();
    drop(watching);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    // Closing the client ends it with ClientClosed.
    let other = client();
    let other_session = Session::new(&other).unwrap();
    let closing = other_session.election(p.clone()).observe().unwrap();
    assert_eq!(closing.recv().unwrap().value(), b"a");
    other.close().unwrap();
    assert_err!(
        closing.recv_timeout(Duration::from_secs(3)),
        Error::ClientClosed
    );
    e.resign().unwrap();
}

// ---------------------------------------------------------------------------
// Recipes
// ---------------------------------------------------------------------------

#[test]
fn a_barrier_holds_every_waiter_and_releases_them_all_at_once() {
    let p = common::unique_prefix("barrier");
    let key = format!("{p}gate");
    let c = client();
    let barrier = Barrier::new(&c, key.clone());
    // Not held: waiting returns at once.
    barrier.wait().unwrap();
    assert!(barrier.hold().unwrap());
    assert!(!barrier.hold().unwrap(), "held twice");

    let (tx, rx) = mpsc::channel();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (tx, b) = (tx.clone(), Barrier::new(&client(), key.clone()));
            thread::spawn(move || {
                b.with_timeout(Duration::from_secs(20)).wait().unwrap();
                tx.send(Instant::now()).unwrap();
            })
        })
        .collect();
    assert!(rx.recv_timeout(Duration::from_millis(700)).is_err());
    // A waiter with a short deadline gives up.
    assert_err!(
        Barrier::new(&c, key.clone())
            .with_timeout(Duration::from_millis(300))
            .wait(),
        Error::DeadlineExceeded(_)
    );

    let released = Instant::now();
    barrier.release().unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    let times: Vec<Instant> = rx.try_iter().collect();
    assert_eq!(times.len(), 3);
    assert!(times.iter().all(|t| *t >= released));
    assert_eq!(c.get(key).unwrap().count(), 0);
}

#[test]
fn a_double_barrier_enters_and_leaves_together() {
    let p = common::unique_prefix("double");
    let key = format!("{p}phase");
    let c = client();
    let waiters = || {
        c.get_with(format!("{key}/waiters/"), GetOptions::new().prefix())
            .unwrap()
            .kvs()
            .len()
    };

    // One that gives up entering takes its key back.
    let quitter = Session::new(&c).unwrap();
    assert_err!(
        DoubleBarrier::new(&quitter, key.clone(), 3)
            .with_timeout(Duration::from_millis(300))
            .enter(),
        Error::DeadlineExceeded(_)
    );
    assert_eq!(waiters(), 0);

    let (entered_tx, entered) = mpsc::channel();
    let (left_tx, left) = mpsc::channel();
    let worker = |i: usize| {
        let (key, entered_tx, left_tx) = (key.clone(), entered_tx.clone(), left_tx.clone());
        let (go_tx, go) = mpsc::channel::<()>();
        let t = thread::spawn(move || {
            let c = client();
            let s = Session::new(&c).unwrap();
            let mut b = DoubleBarrier::new(&s, key, 3).with_timeout(Duration::from_secs(20));
            b.enter().unwrap();
            entered_tx.send((i, Instant::now())).unwrap();
            // Each worker leaves when told to.
            go.recv().unwrap();
            let leaving = Instant::now();
            b.leave().unwrap();
            left_tx.send((i, leaving, Instant::now())).unwrap();
        });
        (t, go_tx)
    };
    let first_two = [worker(0), worker(1)];
    assert!(entered.recv_timeout(Duration::from_millis(700)).is_err());
    assert_eq!(waiters(), 2);
    let third_at = Instant::now();
    let third = worker(2);
    let mut enters = Vec::new();
    for _ in 0..3 {
        enters.push(entered.recv_timeout(Duration::from_secs(10)).unwrap());
    }
    assert!(enters.iter().all(|(_, t)| *t >= third_at));

    // A fourth is one too many: refused, and its key taken back.
    let extra = Session::new(&c).unwrap();
    assert_err!(
        DoubleBarrier::new(&extra, key.clone(), 3).enter(),
        Error::InvalidRequest(_)
    );
    assert_eq!(waiters(), 3);

    // Workers 0 and 1 leave, but stay in `leave` until worker 2 leaves.
    for (_, go) in &first_two {
        go.send(()).unwrap();
    }
    assert!(left.recv_timeout(Duration::from_millis(700)).is_err());
    third.1.send(()).unwrap();
    let mut leaves = Vec::new();
    for _ in 0..3 {
        leaves.push(left.recv_timeout(Duration::from_secs(10)).unwrap());
    }
    let last_started = leaves.iter().find(|(i, _, _)| *i == 2).unwrap().1;
    assert!(leaves.iter().all(|(_, _, done)| *done >= last_started));
    for (t, _) in first_two.into_iter().chain([third]) {
        t.join().unwrap();
    }
    assert_eq!(waiters(), 0);
    assert_eq!(c.get(format!("{key}/ready")).unwrap().count(), 0);
}

#[test]
fn a_queue_is_first_in_first_out_across_consumers() {
    let p = common::unique_prefix("queue");
    let name = format!("{p}jobs");
    let c = client();
    let q = Queue::new(&c, name.clone());
    for i in 0..5 {
        q.enqueue(format!("item-{i}")).unwrap();
    }
    // Keys in Go's layout: <prefix>/<nanos>.
    let r = c
        .get_with(format!("{name}/"), GetOptions::new().prefix())
        .unwrap();
    assert!(r.kvs().iter().all(|kv| {
        let k = kv.key_str().unwrap();
        k[name.len() + 1..].parse::<u128>().is_ok()
    }));
    for i in 0..5 {
        assert_eq!(q.dequeue().unwrap(), format!("item-{i}").as_bytes());
    }
    // Empty: a dequeue waits until its deadline, or until an item comes.
    assert_err!(
        q.with_timeout(Duration::from_millis(300)).dequeue(),
        Error::DeadlineExceeded(_)
    );

    // Three consumers, one producer: every item exactly once, and each
    // consumer gets its items in the order they were enqueued.
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let q = Queue::new(&client(), name.clone()).with_timeout(Duration::from_secs(3));
            thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    match q.dequeue() {
                        Ok(v) => got.push(String::from_utf8(v).unwrap()),
                        Err(Error::DeadlineExceeded(_)) => return got,
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    for i in 0..30 {
        q.enqueue(format!("{i:02}")).unwrap();
    }
    let mut all = Vec::new();
    for t in consumers {
        let got = t.join().unwrap();
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(got, sorted, "a consumer got items out of order");
        all.extend(got);
    }
    all.sort();
    let want: Vec<String> = (0..30).map(|i| format!("{i:02}")).collect();
    assert_eq!(all, want);
}

#[test]
fn a_priority_queue_orders_by_priority_then_arrival() {
    let p = common::unique_prefix("prio");
    let name = format!("{p}tasks");
    let c = client();
    let q = PriorityQueue::new(&c, name.clone());
    let items = [
        ("backup", 5),
        ("page", 0),
        ("report", 3),
        ("backup-2", 5),
        ("page-2", 0),
        ("report-2", 3),
        ("urgent", 1),
    ];
    for (v, pr) in items {
        q.enqueue(v, pr).unwrap();
    }
    // Go's layout: <key>/<priority:05>/<seq:016>, and __<key>/<priority>.
    let seq0 = format!("{name}/00005/{:016}", 0);
    let seq1 = format!("{name}/00005/{:016}", 1);
    assert_eq!(c.get(seq0).unwrap().kvs()[0].value(), b"backup");
    assert_eq!(c.get(seq1).unwrap().kvs()[0].value(), b"backup-2");
    assert_eq!(c.get(format!("__{name}/00005")).unwrap().count(), 1);

    let order: Vec<String> = (0..items.len())
        .map(|_| String::from_utf8(q.dequeue().unwrap()).unwrap())
        .collect();
    assert_eq!(
        order,
        ["page", "page-2", "urgent", "report", "report-2", "backup", "backup-2"]
    );

    // A consumer waiting on the empty queue gets the next item.
    let waiting = {
        let q = q.with_timeout(Duration::from_secs(10));
        thread::spawn(move || q.dequeue().unwrap())
    };
    thread::sleep(Duration::from_millis(300));
    q.enqueue("late", 7).unwrap();
    assert_eq!(waiting.join().unwrap(), b"late");
}

#[test]
fn a_rw_mutex_lets_readers_share_and_excludes_a_writer() {
    let p = common::unique_prefix("rw");
    let name = format!("{p}config");
    let c = client();
    let sessions: Vec<Session> = (0..4).map(|_| Session::new(&c).unwrap()).collect();
    let mut readers: Vec<RwMutex> = sessions[..3]
        .iter()
        .map(|s| RwMutex::new(s, name.clone()).with_timeout(Duration::from_secs(20)))
        .collect();
    // Readers share: all three hold the read lock at once.
    for r in &mut readers {
        r.read_lock().unwrap();
    }
    assert!(std::str::from_utf8(readers[0].key())
        .unwrap()
        .starts_with(&format!("{name}/read/")));

    // A writer waits for all of them.
    let (tx, rx) = mpsc::channel();
    let mut writer = RwMutex::new(&sessions[3], name.clone()).with_timeout(Duration::from_secs(20));
    let w = thread::spawn(move || {
        writer.lock().unwrap();
        tx.send(Instant::now()).unwrap();
        writer
    });
    thread::sleep(Duration::from_millis(400));
    readers[0].read_unlock().unwrap();
    readers[1].read_unlock().unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(400)).is_err());
    let last_unlock = Instant::now();
    readers[2].read_unlock().unwrap();
    let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(got >= last_unlock);
    let mut writer = w.join().unwrap();
    assert!(std::str::from_utf8(writer.key())
        .unwrap()
        .starts_with(&format!("{name}/write/")));

    // While the writer holds it, a reader waits; one with a short
    // deadline gives up and takes its key back.
    let mut impatient =
        RwMutex::new(&sessions[1], name.clone()).with_timeout(Duration::from_millis(300));
    assert_err!(impatient.read_lock(), Error::DeadlineExceeded(_));
    assert_eq!(impatient.revision(), -1);
    let (tx, rx) = mpsc::channel();
    let mut reader = readers.remove(0);
    let r = thread::spawn(move || {
        reader.read_lock().unwrap();
        tx.send(Instant::now()).unwrap();
        reader
    });
    assert!(rx.recv_timeout(Duration::from_millis(400)).is_err());
    let unlocked = Instant::now();
    writer.unlock().unwrap();
    assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap() >= unlocked);
    r.join().unwrap().read_unlock().unwrap();
    let left = c
        .get_with(format!("{name}/"), GetOptions::new().prefix())
        .unwrap();
    assert_eq!(left.count(), 0, "{:?}", common::keys(&left));
}

// ---------------------------------------------------------------------------
// Interop with Go: etcdctl 3.4's `lock` and `elect` (Go's concurrency
// package) on the same names as this crate's Mutex and Election
// ---------------------------------------------------------------------------

/// A running `etcdctl` (Go) process, its stdout read line by line.
struct GoProcess {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl GoProcess {
    fn spawn(args: &[&str]) -> GoProcess {
        use std::io::BufRead;
        let endpoints = common::shared().endpoints().join(",");
        let mut child = std::process::Command::new("/usr/bin/etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={endpoints}"))
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("etcdctl 3.4 at /usr/bin/etcdctl");
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        GoProcess { child, lines }
    }

    fn line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGINT: etcdctl unlocks / resigns, then exits.
    fn interrupt_and_wait(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let end = Instant::now() + Duration::from_secs(10);
        while self.is_running() {
            assert!(Instant::now() < end, "etcdctl did not exit on SIGINT");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for GoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn etcdctl_lock_and_this_crates_mutex_exclude_each_other() {
    let p = common::unique_prefix("golock");
    let name = format!("{p}lock");
    let c = client();

    // Go holds the lock: this crate cannot take it.
    let mut go = GoProcess::spawn(&["lock", &name]);
    let go_key = go
        .line(Duration::from_secs(15))
        .expect("etcdctl took the lock");
    assert!(go_key.starts_with(&format!("{name}/")), "{go_key}");
    let s = Session::new(&c).unwrap();
    let mut m = s.mutex(name.clone());
    assert!(matches!(m.try_lock(), Err(Error::Locked)));
    assert_err!(
        Mutex::new(&s, name.clone()).lock_within(Duration::from_millis(500)),
        Error::DeadlineExceeded(_)
    );
    assert_eq!(queued(&c, &name), 1, "our withdrawn key is left");

    // This crate waits in line behind Go, and gets it when Go unlocks.
    let (tx, rx) = mpsc::channel();
    let mut waiting = Mutex::new(&s, name.clone());
    let waiter = thread::spawn(move || {
        waiting.lock_within(Duration::from_secs(20)).unwrap();
        tx.send(Instant::now()).unwrap();
        waiting
    });
    assert!(rx.recv_timeout(Duration::from_millis(700)).is_err());
    let released = Instant::now();
    go.interrupt_and_wait();
    assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap() >= released);
    let mut ours = waiter.join().unwrap();
    assert!(ours.is_owner().unwrap());

    // This crate holds it: Go waits, and gets it when we unlock.
    let mut go = GoProcess::spawn(&["lock", &name]);
    assert_eq!(
        go.line(Duration::from_millis(1500)),
        None,
        "Go took a held lock"
    );
    assert!(go.is_running());
    assert_eq!(queued(&c, &name), 2);
    ours.unlock().unwrap();
    let go_key = go
        .line(Duration::from_secs(15))
        .expect("etcdctl got the lock");
    assert!(go_key.starts_with(&format!("{name}/")), "{go_key}");
    assert!(matches!(m.try_lock(), Err(Error::Locked)));
    go.interrupt_and_wait();
    assert_eq!(queued(&c, &name), 0);
}

#[test]
fn etcdctl_elect_and_this_crates_election_share_one_leadership() {
    let p = common::unique_prefix("goelect");
    let name = format!("{p}leader");
    let c = client();
    let s = Session::new(&c).unwrap();

    // Go leads: this crate sees its proposal, and cannot lead.
    let mut go = GoProcess::spawn(&["elect", &name, "go-proposal"]);
    let key = go.line(Duration::from_secs(15)).expect("etcdctl leads");
    assert!(key.starts_with(&format!("{name}/")), "{key}");
    assert_eq!(
        go.line(Duration::from_secs(5)).as_deref(),
        Some("go-proposal")
    );
    let observer = s.election(name.clone()).observe().unwrap();
    let ev = observer
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(
        (ev.key(), ev.value()),
        (key.as_bytes(), &b"go-proposal"[..])
    );
    let mut e = s.election(name.clone());
    assert_err!(
        e.campaign_within("rust", Duration::from_millis(500)),
        Error::DeadlineExceeded(_)
    );
    assert_eq!(queued(&c, &name), 1);

    // This crate campaigns behind Go and leads once Go resigns.
    let (tx, rx) = mpsc::channel();
    let mut ours = Election::new(&s, name.clone());
    let campaigner = thread::spawn(move || {
        ours.campaign_within("rust", Duration::from_secs(20))
            .unwrap();
        tx.send(()).unwrap();
        ours
    });
    assert!(rx.recv_timeout(Duration::from_millis(700)).is_err());
    go.interrupt_and_wait();
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let mut ours = campaigner.join().unwrap();
    let ev = observer
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!((ev.key(), ev.value()), (ours.key(), &b"rust"[..]));

    // Go follows us: `elect -l` sees our proclamations; `elect` waits.
    let listener = GoProcess::spawn(&["elect", "-l", &name]);
    let next_value = || loop {
        let line = listener
            .line(Duration::from_secs(10))
            .expect("etcdctl observes");
        if !line.starts_with(&name) {
            return line;
        }
    };
    assert_eq!(next_value(), "rust");
    ours.proclaim("rust-2").unwrap();
    assert_eq!(next_value(), "rust-2");
    let mut go = GoProcess::spawn(&["elect", &name, "go-2"]);
    assert_eq!(go.line(Duration::from_millis(1500)), None, "Go led too");
    assert!(ours.is_leader().unwrap());
    ours.resign().unwrap();
    assert!(go
        .line(Duration::from_secs(15))
        .is_some_and(|k| k.starts_with(&name)));
    assert_eq!(next_value(), "go-2");
    let ev = observer
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(ev.value(), b"rust-2");
    let ev = observer
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(ev.value(), b"go-2");
    go.interrupt_and_wait();
}

#[test]
fn recipe_waits_end_on_cancel_and_give_up_their_place() {
    let p = common::unique_prefix("recipecancel");
    let c = client();
    let count = |prefix: String| {
        c.get_with(prefix, GetOptions::new().prefix())
            .unwrap()
            .kvs()
            .len()
    };
    let gate = format!("{p}gate");
    assert!(Barrier::new(&c, gate.clone()).hold().unwrap());
    let holder = Session::new(&c).unwrap();
    let mut writer = RwMutex::new(&holder, format!("{p}rw"));
    writer.lock().unwrap();

    let long = c.with_timeout(Duration::from_secs(30));
    let token = CancelToken::new();
    canceled_soon(&token, || {
        Barrier::new(&long.with_cancel(&token), gate.clone()).wait()
    });
    let token = CancelToken::new();
    canceled_soon(&token, || {
        Queue::new(&long.with_cancel(&token), format!("{p}q")).dequeue()
    });
    let token = CancelToken::new();
    canceled_soon(&token, || {
        PriorityQueue::new(&long.with_cancel(&token), format!("{p}pq")).dequeue()
    });

    let token = CancelToken::new();
    let s = Session::new(&long.with_cancel(&token)).unwrap();
    canceled_soon(&token, || RwMutex::new(&s, format!("{p}rw")).read_lock());
    assert_eq!(
        count(format!("{p}rw/")),
        1,
        "the canceled reader's key is left"
    );

    let token = CancelToken::new();
    let s = Session::new(&long.with_cancel(&token)).unwrap();
    canceled_soon(&token, || {
        DoubleBarrier::new(&s, format!("{p}db"), 2).enter()
    });
    assert_eq!(count(format!("{p}db/waiters/")), 0);

    writer.unlock().unwrap();
    Barrier::new(&c, gate).release().unwrap();
}

#[test]
fn a_resumed_election_keeps_the_lead_only_with_the_right_revision() {
    let p = common::unique_prefix("resume");
    let c = client();
    let s = Session::new(&c).unwrap();
    let mut e = s.election(p.clone());
    e.campaign("first").unwrap();

    let mut resumed = Election::resume(&s, p.clone(), e.key().to_vec(), e.revision());
    resumed.proclaim("resumed").unwrap();
    assert_eq!(e.leader().unwrap().value(), b"resumed");
    assert!(resumed.is_leader().unwrap());

    let mut wrong = Election::resume(&s, p.clone(), e.key().to_vec(), e.revision() + 1000);
    assert_err!(
        wrong.proclaim("forged"),
        Error::Etcd(EtcdError::ElectionNotLeader)
    );
    resumed.resign().unwrap();
    assert!(matches!(
        e.leader(),
        Err(Error::Etcd(EtcdError::ElectionNoLeader))
    ));
}
