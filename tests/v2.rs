//! The v2 API (`--features v2`) against real etcd started with
//! `--enable-v2`: keys and every error code a client can provoke,
//! watchers, members, auth, endpoint sync and the failover rules (kill -9,
//! SIGSTOP, all members down, a write cut after it was sent), close(),
//! TLS, and interop with `ETCDCTL_API=2 etcdctl`.
#![cfg(feature = "v2")]

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::v2::{
    self, Action, ErrorKind, PrevExist, Selection, SetOptions, V2DeleteOptions, V2Error,
    V2GetOptions, V2PermissionType, WatcherOptions,
};
use etcd_blocking::Error;

use common::proxy::Proxy;
use common::{Cluster, ClusterBuilder};

/// Slack over a documented bound for a thread held off the CPU on a busy
/// machine.
const MARGIN: Duration = Duration::from_millis(100);

/// A process-wide one-member cluster with v2 on, shared by the tests that
/// inject no faults (each uses its own key prefix).
fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
    match SHARED.get_or_init(|| ClusterBuilder::new(1).arg("--enable-v2").try_start()) {
        Ok(c) => c,
        Err(e) => panic!("the shared etcd did not start:\n{e}"),
    }
}

fn v2_cluster(n: usize) -> Cluster {
    ClusterBuilder::new(n).arg("--enable-v2").start()
}

fn client(c: &Cluster) -> v2::Client {
    v2::Client::connect(c.client_urls()).unwrap()
}

/// A unique directory for one test on the shared cluster.
fn dir(name: &str) -> String {
    format!("/{}", common::unique_prefix(name).trim_end_matches('/'))
}

