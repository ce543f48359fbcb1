//! Leases against real etcd: grant, revoke, TTL, listing, keepalive once and
//! in the background, loss reporting, and keepalive through member faults.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use etcd_blocking::{
    Client, Error, EtcdError, LeaseGrantOptions, LeaseState, PutOptions, TimeToLiveOptions,
};

fn client() -> Client {
    Client::connect(common::shared().endpoints()).expect("connect")
}

#[test]
fn grant_ttl_list_revoke() {
    let c = client();
    let p = common::unique_prefix("lease");
    let g = c.grant(60).unwrap();
    assert!(g.id() != 0);
    assert_eq!(g.ttl(), 60);
    c.put_with(format!("{p}k"), "v", PutOptions::new().lease(g.id()))
        .unwrap();
    let t = c
        .time_to_live_with(g.id(), TimeToLiveOptions::new().keys())
        .unwrap();
    assert_eq!(t.id(), g.id());
    assert_eq!(t.granted_ttl(), 60);
    assert!(t.ttl() > 0 && t.ttl() <= 60);
    assert_eq!(t.keys().collect::<Vec<_>>(), [format!("{p}k").as_bytes()]);
    assert_eq!(t.keys_str().unwrap(), [format!("{p}k")]);
    assert_eq!(c.time_to_live(g.id()).unwrap().keys().len(), 0);
    assert!(c.leases().unwrap().ids().contains(&g.id()));
    c.revoke(g.id()).unwrap();
    assert_eq!(
        c.get(format!("{p}k")).unwrap().count(),
        0,
        "keys go with the lease"
    );
    assert_eq!(c.time_to_live(g.id()).unwrap().ttl(), -1);
    assert!(!c.leases().unwrap().ids().contains(&g.id()));
}

#[test]
fn lease_errors_are_typed() {
    let c = client();
    let e = c.revoke(0x5eed_0001).unwrap_err();
    assert!(matches!(e, Error::LeaseNotFound { .. }), "{e}");
    let e = c.keep_alive_once(0x5eed_0002).unwrap_err();
    assert!(matches!(e, Error::LeaseNotFound { .. }), "{e}");
    let e = c.keep_alive(0x5eed_0003).unwrap_err();
    assert!(matches!(e, Error::LeaseNotFound { .. }), "{e}");
    let e = c.grant(10_000_000_000).unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::LeaseTtlTooLarge)), "{e}");
    // etcd would raise these to its minimum TTL; they are refused before
    // anything is sent.
    for ttl in [0, -5] {
        let e = c.grant(ttl).unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
        let e = c
            .grant_with(ttl, LeaseGrantOptions::new().id(0x5eed_0004))
            .unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
    }
    assert!(!c.leases().unwrap().ids().contains(&0x5eed_0004));
    let id = 0x5eed_0000 + i64::from(std::process::id());
    let g = c.grant_with(30, LeaseGrantOptions::new().id(id)).unwrap();
    assert_eq!(g.id(), id);
    let e = c
        .grant_with(30, LeaseGrantOptions::new().id(id))
        .unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::LeaseExists)), "{e}");
    c.revoke(id).unwrap();
}

#[test]
fn keep_alive_once_refreshes() {
    let c = client();
    let g = c.grant(5).unwrap();
    thread::sleep(Duration::from_millis(1100));
    assert!(c.time_to_live(g.id()).unwrap().ttl() < 5);
    let r = c.keep_alive_once(g.id()).unwrap();
    assert_eq!((r.id(), r.ttl()), (g.id(), 5));
    assert!(r.header().revision() > 0);
    c.revoke(g.id()).unwrap();
}

