//! Connecting, deadlines, cancellation, closing and endpoint failover
//! against real etcd servers.

mod common;

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::{CancelToken, Client, Error, GetOptions};

/// A loopback port with nothing listening on it.
fn dead_endpoint() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr.to_string()
}

#[test]
fn connect_fails_naming_each_endpoint() {
    let eps = [dead_endpoint(), format!("http://{}", dead_endpoint())];
    let started = Instant::now();
    let e = Client::builder(&eps)
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    match &e {
        Error::Unavailable(causes) => {
            assert_eq!(causes.len(), 2);
            assert!(causes[0].endpoint.contains(&eps[0]), "{e}");
            assert!(causes[1]
                .endpoint
                .contains(eps[1].trim_start_matches("http://")));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.is_retryable());
    assert!(e.to_string().contains(&eps[0]));
}

#[test]
fn bad_endpoints_are_config_errors() {
    for bad in [
        "nohost",
        "ftp://127.0.0.1:2379",
        "127.0.0.1:99999",
        "http://h:1/path",
    ] {
        let e = Client::connect([bad]).unwrap_err();
        assert!(matches!(e, Error::InvalidConfig(_)), "{bad}: {e}");
    }
}

#[test]
fn a_dead_first_endpoint_is_passed_over() {
    let live = common::shared().endpoint(0);
    let c = Client::builder([dead_endpoint(), live])
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .unwrap();
    let p = common::unique_prefix("deadfirst");
    // Writes too: the dead endpoint is skipped without sending anything.
    for i in 0..5 {
        c.put(format!("{p}{i}"), "v").unwrap();
        assert_eq!(c.get(format!("{p}{i}")).unwrap().count(), 1);
    }
}

#[test]
fn deadline_applies_per_handle() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    c.put("k", "v").unwrap();
    cluster.stop(0);
    let started = Instant::now();
    let e = c
        .with_timeout(Duration::from_millis(300))
        .get("k")
        .unwrap_err();
    let took = started.elapsed();
    cluster.cont(0);
    assert!(
        matches!(e, Error::DeadlineExceeded(d) if d == Duration::from_millis(300)),
        "{e}"
    );
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(e.is_retryable());
    // The original handle keeps its own deadline and works again.
    assert_eq!(c.timeout(), etcd_blocking::DEFAULT_REQUEST_TIMEOUT);
    assert_eq!(c.get("k").unwrap().count(), 1);
}