/// The kind of a v2 error, panicking on anything else.
fn kind<T: std::fmt::Debug>(r: Result<T, Error>) -> V2Error {
    match r {
        Err(Error::V2(e)) => e,
        other => panic!("expected a v2 error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

#[test]
fn set_get_and_the_response_headers() {
    let c = client(shared());
    let k = c.keys();
    let d = dir("setget");
    let key = format!("{d}/a b?c");
    let r = k.set(&key, "v1").unwrap();
    assert_eq!(r.action, Action::Set);
    assert_eq!(r.node.key, key);
    assert_eq!(r.node.value.as_deref(), Some("v1"));
    assert!(r.prev_node.is_none());
    assert!(r.node.created_index > 0);
    assert_eq!(r.node.created_index, r.node.modified_index);
    assert!(r.index >= r.node.modified_index, "{r:?}");
    assert!(!r.cluster_id.is_empty());

    let g = k.get(&key).unwrap();
    assert_eq!(g.action, Action::Get);
    assert_eq!(g.node, r.node);
    assert_eq!(g.cluster_id, r.cluster_id);

    let r2 = k.set(&key, "v2").unwrap();
    assert_eq!(r2.prev_node.as_ref().unwrap().value.as_deref(), Some("v1"));
    assert!(r2.node.modified_index > r.node.modified_index);
    // A v2 set replaces the node: it is created anew.
    assert_eq!(r2.node.created_index, r2.node.modified_index);

    let q = k.get_with(&key, V2GetOptions::new().quorum()).unwrap();
    assert_eq!(q.node.value.as_deref(), Some("v2"));
}

#[test]
fn conditional_writes_and_their_errors() {
    let k = client(shared()).keys();
    let d = dir("cas");
    let key = format!("{d}/k");

    // create, then create again: 105.
    let r = k.create(&key, "1").unwrap();
    assert_eq!(r.action, Action::Create);
    let e = kind(k.create(&key, "again"));
    assert_eq!((e.kind, e.code, e.status), (ErrorKind::NodeExist, 105, 412));
    assert_eq!(e.cause, key);
    assert!(e.index >= r.node.modified_index);

    // update of a missing key: 100.
    let e = kind(k.update(&format!("{d}/missing"), "x"));
    assert_eq!((e.kind, e.code), (ErrorKind::KeyNotFound, 100));
    let u = k.update(&key, "2").unwrap();
    assert_eq!(u.action, Action::Update);

    // prev_value and prev_index: 101 with the cause.
    let e = kind(k.set_with(&key, "3", SetOptions::new().prev_value("nope")));
    assert_eq!((e.kind, e.code), (ErrorKind::TestFailed, 101));
    assert!(e.cause.contains("nope"), "{e}");
    let cas = k
        .set_with(&key, "3", SetOptions::new().prev_value("2"))
        .unwrap();
    assert_eq!(cas.action, Action::CompareAndSwap);
    assert_eq!(cas.prev_node.unwrap().value.as_deref(), Some("2"));
    let e = kind(k.set_with(&key, "4", SetOptions::new().prev_index(1)));
    assert_eq!(e.kind, ErrorKind::TestFailed);
    k.set_with(
        &key,
        "4",
        SetOptions::new().prev_index(cas.node.modified_index),
    )
    .unwrap();
    // prev_exist both ways.
    let e = kind(k.set_with(&key, "5", SetOptions::new().prev_exist(PrevExist::NoExist)));
    assert_eq!(e.kind, ErrorKind::NodeExist);
    let e = kind(k.set_with(
        &format!("{d}/none"),
        "5",
        SetOptions::new().prev_exist(PrevExist::Exist),
    ));
    assert_eq!(e.kind, ErrorKind::KeyNotFound);

    // no value on success.
    let r = k
        .set_with(&key, "6", SetOptions::new().no_value_on_success())
        .unwrap();
    assert_eq!(r.action, Action::Set);
    assert_eq!(r.node, v2::Node::default(), "no node on success");
    assert_eq!(k.get(&key).unwrap().node.value_str(), "6");

    // get of a missing key: 100, with the key as cause.
    let e = kind(k.get(&format!("{d}/nothing")));
    assert_eq!((e.kind, e.status), (ErrorKind::KeyNotFound, 404));
    assert_eq!(e.cause, format!("{d}/nothing"));
}

#[test]
fn directories_and_their_errors() {
    let k = client(shared()).keys();
    let d = dir("dirs");
    let sub = format!("{d}/sub");
    let r = k.set_with(&sub, "", SetOptions::new().dir()).unwrap();
    assert!(r.node.dir);
    k.set(&format!("{sub}/b"), "2").unwrap();
    k.set(&format!("{sub}/a"), "1").unwrap();
    k.set(&format!("{sub}/deeper/c"), "3").unwrap();
    k.set(&format!("{d}/file"), "f").unwrap();

    // etcd ignores a value given with `dir`.
    let r = k.set_with(&format!("{d}/odd"), "v", SetOptions::new().dir());
    assert!(r.unwrap().node.dir);
    // Writing a key over a directory: 102.
    let e = kind(k.set(&sub, "x"));
    assert_eq!((e.kind, e.code), (ErrorKind::NotFile, 102));
    // A key under a file: 104.
    let e = kind(k.set(&format!("{d}/file/child"), "x"));
    assert_eq!((e.kind, e.code), (ErrorKind::NotDir, 104));
    // The root: 107.
    let e = kind(k.set("/", "x"));
    assert_eq!((e.kind, e.code), (ErrorKind::RootReadOnly, 107));
    // Deleting a directory without `dir`: 102; non-empty without
    // `recursive`: 108.
    let e = kind(k.delete(&sub));
    assert_eq!(e.kind, ErrorKind::NotFile);
    let e = kind(k.delete_with(&sub, V2DeleteOptions::new().dir()));
    assert_eq!((e.kind, e.code), (ErrorKind::DirNotEmpty, 108));

    // Children: direct ones only, or the whole tree; sorted on request.
    let g = k.get_with(&sub, V2GetOptions::new().sorted()).unwrap();
    let names: Vec<_> = g.node.nodes.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("{sub}/a"),
            format!("{sub}/b"),
            format!("{sub}/deeper")
        ]
    );
    assert!(g.node.nodes[2].dir && g.node.nodes[2].nodes.is_empty());
    let g = k
        .get_with(&sub, V2GetOptions::new().sorted().recursive())
        .unwrap();
    assert_eq!(g.node.nodes[2].nodes[0].value_str(), "3");

    // An empty dir deletes with `dir`; a full one with `recursive`.
    let empty = format!("{d}/empty");
    k.set_with(&empty, "", SetOptions::new().dir()).unwrap();
    let r = k.delete_with(&empty, V2DeleteOptions::new().dir()).unwrap();
    assert_eq!(r.action, Action::Delete);
    k.delete_with(&sub, V2DeleteOptions::new().recursive())
        .unwrap();
    assert_eq!(kind(k.get(&sub)).kind, ErrorKind::KeyNotFound);
}

#[test]
fn deletes_with_conditions() {
    let k = client(shared()).keys();
    let d = dir("del");
    let key = format!("{d}/k");
    let r = k.set(&key, "v").unwrap();
    let e = kind(k.delete_with(&key, V2DeleteOptions::new().prev_value("w")));
    assert_eq!(e.kind, ErrorKind::TestFailed);
    let e = kind(k.delete_with(&key, V2DeleteOptions::new().prev_index(1)));
    assert_eq!(e.kind, ErrorKind::TestFailed);
    let del = k
        .delete_with(
            &key,
            V2DeleteOptions::new()
                .prev_value("v")
                .prev_index(r.node.modified_index),
        )
        .unwrap();
    assert_eq!(del.action, Action::CompareAndDelete);
    assert_eq!(del.prev_node.unwrap().value.as_deref(), Some("v"));
    let e = kind(k.delete(&key));
    assert_eq!(e.kind, ErrorKind::KeyNotFound);
    k.set(&key, "again").unwrap();
    let del = k.delete(&key).unwrap();
    assert_eq!(del.action, Action::Delete);
}

#[test]
fn ttl_refresh_and_expiry() {
    let k = client(shared()).keys();
    let d = dir("ttl");
    let key = format!("{d}/t");
    let r = k
        .set_with(&key, "v", SetOptions::new().ttl(Duration::from_secs(30)))
        .unwrap();
    assert!(r.node.ttl > 0 && r.node.ttl <= 30, "{r:?}");
    assert!(r.node.expiration.is_some());

    // Refresh: TTL back up, value and modified index... value unchanged.
    let f = k
        .set_with(
            &key,
            "",
            SetOptions::new().refresh().ttl(Duration::from_secs(100)),
        )
        .unwrap();
    assert!(f.node.ttl > 30, "{f:?}");
    assert_eq!(f.node.value_str(), "v");
    // Refresh with a value: 211; without a TTL: 212.
    let e = kind(k.set_with(
        &key,
        "x",
        SetOptions::new().refresh().ttl(Duration::from_secs(5)),
    ));
    assert_eq!((e.kind, e.code), (ErrorKind::RefreshValue, 211));
    let e = kind(k.set_with(&key, "", SetOptions::new().refresh()));
    assert_eq!((e.kind, e.code), (ErrorKind::RefreshTtlRequired, 212));

    // A short TTL expires, and a watcher sees it expire.
    let short = format!("{d}/short");
    let r = k
        .set_with(&short, "v", SetOptions::new().ttl(Duration::from_secs(1)))
        .unwrap();
    let mut w = k.watcher(
        &short,
        WatcherOptions::new().after_index(r.node.modified_index),
    );
    let ev = w
        .next_event_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(ev.action, Action::Expire);
    assert_eq!(ev.prev_node.unwrap().value_str(), "v");
    assert_eq!(kind(k.get(&short)).kind, ErrorKind::KeyNotFound);
}

#[test]
fn create_in_order_makes_a_queue() {
    let k = client(shared()).keys();
    let d = dir("queue");
    let mut made = Vec::new();
    for i in 0..5 {
        let r = k.create_in_order(&d, &format!("job{i}")).unwrap();
        assert_eq!(r.action, Action::Create);
        made.push(r.node.key);
    }
    let t = k
        .create_in_order_with_ttl(&d, "temp", Duration::from_secs(60))
        .unwrap();
    assert!(t.node.ttl > 0);
    let g = k.get_with(&d, V2GetOptions::new().sorted()).unwrap();
    let keys: Vec<_> = g.node.nodes.iter().map(|n| n.key.clone()).collect();
    assert_eq!(keys[..5], made[..]);
    let values: Vec<_> = g.node.nodes.iter().map(|n| n.value_str()).collect();
    assert_eq!(values, ["job0", "job1", "job2", "job3", "job4", "temp"]);
}

#[test]
fn a_prefix_handle_lives_under_its_prefix() {
    let c = client(shared());
    let d = dir("prefix");
    let p = c.keys_with_prefix(&d);
    assert_eq!(p.prefix(), d);
    p.set("/x", "1").unwrap();
    p.set("y", "2").unwrap();
    assert_eq!(
        c.keys().get(&format!("{d}/x")).unwrap().node.value_str(),
        "1"
    );
    let g = p.get("/").unwrap();
    assert_eq!(g.node.nodes.len(), 2);
    // Keys come back as etcd names them, prefix included (as Go's v2
    // client; the docs say so): in a read, a listing, a write's node and
    // previous node, and a watcher's events.
    assert_eq!(g.node.key, d);
    let mut listed: Vec<_> = g.node.nodes.iter().map(|n| n.key.clone()).collect();
    listed.sort();
    assert_eq!(listed, [format!("{d}/x"), format!("{d}/y")]);
    assert_eq!(p.get("y").unwrap().node.key, format!("{d}/y"));
    let index = p.get("y").unwrap().node.modified_index;
    let written = p.set("y", "3").unwrap();
    assert_eq!(written.node.key, format!("{d}/y"));
    assert_eq!(
        written.prev_node.as_ref().map(|n| n.key.as_str()),
        Some(format!("{d}/y").as_str())
    );
    let mut w = p.watcher("y", WatcherOptions::new().after_index(index));
    let ev = w
        .next_event_timeout(Duration::from_secs(5))
        .unwrap()
        .expect("the write after `index`");
    assert_eq!(ev.node.key, format!("{d}/y"));
    p.delete("/x").unwrap();
    assert_eq!(
        kind(c.keys().get(&format!("{d}/x"))).kind,
        ErrorKind::KeyNotFound
    );
}

#[test]
fn bad_input_fails_before_sending() {
    assert!(matches!(
        v2::Client::connect(["ftp://127.0.0.1:2379"]),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        v2::Client::connect(Vec::<String>::new()),
        Err(Error::InvalidConfig(_))
    ));
    assert!(matches!(
        v2::Client::builder([shared().client_url(0)])
            .request_timeout(Duration::ZERO)
            .connect(),
        Err(Error::InvalidConfig(_))
    ));
    let c = client(shared());
    assert!(matches!(c.keys().set("", "v"), Err(Error::EmptyKey)));
    assert!(matches!(c.keys().delete(""), Err(Error::EmptyKey)));
    assert!(matches!(
        c.set_endpoints(["http://ok:1", "bad"]),
        Err(Error::InvalidConfig(_))
    ));
    // Nothing changed.
    assert_eq!(c.endpoints(), [shared().client_url(0)]);
}

#[test]
fn version_names_the_server() {
    let v = client(shared()).version().unwrap();
    let (ma, mi, pa) = common::etcd_version();
    assert_eq!(v.server, format!("{ma}.{mi}.{pa}"));
    assert!(v.cluster.starts_with(&format!("{ma}.{mi}")), "{v:?}");
}

#[test]
fn a_server_without_v2_is_unsupported() {
    // The crate's shared cluster runs without --enable-v2.
    let c = v2::Client::connect([common::shared().client_url(0)]).unwrap();
    match c.keys().get("/x") {
        Err(Error::Unsupported(msg)) => assert!(msg.contains("v2"), "{msg}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert!(matches!(
        c.keys().set("/x", "v"),
        Err(Error::Unsupported(_))
    ));
}

#[test]
fn a_cleared_index_is_a_typed_error_with_the_index() {
    let k = client(shared()).keys();
    let d = dir("cleared");
    let first = k.set(&format!("{d}/k"), "0").unwrap().node.modified_index;
    // etcd keeps the last 1000 events.
    for i in 0..1005 {
        k.set(&format!("{d}/k"), &i.to_string()).unwrap();
    }
    let mut w = k.watcher(&d, WatcherOptions::new().recursive().after_index(first - 1));
    let e = kind(w.next_event_timeout(Duration::from_secs(5)));
    assert_eq!((e.kind, e.code), (ErrorKind::EventIndexCleared, 401));
    assert!(e.index > first + 1000, "{e}");
}

// ---------------------------------------------------------------------------
// Watchers
// ---------------------------------------------------------------------------

#[test]
fn a_watcher_sees_every_change_in_order() {
    let k = client(shared()).keys();
    let d = dir("watch");
    let start = k.set(&format!("{d}/a"), "0").unwrap().node.modified_index;
    // Changes made before the watcher's first call are not missed.
    for i in 1..=5 {
        k.set(&format!("{d}/a"), &i.to_string()).unwrap();
    }
    k.set(&format!("{d}/sub/b"), "x").unwrap();
    let mut w = k.watcher(&d, WatcherOptions::new().recursive().after_index(start));
    for i in 1..=5 {
        let ev = w.next_event().unwrap();
        assert_eq!(ev.node.value_str(), i.to_string());
        assert_eq!(w.next_index(), ev.node.modified_index + 1);
    }
    let ev = w.next_event().unwrap();
    assert_eq!(ev.node.key, format!("{d}/sub/b"));
    // A non-recursive watcher sees only its key.
    let mut only = k.watcher(&format!("{d}/a"), WatcherOptions::new());
    let h = {
        let k = k.clone();
        let d = d.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            k.set(&format!("{d}/other"), "no").unwrap();
            k.set(&format!("{d}/a"), "yes").unwrap();
        })
    };
    let ev = only.next_event().unwrap();
    assert_eq!((ev.action, ev.node.value_str()), (Action::Set, "yes"));
    h.join().unwrap();
    // Delete events carry the previous node.
    k.delete(&format!("{d}/a")).unwrap();
    let ev = only.next_event().unwrap();
    assert_eq!(ev.action, Action::Delete);
    assert_eq!(ev.prev_node.unwrap().value_str(), "yes");
}

