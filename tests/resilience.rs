//! Fault tests on three-member clusters: the member in use killed, frozen
//! or blackholed; every member down and back; a member without a leader.
//! Each prints how long the client took to get past the fault.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use etcd_blocking::{Client, Error, EtcdError, GetOptions, LeaseGrantOptions};

/// Index of the member that answered `c`'s last read.
fn member_in_use(cluster: &common::Cluster, c: &Client) -> usize {
    let id = c.get("probe").unwrap().header().member_id();
    cluster.index_of_member(id)
}

/// A write after a fault: applied, or reported as possibly applied; never
/// another error, and never sent twice.
fn write_after_fault(c: &Client, key: &str) -> &'static str {
    match c.put(key, "v") {
        Ok(_) => "applied",
        Err(Error::Ambiguous { .. }) => "ambiguous",
        Err(Error::DeadlineExceeded(_)) => "deadline (outcome unknown)",
        // An election under way: etcd says so (leader changed, no leader,
        // timed out inside raft).
        Err(Error::Etcd(e)) if e.is_transient() => "refused during the election",
        Err(e) => panic!("write after fault: {e}"),
    }
}

/// After a fault: the first write is applied or reported as possibly
/// applied; then writes flow again (once a new leader is elected, if the
/// faulty member led). Keys are `{fault}/1` and `{fault}/2`.
fn writes_resume(c: &Client, fault: &str) {
    let t = Instant::now();
    let outcome = write_after_fault(c, &format!("{fault}/1"));
    eprintln!("{fault}: write {outcome} in {:?}", t.elapsed());
    let t = Instant::now();
    while c.put(format!("{fault}/2"), "v").is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "writes never resumed"
        );
    }
    eprintln!("{fault}: writes flowing again after {:?}", t.elapsed());
}

#[test]
fn killed_member_reads_and_writes_move_on() {
    let cluster = common::Cluster::start(3);
    let c = Client::builder(cluster.endpoints())
        .request_timeout(Duration::from_secs(3))
        .connect()
        .unwrap();
    c.put("probe", "x").unwrap();
    let idx = member_in_use(&cluster, &c);
    // The client says which member it talks to.
    assert_eq!(c.pinned_endpoint(), Some(cluster.client_url(idx)));
    cluster.kill(idx);
    let t = Instant::now();
    let r = c.get("probe").unwrap();
    eprintln!("kill -9: read moved on in {:?}", t.elapsed());
    assert_eq!(r.count(), 1);
    let now = cluster.index_of_member(r.header().member_id());
    assert_ne!(now, idx);
    assert_eq!(c.pinned_endpoint(), Some(cluster.client_url(now)));
    writes_resume(&c, "kill -9");
    assert_eq!(c.get("kill -9/2").unwrap().count(), 1);
}

#[test]
fn frozen_member_costs_one_attempt_share() {
    let cluster = common::Cluster::start(3);
    let c = Client::builder(cluster.endpoints())
        .request_timeout(Duration::from_secs(3))
        .connect()
        .unwrap();
    c.put("probe", "x").unwrap();
    let idx = member_in_use(&cluster, &c);
    cluster.stop(idx);
    let t = Instant::now();
    let r = c
        .get_with("probe", GetOptions::new().serializable())
        .unwrap();
    let took = t.elapsed();
    eprintln!("SIGSTOP: read moved on in {took:?}");
    assert_eq!(r.count(), 1);
    // One third of the 3 s deadline, plus slack: not the whole deadline.
    assert!(took < Duration::from_millis(2500), "{took:?}");
    // The pin moved: later reads go straight elsewhere (serializable: a
    // linearizable read waits for a new leader if the frozen one led).
    let t = Instant::now();
    c.get_with("probe", GetOptions::new().serializable())
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    writes_resume(&c, "SIGSTOP");
    cluster.cont(idx);
}

