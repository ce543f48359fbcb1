//! Transactions against a real etcd: every compare target and operator,
//! range compares, every op kind in both branches, nested transactions,
//! and the errors etcd and the client raise.

mod common;

use etcd_blocking::{
    Client, Compare, CompareOp, DeleteOptions, Error, EtcdError, GetOptions, Op, OpResponse,
    PutOptions, Txn,
};

fn client() -> Client {
    Client::connect(common::shared().endpoints()).expect("connect")
}

/// Runs a txn with one compare that puts "then"/"else" markers, and says
/// which branch ran.
fn holds(c: &Client, cmp: Compare) -> bool {
    let r = c
        .txn(Txn::new().when([cmp]).and_then([]).or_else([]))
        .unwrap();
    r.succeeded()
}

#[test]
fn compares_on_every_target_and_operator() {
    let c = client();
    let p = common::unique_prefix("cmp");
    let k = format!("{p}k");
    let lease = c.grant(60).unwrap().id();
    let created = c.put(&*k, "m").unwrap().header().revision();
    let modified = c
        .put_with(&*k, "m", PutOptions::new().lease(lease))
        .unwrap()
        .header()
        .revision();
    use CompareOp::*;
    let k = k.as_str();
    // value "m"
    assert!(holds(&c, Compare::value(k, Equal, "m")));
    assert!(!holds(&c, Compare::value(k, Equal, "n")));
    assert!(holds(&c, Compare::value(k, NotEqual, "n")));
    assert!(holds(&c, Compare::value(k, Less, "n")));
    assert!(holds(&c, Compare::value(k, Greater, "a")));
    assert!(!holds(&c, Compare::value(k, Greater, "z")));
    // version 2
    assert!(holds(&c, Compare::version(k, Equal, 2)));
    assert!(holds(&c, Compare::version(k, NotEqual, 1)));
    assert!(holds(&c, Compare::version(k, Less, 3)));
    assert!(holds(&c, Compare::version(k, Greater, 1)));
    assert!(!holds(&c, Compare::version(k, Greater, 2)));
    // create and mod revisions
    assert!(holds(&c, Compare::create_revision(k, Equal, created)));
    assert!(holds(&c, Compare::create_revision(k, Less, modified)));
    assert!(holds(&c, Compare::mod_revision(k, Equal, modified)));
    assert!(holds(&c, Compare::mod_revision(k, Greater, created)));
    assert!(holds(&c, Compare::mod_revision(k, NotEqual, created)));
    // lease
    assert!(holds(&c, Compare::lease(k, Equal, lease)));
    assert!(holds(&c, Compare::lease(k, NotEqual, 0)));
    assert!(!holds(&c, Compare::lease(k, Less, lease)));
    // A missing key has version 0: the classic "create if absent".
    assert!(holds(&c, Compare::version(format!("{p}absent"), Equal, 0)));
    assert!(holds(
        &c,
        Compare::create_revision(format!("{p}absent"), Equal, 0)
    ));
    c.revoke(lease).unwrap();
}

#[test]
fn range_compares_cover_every_key() {
    let c = client();
    let p = common::unique_prefix("rangecmp");
    for i in 0..3 {
        c.put(format!("{p}{i}"), "same").unwrap();
    }
    assert!(holds(
        &c,
        Compare::value(&*p, CompareOp::Equal, "same").prefix()
    ));
    c.put(format!("{p}1"), "other").unwrap();
    assert!(!holds(
        &c,
        Compare::value(&*p, CompareOp::Equal, "same").prefix()
    ));
    // [p0, p1) holds only p0.
    assert!(holds(
        &c,
        Compare::value(format!("{p}0"), CompareOp::Equal, "same").range_end(format!("{p}1"))
    ));
}