#[test]
fn client_default_deadline_is_configurable() {
    let cluster = common::Cluster::single();
    let c = Client::builder(cluster.endpoints())
        .request_timeout(Duration::from_millis(200))
        .connect()
        .unwrap();
    cluster.stop(0);
    let started = Instant::now();
    let e = c.put("k", "v").unwrap_err();
    cluster.cont(0);
    assert!(matches!(e, Error::DeadlineExceeded(_)), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn cancel_token_stops_a_call_in_flight() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let token = CancelToken::new();
    cluster.stop(0);
    let handle = c.with_cancel(&token);
    let t = thread::spawn(move || {
        let started = Instant::now();
        (handle.get("k"), started.elapsed())
    });
    thread::sleep(Duration::from_millis(200));
    token.cancel();
    let (r, took) = t.join().unwrap();
    cluster.cont(0);
    assert!(matches!(r, Err(Error::Canceled)), "{r:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // A canceled token fails later calls at once; other handles are fine.
    assert!(matches!(
        c.with_cancel(&token).get("k"),
        Err(Error::Canceled)
    ));
    assert!(token.is_canceled());
    assert_eq!(c.get("k").unwrap().count(), 0);
}

#[test]
fn close_ends_calls_in_flight_and_later_calls() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    c.put("k", "v").unwrap();
    cluster.stop(0);
    let other = c.clone();
    let t = thread::spawn(move || {
        let r = other.get("k");
        (r, Instant::now())
    });
    thread::sleep(Duration::from_millis(200));
    let closing = Instant::now();
    c.close().unwrap();
    let close_took = closing.elapsed();
    let (r, returned) = t.join().unwrap();
    cluster.cont(0);
    assert!(matches!(r, Err(Error::ClientClosed)), "{r:?}");
    // The README's promise: a call in flight returns within ~25 ms of
    // the close (it looks at the closed flag every CLOSE_POLL, 25 ms, then
    // cancels its call), with MARGIN for scheduling on a loaded machine.
    let took = returned.saturating_duration_since(closing);
    eprintln!("call in flight returned {took:?} after close(); close() took {close_took:?}");
    const MARGIN: Duration = Duration::from_millis(100);
    assert!(took < Duration::from_millis(25) + MARGIN, "{took:?}");
    assert!(close_took < Duration::from_secs(3), "{close_took:?}");
    assert!(c.is_closed());
    // Every handle, including derived ones, now fails at once.
    for h in [c.clone(), c.with_timeout(Duration::from_secs(1))] {
        let started = Instant::now();
        assert!(matches!(h.get("k"), Err(Error::ClientClosed)));
        assert!(matches!(h.put("k", "v"), Err(Error::ClientClosed)));
        assert!(started.elapsed() < Duration::from_millis(100));
    }
    // Closing twice is fine.
    c.close().unwrap();
}

/// The client's own calls end at close too: with the only member frozen,
/// an auto-sync's member list waits up to 2 s, and close waited for it
/// before ending the watchers.
#[test]
fn close_does_not_wait_for_an_auto_sync_under_way() {
    let cluster = common::Cluster::single();
    let c = Client::builder(cluster.endpoints())
        .auto_sync_interval(Duration::from_millis(20))
        .connect()
        .unwrap();
    let w = c.watch("k").unwrap();
    cluster.stop(0);
    // Auto-sync runs every 20 ms: by now one waits on the frozen member.
    thread::sleep(Duration::from_millis(300));
    let closing = Instant::now();
    let closed = c.close();
    let took = closing.elapsed();
    let watch_ended = w.recv_timeout(Duration::ZERO);
    cluster.cont(0);
    eprintln!("close() took {took:?} with an auto-sync under way");
    closed.unwrap();
    assert!(
        matches!(watch_ended, Err(Error::ClientClosed)),
        "{watch_ended:?}"
    );
    // The pump sees the close within CLOSE_POLL (25 ms); slack for a busy
    // machine, well short of the 1.7 s the sync had left.
    assert!(took < Duration::from_millis(500), "{took:?}");
}

#[test]
fn reads_fail_over_when_the_member_in_use_dies() {
    let cluster = common::Cluster::start(3);
    let c = Client::builder(cluster.endpoints())
        .request_timeout(Duration::from_secs(5))
        .connect()
        .unwrap();
    c.put("k", "v").unwrap();
    let in_use = c.get("k").unwrap().header().member_id();
    let idx = cluster.index_of_member(in_use);
    cluster.kill(idx);
    let started = Instant::now();
    let r = c.get("k").unwrap();
    eprintln!("read failed over in {:?}", started.elapsed());
    assert_ne!(r.header().member_id(), in_use);
    assert_eq!(r.first().unwrap().value(), b"v");
    // Serializable reads and later calls stay on the live members.
    for _ in 0..10 {
        let r = c.get_with("k", GetOptions::new().serializable()).unwrap();
        assert_ne!(r.header().member_id(), in_use);
    }
    cluster.restart(idx);
    assert_eq!(c.get("k").unwrap().count(), 1);
}

#[test]
fn a_down_cluster_fails_then_recovers_without_a_new_client() {
    let cluster = common::Cluster::single();
    let c = Client::builder(cluster.endpoints())
        .request_timeout(Duration::from_secs(2))
        .connect()
        .unwrap();
    c.put("k", "v").unwrap();
    cluster.kill(0);
    let e = c.get("k").unwrap_err();
    assert!(
        matches!(e, Error::Unavailable(ref causes) if causes.len() == 1),
        "{e}"
    );
    cluster.restart(0);
    // gRPC reconnects on its own; the client is not poisoned.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.get("k") {
            Ok(r) => {
                assert_eq!(r.count(), 1);
                break;
            }
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for reconnect: {e}");
                thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("no reconnect: {e}"),
        }
    }
}

