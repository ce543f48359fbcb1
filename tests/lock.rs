//! etcd's Lock and Election services against a real server.

mod common;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::{Client, Error, EtcdError};

fn client() -> Client {
    Client::connect(common::shared().endpoints()).expect("connect")
}

#[test]
fn a_lock_is_held_by_one_at_a_time() {
    let (a, b) = (client(), client());
    let name = format!("{}lock", common::unique_prefix("lock"));
    let la = a.grant(30).unwrap().id();
    let lb = b.grant(30).unwrap().id();
    let held = a.lock(&*name, la).unwrap();
    assert!(held.key().starts_with(name.as_bytes()));
    assert_eq!(a.get(held.key()).unwrap().count(), 1);

    // The second locker waits until the first unlocks.
    let (tx, rx) = mpsc::channel();
    let waiter = {
        let b = b.clone();
        let name = name.clone();
        thread::spawn(move || {
            let got = b.with_timeout(Duration::from_secs(10)).lock(&*name, lb);
            tx.send(Instant::now()).unwrap();
            got
        })
    };
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "lock not exclusive"
    );
    let released = Instant::now();
    assert!(a.unlock(held.key()).unwrap().header().revision() > 0);
    let acquired = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("second locker");
    assert!(acquired >= released);
    let second = waiter.join().unwrap().unwrap();
    assert_ne!(second.key(), held.key());

    // A locker that gives up does not keep a place in the queue.
    let e = a
        .with_timeout(Duration::from_millis(300))
        .lock(&*name, la)
        .unwrap_err();
    assert!(matches!(e, Error::DeadlineExceeded(_)), "{e}");
    b.unlock(second.key()).unwrap();
    let again = a
        .with_timeout(Duration::from_secs(5))
        .lock(&*name, la)
        .unwrap();
    a.unlock(again.key()).unwrap();

    // A lock dies with its lease.
    let short = a.grant(2).unwrap().id();
    let gone = a.lock(&*name, short).unwrap();
    a.revoke(short).unwrap();
    assert_eq!(a.get(gone.key()).unwrap().count(), 0);
    assert!(matches!(a.lock("", la), Err(Error::EmptyKey)));
}

#[test]
fn an_election_has_one_leader_that_can_proclaim_and_resign() {
    let (a, b) = (client(), client());
    let name = format!("{}election", common::unique_prefix("election"));
    let e = a.leader(&*name).unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::ElectionNoLeader)), "{e}");

    let la = a.grant(30).unwrap().id();
    let lb = b.grant(30).unwrap().id();
    let won = a.campaign(&*name, la, "a:1").unwrap();
    assert!(won.header().revision() > 0);
    let leader = won.into_leader();
    assert_eq!(leader.name(), name.as_bytes());
    assert_eq!(leader.lease(), la);
    let now = b.leader(&*name).unwrap();
    assert_eq!(now.kv().unwrap().value(), b"a:1");

    // b campaigns and waits; meanwhile an observer follows the changes.
    let campaigner = {
        let b = b.clone();
        let name = name.clone();
        thread::spawn(move || {
            b.with_timeout(Duration::from_secs(10))
                .campaign(&*name, lb, "b:1")
        })
    };
    let (first_seen, observing) = std::sync::mpsc::channel();
    let observer = {
        let c = client();
        let name = name.clone();
        thread::spawn(move || {
            let mut seen = Vec::new();
            c.with_timeout(Duration::from_secs(10))
                .observe(&*name, |r| {
                    seen.push(r.kv().map(|kv| kv.value().to_vec()).unwrap_or_default());
                    let _ = first_seen.send(());
                    seen.last().map(Vec::as_slice) != Some(b"b:1")
                })
                .unwrap();
            seen
        })
    };
    // The observer has its first answer (the leader as it is now) before
    // the leader changes its value.
    observing.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(a.proclaim(&leader, "a:2").unwrap().header().revision() > 0);
    assert_eq!(b.leader(&*name).unwrap().kv().unwrap().value(), b"a:2");
    a.resign(&leader).unwrap();
    let b_leader = campaigner.join().unwrap().unwrap().into_leader();
    assert_eq!(b.leader(&*name).unwrap().kv().unwrap().value(), b"b:1");
    let seen = observer.join().unwrap();
    assert_eq!(seen.first().map(Vec::as_slice), Some(&b"a:1"[..]));
    assert!(seen.iter().any(|v| v == b"a:2"), "{seen:?}");
    assert_eq!(seen.last().map(Vec::as_slice), Some(&b"b:1"[..]));

    // Only the leader may proclaim.
    let e = a.proclaim(&leader, "stale").unwrap_err();
    assert!(
        matches!(e, Error::Etcd(EtcdError::ElectionNotLeader)),
        "{e}"
    );
    b.resign(&b_leader).unwrap();
}

/// Runs `f` on a thread and fails the test if it has not returned within
/// `limit`: a deadlock then fails the test instead of hanging the suite.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what}: still blocked after {limit:?} (deadlock)"))
}

/// An election with a leader, and the client that leads it.
fn led_election(what: &str) -> (Client, String) {
    let c = client();
    let name = format!("{}{what}", common::unique_prefix(what));
    let lease = c.grant(30).unwrap().id();
    c.campaign(&*name, lease, "leader").unwrap();
    (c, name)
}

#[test]
fn closing_from_inside_an_observer_returns() {
    let (c, name) = led_election("observe-close");
    let outcome = within(Duration::from_secs(20), "close inside observe", move || {
        let mut closed = None;
        let r = c
            .with_timeout(Duration::from_secs(10))
            .observe(&*name, |_| {
                closed = Some(c.close());
                true
            });
        (r, closed, c.is_closed())
    });
    let (r, closed, is_closed) = outcome;
    assert!(matches!(closed, Some(Ok(()))), "{closed:?}");
    assert!(is_closed);
    // The observation was canceled by the close, not left running.
    assert!(matches!(r, Err(Error::ClientClosed)), "{r:?}");
}

#[test]
fn another_thread_closes_while_an_observer_callback_runs() {
    // The callback waits for the other thread's close() to return, then
    // calls the client: close() must not wait for user code (it used to
    // wait for the observation, which held the client's lock through the
    // callback: a deadlock, cut short here by the callback's own limit).
    let (c, name) = led_election("observe-call");
    let outcome = within(Duration::from_secs(30), "close beside observe", move || {
        let (go, started) = mpsc::channel::<()>();
        let (closed_tx, closed_rx) = mpsc::channel();
        let closer = {
            let c = c.clone();
            thread::spawn(move || {
                started.recv().unwrap();
                let r = c.close();
                closed_tx.send(()).unwrap();
                r
            })
        };
        let mut inner = None;
        let mut close_returned = false;
        let r = c
            .with_timeout(Duration::from_secs(20))
            .observe(&*name, |_| {
                go.send(()).unwrap();
                close_returned = closed_rx.recv_timeout(Duration::from_secs(10)).is_ok();
                inner = Some(c.get("any"));
                true
            });
        (r, inner, close_returned, closer.join().unwrap())
    });
    let (r, inner, close_returned, closed) = outcome;
    assert!(close_returned, "close() waited for the callback");
    assert!(closed.is_ok(), "{closed:?}");
    assert!(matches!(inner, Some(Err(Error::ClientClosed))), "{inner:?}");
    // The observation was canceled by the close.
    assert!(matches!(r, Err(Error::ClientClosed)), "{r:?}");
}