#[test]
fn a_watcher_remembers_where_it_started_across_timeouts() {
    let c = client(shared());
    let k = c.keys();
    let d = dir("wtimeout");
    let mut w = k.watcher(&d, WatcherOptions::new().recursive());
    assert_eq!(w.next_index(), 0);
    let t = Instant::now();
    assert!(w
        .next_event_timeout(Duration::from_millis(300))
        .unwrap()
        .is_none());
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(w.next_index() > 0, "the first poll's X-Etcd-Index counts");
    // A change while nobody waits is still the next event.
    k.set(&format!("{d}/k"), "between").unwrap();
    let ev = w
        .next_event_timeout(Duration::from_secs(2))
        .unwrap()
        .unwrap();
    assert_eq!(ev.node.value_str(), "between");
    // next_event uses the handle's deadline.
    let mut w = c
        .with_timeout(Duration::from_millis(200))
        .keys()
        .watcher(&d, WatcherOptions::new());
    assert!(matches!(w.next_event(), Err(Error::DeadlineExceeded(_))));
}

#[test]
fn watch_polls_are_renewed_without_loss() {
    // A short poll interval: each call spans several polls.
    let c = v2::Client::builder(shared().client_urls())
        .watch_poll_interval(Duration::from_millis(100))
        .connect()
        .unwrap();
    let k = c.keys();
    let d = dir("repoll");
    let mut w = k.watcher(&d, WatcherOptions::new().recursive());
    assert!(w
        .next_event_timeout(Duration::from_millis(350))
        .unwrap()
        .is_none());
    let writer = {
        let k = k.clone();
        let d = d.clone();
        thread::spawn(move || {
            for i in 0..10 {
                thread::sleep(Duration::from_millis(35));
                k.set(&format!("{d}/k"), &i.to_string()).unwrap();
            }
        })
    };
    for i in 0..10 {
        let ev = w
            .next_event_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!(ev.node.value_str(), i.to_string());
    }
    writer.join().unwrap();
}

fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn close_unblocks_a_watcher_at_once() {
    let c = v2::Client::builder(shared().client_urls())
        .request_timeout(Duration::from_secs(60))
        .connect()
        .unwrap();
    let d = dir("close");
    let mut w = c.keys().watcher(&d, WatcherOptions::new().recursive());
    let (tx, rx) = std::sync::mpsc::channel();
    let h = thread::spawn(move || {
        let r = w.next_event();
        tx.send((r, Instant::now())).unwrap();
    });
    // Let the long poll start.
    thread::sleep(Duration::from_millis(500));
    assert!(rx.try_recv().is_err(), "the watcher returned early");
    let t = Instant::now();
    c.close();
    let (r, done) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let took = done.saturating_duration_since(t);
    eprintln!("close() unblocked the watcher in {took:?}");
    assert!(matches!(r, Err(Error::ClientClosed)), "{r:?}");
    // The promise is about 20 ms; MARGIN for scheduling on a loaded machine.
    assert!(took < Duration::from_millis(20) + MARGIN, "took {took:?}");
    h.join().unwrap();
    assert!(matches!(c.keys().get("/x"), Err(Error::ClientClosed)));
    assert!(c.is_closed());
}

#[test]
fn a_cancel_token_unblocks_a_watcher_and_its_thread_ends() {
    let c = v2::Client::builder(shared().client_urls())
        .request_timeout(Duration::from_secs(60))
        .connect()
        .unwrap();
    let token = etcd_blocking::CancelToken::new();
    let d = dir("cancel");
    let mut w = c
        .with_cancel(&token)
        .keys()
        .watcher(&d, WatcherOptions::new().recursive());
    let (tx, rx) = std::sync::mpsc::channel();
    let h = thread::spawn(move || {
        let r = w.next_event();
        tx.send((r, Instant::now())).unwrap();
    });
    thread::sleep(Duration::from_millis(500));
    assert!(rx.try_recv().is_err(), "the watcher returned early");
    let t = Instant::now();
    token.cancel();
    let (r, done) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let took = done.saturating_duration_since(t);
    eprintln!("cancel() unblocked the watcher in {took:?}");
    assert!(matches!(r, Err(Error::Canceled)), "{r:?}");
    // The promise is about 20 ms; MARGIN for scheduling on a loaded machine.
    assert!(took < Duration::from_millis(20) + MARGIN, "took {took:?}");
    h.join().unwrap();
    // Joined before the call returned; the kernel may list the task for a
    // moment after the join, so give /proc a little time.
    let t = Instant::now();
    while thread_names().iter().any(|n| n == "etcd-v2-cancel") {
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "the etcd-v2-cancel thread outlived its call"
        );
        thread::sleep(Duration::from_millis(10));
    }
    // Canceled handles fail at once; the client itself goes on.
    assert!(matches!(
        c.with_cancel(&token).keys().get("/x"),
        Err(Error::Canceled)
    ));
    let other = etcd_blocking::CancelToken::new();
    c.with_cancel(&other)
        .keys()
        .set(&format!("{d}/k"), "v")
        .unwrap();
    assert_eq!(
        c.keys().get(&format!("{d}/k")).unwrap().node.value_str(),
        "v"
    );
}