#[test]
fn many_threads_share_one_client() {
    let c = Client::connect(common::shared().endpoints()).unwrap();
    let p = common::unique_prefix("threads");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = c.clone();
            let p = p.clone();
            thread::spawn(move || {
                for i in 0..50 {
                    c.put(format!("{p}{t}/{i}"), "v").unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let n = c
        .get_with(&*p, GetOptions::new().prefix().count_only())
        .unwrap()
        .count();
    assert_eq!(n, 400);
}

/// The version the members at `eps` run, and its major and minor numbers.
fn server_version(eps: &[String]) -> (String, u32, u32) {
    let version = Client::connect(eps)
        .unwrap()
        .status()
        .unwrap()
        .version()
        .to_string();
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap());
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    (version, major, minor)
}

#[test]
fn a_version_gate_refuses_older_servers_at_connect() {
    let eps = common::shared().endpoints();
    let (version, major, minor) = server_version(&eps);
    Client::builder(&eps)
        .min_server_version(major, minor)
        .connect()
        .expect("a server of the very version asked for");
    let e = Client::builder(&eps)
        .min_server_version(major, minor + 1)
        .connect()
        .unwrap_err();
    assert!(
        matches!(&e, Error::Unsupported(m) if m.contains(&version)),
        "{e}"
    );
}

/// A frozen member listed first gets its share of the connect timeout,
/// not all of it: the others are still asked, so the gate still refuses
/// (it connected with DeadlineExceeded before, the others never asked).
#[test]
fn a_version_gate_asks_past_a_frozen_member() {
    let cluster = common::Cluster::start(3);
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let frozen = (leader + 1) % 3;
    let eps: Vec<String> = std::iter::once(frozen)
        .chain((0..3).filter(|&i| i != frozen))
        .map(|i| cluster.endpoint(i))
        .collect();
    let (version, major, minor) = server_version(&eps);
    cluster.stop(frozen);
    let gate = |minor| {
        let t = Instant::now();
        let r = Client::builder(&eps)
            .connect_timeout(Duration::from_secs(3))
            .min_server_version(major, minor)
            .connect();
        (r, t.elapsed())
    };
    let (refused, took) = gate(minor + 1);
    let (accepted, _) = gate(minor);
    cluster.cont(frozen);
    let e = refused.unwrap_err();
    assert!(
        matches!(&e, Error::Unsupported(m) if m.contains(&version)),
        "{e}"
    );
    // The frozen member's third of 3 s, then an answer: well short of the
    // 3 s it took before (slack for a busy machine).
    assert!(took < Duration::from_millis(2500), "{took:?}");
    accepted.expect("the members that answer run the version asked for");
}

#[test]
fn a_member_on_a_unix_socket() {
    let cluster = common::ClusterBuilder::new(1).unix_socket().start();
    let socket = cluster.unix_socket(0);
    let c = Client::connect([&socket]).unwrap();
    c.put("unix/k", "v").unwrap();
    assert_eq!(c.get("unix/k").unwrap().count(), 1);
    assert_eq!(c.endpoints(), std::slice::from_ref(&socket));
    // Watches and keepalives ride the same socket.
    let w = c.watch("unix/k").unwrap();
    c.put("unix/k", "w").unwrap();
    assert!(w.recv_timeout(Duration::from_secs(5)).unwrap().is_some());
    // A socket that is not there fails like a refused connection.
    let e = Client::builder([format!("{socket}.missing")])
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .unwrap_err();
    assert!(matches!(e, Error::Unavailable(_)), "{e}");
}

/// Cancels `token` after `after`, from another thread.
fn cancel_later(token: &CancelToken, after: Duration) -> thread::JoinHandle<()> {
    let token = token.clone();
    thread::spawn(move || {
        thread::sleep(after);
        token.cancel();
    })
}

#[test]
fn a_cancel_token_ends_a_waiting_watcher() {
    let c = Client::connect(common::shared().endpoints()).unwrap();
    let key = format!("{}w", common::unique_prefix("cancel-watch"));
    let token = CancelToken::new();
    let handle = c
        .with_cancel(&token)
        .with_timeout(Duration::from_secs(3600));
    let watcher = handle.watch(&*key).unwrap();
    let canceler = cancel_later(&token, Duration::from_millis(200));
    let started = Instant::now();
    // The documented example: a blocked read wakes with Canceled (bounded
    // here, so a watcher that never ends fails the test instead of
    // hanging it).
    let r = watcher.recv_timeout(Duration::from_secs(10));
    canceler.join().unwrap();
    assert!(matches!(r, Err(Error::Canceled)), "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The watch is over: later reads say so, and writes are not delivered.
    c.put(&*key, "after").unwrap();
    let next = watcher.recv_timeout(Duration::from_millis(300));
    assert!(matches!(next, Err(Error::WatchCanceled { .. })), "{next:?}");
    // "Now or later": a watch asked for after the cancel is refused.
    assert!(matches!(handle.watch(&*key), Err(Error::Canceled)));
}

#[test]
fn a_cancel_token_ends_a_keepalive() {
    let c = Client::connect(common::shared().endpoints()).unwrap();
    let lease = c.grant(30).unwrap().id();
    let token = CancelToken::new();
    let keep = c.with_cancel(&token).keep_alive(lease).unwrap();
    assert!(keep.is_alive());
    let canceler = cancel_later(&token, Duration::from_millis(200));
    let started = Instant::now();
    let ended = loop {
        let left = Duration::from_secs(10).saturating_sub(started.elapsed());
        match keep.receiver().recv_timeout(left) {
            Ok(Ok(_)) => continue, // a refresh from before the cancel
            Ok(Err(e)) => break e,
            Err(e) => panic!("no end within 10 s: {e}"),
        }
    };
    canceler.join().unwrap();
    assert!(matches!(ended, Error::Canceled), "{ended}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(!keep.is_alive());
    assert!(
        matches!(
            keep.state(),
            etcd_blocking::LeaseState::Lost(Error::Canceled)
        ),
        "{:?}",
        keep.state()
    );
    c.revoke(lease).unwrap();
}

#[test]
fn a_cancel_token_ends_a_range_iterator_mid_page() {
    let c = Client::connect(common::shared().endpoints()).unwrap();
    let p = common::unique_prefix("cancel-iter");
    for i in 0..5 {
        c.put(format!("{p}{i}"), "v").unwrap();
    }
    let token = CancelToken::new();
    let mut it = c
        .with_cancel(&token)
        .get_iter(&*p, GetOptions::new().prefix(), 10)
        .unwrap();
    assert!(it.next().unwrap().is_ok());
    token.cancel();
    // Four keys of the page are read already; the iteration ends anyway.
    assert!(matches!(it.next(), Some(Err(Error::Canceled))));
    assert!(it.next().is_none());
}

#[test]
fn a_cancel_token_ends_an_observation() {
    let c = Client::connect(common::shared().endpoints()).unwrap();
    let name = format!("{}e", common::unique_prefix("cancel-observe"));
    let lease = c.grant(30).unwrap().id();
    c.campaign(&*name, lease, "leader").unwrap();
    let token = CancelToken::new();
    let canceler = cancel_later(&token, Duration::from_millis(300));
    let started = Instant::now();
    let mut seen = 0;
    let r = c
        .with_cancel(&token)
        .with_timeout(Duration::from_secs(3600))
        .observe(&*name, |_| {
            seen += 1;
            true
        });
    canceler.join().unwrap();
    assert!(matches!(r, Err(Error::Canceled)), "{r:?}");
    assert_eq!(seen, 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    c.revoke(lease).unwrap();
}

#[test]
fn endpoints_are_listed_normalised_and_kept_after_close() {
    // Configured bare, as `host:port`.
    let bare = common::shared().endpoint(0);
    let bare = bare.trim_start_matches("http://").to_string();
    let url = format!("http://{bare}");
    let c = Client::connect([&bare]).unwrap();
    assert_eq!(c.endpoints(), std::slice::from_ref(&url));
    assert_eq!(c.pinned_endpoint(), Some(url.clone()));
    // Either form aims a handle at it.
    assert!(c.with_endpoint(&bare).is_ok() && c.with_endpoint(&url).is_ok());

    // An endpoint that fails is named in the same form.
    let dead = dead_endpoint();
    let e = Client::builder([&dead])
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .unwrap_err();
    match e {
        Error::Unavailable(causes) => {
            assert_eq!(causes[0].endpoint, format!("http://{dead}"))
        }
        other => panic!("{other}"),
    }

    // After a change and a close: the list it had last, not the one given
    // at connect.
    c.set_endpoints([&url, &format!("http://{dead}")]).unwrap();
    let last = c.endpoints();
    assert_eq!(last, [url.clone(), format!("http://{dead}")]);
    c.close().unwrap();
    assert_eq!(c.endpoints(), last);
    assert_eq!(c.pinned_endpoint(), None);
}
