//! The client-side recipes (Session, Mutex, Election) against a real etcd.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::concurrency::{Election, Mutex, Session};
use etcd_blocking::{CancelToken, Client, Error, EtcdError, GetOptions};

fn client() -> Client {
    Client::connect(common::shared().endpoints()).expect("connect")
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
    assert!(c.time_to_live(lease, false).unwrap().ttl() > 0);
    s.close().unwrap();
    assert!(c.time_to_live(lease, false).unwrap().ttl() <= 0);

    // Dropping revokes too; orphaning leaves the lease to its TTL.
    let dropped = Session::with_ttl(&c, 30).unwrap();
    let lease = dropped.lease();
    drop(dropped);
    assert!(c.time_to_live(lease, false).unwrap().ttl() <= 0);
    let orphan = Session::with_ttl(&c, 30).unwrap().orphan();
    assert!(c.time_to_live(orphan, false).unwrap().ttl() > 0);
    c.revoke(orphan).unwrap();

    let e = Session::with_ttl(&c, 0).unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
    let e = Session::with_lease(&c, 0x7777_0000_1234).unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::LeaseNotFound)), "{e}");
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
    let mut m2 = Mutex::new(&s2, p.clone()).with_timeout(Duration::from_secs(20));
    let waiter = thread::spawn(move || {
        m2.lock().unwrap();
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
                let mut m = s.mutex(p).with_timeout(Duration::from_secs(30));
                for _ in 0..20 {
                    m.lock().unwrap();
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
    let mut m2 = waiter
        .mutex(p.clone())
        .with_timeout(Duration::from_millis(600));
    let t = Instant::now();
    let e = m2.lock().unwrap_err();
    assert!(matches!(e, Error::DeadlineExceeded(_)), "{e}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(queued(&c, &p), 1, "the waiter's key was not withdrawn");

    let token = CancelToken::new();
    let cancelable =
        Session::new(&c.with_cancel(&token).with_timeout(Duration::from_secs(30))).unwrap();
    let mut m3 = cancelable.mutex(p.clone());
    let canceler = {
        let token = token.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            token.cancel();
        })
    };
    let t = Instant::now();
    let e = m3.lock().unwrap_err();
    assert!(matches!(e, Error::Canceled), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    canceler.join().unwrap();
    // Canceled, it still gave up its place, and its session still revokes
    // its lease.
    assert_eq!(queued(&c, &p), 1);
    let lease = cancelable.lease();
    drop(cancelable);
    assert!(c.time_to_live(lease, false).unwrap().ttl() <= 0);
    m1.unlock().unwrap();
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
    let mut m2 = s2.mutex(p.clone()).with_timeout(Duration::from_secs(15));
    let t = Instant::now();
    m2.lock().unwrap();
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
    let e = e1.leader().unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::ElectionNoLeader)), "{e}");
    let e = e1.proclaim("early").unwrap_err();
    assert!(
        matches!(e, Error::Etcd(EtcdError::ElectionNotLeader)),
        "{e}"
    );

    e1.campaign("alpha").unwrap();
    assert!(e1.is_leader().unwrap());
    assert_eq!(e1.leader().unwrap().value(), b"alpha");

    let (tx, rx) = mpsc::channel();
    let mut e2 = Election::new(&s2, p.clone()).with_timeout(Duration::from_secs(20));
    let follower = thread::spawn(move || {
        e2.campaign("beta").unwrap();
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
    let e = e1.proclaim("stale").unwrap_err();
    assert!(
        matches!(e, Error::Etcd(EtcdError::ElectionNotLeader)),
        "{e}"
    );
    e2.resign().unwrap();
    assert!(matches!(
        e2.leader(),
        Err(Error::Etcd(EtcdError::ElectionNoLeader))
    ));
}