#[test]
fn both_branches_with_every_op_kind() {
    let c = client();
    let p = common::unique_prefix("branches");
    let k = |s: &str| format!("{p}{s}");
    c.put(k("a"), "1").unwrap();
    c.put(k("b"), "2").unwrap();
    let ops = || {
        [
            Op::put_with(k("a"), "10", PutOptions::new().prev_kv()),
            Op::get_with(k(""), GetOptions::new().prefix()),
            Op::delete_with(k("b"), DeleteOptions::new().prev_kv()),
            Op::txn(Txn::new().and_then([Op::get(k("a"))])),
        ]
    };
    let r = c
        .txn(
            Txn::new()
                .when([Compare::value(k("a"), CompareOp::Equal, "1")])
                .and_then(ops())
                .or_else([Op::get(k("a"))]),
        )
        .unwrap();
    assert!(r.succeeded());
    assert!(r.header().revision() > 0);
    let resps = r.responses();
    assert_eq!(resps.len(), 4);
    // Each result read through its accessor; the others say "not this".
    let put = resps[0].as_put().unwrap();
    assert_eq!(put.prev_kv().unwrap().value(), b"1");
    assert!(resps[0].as_get().is_none() && resps[0].as_delete().is_none());
    // The txn sees its own earlier put.
    let get = resps[1].as_get().unwrap();
    assert_eq!(get.count(), 2);
    assert_eq!(get.kvs()[0].value(), b"10");
    assert!(resps[1].as_put().is_none() && resps[1].as_txn().is_none());
    let deleted = resps[2].as_delete().unwrap();
    assert_eq!(deleted.deleted(), 1);
    assert_eq!(deleted.prev_kvs()[0].value(), b"2");
    let nested = resps[3].as_txn().unwrap();
    assert!(nested.succeeded());
    assert_eq!(
        nested.responses()[0].as_get().unwrap().kvs()[0].value(),
        b"10"
    );
    // The owning forms.
    let mut owned = r.clone().into_responses().into_iter();
    assert_eq!(owned.next().unwrap().into_put().unwrap(), *put);
    assert_eq!(owned.next().unwrap().into_get().unwrap(), *get);
    assert_eq!(owned.next().unwrap().into_delete().unwrap(), *deleted);
    assert_eq!(owned.next().unwrap().into_txn().unwrap(), *nested);
    assert!(r.responses()[0].clone().into_get().is_none());
    // Now the compare fails and the else branch runs.
    let r = c
        .txn(
            Txn::new()
                .when([Compare::value(k("a"), CompareOp::Equal, "1")])
                .and_then([Op::put(k("x"), "never")])
                .or_else([Op::put(k("else"), "ran"), Op::get(k("a"))]),
        )
        .unwrap();
    assert!(!r.succeeded());
    assert_eq!(r.responses().len(), 2);
    assert!(matches!(r.responses()[0], OpResponse::Put(_)));
    assert_eq!(c.get(k("x")).unwrap().count(), 0);
    assert_eq!(c.get(k("else")).unwrap().first().unwrap().value(), b"ran");
}

#[test]
fn one_op_type_runs_alone_too() {
    let c = client();
    let p = common::unique_prefix("execute");
    let r = c.execute(Op::put(format!("{p}k"), "v")).unwrap();
    assert!(matches!(r, OpResponse::Put(_)));
    match c.execute(Op::get(format!("{p}k"))).unwrap() {
        OpResponse::Get(g) => assert_eq!(g.first().unwrap().value(), b"v"),
        other => panic!("{other:?}"),
    }
    match c.execute(Op::delete(format!("{p}k"))).unwrap() {
        OpResponse::Delete(d) => assert_eq!(d.deleted(), 1),
        other => panic!("{other:?}"),
    }
    match c.execute(Op::txn(Txn::new())).unwrap() {
        OpResponse::Txn(t) => assert!(t.succeeded() && t.responses().is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn txn_errors_are_typed() {
    let c = client();
    let p = common::unique_prefix("txnerr");
    // Same key written twice in one branch.
    let e = c
        .txn(Txn::new().and_then([Op::put(format!("{p}k"), "1"), Op::put(format!("{p}k"), "2")]))
        .unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::DuplicateKey)), "{e}");
    // More ops than etcd's default --max-txn-ops (128).
    let ops: Vec<_> = (0..200).map(|i| Op::put(format!("{p}{i}"), "v")).collect();
    let e = c.txn(Txn::new().and_then(ops)).unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::TooManyOps)), "{e}");
    // Misuse of the builder is reported without sending.
    let e = c
        .txn(
            Txn::new()
                .and_then([Op::put(format!("{p}m"), "v")])
                .when([]),
        )
        .unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
    assert_eq!(c.get(format!("{p}m")).unwrap().count(), 0);
    // An empty key inside a branch is caught before sending too.
    let e = c.txn(Txn::new().and_then([Op::get("")])).unwrap_err();
    assert!(matches!(e, Error::EmptyKey), "{e}");
    // Nothing of the failed transactions was applied.
    assert_eq!(
        c.get_with(&*p, GetOptions::new().prefix().count_only())
            .unwrap()
            .count(),
        0
    );
}
