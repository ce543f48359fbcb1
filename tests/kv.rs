//! Every KV option against a real etcd, and the errors a client can provoke
//! with KV calls.

mod common;

use etcd_blocking::{
    Client, CompactOptions, DeleteOptions, Error, EtcdError, GetOptions, PutOptions, SortOrder,
    SortTarget,
};

fn client() -> Client {
    Client::connect(common::shared().endpoints()).expect("connect")
}

/// Puts `k{i}` = `v{i}` under `p` for i in 0..n; returns the revisions.
fn fill(c: &Client, p: &str, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| {
            c.put(format!("{p}k{i}"), format!("v{i}"))
                .unwrap()
                .header()
                .revision()
        })
        .collect()
}

#[test]
fn put_then_get_round_trips_bytes_and_metadata() {
    let c = client();
    let p = common::unique_prefix("roundtrip");
    let first = c.put(format!("{p}a"), "1").unwrap();
    let second = c
        .put(format!("{p}a").as_bytes(), b"\xff\x00".to_vec())
        .unwrap();
    assert!(second.header().revision() > first.header().revision());
    assert!(second.header().cluster_id() != 0 && second.header().member_id() != 0);
    assert!(second.header().raft_term() >= 1);
    let r = c.get(format!("{p}a")).unwrap();
    assert_eq!(r.count(), 1);
    let kv = r.first().unwrap();
    assert_eq!(kv.key(), format!("{p}a").as_bytes());
    assert_eq!(kv.value(), b"\xff\x00");
    assert!(matches!(kv.value_str(), Err(Error::Utf8(_))));
    assert_eq!(kv.create_revision(), first.header().revision());
    assert_eq!(kv.mod_revision(), second.header().revision());
    assert_eq!(kv.version(), 2);
    assert_eq!(kv.lease(), 0);
    assert!(c.get(format!("{p}missing")).unwrap().kvs().is_empty());
    // String and Vec<u8> keys are accepted too.
    c.put(String::from(&*format!("{p}s")), String::from("x"))
        .unwrap();
    assert_eq!(c.get(format!("{p}s").into_bytes()).unwrap().count(), 1);
}

#[test]
fn ranges_prefixes_and_from_key() {
    let c = client();
    let p = common::unique_prefix("ranges");
    fill(&c, &p, 5);
    let r = c.get_with(&*p, GetOptions::new().prefix()).unwrap();
    assert_eq!(
        common::keys(&r),
        (0..5).map(|i| format!("{p}k{i}")).collect::<Vec<_>>()
    );
    let r = c
        .get_with(
            format!("{p}k1"),
            GetOptions::new().range_end(format!("{p}k3")),
        )
        .unwrap();
    assert_eq!(common::keys(&r), vec![format!("{p}k1"), format!("{p}k2")]);
    // from_key reaches past our prefix, so bound it with a limit.
    let r = c
        .get_with(format!("{p}k3"), GetOptions::new().from_key().limit(2))
        .unwrap();
    assert_eq!(common::keys(&r), vec![format!("{p}k3"), format!("{p}k4")]);
    // An empty key with prefix means every key.
    let all = c
        .get_with("", GetOptions::new().prefix().count_only())
        .unwrap();
    assert!(all.count() >= 5);
}

#[test]
fn limit_more_count_keys_only_count_only() {
    let c = client();
    let p = common::unique_prefix("limits");
    fill(&c, &p, 5);
    let r = c
        .get_with(&*p, GetOptions::new().prefix().limit(2))
        .unwrap();
    assert_eq!(r.kvs().len(), 2);
    assert!(r.more());
    assert_eq!(r.count(), 5);
    let r = c
        .get_with(&*p, GetOptions::new().prefix().keys_only())
        .unwrap();
    assert_eq!(r.kvs().len(), 5);
    assert!(r.kvs().iter().all(|kv| kv.value().is_empty()));
    let r = c
        .get_with(&*p, GetOptions::new().prefix().count_only())
        .unwrap();
    assert!(r.kvs().is_empty());
    assert_eq!(r.count(), 5);
    assert!(!r.more());
}

#[test]
fn sorting_by_every_target() {
    let c = client();
    let p = common::unique_prefix("sort");
    // Create keys so that key order, creation order and value order differ.
    c.put(format!("{p}b"), "3").unwrap();
    c.put(format!("{p}a"), "2").unwrap();
    c.put(format!("{p}c"), "1").unwrap();
    c.put(format!("{p}c"), "1").unwrap(); // c: version 2, newest mod
    let sorted = |t, o| {
        common::keys(
            &c.get_with(&*p, GetOptions::new().prefix().sort(t, o))
                .unwrap(),
        )
    };
    let k = |s: &str| format!("{p}{s}");
    assert_eq!(
        sorted(SortTarget::Key, SortOrder::Descend),
        [k("c"), k("b"), k("a")]
    );
    assert_eq!(
        sorted(SortTarget::Key, SortOrder::Ascend),
        [k("a"), k("b"), k("c")]
    );
    assert_eq!(
        sorted(SortTarget::Create, SortOrder::Ascend),
        [k("b"), k("a"), k("c")]
    );
    assert_eq!(
        sorted(SortTarget::Mod, SortOrder::Descend),
        [k("c"), k("a"), k("b")]
    );
    assert_eq!(
        sorted(SortTarget::Value, SortOrder::Ascend),
        [k("c"), k("a"), k("b")]
    );
    assert_eq!(sorted(SortTarget::Version, SortOrder::Descend)[0], k("c"));
    assert_eq!(
        sorted(SortTarget::Key, SortOrder::None),
        [k("a"), k("b"), k("c")]
    );
}