#[test]
fn keep_alive_once_is_one_call_that_leaves_nothing_open() {
    // Each one-off refresh is one call, ended by etcd once it answered:
    // as many started as handled, no stream left behind.
    let cluster = common::Cluster::single();
    let ep = cluster.endpoint(0);
    let c = Client::connect(cluster.endpoints()).unwrap();
    let g = c.grant(30).unwrap();
    let started = common::streams_started(&ep, "LeaseKeepAlive");
    let handled = common::streams_handled(&ep, "LeaseKeepAlive");
    for _ in 0..20 {
        let r = c.keep_alive_once(g.id()).unwrap();
        assert_eq!((r.id(), r.ttl()), (g.id(), 30));
        assert!(r.header().revision() > 0);
    }
    assert_eq!(common::streams_started(&ep, "LeaseKeepAlive"), started + 20);
    assert_eq!(common::streams_handled(&ep, "LeaseKeepAlive"), handled + 20);
    // A refresh that fails is typed, and a closed client refuses at once.
    c.revoke(g.id()).unwrap();
    assert!(matches!(
        c.keep_alive_once(g.id()),
        Err(Error::LeaseNotFound { .. })
    ));
    c.close().unwrap();
    assert!(matches!(
        c.keep_alive_once(g.id()),
        Err(Error::ClientClosed)
    ));
}

#[test]
fn keepalive_holds_a_short_lease_until_dropped() {
    let c = client();
    let p = common::unique_prefix("held");
    let g = c.grant(2).unwrap();
    c.put_with(format!("{p}k"), "v", PutOptions::new().lease(g.id()))
        .unwrap();
    let ka = c.keep_alive(g.id()).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(500));
        assert!(ka.is_alive(), "{:?}", ka.state());
    }
    assert_eq!(c.get(format!("{p}k")).unwrap().count(), 1);
    let latest = ka.receiver().try_recv().unwrap().unwrap();
    assert_eq!(latest.ttl(), 2);
    // Nobody read the receiver for ten seconds: one slot, the rest counted.
    assert!(ka.skipped() >= 5, "skipped {}", ka.skipped());
    drop(ka);
    thread::sleep(Duration::from_secs(4));
    assert_eq!(c.time_to_live(g.id()).unwrap().ttl(), -1, "expired");
    assert_eq!(c.get(format!("{p}k")).unwrap().count(), 0);
}

/// Several handles of one lease, as Go's client allows several
/// `KeepAlive` calls: each gets the answers, and the lease lives until the
/// last one is dropped.
#[test]
fn several_keepalive_handles_of_one_lease() {
    let c = client();
    let p = common::unique_prefix("shared-ka");
    let g = c.grant(2).unwrap();
    c.put_with(format!("{p}k"), "v", PutOptions::new().lease(g.id()))
        .unwrap();
    let first = c.keep_alive(g.id()).unwrap();
    let second = c.keep_alive(g.id()).expect("a second handle of the lease");
    for ka in [&first, &second] {
        let r = ka.receiver().recv_timeout(Duration::from_secs(5));
        assert_eq!(r.unwrap().unwrap().id(), g.id());
    }
    // The first handle goes; the second keeps the lease alive well past
    // its TTL of 2 s, and still gets every answer.
    drop(first);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        let r = second.receiver().recv_timeout(Duration::from_secs(2));
        assert_eq!(r.unwrap().unwrap().ttl(), 2);
        assert!(second.is_alive(), "{:?}", second.state());
    }
    assert_eq!(c.get(format!("{p}k")).unwrap().count(), 1);
    // With the last handle gone, nothing keeps it alive.
    drop(second);
    thread::sleep(Duration::from_secs(4));
    assert_eq!(c.time_to_live(g.id()).unwrap().ttl(), -1, "expired");
    assert_eq!(c.get(format!("{p}k")).unwrap().count(), 0);

    // A lease lost under several handles is reported by each.
    let g = c.grant(5).unwrap();
    let handles: Vec<_> = (0..3).map(|_| c.keep_alive(g.id()).unwrap()).collect();
    c.revoke(g.id()).unwrap();
    for ka in &handles {
        let e = loop {
            match ka.receiver().recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => break e,
                Err(e) => panic!("no loss reported: {e}"),
            }
        };
        assert!(
            matches!(e, Error::LeaseNotFound { id: Some(id), .. } if id == g.id()),
            "{e}"
        );
        assert!(!ka.is_alive());
    }
}

