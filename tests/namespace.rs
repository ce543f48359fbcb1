//! Namespaced handles against a real etcd: every key sent gets the prefix,
//! every key received loses it, and ranges stay inside.

mod common;

use std::time::Duration;

use etcd_blocking::{
    Client, Compare, CompareOp, DeleteOptions, GetOptions, Op, OpResponse, PutOptions,
    TimeToLiveOptions, Txn, WatchOptions,
};

#[test]
fn keys_are_prefixed_going_out_and_stripped_coming_back() {
    let raw = Client::connect(common::shared().endpoints()).unwrap();
    let root = common::unique_prefix("ns");
    let outside = format!("{root}outside");
    raw.put(&*outside, "x").unwrap();
    let ns = raw.with_namespace(format!("{root}tenant/"));

    ns.put("a", "1").unwrap();
    ns.put("b", "2").unwrap();
    assert_eq!(raw.get(format!("{root}tenant/a")).unwrap().count(), 1);
    let got = ns.get("a").unwrap();
    assert_eq!(got.first().unwrap().key(), b"a");

    // "Every key" and from-key stay inside the namespace.
    assert_eq!(
        common::keys(&ns.get_with("", GetOptions::new().prefix()).unwrap()),
        ["a", "b"]
    );
    assert_eq!(
        common::keys(&ns.get_with("b", GetOptions::new().from_key()).unwrap()),
        ["b"]
    );
    assert_eq!(
        common::keys(&ns.get_with("a", GetOptions::new().range_end("b")).unwrap()),
        ["a"]
    );

    let prev = ns.put_with("a", "1b", PutOptions::new().prev_kv()).unwrap();
    assert_eq!(prev.prev_kv().unwrap().key(), b"a");

    // Transactions: compares, ops and their results.
    let r = ns
        .txn(
            Txn::new()
                .when([Compare::value("a", CompareOp::Equal, "1b")])
                .and_then([
                    Op::put("c", "3"),
                    Op::get_with("", GetOptions::new().prefix()),
                    Op::txn(Txn::new().and_then([Op::get("c")])),
                ]),
        )
        .unwrap();
    assert!(r.succeeded());
    match &r.responses()[1] {
        OpResponse::Get(g) => assert_eq!(common::keys(g), ["a", "b", "c"]),
        other => panic!("{other:?}"),
    }
    match &r.responses()[2] {
        OpResponse::Txn(t) => match &t.responses()[0] {
            OpResponse::Get(g) => assert_eq!(common::keys(g), ["c"]),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }

    // Nested namespaces add up.
    let inner = ns.with_namespace("inner/");
    inner.put("z", "9").unwrap();
    assert_eq!(ns.get("inner/z").unwrap().count(), 1);

    // Leases report their keys inside the namespace.
    let lease = ns.grant(30).unwrap().id();
    ns.put_with("leased", "v", PutOptions::new().lease(lease))
        .unwrap();
    assert_eq!(
        ns.time_to_live_with(lease, TimeToLiveOptions::new().keys())
            .unwrap()
            .keys_str()
            .unwrap(),
        ["leased"]
    );
    ns.revoke(lease).unwrap();

    // Deleting everything deletes only the namespace.
    let d = ns
        .delete_with("", DeleteOptions::new().prefix().prev_kv())
        .unwrap();
    assert_eq!(d.deleted(), 4);
    assert!(d
        .prev_kvs()
        .iter()
        .all(|kv| !kv.key().starts_with(root.as_bytes())));
    assert_eq!(raw.get(&*outside).unwrap().count(), 1);
}

#[test]
fn watches_see_only_their_namespace() {
    let raw = Client::connect(common::shared().endpoints()).unwrap();
    let root = common::unique_prefix("nswatch");
    let ns = raw.with_namespace(format!("{root}t/"));
    let w = ns
        .watch_with("", WatchOptions::new().prefix().prev_kv())
        .unwrap();
    raw.put(format!("{root}other"), "x").unwrap();
    ns.put("k", "1").unwrap();
    ns.put("k", "2").unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let r = w
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .expect("events");
        for ev in r.events() {
            seen.push((
                ev.kv().key_str().unwrap().to_string(),
                ev.prev_kv().map(|kv| kv.key().to_vec()),
            ));
        }
    }
    assert_eq!(seen[0], ("k".to_string(), None));
    assert_eq!(seen[1], ("k".to_string(), Some(b"k".to_vec())));
}