#[test]
fn revisions_and_revision_filters() {
    let c = client();
    let p = common::unique_prefix("revs");
    let revs = fill(&c, &p, 4);
    c.put(format!("{p}k0"), "changed").unwrap();
    // Reading at an old revision sees the old value.
    let old = c
        .get_with(format!("{p}k0"), GetOptions::new().revision(revs[0]))
        .unwrap();
    assert_eq!(old.first().unwrap().value(), b"v0");
    let at1 = c
        .get_with(&*p, GetOptions::new().prefix().revision(revs[1]))
        .unwrap();
    assert_eq!(at1.count(), 2);
    let g = |o: GetOptions| common::keys(&c.get_with(&*p, o.prefix()).unwrap());
    let k = |i: usize| format!("{p}k{i}");
    assert_eq!(
        g(GetOptions::new().min_create_revision(revs[2])),
        [k(2), k(3)]
    );
    assert_eq!(
        g(GetOptions::new().max_create_revision(revs[1])),
        [k(0), k(1)]
    );
    // k0 was modified last, so it passes a min-mod filter above revs[3].
    assert_eq!(g(GetOptions::new().min_mod_revision(revs[3] + 1)), [k(0)]);
    assert_eq!(g(GetOptions::new().max_mod_revision(revs[1])), [k(1)]);
    // Serializable reads see the same data on a single member.
    let s = c
        .get_with(&*p, GetOptions::new().prefix().serializable())
        .unwrap();
    assert_eq!(s.count(), 4);
    // A revision from the future is refused.
    let e = c
        .get_with(&*p, GetOptions::new().revision(revs[3] + 1_000_000))
        .unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::FutureRevision)), "{e}");
}

#[test]
fn put_options() {
    let c = client();
    let p = common::unique_prefix("putopts");
    let key = format!("{p}k");
    assert!(c
        .put_with(&*key, "1", PutOptions::new().prev_kv())
        .unwrap()
        .prev_kv()
        .is_none());
    let r = c.put_with(&*key, "2", PutOptions::new().prev_kv()).unwrap();
    assert_eq!(r.prev_kv().unwrap().value(), b"1");

    let lease = c.grant(60).unwrap();
    c.put_with(&*key, "3", PutOptions::new().lease(lease.id()))
        .unwrap();
    assert_eq!(c.get(&*key).unwrap().first().unwrap().lease(), lease.id());
    // ignore_lease keeps the lease while changing the value.
    c.put_with(&*key, "4", PutOptions::new().ignore_lease())
        .unwrap();
    let kv = c.get(&*key).unwrap().into_kvs().remove(0);
    assert_eq!((kv.value(), kv.lease()), (&b"4"[..], lease.id()));
    // ignore_value keeps the value while dropping the lease.
    c.put_with(&*key, "", PutOptions::new().ignore_value())
        .unwrap();
    let kv = c.get(&*key).unwrap().into_kvs().remove(0);
    assert_eq!((kv.value(), kv.lease()), (&b"4"[..], 0));
    c.revoke(lease.id()).unwrap();

    // The server's own checks come back typed.
    let e = c
        .put_with(&*key, "x", PutOptions::new().ignore_value())
        .unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::ValueProvided)), "{e}");
    let e = c
        .put_with(
            &*key,
            "x",
            PutOptions::new().ignore_lease().lease(lease.id()),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::LeaseProvided)), "{e}");
    let e = c
        .put_with(format!("{p}nope"), "", PutOptions::new().ignore_value())
        .unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::KeyNotFound)), "{e}");
    let e = c
        .put_with(&*key, "x", PutOptions::new().lease(0x7eadbeef))
        .unwrap_err();
    assert!(matches!(e, Error::LeaseNotFound { .. }), "{e}");
}

#[test]
fn delete_options() {
    let c = client();
    let p = common::unique_prefix("delete");
    fill(&c, &p, 5);
    let r = c.delete(format!("{p}k0")).unwrap();
    assert_eq!(r.deleted(), 1);
    assert!(r.prev_kvs().is_empty());
    assert_eq!(c.delete(format!("{p}k0")).unwrap().deleted(), 0);
    let r = c
        .delete_with(
            format!("{p}k1"),
            DeleteOptions::new().range_end(format!("{p}k3")).prev_kv(),
        )
        .unwrap();
    assert_eq!(r.deleted(), 2);
    let prev: Vec<_> = r.prev_kvs().iter().map(|kv| kv.value().to_vec()).collect();
    assert_eq!(prev, [b"v1".to_vec(), b"v2".to_vec()]);
    let r = c.delete_with(&*p, DeleteOptions::new().prefix()).unwrap();
    assert_eq!(r.deleted(), 2);
    assert_eq!(
        c.get_with(&*p, GetOptions::new().prefix()).unwrap().count(),
        0
    );
}

