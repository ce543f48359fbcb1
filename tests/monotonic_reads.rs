//! Monotonic reads: a member cut off from its peers (through the peer
//! proxies on 127.0.0.1) falls behind while the others take writes; a
//! client that switches to it must not return its stale serializable
//! answers, and with the switch off it does.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::ClusterBuilder;
use etcd_blocking::{Client, Error, GetOptions, GetResponse};

fn serializable() -> GetOptions {
    GetOptions::new().serializable()
}

/// The value read, or "" when the key is not there (yet: a member that
/// has not applied the first put answers with no key).
fn value(r: &GetResponse) -> String {
    r.kvs()
        .first()
        .map_or_else(String::new, |kv| kv.value_str().unwrap().to_string())
}

#[test]
fn a_member_held_behind_does_not_make_time_go_backwards() {
    let cluster = ClusterBuilder::new(3).peer_proxies().start();
    let leader = cluster.wait_leader(Duration::from_secs(10));
    // `current` stays with the leader; `behind` is cut off.
    let current = (leader + 1) % 3;
    let behind = (leader + 2) % 3;
    let current_id = cluster.member_id(current).unwrap();
    let behind_id = cluster.member_id(behind).unwrap();
    // Clients reach `current` through a proxy that can refuse them, which
    // is what sends a client over to `behind`.
    let a = Proxy::start(&cluster.endpoint(current));
    let c = cluster.endpoint(behind);
    let endpoints = [a.addr().to_string(), c.clone()];
    let on = Client::builder(endpoints.clone())
        .request_timeout(Duration::from_secs(5))
        .connect()
        .unwrap();
    let off = Client::builder(endpoints)
        .request_timeout(Duration::from_secs(5))
        .monotonic_reads(false)
        .connect()
        .unwrap();
    let on_c = on.with_endpoint(&c).unwrap();
    let off_c = off.with_endpoint(&c).unwrap();

    on.put("k", "v1").unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while value(&off_c.get_with("k", serializable()).unwrap()) != "v1" {
        assert!(Instant::now() < until, "the member never applied v1");
        thread::sleep(Duration::from_millis(20));
    }

    cluster.isolate(behind, true);
    let written = on
        .with_endpoint(a.addr())
        .unwrap()
        .put("k", "v2")
        .unwrap()
        .header()
        .revision();
    // Both clients have now seen the revision of v2.
    let read = off.with_endpoint(a.addr()).unwrap().get("k").unwrap();
    assert_eq!(value(&read), "v2");
    assert_eq!(read.header().revision(), written);

    // The clients lose `current`: their next calls go to `behind`.
    a.refuse(true);

    // Switch off: the stale answer comes back, an older revision than one
    // this client has already seen.
    let stale = off.get_with("k", serializable()).unwrap();
    assert_eq!(stale.header().member_id(), behind_id);
    assert_eq!(value(&stale), "v1");
    assert!(stale.header().revision() < written);

    // Switch on: refused, typed, within the deadline.
    let t0 = Instant::now();
    let err = on
        .with_timeout(Duration::from_secs(2))
        .get_with("k", serializable())
        .unwrap_err();
    match &err {
        Error::StaleRead {
            endpoint,
            revision,
            seen,
        } => {
            assert_eq!(*endpoint, format!("http://{c}"));
            assert!(revision < &written, "{err}");
            assert!(seen >= &written, "{err}");
        }
        other => panic!("expected a stale read, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    // A linearizable read is never checked: the cut-off member cannot
    // serve one at all (it has no leader), so that fails on its own.

    // `current` comes back: the read, pinned to `behind` now, is answered
    // by `current` instead, with the value of the revision seen.
    a.refuse(false);
    let fresh = on
        .with_timeout(Duration::from_secs(15))
        .get_with("k", serializable())
        .unwrap();
    assert_eq!(value(&fresh), "v2");
    assert_eq!(fresh.header().member_id(), current_id);

    // Aimed at `behind` alone, the read waits for it to catch up.
    let heal = {
        let cluster = &cluster;
        thread::scope(|s| {
            s.spawn(move || {
                thread::sleep(Duration::from_secs(1));
                cluster.isolate(behind, false);
            });
            let t0 = Instant::now();
            let caught_up = on_c
                .with_timeout(Duration::from_secs(20))
                .get_with("k", serializable())
                .unwrap();
            (caught_up, t0.elapsed())
        })
    };
    let (caught_up, waited) = heal;
    assert_eq!(value(&caught_up), "v2");
    assert_eq!(caught_up.header().member_id(), behind_id);
    assert!(caught_up.header().revision() >= written);
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
}

#[test]
fn the_revision_seen_includes_watch_events() {
    // A watch that saw a revision counts as much as a write: a serializable
    // read must not go back before it either.
    let cluster = ClusterBuilder::new(3).peer_proxies().start();
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let current = (leader + 1) % 3;
    let behind = (leader + 2) % 3;
    let client = Client::builder([cluster.endpoint(current), cluster.endpoint(behind)])
        .request_timeout(Duration::from_secs(2))
        .connect()
        .unwrap();
    let at_current = client.with_endpoint(&cluster.endpoint(current)).unwrap();
    let at_behind = client.with_endpoint(&cluster.endpoint(behind)).unwrap();
    let watcher = at_current.watch("w").unwrap();
    cluster.isolate(behind, true);
    // Written by someone else: this client learns of it from the watch only.
    let writer = Client::connect([cluster.endpoint(leader)]).unwrap();
    let rev = writer.put("w", "x").unwrap().header().revision();
    let events = common::next_events(&watcher);
    assert_eq!(events.events()[0].kv().mod_revision(), rev);
    match at_behind.get_with("w", serializable()) {
        Err(Error::StaleRead { seen, .. }) => assert!(seen >= rev),
        other => panic!("expected a stale read, got {other:?}"),
    }
    cluster.isolate(behind, false);
}