#[test]
fn blackholed_member_is_passed_over() {
    let cluster = common::Cluster::start(3);
    // Every member behind a proxy of ours; the one in use goes dark.
    let proxies: Vec<Proxy> = (0..3).map(|i| Proxy::start(&cluster.endpoint(i))).collect();
    let eps: Vec<String> = proxies.iter().map(|p| p.addr().to_string()).collect();
    let c = Client::builder(&eps)
        .request_timeout(Duration::from_secs(3))
        .connect()
        .unwrap();
    c.put("probe", "x").unwrap();
    let idx = member_in_use(&cluster, &c);
    proxies[idx].blackhole(true);
    let t = Instant::now();
    let r = c.get("probe").unwrap();
    eprintln!("blackhole: read moved on in {:?}", t.elapsed());
    assert_eq!(r.count(), 1);
    assert_ne!(r.header().member_id(), cluster.member_id(idx).unwrap());
    assert!(t.elapsed() < Duration::from_millis(2500));
    let t = Instant::now();
    c.put("after-blackhole", "v").unwrap();
    eprintln!("blackhole: next write in {:?}", t.elapsed());
    // Watches are opened elsewhere too.
    let w = c.watch("watched").unwrap();
    c.put("watched", "1").unwrap();
    assert!(w.recv_timeout(Duration::from_secs(5)).unwrap().is_some());
    proxies[idx].blackhole(false);
}