#[test]
fn a_lease_revoked_elsewhere_is_reported_lost() {
    let c = client();
    let other = client();
    let g = c.grant(3).unwrap();
    let ka = c.keep_alive(g.id()).unwrap();
    thread::sleep(Duration::from_millis(300));
    let revoked = Instant::now();
    other.revoke(g.id()).unwrap();
    // Within one refresh interval (a third of the TTL) plus the round trip.
    let r = loop {
        match ka.receiver().recv_timeout(Duration::from_secs(3)) {
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => break e,
            Err(e) => panic!("no loss reported: {e}"),
        }
    };
    assert!(
        revoked.elapsed() < Duration::from_millis(1500),
        "{:?}",
        revoked.elapsed()
    );
    assert!(
        matches!(r, Error::LeaseNotFound { id: Some(id), .. } if id == g.id()),
        "{r}"
    );
    assert!(matches!(
        ka.state(),
        LeaseState::Lost(Error::LeaseNotFound { .. })
    ));
    assert_eq!(ka.ttl(), None);
}

#[test]
fn a_thousand_leases_for_thirty_seconds() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let ids: Vec<i64> = (0..1000).map(|_| c.grant(3).unwrap().id()).collect();
    let handles: Vec<_> = ids.iter().map(|&id| c.keep_alive(id).unwrap()).collect();
    thread::sleep(Duration::from_secs(30));
    assert!(handles.iter().all(|h| h.is_alive()));
    let listed = c.leases().unwrap();
    assert!(ids.iter().all(|id| listed.ids().contains(id)));
}

/// Keeps 100 leases alive while `fault` hits the member the keepalive
/// stream uses; every lease must survive.
fn leases_survive(fault: impl FnOnce(&common::Cluster, usize)) {
    let cluster = common::fast_keepalive_cluster();
    let c = common::fast_keepalive_client(&cluster)
        .request_timeout(Duration::from_secs(3))
        .connect()
        .unwrap();
    let ids: Vec<i64> = (0..100).map(|_| c.grant(4).unwrap().id()).collect();
    let handles: Vec<_> = ids.iter().map(|&id| c.keep_alive(id).unwrap()).collect();
    // Learn which member answers the keepalives.
    let first = handles[0]
        .receiver()
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    let member = first.header().member_id();
    let idx = cluster.index_of_member(member);
    let faulted = Instant::now();
    fault(&cluster, idx);
    // Wait until a refresh comes from another member.
    loop {
        assert!(
            faulted.elapsed() < Duration::from_secs(20),
            "no refresh after the fault"
        );
        if let Ok(Ok(r)) = handles[0]
            .receiver()
            .recv_timeout(Duration::from_millis(200))
        {
            if r.header().member_id() != member {
                break;
            }
        }
    }
    eprintln!(
        "keepalive moved to another member in {:?}",
        faulted.elapsed()
    );
    // Outlive the TTL a few times over.
    thread::sleep(Duration::from_secs(10));
    for h in &handles {
        assert!(h.is_alive(), "{:?}", h.state());
    }
    let listed = c.leases().unwrap();
    assert!(ids.iter().all(|id| listed.ids().contains(id)));
}

#[test]
fn leases_survive_killing_the_member_in_use() {
    leases_survive(|cluster, idx| cluster.kill(idx));
}

#[test]
fn leases_survive_freezing_the_member_in_use() {
    leases_survive(|cluster, idx| cluster.stop(idx));
}