#[test]
fn auto_sync_fills_the_endpoints_and_its_thread_ends_with_close() {
    let cluster = v2_cluster(3);
    let c = v2::Client::builder([cluster.client_url(1)])
        .auto_sync_interval(Duration::from_millis(200))
        .connect()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    while !thread_names().iter().any(|n| n == "etcd-v2-sync") {
        assert!(Instant::now() < deadline, "no etcd-v2-sync thread");
        thread::sleep(Duration::from_millis(5));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.endpoints().len() < 3 {
        assert!(Instant::now() < deadline, "auto-sync did not sync");
        thread::sleep(Duration::from_millis(50));
    }
    let got: HashSet<_> = c.endpoints().into_iter().collect();
    let want: HashSet<_> = cluster.client_urls().into_iter().collect();
    assert_eq!(got, want);
    c.close();
    assert!(
        !thread_names().iter().any(|n| n == "etcd-v2-sync"),
        "etcd-v2-sync outlived close()"
    );
    // Dropping the last handle does the same.
    let c = v2::Client::builder([cluster.client_url(1)])
        .auto_sync_interval(Duration::from_millis(200))
        .connect()
        .unwrap();
    drop(c);
    assert!(!thread_names().iter().any(|n| n == "etcd-v2-sync"));
}

// ---------------------------------------------------------------------------
// Members, sync, endpoint selection
// ---------------------------------------------------------------------------

#[test]
fn members_list_add_update_remove_and_leader() {
    let cluster = v2_cluster(3);
    let c = client(&cluster);
    let m = c.members();
    let list = m.list().unwrap();
    assert_eq!(list.len(), 3);
    let names: HashSet<_> = list.iter().map(|m| m.name.clone()).collect();
    assert_eq!(names, (0..3).map(|i| cluster.name(i)).collect());
    for member in &list {
        assert_eq!(member.client_urls.len(), 1);
        assert!(cluster.client_urls().contains(&member.client_urls[0]));
    }
    let leader = m.leader().unwrap();
    let li = cluster.wait_leader(Duration::from_secs(10));
    assert_eq!(leader.name, cluster.name(li));

    // etcd refuses (with a 500, so an ambiguous write here) to add a
    // member until the others have been connected for 5 s.
    thread::sleep(Duration::from_secs(6));
    let peer = cluster.alloc_peer_url();
    let added = m.add(&peer).unwrap();
    assert!(!added.id.is_empty());
    assert_eq!(added.peer_urls, [peer]);
    assert!(added.name.is_empty() && added.client_urls.is_empty());
    assert_eq!(m.list().unwrap().len(), 4);

    let other = cluster.alloc_peer_url();
    m.update(&added.id, &other).unwrap();
    let now = m.list().unwrap();
    let updated = now.iter().find(|x| x.id == added.id).unwrap();
    assert_eq!(updated.peer_urls, [other]);

    m.remove(&added.id).unwrap();
    assert_eq!(m.list().unwrap().len(), 3);
    // A removed member is gone for good: 410; one never known: 404.
    let e = kind(m.remove(&added.id));
    assert_eq!((e.kind, e.status), (ErrorKind::Gone, 410));
    let e = kind(m.remove("1234abcd"));
    assert_eq!((e.kind, e.status), (ErrorKind::NotFound, 404));
    let e = kind(m.update("1234abcd", &cluster.alloc_peer_url()));
    assert_eq!((e.kind, e.status), (ErrorKind::NotFound, 404));
}

#[test]
fn sync_set_endpoints_and_leader_first() {
    let cluster = v2_cluster(3);
    let c = v2::Client::builder([cluster.client_url(2)])
        .selection(Selection::PrioritizeLeader)
        .connect()
        .unwrap();
    let li = cluster.wait_leader(Duration::from_secs(10));
    let eps = c.sync().unwrap();
    assert_eq!(eps.len(), 3);
    assert_eq!(eps[0], cluster.client_url(li), "the leader comes first");
    assert_eq!(c.endpoints(), eps);

    c.set_endpoints([cluster.client_url(1)]).unwrap();
    assert_eq!(c.endpoints(), [cluster.client_url(1)]);
    c.keys().set("/after-set-endpoints", "v").unwrap();

    // Random selection keeps the set.
    let r = v2::Client::connect([cluster.client_url(0)]).unwrap();
    let eps: HashSet<_> = r.sync().unwrap().into_iter().collect();
    assert_eq!(eps, cluster.client_urls().into_iter().collect());
}

// ---------------------------------------------------------------------------
// Failover
// ---------------------------------------------------------------------------

/// The client URLs with a follower first: freezing the member a client
/// uses first then needs no election (during one, etcd holds writes and
/// quorum reads for seconds, which is not what these tests measure).
fn follower_first(cluster: &Cluster) -> Vec<String> {
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let follower = (leader + 1) % cluster.len();
    std::iter::once(follower)
        .chain((0..cluster.len()).filter(|&i| i != follower))
        .map(|i| cluster.client_url(i))
        .collect()
}

/// Index of the member behind the endpoint a client tries first.
fn pinned(cluster: &Cluster, c: &v2::Client) -> usize {
    let first = c.endpoints()[0].clone();
    (0..cluster.len())
        .find(|&i| cluster.client_url(i) == first)
        .unwrap()
}

#[test]
fn a_killed_member_is_passed_over_and_all_down_lists_every_cause() {
    let cluster = v2_cluster(3);
    // Quorum reads wait out the election if the leader is the one killed.
    let c = v2::Client::builder(cluster.client_urls())
        .per_request_timeout(Some(Duration::from_secs(5)))
        .request_timeout(Duration::from_secs(15))
        .connect()
        .unwrap();
    let k = c.keys();
    k.set("/k", "v").unwrap();
    let victim = pinned(&cluster, &c);
    cluster.kill(victim);
    // A read moves on (a refused connection costs nothing); the client
    // sticks to the member that worked.
    let t = Instant::now();
    let g = k.get_with("/k", V2GetOptions::new().quorum()).unwrap();
    eprintln!(
        "quorum read after kill -9 of the member in use: {:?}",
        t.elapsed()
    );
    assert_eq!(g.node.value_str(), "v");
    let now = pinned(&cluster, &c);
    assert_ne!(now, victim);
    // A write to a refused connection was never sent: it moves on too.
    let ordered = v2::Client::builder([cluster.client_url(victim), cluster.client_url(now)])
        .request_timeout(Duration::from_secs(15))
        .selection(Selection::PrioritizeLeader) // keeps the given order
        .connect()
        .unwrap();
    assert_eq!(ordered.endpoints()[0], cluster.client_url(victim));
    let r = ordered.keys().set("/k", "w").unwrap();
    assert_eq!(r.node.value_str(), "w");
    assert_eq!(
        k.get_with("/k", V2GetOptions::new().quorum())
            .unwrap()
            .node
            .value_str(),
        "w"
    );

    for i in 0..3 {
        if i != victim {
            cluster.kill(i);
        }
    }
    let c = client(&cluster);
    match c.keys().get("/k") {
        Err(Error::Unavailable(causes)) => {
            assert_eq!(causes.len(), 3, "{causes:?}");
            let eps: HashSet<_> = causes.iter().map(|c| c.endpoint.clone()).collect();
            assert_eq!(eps, cluster.client_urls().into_iter().collect());
            assert!(causes.iter().all(|c| !c.cause.is_empty()));
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn a_stopped_member_is_passed_over_within_one_per_request_timeout() {
    let cluster = v2_cluster(3);
    let per_request = Duration::from_millis(500);
    let c = v2::Client::builder(follower_first(&cluster))
        .selection(Selection::PrioritizeLeader) // keeps the given order
        .per_request_timeout(Some(per_request))
        .request_timeout(Duration::from_secs(10))
        .connect()
        .unwrap();
    let k = c.keys();
    k.set("/s", "v").unwrap();
    // Plain reads are served from the member's own store: wait until every
    // member has applied the write.
    for i in 0..3 {
        let one = v2::Client::connect([cluster.client_url(i)]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while one.keys().get("/s").is_err() {
            assert!(Instant::now() < deadline, "member {i} did not apply");
            thread::sleep(Duration::from_millis(10));
        }
    }
    let victim = pinned(&cluster, &c);
    cluster.stop(victim);
    let t = Instant::now();
    let g = k.get("/s").unwrap();
    let took = t.elapsed();
    eprintln!("a read passed over the SIGSTOPped member in {took:?}");
    assert_eq!(g.node.value_str(), "v");
    assert!(took >= per_request, "{took:?}");
    assert!(took < per_request + Duration::from_millis(400), "{took:?}");
    // The next read goes straight to the member that answered.
    let t = Instant::now();
    k.get("/s").unwrap();
    assert!(t.elapsed() < Duration::from_millis(200));

    // A write sent to the stopped member may apply when it wakes: it is
    // not sent elsewhere, and waits for its answer until the deadline.
    let order = std::iter::once(victim).chain((0..3).filter(|&i| i != victim));
    let c2 = v2::Client::builder(order.map(|i| cluster.client_url(i)))
        .per_request_timeout(Some(per_request))
        .selection(Selection::PrioritizeLeader) // keeps the given order
        .connect()
        .unwrap();
    assert_eq!(c2.endpoints()[0], cluster.client_url(victim));
    let t = Instant::now();
    match c2
        .with_timeout(Duration::from_secs(2))
        .keys()
        .create_in_order("/stopped-create", "once")
    {
        Err(Error::DeadlineExceeded(d)) => assert_eq!(d, Duration::from_secs(2)),
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    let took = t.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    // Nothing was created elsewhere meanwhile.
    let g = k.get_with("/stopped-create", V2GetOptions::new().quorum());
    assert_eq!(kind(g).kind, ErrorKind::KeyNotFound);
    // With only the frozen member, a read ends at the handle's deadline.
    let alone = v2::Client::builder([cluster.client_url(victim)])
        .per_request_timeout(None)
        .connect()
        .unwrap();
    let t = Instant::now();
    match alone
        .with_timeout(Duration::from_millis(300))
        .keys()
        .get("/s")
    {
        Err(Error::DeadlineExceeded(d)) => assert_eq!(d, Duration::from_millis(300)),
        other => panic!("expected DeadlineExceeded, got {other:?}"),
    }
    assert!(
        t.elapsed() < Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
    cluster.cont(victim);
}

#[test]
fn a_watcher_passes_over_a_member_that_froze_under_it() {
    let cluster = v2_cluster(3);
    let c = v2::Client::builder(follower_first(&cluster))
        .selection(Selection::PrioritizeLeader) // keeps the given order
        .per_request_timeout(Some(Duration::from_millis(300)))
        .watch_poll_interval(Duration::from_millis(500))
        .connect()
        .unwrap();
    let writer = client(&cluster);
    let mut w = c
        .keys()
        .watcher("/frozen", WatcherOptions::new().recursive());
    assert!(w
        .next_event_timeout(Duration::from_millis(100))
        .unwrap()
        .is_none());
    let victim = pinned(&cluster, &c);
    // The member freezes while the watcher's poll is in flight on it.
    let (tx, rx) = std::sync::mpsc::channel();
    let h = thread::spawn(move || {
        let r = w.next_event_timeout(Duration::from_secs(5));
        tx.send((r, Instant::now())).unwrap();
    });
    thread::sleep(Duration::from_millis(100));
    cluster.stop(victim);
    let others: Vec<String> = (0..3)
        .filter(|&i| i != victim)
        .map(|i| cluster.client_url(i))
        .collect();
    writer.set_endpoints(&others).unwrap();
    let t = Instant::now();
    writer.keys().set("/frozen/k", "after the freeze").unwrap();
    let (r, done) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    h.join().unwrap();
    let ev = r.unwrap().expect("the watcher stayed on the frozen member");
    let took = done.saturating_duration_since(t);
    eprintln!("a watcher passed over the member that froze under its poll in {took:?}");
    assert_eq!(ev.node.value_str(), "after the freeze");
    // At most one poll interval plus one per-request timeout (and slack).
    assert!(took < Duration::from_millis(1300), "{took:?}");
    assert_ne!(pinned(&cluster, &c), victim);
    cluster.cont(victim);
}

#[test]
fn a_create_cut_after_sending_is_never_sent_twice() {
    let cluster = v2_cluster(3);
    let proxy = Proxy::start(&cluster.endpoint(0));
    proxy.cut_answers(true);
    let via_proxy = format!("http://{}", proxy.addr());
    let c = v2::Client::builder([via_proxy.clone(), cluster.client_url(1)])
        .selection(Selection::PrioritizeLeader) // keep this order
        .connect()
        .unwrap();
    assert_eq!(c.endpoints()[0], via_proxy);
    let k = c.keys();
    let d = "/cut/queue";
    match k.create_in_order(d, "once") {
        Err(Error::Ambiguous { endpoint, .. }) => assert_eq!(endpoint, via_proxy),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    // It was applied exactly once (etcd got it; nobody sent it again).
    let check = client(&cluster);
    let g = check
        .keys()
        .get_with(d, V2GetOptions::new().quorum())
        .unwrap();
    assert_eq!(g.node.nodes.len(), 1, "{g:?}");
    assert_eq!(g.node.nodes[0].value_str(), "once");

    // Create, set and delete: the same.
    c.set_endpoints([via_proxy.clone(), cluster.client_url(1)])
        .unwrap();
    assert!(matches!(
        k.create("/cut/c", "1"),
        Err(Error::Ambiguous { .. })
    ));
    assert_eq!(check.keys().get("/cut/c").unwrap().node.value_str(), "1");
    c.set_endpoints([via_proxy.clone(), cluster.client_url(1)])
        .unwrap();
    assert!(matches!(k.delete("/cut/c"), Err(Error::Ambiguous { .. })));
    assert_eq!(
        kind(check.keys().get("/cut/c")).kind,
        ErrorKind::KeyNotFound
    );
    // A read cut the same way just moves on.
    c.set_endpoints([via_proxy.clone(), cluster.client_url(1)])
        .unwrap();
    let g = k.get(d).unwrap();
    assert_eq!(g.node.nodes.len(), 1);
    assert_eq!(c.endpoints()[0], cluster.client_url(1));
}

#[test]
fn a_watcher_survives_a_member_restart_without_loss_or_repeats() {
    let cluster = v2_cluster(3);
    let c = v2::Client::builder(cluster.client_urls())
        .request_timeout(Duration::from_secs(20))
        .connect()
        .unwrap();
    let writer = client(&cluster);
    let mut w = c.keys().watcher("/w", WatcherOptions::new().recursive());
    assert!(w
        .next_event_timeout(Duration::from_millis(200))
        .unwrap()
        .is_none());
    let victim = pinned(&cluster, &c);
    let n = 30;
    let h = {
        let k = writer.keys();
        thread::spawn(move || {
            for i in 0..n {
                thread::sleep(Duration::from_millis(30));
                // Writes fail or time out while the cluster elects a new
                // leader; a create makes each key at most once however
                // often it is asked, so the watcher must see each once.
                let deadline = Instant::now() + Duration::from_secs(30);
                loop {
                    match k.create(&format!("/w/{i:03}"), &i.to_string()) {
                        Ok(_) => break,
                        Err(Error::V2(e)) if e.kind == ErrorKind::NodeExist => break,
                        Err(e) => {
                            assert!(Instant::now() < deadline, "write {i}: {e}");
                            thread::sleep(Duration::from_millis(100));
                        }
                    }
                }
            }
        })
    };
    let mut seen = Vec::new();
    for i in 0..n {
        if i == 10 {
            cluster.kill(victim);
        }
        if i == 20 {
            cluster.restart(victim);
        }
        let ev = w
            .next_event_timeout(Duration::from_secs(15))
            .unwrap()
            .unwrap_or_else(|| panic!("no event {i}; seen {seen:?}"));
        seen.push(ev.node.value_str().to_string());
    }
    h.join().unwrap();
    let want: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(seen, want);
    assert_ne!(pinned(&cluster, &c), victim, "the watcher moved on");
}

// ---------------------------------------------------------------------------
// Auth
// ---------------------------------------------------------------------------

#[test]
fn auth_users_roles_and_permissions() {
    let cluster = v2_cluster(1);
    let url = cluster.client_url(0);
    let anon = v2::Client::connect([url.clone()]).unwrap();
    let root = v2::Client::builder([url.clone()])
        .basic_auth("root", "rootpw")
        .connect()
        .unwrap();
    assert!(!anon.auth().is_enabled().unwrap());
    // Enabling without a root user fails.
    let e = kind(anon.auth().enable());
    assert!(e.status >= 400, "{e}");

    anon.users().add("root", "rootpw").unwrap();
    anon.users().add("alice", "alicepw").unwrap();
    anon.roles().add("reader").unwrap();
    let e = kind(anon.roles().add("reader"));
    assert_eq!((e.kind, e.status), (ErrorKind::Conflict, 409), "{e}");
    anon.roles()
        .grant("reader", &["/pub/*"], V2PermissionType::Read)
        .unwrap();
    anon.roles()
        .grant("reader", &["/own/*"], V2PermissionType::ReadWrite)
        .unwrap();
    anon.users().grant("alice", &["reader"]).unwrap();
    anon.keys().set("/pub/x", "public").unwrap();
    anon.auth().enable().unwrap();
    assert!(root.auth().is_enabled().unwrap());

    // The guest role loses its rights so a missing permission shows.
    root.roles()
        .revoke("guest", &["/*"], V2PermissionType::ReadWrite)
        .unwrap();

    let users: HashSet<_> = root.users().list().unwrap().into_iter().collect();
    assert!(
        users.contains("root") && users.contains("alice"),
        "{users:?}"
    );
    let roles: HashSet<_> = root.roles().list().unwrap().into_iter().collect();
    assert!(
        roles.contains("reader") && roles.contains("root"),
        "{roles:?}"
    );
    assert_eq!(root.users().get("alice").unwrap().roles, ["reader"]);
    let reader = root.roles().get("reader").unwrap();
    let mut read = reader.permissions.kv.read.clone();
    read.sort();
    assert_eq!(read, ["/own/*", "/pub/*"]);
    assert_eq!(reader.permissions.kv.write, ["/own/*"]);
    let e = kind(root.users().get("nobody"));
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");

    let alice = v2::Client::builder([url.clone()])
        .basic_auth("alice", "alicepw")
        .connect()
        .unwrap();
    assert_eq!(
        alice.keys().get("/pub/x").unwrap().node.value_str(),
        "public"
    );
    alice.keys().set("/own/y", "mine").unwrap();
    // A missing permission: 110.
    let e = kind(alice.keys().set("/pub/x", "vandal"));
    assert_eq!(
        (e.kind, e.code, e.status),
        (ErrorKind::Unauthorized, 110, 401)
    );
    // Anonymous (guest without rights) and a wrong password: 110 too.
    assert_eq!(
        kind(anon.keys().get("/pub/x")).kind,
        ErrorKind::Unauthorized
    );
    let wrong = v2::Client::builder([url.clone()])
        .basic_auth("alice", "wrong")
        .connect()
        .unwrap();
    assert_eq!(
        kind(wrong.keys().get("/pub/x")).kind,
        ErrorKind::Unauthorized
    );
    // Auth admin needs root.
    assert_eq!(
        kind(alice.users().add("mallory", "x")).kind,
        ErrorKind::Unauthorized
    );

    // Revoke, change password, remove.
    root.roles()
        .revoke("reader", &["/own/*"], V2PermissionType::Write)
        .unwrap();
    assert_eq!(
        kind(alice.keys().set("/own/y", "again")).kind,
        ErrorKind::Unauthorized
    );
    root.users().change_password("alice", "newpw").unwrap();
    assert_eq!(
        kind(alice.keys().get("/pub/x")).kind,
        ErrorKind::Unauthorized
    );
    let alice2 = v2::Client::builder([url.clone()])
        .basic_auth("alice", "newpw")
        .connect()
        .unwrap();
    alice2.keys().get("/pub/x").unwrap();
    root.users().revoke("alice", &["reader"]).unwrap();
    assert!(root.users().get("alice").unwrap().roles.is_empty());
    assert_eq!(
        kind(alice2.keys().get("/pub/x")).kind,
        ErrorKind::Unauthorized
    );
    root.users().remove("alice").unwrap();
    root.roles().remove("reader").unwrap();
    assert_eq!(kind(root.roles().get("reader")).kind, ErrorKind::NotFound);

    root.auth().disable().unwrap();
    assert!(!anon.auth().is_enabled().unwrap());
    anon.keys().get("/pub/x").unwrap();
}

// ---------------------------------------------------------------------------
// etcdctl interop
// ---------------------------------------------------------------------------

fn etcdctl(endpoint: &str, args: &[&str]) -> String {
    let bin = std::env::var("ETCDCTL_BIN").unwrap_or_else(|_| "/usr/bin/etcdctl".into());
    let out = Command::new(&bin)
        .env("ETCDCTL_API", "2")
        .arg("--endpoints")
        .arg(endpoint)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    assert!(
        out.status.success(),
        "etcdctl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn etcdctl_v2_and_this_client_read_each_other() {
    let url = shared().client_url(0);
    let k = client(shared()).keys();
    let d = dir("ctl");

    etcdctl(&url, &["set", &format!("{d}/set"), "by etcdctl"]);
    etcdctl(&url, &["mk", &format!("{d}/mk"), "made"]);
    etcdctl(&url, &["mkdir", &format!("{d}/dir")]);
    etcdctl(
        &url,
        &["set", "--ttl", "60", &format!("{d}/ttl"), "short-lived"],
    );
    assert_eq!(
        k.get(&format!("{d}/set")).unwrap().node.value_str(),
        "by etcdctl"
    );
    let mk = k.get(&format!("{d}/mk")).unwrap();
    assert_eq!(mk.node.value_str(), "made");
    assert!(k.get(&format!("{d}/dir")).unwrap().node.dir);
    let t = k.get(&format!("{d}/ttl")).unwrap();
    assert!(t.node.ttl > 0 && t.node.ttl <= 60, "{t:?}");
    assert_eq!(t.node.value_str(), "short-lived");

    k.set(&format!("{d}/mine"), "by rust").unwrap();
    k.set_with(&format!("{d}/mydir"), "", SetOptions::new().dir())
        .unwrap();
    k.create_in_order(&format!("{d}/mydir"), "queued").unwrap();
    assert_eq!(etcdctl(&url, &["get", &format!("{d}/mine")]), "by rust");
    let ls = etcdctl(&url, &["ls", &format!("{d}/mydir")]);
    assert_eq!(ls.lines().count(), 1, "{ls}");
    assert_eq!(etcdctl(&url, &["get", ls.trim()]), "queued");
    let all = etcdctl(&url, &["ls", "--recursive", &d]);
    for name in ["set", "mk", "dir", "ttl", "mine", "mydir"] {
        assert!(
            all.lines().any(|l| l == format!("{d}/{name}")),
            "{name}: {all}"
        );
    }
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

/// Runs `openssl` in `dir` with `cmdline` split at whitespace.
fn openssl(dir: &std::path::Path, cmdline: &str) {
    let out = Command::new("openssl")
        .args(cmdline.split_whitespace())
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    assert!(
        out.status.success(),
        "openssl {cmdline}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway PKI as tests/tls.rs makes it: a CA, an unrelated CA, a
/// server certificate for 127.0.0.1 and a client certificate.
fn pki() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("v2-pki-")
        .tempdir_in(common::harness_root())
        .unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("req.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = placeholder\n\
         [v3_ca]\nbasicConstraints = critical, CA:TRUE\n\
         keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n",
    )
    .unwrap();
    let key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    for (name, cn) in [("ca", "/CN=v2-test-CA"), ("other-ca", "/CN=other-CA")] {
        openssl(
            d,
            &format!(
                "req -x509 -config req.cnf -extensions v3_ca {key} -sha256 -days 7 \
                 -subj {cn} -keyout {name}.key -out {name}.pem"
            ),
        );
    }
    let leaves = [
        (
            "server",
            "/CN=etcd",
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyEncipherment\n\
             extendedKeyUsage = serverAuth, clientAuth\n\
             subjectAltName = IP:127.0.0.1, DNS:localhost\n",
        ),
        (
            "client",
            "/CN=client",
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyEncipherment\n\
             extendedKeyUsage = clientAuth\n",
        ),
    ];
    for (i, (name, cn, ext)) in leaves.iter().enumerate() {
        std::fs::write(d.join(format!("{name}.ext")), ext).unwrap();
        openssl(
            d,
            &format!(
                "req -new -config req.cnf {key} -subj {cn} -keyout {name}.key -out {name}.csr"
            ),
        );
        openssl(
            d,
            &format!(
                "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -set_serial {} -sha256 \
                 -days 7 -extfile {name}.ext -out {name}.pem",
                2000 + i
            ),
        );
    }
    dir
}

#[test]
fn tls_with_a_client_certificate() {
    let pki = pki();
    let p = |n: &str| pki.path().join(n);
    let cluster = ClusterBuilder::new(1)
        .arg("--enable-v2")
        .tls(common::TlsFiles {
            cert: p("server.pem"),
            key: p("server.key"),
            ca: p("ca.pem"),
            client_cert_auth: true,
        })
        .start();
    let url = cluster.tls_client_url(0);
    assert!(url.starts_with("https://"));
    let trusted = etcd_blocking::TlsOptions::new()
        .ca_file(p("ca.pem"))
        .unwrap()
        .identity_files(p("client.pem"), p("client.key"))
        .unwrap();
    let c = v2::Client::builder([url.clone()])
        .tls(trusted)
        .connect()
        .unwrap();
    c.keys().set("/tls/k", "secret").unwrap();
    assert_eq!(c.keys().get("/tls/k").unwrap().node.value_str(), "secret");
    let mut w = c
        .keys()
        .watcher("/tls", WatcherOptions::new().recursive().after_index(1));
    assert_eq!(w.next_event().unwrap().node.value_str(), "secret");
    assert!(c.version().is_ok());

    // Without a client certificate, or trusting another CA: the handshake
    // fails, and says so per endpoint.
    let no_identity = etcd_blocking::TlsOptions::new()
        .ca_file(p("ca.pem"))
        .unwrap();
    let wrong_ca = etcd_blocking::TlsOptions::new()
        .ca_file(p("other-ca.pem"))
        .unwrap()
        .identity_files(p("client.pem"), p("client.key"))
        .unwrap();
    for (what, tls) in [("no client cert", no_identity), ("wrong CA", wrong_ca)] {
        let c = v2::Client::builder([url.clone()])
            .tls(tls)
            .connect()
            .unwrap();
        match c.keys().get("/tls/k") {
            Err(Error::Unavailable(causes)) => {
                assert_eq!(causes.len(), 1, "{what}");
                assert_eq!(causes[0].endpoint, url, "{what}");
                eprintln!("{what}: {}", causes[0].cause);
            }
            other => panic!("{what}: expected Unavailable, got {other:?}"),
        }
    }
    // A server name override is not supported: refused at build.
    let named = etcd_blocking::TlsOptions::new().server_name("etcd.test");
    assert!(matches!(
        v2::Client::builder([url]).tls(named).connect(),
        Err(Error::InvalidConfig(_))
    ));
}

/// The two APIs glob-imported together: every v2 name but the entry point
/// is its own, so each is usable unqualified beside the root's.
mod both_globs {
    #![allow(dead_code)]
    use etcd_blocking::v2::*;
    use etcd_blocking::*;

    /// Names every public item of `v2` (compiling is the test) and the
    /// root's namesakes beside them.
    fn every_name(
        _: (
            V2GetOptions,
            V2DeleteOptions,
            SetOptions,
            PrevExist,
            WatcherOptions,
        ),
        _: (
            Option<V2Watcher>,
            Option<Keys>,
            Option<Members>,
            Option<Auth>,
        ),
        _: (
            Option<Users>,
            Option<Roles>,
            Selection,
            ErrorKind,
            Option<V2Error>,
        ),
        _: (Action, Node, V2Member, V2PermissionType, Permissions),
        _: (Response, Role, RwPermission, User, Version),
        _: (GetOptions, DeleteOptions, Option<Watcher>, Option<Member>),
        _: (PermissionType, Option<Error>),
    ) -> [std::time::Duration; 2] {
        [DEFAULT_REQUEST_TIMEOUT, DEFAULT_PER_REQUEST_TIMEOUT]
    }

    #[test]
    fn v2_and_v3_glob_imports_do_not_collide() {
        // The entry points, with their module.
        let c = v2::Client::connect(["http://127.0.0.1:1"]).unwrap();
        let _: v2::ClientBuilder = v2::Client::builder(["http://127.0.0.1:1"]);
        let _: V2GetOptions = V2GetOptions::new().quorum();
        let _: GetOptions = GetOptions::new().prefix();
        let _ = every_name;
        // The v2 default is the root's constant, not a namesake.
        assert_eq!(c.timeout(), DEFAULT_REQUEST_TIMEOUT);
    }
}