#[test]
fn all_members_down_fails_fast_then_recovers() {
    let cluster = common::Cluster::start(3);
    let c = Client::builder(cluster.endpoints())
        .request_timeout(Duration::from_secs(3))
        .connect()
        .unwrap();
    c.put("k", "v").unwrap();
    for i in 0..3 {
        cluster.kill(i);
    }
    let t = Instant::now();
    let e = c.get("k").unwrap_err();
    eprintln!("all down: read failed in {:?}: {e}", t.elapsed());
    match &e {
        Error::Unavailable(causes) => {
            assert_eq!(causes.len(), 3, "{e}");
            for ep in cluster.endpoints() {
                assert!(e.to_string().contains(&ep), "{e} lacks {ep}");
            }
        }
        other => panic!("{other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(3));
    for i in 0..3 {
        cluster.restart_no_wait(i);
    }
    cluster.wait_all_running_healthy();
    let t = Instant::now();
    loop {
        match c.get("k") {
            Ok(r) => {
                assert_eq!(r.count(), 1);
                break;
            }
            Err(e) => {
                assert!(t.elapsed() < Duration::from_secs(15), "not recovered: {e}");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
    eprintln!(
        "all down: recovered {:?} after the cluster was back",
        t.elapsed()
    );
}

#[test]
fn require_leader_refuses_a_cut_off_member() {
    let cluster = common::Cluster::start(3);
    let lone = cluster.endpoint(0);
    let plain = Client::builder([&lone])
        .request_timeout(Duration::from_secs(1))
        .connect()
        .unwrap();
    let strict = Client::builder([&lone])
        .request_timeout(Duration::from_secs(1))
        .require_leader(true)
        .connect()
        .unwrap();
    plain.put("k", "v").unwrap();
    cluster.kill(1);
    cluster.kill(2);
    // Wait until member 0 notices it has no leader.
    let t = Instant::now();
    loop {
        match strict.get_with("k", GetOptions::new().serializable()) {
            Err(Error::Etcd(EtcdError::NoLeader)) => break,
            other => {
                assert!(t.elapsed() < Duration::from_secs(15), "{other:?}");
                thread::sleep(Duration::from_millis(200));
            }
        }
    }
    // Without require-leader the isolated member still serves stale reads.
    let r = plain
        .get_with("k", GetOptions::new().serializable())
        .unwrap();
    assert_eq!(r.count(), 1);
    // A handle can ask for either, whatever its client's setting.
    let e = plain
        .with_require_leader(true)
        .get_with("k", GetOptions::new().serializable())
        .unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::NoLeader)), "{e}");
    let r = strict
        .with_require_leader(false)
        .get_with("k", GetOptions::new().serializable())
        .unwrap();
    assert_eq!(r.count(), 1);
}

/// A client pinned to member `i` of `cluster`, knowing all three: it
/// connects to `i` alone, then learns the others (the pin stays).
fn pinned_to(cluster: &common::Cluster, i: usize, builder: etcd_blocking::ClientBuilder) -> Client {
    let c = builder.connect().unwrap();
    c.set_endpoints(cluster.endpoints()).unwrap();
    assert_eq!(c.pinned_endpoint(), Some(cluster.client_url(i)));
    c
}

/// `get_iter`'s stream gets one attempt's share on the pinned member, then
/// the page is read with Range, which fails over: a frozen member does not
/// hold the iteration to its deadline (it failed with DeadlineExceeded).
#[test]
fn get_iter_moves_past_a_frozen_member() {
    let cluster = common::Cluster::start(3);
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let frozen = (leader + 1) % 3;
    let c = pinned_to(
        &cluster,
        frozen,
        Client::builder([cluster.endpoint(frozen)]).request_timeout(Duration::from_secs(3)),
    );
    for i in 0..5 {
        c.put(format!("iter/{i}"), "v").unwrap();
    }
    cluster.stop(frozen);
    let t = Instant::now();
    let first = c
        .get_iter("iter/", GetOptions::new().prefix(), 2)
        .unwrap()
        .next();
    let took = t.elapsed();
    // The rest of the pages go to the member that answered.
    let rest: Result<Vec<_>, _> = c
        .get_iter("iter/", GetOptions::new().prefix(), 2)
        .unwrap()
        .collect();
    let rest_took = t.elapsed() - took;
    cluster.cont(frozen);
    assert_eq!(first.unwrap().unwrap().key(), b"iter/0");
    assert_eq!(rest.unwrap().len(), 5);
    // The stream's third of 3 s, then Range's share of what is left
    // before it moves on (2/9 of 3 s): ~1.7 s, plus slack for a busy
    // machine; not the whole 3 s.
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert!(rest_took < Duration::from_millis(1000), "{rest_took:?}");
}

#[test]
fn require_leader_writes_fail_over_from_a_cut_off_member() {
    let cluster = common::ClusterBuilder::new(3).peer_proxies().start();
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let lone = (leader + 1) % 3;
    let c = pinned_to(
        &cluster,
        lone,
        Client::builder([cluster.endpoint(lone)])
            .request_timeout(Duration::from_secs(3))
            .require_leader(true),
    );
    cluster.isolate(lone, true);
    // Wait until the cut-off member notices it has no leader: a handle
    // aimed at it (no failover) is refused.
    let aimed = c.with_endpoint(&cluster.endpoint(lone)).unwrap();
    let t = Instant::now();
    loop {
        match aimed.get_with("k", GetOptions::new().serializable()) {
            Err(Error::Etcd(EtcdError::NoLeader)) => break,
            other => {
                assert!(t.elapsed() < Duration::from_secs(15), "{other:?}");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
    assert_eq!(c.pinned_endpoint(), Some(cluster.client_url(lone)));
    // The refusal comes before etcd looks at the request, so the write
    // goes to a member with a leader, and is applied there once.
    let t = Instant::now();
    let put = c.put("k", "v").unwrap();
    eprintln!("require-leader write failed over in {:?}", t.elapsed());
    let lone_id = cluster.member_id(lone).unwrap();
    assert_ne!(put.header().member_id(), lone_id);
    assert_ne!(c.pinned_endpoint(), Some(cluster.client_url(lone)));
    let got = c.get("k").unwrap();
    assert_eq!(got.first().map(|kv| kv.version()), Some(1));
    assert_eq!(
        got.first().map(|kv| kv.mod_revision()),
        Some(put.header().revision())
    );
    // A transaction and a delete (writes too) go the same way.
    c.set_endpoints([cluster.endpoint(lone)]).unwrap();
    c.set_endpoints(cluster.endpoints()).unwrap();
    assert_eq!(c.pinned_endpoint(), Some(cluster.client_url(lone)));
    let del = c.delete("k").unwrap();
    assert_eq!(del.deleted(), 1);
    assert_ne!(del.header().member_id(), lone_id);
    cluster.isolate(lone, false);
}

#[test]
fn a_write_timed_out_on_a_frozen_member_moves_the_pin() {
    let cluster = common::Cluster::start(3);
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let frozen = (leader + 1) % 3;
    let timeout = Duration::from_secs(2);
    let c = pinned_to(
        &cluster,
        frozen,
        Client::builder([cluster.endpoint(frozen)]).request_timeout(timeout),
    );
    let frozen_id = c.put("probe", "x").unwrap().header().member_id();
    assert_eq!(Some(frozen_id), cluster.member_id(frozen));
    cluster.stop(frozen);
    // The write in flight on the frozen member runs out of time: its
    // outcome is unknown, and it is not sent again.
    let e = c.put("w/1", "v").unwrap_err();
    assert!(matches!(e, Error::DeadlineExceeded(_)), "{e}");
    assert!(e.is_outcome_unknown());
    // The member is suspect now: the next write goes elsewhere at once
    // instead of waiting for HTTP/2 keepalive to give up on it (40 s).
    let t = Instant::now();
    let put = c.put("w/2", "v").unwrap();
    let took = t.elapsed();
    eprintln!("SIGSTOP: the write after the timed-out one took {took:?}");
    assert_ne!(put.header().member_id(), frozen_id);
    assert!(took < timeout, "{took:?}");
    assert_ne!(c.pinned_endpoint(), Some(cluster.client_url(frozen)));
    cluster.cont(frozen);
}

#[test]
fn endpoints_follow_the_member_list() {
    let cluster = common::Cluster::start(3);
    // Start from one endpoint; auto-sync finds the other two.
    let c = Client::builder([cluster.endpoint(0)])
        .auto_sync_interval(Duration::from_millis(300))
        .request_timeout(Duration::from_secs(3))
        .connect()
        .unwrap();
    let t = Instant::now();
    while c.endpoints().len() < 3 {
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", c.endpoints());
        thread::sleep(Duration::from_millis(50));
    }
    let mut want: Vec<String> = cluster.client_urls();
    let mut got = c.endpoints();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    // A learner is not an endpoint.
    let learner_url = cluster.alloc_peer_url();
    // etcd refuses membership changes until its members have looked
    // healthy for a few seconds (`unhealthy cluster`).
    let t = Instant::now();
    let added = loop {
        match c.member_add_as_learner([learner_url.as_str()]) {
            Ok(a) => break a,
            Err(e) => {
                assert!(t.elapsed() < Duration::from_secs(15), "{e}");
                thread::sleep(Duration::from_millis(200));
            }
        }
    };
    assert_eq!(c.sync_endpoints().unwrap().len(), 3);
    let remove = |id: u64| {
        let t = Instant::now();
        while let Err(e) = c.member_remove(id) {
            assert!(t.elapsed() < Duration::from_secs(15), "{e}");
            thread::sleep(Duration::from_millis(200));
        }
    };
    remove(added.member().id());
    // A removed member disappears from the list.
    remove(cluster.member_id(2).unwrap());
    cluster.kill(2);
    let t = Instant::now();
    while c.endpoints().len() != 2 {
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", c.endpoints());
        thread::sleep(Duration::from_millis(50));
    }
    assert!(!c.endpoints().contains(&cluster.client_url(2)));
    // The original endpoint dies: the synced one still answers (a
    // serializable read: two voters minus one have no quorum).
    cluster.kill(0);
    let t = Instant::now();
    c.get_with("k", GetOptions::new().serializable()).unwrap();
    eprintln!(
        "sync: read after losing the original endpoint in {:?}",
        t.elapsed()
    );
}

#[test]
fn no_acknowledged_write_is_lost_when_the_leader_moves() {
    let cluster = common::Cluster::start(3);
    let eps = cluster.endpoints();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let c = Client::builder(&eps)
                .request_timeout(Duration::from_secs(3))
                .connect()
                .unwrap();
            thread::spawn(move || {
                let mut acked = Vec::new();
                let mut ambiguous = 0;
                for i in 0..400 {
                    let key = format!("ml/{w}/{i}");
                    match c.put(key.as_str(), format!("{i}")) {
                        Ok(_) => acked.push((key, i)),
                        Err(e) => {
                            assert!(e.is_retryable(), "{e}");
                            ambiguous += 1;
                        }
                    }
                }
                (acked, ambiguous)
            })
        })
        .collect();
    let admin = Client::connect(&eps).unwrap();
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(300));
        let leader = cluster.wait_leader(Duration::from_secs(10));
        let target = (leader + 1) % 3;
        let t = Instant::now();
        admin
            .with_endpoint(&eps[leader])
            .unwrap()
            .move_leader(cluster.member_id(target).unwrap())
            .unwrap();
        eprintln!("leader moved {leader} -> {target} in {:?}", t.elapsed());
    }
    let mut total = 0;
    let mut unknown = 0;
    for w in writers {
        let (acked, ambiguous) = w.join().unwrap();
        unknown += ambiguous;
        for (key, i) in acked {
            let r = admin.get(key.as_str()).unwrap();
            assert_eq!(
                r.first().map(|kv| kv.value().to_vec()),
                Some(format!("{i}").into_bytes()),
                "{key} lost"
            );
            total += 1;
        }
    }
    eprintln!(
        "move leader: {total} acknowledged writes all readable; {unknown} reported as not known"
    );
    assert!(total > 1000);
}

#[test]
fn keepalive_pings_respect_the_server_policy() {
    // etcd's default policy: pings no closer than 5 s. A client pinging
    // every 5 s keeps its idle watch stream; one pinging every second is
    // told "too many pings" (GOAWAY), which shows as a new Watch stream.
    let cluster = common::Cluster::single();
    let ep = cluster.endpoint(0);
    let polite = Client::builder(cluster.endpoints())
        .keepalive_time(Duration::from_secs(5))
        .keepalive_timeout(Duration::from_secs(2))
        .connect()
        .unwrap();
    let w = polite.watch("idle").unwrap();
    let before = common::streams_started(&ep, "Watch");
    thread::sleep(Duration::from_secs(16));
    assert_eq!(
        common::streams_started(&ep, "Watch"),
        before,
        "the polite client's stream was restarted"
    );
    polite.put("idle", "v").unwrap();
    assert!(w.recv_timeout(Duration::from_secs(5)).unwrap().is_some());
    drop(w);

    // A client that would ping too often is refused before it connects...
    let e = Client::builder(cluster.endpoints())
        .keepalive_time(Duration::from_secs(1))
        .connect()
        .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
    // ...and the refusal is right: the control, a client told (wrongly)
    // that the server allows 1 s pings, is sent away (GOAWAY) while its
    // only stream is idle. (Not a watch: an idle watch stream now answers
    // a progress probe every few seconds, and data resets the server's
    // count of pings.) An observation of an election nobody leads sends
    // nothing; the GOAWAY ends it with an error long before its deadline.
    let rude = Client::builder(cluster.endpoints())
        .keepalive_time(Duration::from_secs(1))
        .keepalive_timeout(Duration::from_secs(1))
        .server_keepalive_min_time(Duration::from_secs(1))
        .connect()
        .unwrap();
    let t = Instant::now();
    let ended = rude
        .with_timeout(Duration::from_secs(20))
        .observe("idle-election", |_| true);
    let e = ended.expect_err("an observation of nobody ended by itself");
    assert!(
        !matches!(e, Error::DeadlineExceeded(_)),
        "no GOAWAY for 1 s pings within 20 s: {e}"
    );
    eprintln!("a 1 s ping interval was refused after {:?}", t.elapsed());
}

/// A client over `endpoints` (the first one proxied to member 0) whose pin
/// is on the proxy: only member 0 can finish the handshake while the
/// others are frozen.
fn pinned_to_proxy(cluster: &common::Cluster, endpoints: &[String]) -> Client {
    cluster.stop(1);
    cluster.stop(2);
    let c = Client::connect(endpoints);
    cluster.cont(1);
    cluster.cont(2);
    let c = c.unwrap();
    assert_eq!(member_in_use(cluster, &c), 0);
    c
}

#[test]
fn a_write_cut_off_after_sending_is_unknown_and_applied_once() {
    let cluster = common::Cluster::start(3);
    let proxy = Proxy::start(&cluster.endpoint(0));
    let mut endpoints = vec![proxy.addr().to_string()];
    endpoints.extend([cluster.endpoint(1), cluster.endpoint(2)]);
    let direct = Client::connect(cluster.endpoints()).unwrap();

    let c = pinned_to_proxy(&cluster, &endpoints);
    let before = direct.get("cut/w").unwrap().header().revision();
    proxy.cut_after_request();
    let e = c.put("cut/w", "once").unwrap_err();
    assert!(proxy.cut_done(), "the proxy never cut");
    assert!(matches!(e, Error::Ambiguous { .. }), "{e:?}");
    assert!(e.is_outcome_unknown());
    // Applied exactly once: one revision, version 1. A second send would
    // have made it version 2 and two revisions.
    let after = direct.get("cut/w").unwrap();
    assert_eq!(after.kvs().len(), 1, "the write was not applied");
    assert_eq!(after.kvs()[0].version(), 1, "the write was sent twice");
    assert_eq!(after.header().revision(), before + 1);

    // A read cut off the same way is simply asked again elsewhere.
    let c = pinned_to_proxy(&cluster, &endpoints);
    proxy.cut_after_request();
    let r = c.get("cut/w").unwrap();
    assert!(proxy.cut_done(), "the proxy never cut");
    assert_eq!(r.kvs()[0].value(), b"once");
    assert_ne!(
        cluster.index_of_member(r.header().member_id()),
        0,
        "the read was not moved to another member"
    );
}

/// What `Client::grant`, `grant_with` and `revoke` document for a call
/// whose answer is lost after etcd applied it.
#[test]
fn lease_calls_cut_off_after_sending_answer_as_documented() {
    let cluster = common::Cluster::start(3);
    let proxy = Proxy::start(&cluster.endpoint(0));
    let mut endpoints = vec![proxy.addr().to_string()];
    endpoints.extend([cluster.endpoint(1), cluster.endpoint(2)]);
    let direct = Client::connect(cluster.endpoints()).unwrap();
    let listed = || -> Vec<i64> { direct.leases().unwrap().ids().to_vec() };

    // A grant with an id of the server's choosing is sent once: it is
    // unknown whether it made a lease, and it did make one, which the
    // listing shows and a revoke removes.
    let before = listed();
    let c = pinned_to_proxy(&cluster, &endpoints);
    proxy.cut_after_request();
    let e = c.grant(60).unwrap_err();
    assert!(proxy.cut_done(), "the proxy never cut");
    assert!(matches!(e, Error::Ambiguous { .. }), "{e:?}");
    let made: Vec<i64> = listed()
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    assert_eq!(made.len(), 1, "the grant was applied once: {made:?}");
    direct.revoke(made[0]).unwrap();

    // With a chosen id it is asked again elsewhere, which finds the lease
    // the first try made.
    let id = 0x5eed_c0de;
    let c = pinned_to_proxy(&cluster, &endpoints);
    proxy.cut_after_request();
    let e = c
        .grant_with(60, LeaseGrantOptions::new().id(id))
        .unwrap_err();
    assert!(proxy.cut_done(), "the proxy never cut");
    assert!(matches!(e, Error::Etcd(EtcdError::LeaseExists)), "{e:?}");
    assert_eq!(direct.time_to_live(id).unwrap().granted_ttl(), 60);

    // A revoke is asked again elsewhere, which finds the lease gone.
    let c = pinned_to_proxy(&cluster, &endpoints);
    proxy.cut_after_request();
    let e = c.revoke(id).unwrap_err();
    assert!(proxy.cut_done(), "the proxy never cut");
    assert!(matches!(e, Error::LeaseNotFound { .. }), "{e:?}");
    assert_eq!(direct.time_to_live(id).unwrap().ttl(), -1, "revoked");
}

#[test]
fn the_deadline_covers_every_member_and_with_endpoint_does_not_fail_over() {
    let cluster = common::Cluster::start(3);
    let c = Client::builder(cluster.endpoints())
        .request_timeout(Duration::from_secs(3))
        .connect()
        .unwrap();
    c.put("probe", "x").unwrap();

    // `with_endpoint`: no failover. Member 1 frozen, a read aimed at it
    // fails at its deadline (nothing else answers it), while member 0
    // answers its own.
    let ep1 = cluster.endpoint(1);
    cluster.stop(1);
    let t = Instant::now();
    let r = c
        .with_endpoint(&ep1)
        .unwrap()
        .with_timeout(Duration::from_millis(800))
        .get_with("probe", GetOptions::new().serializable());
    let took = t.elapsed();
    assert!(matches!(r, Err(Error::DeadlineExceeded(_))), "{r:?}");
    // All of it spent on member 1: not moved elsewhere after a share.
    assert!(took >= Duration::from_millis(750), "{took:?}");
    let at0 = c
        .with_endpoint(&cluster.endpoint(0))
        .unwrap()
        .status()
        .unwrap();
    assert_eq!(at0.header().member_id(), cluster.member_id(0).unwrap());

    // The deadline covers the whole call, tries on the other members
    // included: with every member frozen, a read (which moves on after a
    // share of the deadline) ends at the deadline, plus MARGIN for
    // scheduling and the cancel, not at a multiple of it.
    cluster.stop(0);
    cluster.stop(2);
    const DEADLINE: Duration = Duration::from_millis(900);
    const MARGIN: Duration = Duration::from_millis(300);
    for i in 0..2 {
        let t = Instant::now();
        let r = c
            .with_timeout(DEADLINE)
            .get_with("probe", GetOptions::new().serializable());
        let took = t.elapsed();
        eprintln!("all frozen, read {i}: {r:?} after {took:?}");
        assert!(
            matches!(r, Err(Error::DeadlineExceeded(_) | Error::Unavailable(_))),
            "{r:?}"
        );
        assert!(took < DEADLINE + MARGIN, "{took:?}");
        // A write is tried on one member only (never sent twice), within
        // the same deadline.
        let t = Instant::now();
        let w = c.with_timeout(DEADLINE).put("probe", "y");
        let took = t.elapsed();
        assert!(w.is_err(), "{w:?}");
        assert!(took < DEADLINE + MARGIN, "{took:?}");
    }
    for i in 0..3 {
        cluster.cont(i);
    }
}