#[test]
fn delete_from_key_on_its_own_cluster() {
    // from_key deletes everything after the key, so it gets its own server.
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    for k in ["a", "b", "c", "d"] {
        c.put(k, "v").unwrap();
    }
    let r = c.delete_with("b", DeleteOptions::new().from_key()).unwrap();
    assert_eq!(r.deleted(), 3);
    let left = c.get_with("", GetOptions::new().from_key()).unwrap();
    assert_eq!(common::keys(&left), ["a"]);
    // Empty key with prefix deletes every key.
    assert_eq!(
        c.delete_with("", DeleteOptions::new().prefix())
            .unwrap()
            .deleted(),
        1
    );
}

#[test]
fn compaction_and_compacted_reads() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let r1 = c.put("k", "1").unwrap().header().revision();
    c.put("k", "2").unwrap();
    let r3 = c.put("k", "3").unwrap().header().revision();
    c.compact(r1 + 1).unwrap();
    let e = c.get_with("k", GetOptions::new().revision(r1)).unwrap_err();
    assert!(matches!(e, Error::Compacted { .. }), "{e}");
    assert!(!e.is_retryable());
    // The compacted revision itself and later ones are still readable.
    let v = c.get_with("k", GetOptions::new().revision(r1 + 1)).unwrap();
    assert_eq!(v.first().unwrap().value(), b"2");
    let resp = c
        .compact_with(r3, CompactOptions::new().physical())
        .unwrap();
    assert!(resp.header().revision() >= r3);
    // Compacting an already compacted revision is an error too.
    let e = c.compact(r1).unwrap_err();
    assert!(matches!(e, Error::Compacted { .. }), "{e}");
    let e = c.compact(r3 + 100).unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::FutureRevision)), "{e}");
}

#[test]
fn empty_keys_are_refused_before_sending() {
    let c = client();
    assert!(matches!(c.get(""), Err(Error::EmptyKey)));
    assert!(matches!(c.put("", "v"), Err(Error::EmptyKey)));
    assert!(matches!(c.delete(""), Err(Error::EmptyKey)));
    assert!(matches!(
        c.get_with("", GetOptions::new().range_end("z")),
        Err(Error::EmptyKey)
    ));
}

#[test]
fn request_size_limits() {
    let c = client();
    let p = common::unique_prefix("size");
    // Over the client's 2 MiB default: refused locally, nothing written.
    let big = vec![b'x'; 3 * 1024 * 1024];
    let e = c.put(format!("{p}big"), big).unwrap_err();
    match e {
        Error::RequestTooLarge {
            size: Some(size),
            limit: Some(limit),
        } => {
            assert!(size > 3 * 1024 * 1024);
            assert_eq!(limit, 2 * 1024 * 1024);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.get(format!("{p}big")).unwrap().count(), 0);
    // Under the client limit but over etcd's 1.5 MiB default: the server's
    // error, the same variant (etcd says neither size nor limit).
    let e = c
        .put(format!("{p}big"), vec![b'x'; 1800 * 1024])
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::RequestTooLarge {
                size: None,
                limit: None
            }
        ),
        "{e}"
    );
    // A smaller client limit applies to every call.
    let small = Client::builder(common::shared().endpoints())
        .max_send_message_size(1024)
        .connect()
        .unwrap();
    let e = small.put(format!("{p}k"), vec![0u8; 2048]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::RequestTooLarge {
                limit: Some(1024),
                ..
            }
        ),
        "{e}"
    );
    small.put(format!("{p}k"), vec![0u8; 512]).unwrap();
    // Requests that travel on the shared watch stream obey it too, and a
    // refused watch leaves the stream serving the others.
    let e = small.watch(vec![b'w'; 2048]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::RequestTooLarge {
                limit: Some(1024),
                ..
            }
        ),
        "{e}"
    );
    let w = small.watch(format!("{p}k")).unwrap();
    small.put(format!("{p}k"), "after").unwrap();
    let r = w
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(r.events()[0].kv().value(), b"after");
}

#[test]
fn receive_limit_is_unlimited_by_default_and_configurable() {
    let c = client();
    let p = common::unique_prefix("recv");
    // 6 MiB across several keys: more than gRPC's usual 4 MiB receive cap.
    let chunk = vec![b'y'; 1024 * 1024];
    for i in 0..6 {
        c.put(format!("{p}{i}"), chunk.clone()).unwrap();
    }
    let r = c.get_with(&*p, GetOptions::new().prefix()).unwrap();
    assert_eq!(r.kvs().len(), 6);
    let limited = Client::builder(common::shared().endpoints())
        .max_receive_message_size(Some(1024 * 1024))
        .connect()
        .unwrap();
    let e = limited
        .get_with(&*p, GetOptions::new().prefix())
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some(etcd_blocking::Code::ResourceExhausted),
        "{e}"
    );
}