#[test]
fn a_keepalive_made_just_before_close_ends_with_client_closed() {
    let cluster = common::Cluster::single();
    for round in 0..5 {
        let c = Client::connect(cluster.endpoints()).unwrap();
        let lease = c.grant(30).unwrap();
        let ka = c.keep_alive(lease.id()).unwrap();
        c.close().unwrap();
        // close() joined the pump, so the state is final already.
        assert!(
            matches!(ka.state(), LeaseState::Lost(Error::ClientClosed)),
            "round {round}: {:?}",
            ka.state()
        );
        assert!(matches!(
            ka.receiver().try_recv(),
            Ok(Err(Error::ClientClosed))
        ));
    }
}

#[test]
fn close_ends_keepalives_and_cancels_their_streams_on_the_server() {
    let cluster = common::Cluster::single();
    let ep = cluster.endpoint(0);
    let c = Client::connect(cluster.endpoints()).unwrap();
    let lease = c.grant(30).unwrap();
    let ka = c.keep_alive(lease.id()).unwrap();
    let w = c.watch("close/k").unwrap();
    // Running for a while, with answers flowing.
    assert!(ka
        .receiver()
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .is_ok());
    thread::sleep(Duration::from_millis(500));
    for method in ["LeaseKeepAlive", "Watch"] {
        assert!(
            common::streams_started(&ep, method) > common::streams_handled(&ep, method),
            "no open {method} stream before close"
        );
    }
    c.close().unwrap();
    assert!(matches!(ka.state(), LeaseState::Lost(Error::ClientClosed)));
    assert!(matches!(w.recv(), Err(Error::ClientClosed)));
    // Every stream the client opened has ended on the server too.
    let t = Instant::now();
    for method in ["LeaseKeepAlive", "Watch"] {
        while common::streams_started(&ep, method) != common::streams_handled(&ep, method) {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "a {method} stream is still open on the server after close"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn a_lease_cut_off_from_every_member_is_lost_before_its_ttl_ends() {
    let cluster = common::Cluster::single();
    let proxy = Proxy::start(&cluster.endpoint(0));
    let c = Client::connect([proxy.addr()]).unwrap();
    let ttl = 4;
    let lease = c.grant(ttl).unwrap();
    let ka = c.keep_alive(lease.id()).unwrap();
    assert!(ka
        .receiver()
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .is_ok());
    let mut last_answer = Instant::now();
    proxy.blackhole(true);
    // An answer already on its way counts too.
    while let Ok(r) = ka.receiver().try_recv() {
        if r.is_ok() {
            last_answer = Instant::now();
        }
    }
    // The server's TTL started after the refresh it answered was sent,
    // so before `last_answer`: from there on, the handle must not say
    // alive, and it must say lost by then.
    let ttl_end = last_answer + Duration::from_secs(ttl as u64);
    let mut lost_at = None;
    while Instant::now() < ttl_end + Duration::from_secs(1) {
        let now = Instant::now();
        match ka.state() {
            LeaseState::Alive { .. } => assert!(
                now < ttl_end,
                "alive {:?} after the TTL ended",
                now - ttl_end
            ),
            LeaseState::Lost(e) => {
                assert!(matches!(e, Error::LeaseNotFound { .. }), "{e}");
                lost_at.get_or_insert(now);
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
    // Never alive past the TTL is checked above; the state is sampled
    // every 20 ms, so the first sample that says lost may come up to one
    // interval after the moment it turned.
    let lost_at = lost_at.expect("never reported lost");
    assert!(
        lost_at <= ttl_end + Duration::from_millis(40),
        "lost only {:?} after the TTL ended",
        lost_at - ttl_end
    );
    eprintln!("lost {:?} before the TTL ended", ttl_end - lost_at);
    // The receiver says so too, once the pump had its turn.
    let t = Instant::now();
    loop {
        match ka.receiver().recv_timeout(Duration::from_secs(2)) {
            Ok(Err(Error::LeaseNotFound { .. })) => break,
            Ok(_) => assert!(t.elapsed() < Duration::from_secs(5)),
            Err(e) => panic!("no loss on the receiver: {e}"),
        }
    }
}
