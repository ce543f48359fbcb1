//! `Client::set_endpoints` (Go's `SetEndpoints`) against a real 3-member
//! cluster: calls follow the new list, connections of endpoints that stay
//! keep working (a watch on one survives), dead entries are failed over,
//! and bad lists are refused without changing anything.

mod common;

use std::time::Duration;

use etcd_blocking::{Client, Error};

#[test]
fn set_endpoints_replaces_the_list() {
    let cluster = common::Cluster::start(3);
    let eps = cluster.endpoints();
    let c = Client::builder([&eps[0]])
        .request_timeout(Duration::from_secs(5))
        .connect()
        .unwrap();
    let key = format!("{}k", common::unique_prefix("set-endpoints"));
    c.put(&*key, "1").unwrap();
    // A watch rides the stream on member 0; it stays when member 0 does.
    let w = c.watch(&*key).unwrap();

    // A dead endpoint first, then member 0 and member 1.
    c.set_endpoints(["127.0.0.1:1", &eps[0], &eps[1]]).unwrap();
    assert_eq!(
        c.endpoints(),
        [
            "http://127.0.0.1:1".to_string(),
            cluster.client_url(0),
            cluster.client_url(1)
        ]
    );
    c.put(&*key, "2").unwrap();
    assert_eq!(c.get(&*key).unwrap().kvs()[0].value(), b"2");
    let ev = loop {
        let r = w
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .expect("no event");
        if let Some(e) = r.events().first() {
            break e.clone();
        }
    };
    assert_eq!(ev.kv().value(), b"2");

    // Member 0 gone from the list: a handle aimed at it is refused, and
    // calls go to member 2.
    c.set_endpoints([&eps[2]]).unwrap();
    assert_eq!(c.endpoints(), [cluster.client_url(2)]);
    assert!(matches!(
        c.with_endpoint(&eps[0]),
        Err(Error::InvalidConfig(_))
    ));
    let st = c.with_endpoint(&eps[2]).unwrap().status().unwrap();
    assert_eq!(Some(st.header().member_id()), cluster.member_id(2));
    assert_eq!(c.get(&*key).unwrap().kvs()[0].value(), b"2");
    // Duplicates are folded.
    c.set_endpoints([&eps[2], &cluster.client_url(2)]).unwrap();
    assert_eq!(c.endpoints(), [cluster.client_url(2)]);

    // Bad lists change nothing.
    assert!(matches!(
        c.set_endpoints(Vec::<String>::new()),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        c.set_endpoints([eps[0].as_str(), "localhost"]),
        Err(Error::InvalidConfig(_))
    ));
    assert_eq!(c.endpoints(), [cluster.client_url(2)]);
    c.close().unwrap();
    assert!(matches!(
        c.set_endpoints([&eps[0]]),
        Err(Error::ClientClosed)
    ));
}
