//! Watches against real etcd: every option, cancel, many watchers on one
//! stream, progress, fragments, compaction, history replay, a slow
//! consumer, and members killed or frozen under a running watch.

mod common;

use common::{assert_is_history, next_events, write_sequence};

use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::{
    Client, CompactOptions, DeleteOptions, Error, EventType, PutOptions, WatchOptions, Watcher,
};

const WAIT: Duration = Duration::from_secs(10);

fn client() -> Client {
    Client::connect(common::shared().endpoints()).expect("connect")
}

/// Reads events until `n` have arrived; returns (key, revision, type).
fn collect(w: &Watcher, n: usize) -> Vec<(String, i64, EventType)> {
    let mut out = Vec::new();
    while out.len() < n {
        for ev in next_events(w).events() {
            out.push((
                ev.kv().key_str().unwrap().to_string(),
                ev.revision(),
                ev.event_type(),
            ));
        }
    }
    out
}

/// A gauge from etcd's /metrics.
fn metric(endpoint: &str, name: &str) -> i64 {
    let (_, body) = common::http_get(endpoint, "/metrics").unwrap();
    body.lines()
        .find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or_else(|| panic!("{name} not in /metrics")) as i64
}

#[test]
fn put_and_delete_events_on_one_key() {
    let c = client();
    let p = common::unique_prefix("basic");
    let key = format!("{p}k");
    let w = c.watch(&*key).unwrap();
    assert!(w.try_recv().unwrap().is_none());
    let rev = c.put(&*key, "v1").unwrap().header().revision();
    c.put(format!("{p}other"), "x").unwrap();
    let r = next_events(&w);
    assert_eq!(r.watch_id(), w.id());
    assert_eq!(r.events().len(), 1);
    let ev = &r.events()[0];
    assert_eq!(ev.event_type(), EventType::Put);
    assert_eq!(ev.kv().value(), b"v1");
    assert_eq!(ev.revision(), rev);
    assert!(ev.prev_kv().is_none());
    c.delete(&*key).unwrap();
    let r = next_events(&w);
    assert_eq!(r.events()[0].event_type(), EventType::Delete);
    assert_eq!(r.events()[0].kv().key(), key.as_bytes());
}

#[test]
fn prefix_range_and_start_revision_replay_history() {
    let c = client();
    let p = common::unique_prefix("history");
    let first = c.put(format!("{p}a"), "1").unwrap().header().revision();
    c.put(format!("{p}b"), "2").unwrap();
    c.put(format!("{p}c"), "3").unwrap();
    c.delete(format!("{p}a")).unwrap();
    // From the first revision, the whole history replays in order.
    let w = c
        .watch_with(&*p, WatchOptions::new().prefix().start_revision(first))
        .unwrap();
    let got = collect(&w, 4);
    let keys: Vec<_> = got
        .iter()
        .map(|(k, _, t)| (k.trim_start_matches(&*p), *t))
        .collect();
    assert_eq!(
        keys,
        [
            ("a", EventType::Put),
            ("b", EventType::Put),
            ("c", EventType::Put),
            ("a", EventType::Delete)
        ]
    );
    assert!(got.windows(2).all(|w| w[0].1 < w[1].1));
    // A range watch sees only its range.
    let r = c
        .watch_with(
            format!("{p}b"),
            WatchOptions::new().range_end(format!("{p}c")),
        )
        .unwrap();
    c.put(format!("{p}c"), "x").unwrap();
    c.put(format!("{p}b"), "y").unwrap();
    let ev = next_events(&r);
    assert_eq!(ev.events()[0].kv().key(), format!("{p}b").as_bytes());
}

#[test]
fn from_key_on_its_own_cluster() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let w = c.watch_with("m", WatchOptions::new().from_key()).unwrap();
    c.put("a", "below").unwrap();
    c.put("z", "above").unwrap();
    let r = next_events(&w);
    assert_eq!(r.events()[0].kv().key(), b"z");
    let all = c.watch_with("", WatchOptions::new().from_key()).unwrap();
    c.put("a", "again").unwrap();
    assert_eq!(next_events(&all).events()[0].kv().key(), b"a");
}

#[test]
fn prev_kv_and_filters() {
    let c = client();
    let p = common::unique_prefix("filters");
    let key = format!("{p}k");
    c.put(&*key, "old").unwrap();
    let with_prev = c.watch_with(&*key, WatchOptions::new().prev_kv()).unwrap();
    let no_put = c.watch_with(&*key, WatchOptions::new().no_put()).unwrap();
    let no_delete = c
        .watch_with(&*key, WatchOptions::new().no_delete())
        .unwrap();
    c.put(&*key, "new").unwrap();
    c.delete(&*key).unwrap();
    let r = next_events(&with_prev);
    assert_eq!(r.events()[0].prev_kv().unwrap().value(), b"old");
    assert_eq!(r.events()[0].kv().value(), b"new");
    let r = next_events(&no_put);
    assert_eq!(r.events()[0].event_type(), EventType::Delete);
    let r = next_events(&no_delete);
    assert_eq!(r.events()[0].event_type(), EventType::Put);
    // The delete never reaches the no-delete watcher.
    assert!(no_delete
        .recv_timeout(Duration::from_millis(300))
        .unwrap()
        .is_none());
}

#[test]
fn created_notify_comes_first() {
    let c = client();
    let p = common::unique_prefix("created");
    let w = c
        .watch_with(&*p, WatchOptions::new().prefix().created_notify())
        .unwrap();
    let first = w.recv_timeout(WAIT).unwrap().unwrap();
    assert!(first.is_created());
    assert!(first.events().is_empty());
    assert!(first.header().revision() > 0);
}

#[test]
fn progress_requests_and_notifications() {
    let cluster = common::ClusterBuilder::new(1)
        .arg("--experimental-watch-progress-notify-interval=500ms")
        .start();
    let c = Client::connect(cluster.endpoints()).unwrap();
    // Nothing to ask before there is a watch.
    c.request_progress().unwrap();
    let rev = c.put("k", "v").unwrap().header().revision();
    let w = c.watch("k").unwrap();
    let w2 = c.watch("other").unwrap();
    c.request_progress().unwrap();
    // Every watcher of the client hears it.
    let r2 = w2.recv_timeout(WAIT).unwrap().expect("progress response");
    assert!(r2.is_progress_notify() && r2.header().revision() >= rev);
    let r = w.recv_timeout(WAIT).unwrap().expect("progress response");
    assert!(r.is_progress_notify() && r.events().is_empty());
    assert!(r.header().revision() >= rev);
    // Periodic notifications when asked for.
    let periodic = c
        .watch_with("other", WatchOptions::new().progress_notify())
        .unwrap();
    let r = periodic
        .recv_timeout(WAIT)
        .unwrap()
        .expect("periodic progress");
    assert!(r.is_progress_notify());
}

#[test]
fn fragments_are_joined_before_delivery() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let value = vec![b'f'; 700 * 1024];
    for i in 0..3 {
        c.put(format!("big/{i}"), value.clone()).unwrap();
    }
    // One delete revision whose events carry 2.1 MB of previous values:
    // more than etcd's 1.5 MiB request limit, so etcd fragments it.
    let w = c
        .watch_with("big/", WatchOptions::new().prefix().prev_kv().fragment())
        .unwrap();
    let rev = c
        .delete_with("big/", DeleteOptions::new().prefix())
        .unwrap()
        .header()
        .revision();
    let r = next_events(&w);
    assert_eq!(r.events().len(), 3, "one revision, one message");
    for ev in r.events() {
        assert_eq!(ev.revision(), rev);
        assert_eq!(ev.prev_kv().unwrap().value().len(), value.len());
    }
}

#[test]
fn cancel_and_drop_end_the_watch_on_the_server() {
    let cluster = common::Cluster::single();
    let ep = cluster.endpoint(0);
    let c = Client::connect(cluster.endpoints()).unwrap();
    let before = metric(&ep, "etcd_debugging_mvcc_watcher_total");
    let a = c.watch("a").unwrap();
    let b = c.watch("b").unwrap();
    assert_eq!(metric(&ep, "etcd_debugging_mvcc_watcher_total"), before + 2);
    a.cancel();
    drop(b);
    let deadline = Instant::now() + WAIT;
    while metric(&ep, "etcd_debugging_mvcc_watcher_total") != before {
        assert!(
            Instant::now() < deadline,
            "watches not canceled on the server"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_thousand_watchers_share_one_stream() {
    let cluster = common::Cluster::single();
    let ep = cluster.endpoint(0);
    let c = Client::connect(cluster.endpoints()).unwrap();
    let watchers: Vec<Watcher> = (0..1000)
        .map(|i| {
            c.watch_with(format!("w/{i}"), WatchOptions::new().prefix())
                .unwrap()
        })
        .collect();
    assert_eq!(metric(&ep, "etcd_debugging_mvcc_watch_stream_total"), 1);
    assert_eq!(metric(&ep, "etcd_debugging_mvcc_watcher_total"), 1000);
    // Every watcher sees its own key, and only it.
    for i in (0..1000).step_by(7) {
        c.put(format!("w/{i}"), "x").unwrap();
    }
    for (i, w) in watchers.iter().enumerate() {
        if i % 7 == 0 {
            let r = next_events(w);
            assert_eq!(r.events()[0].kv().key(), format!("w/{i}").as_bytes());
        }
    }
    drop(watchers);
    let deadline = Instant::now() + WAIT;
    while metric(&ep, "etcd_debugging_mvcc_watch_stream_total") != 0 {
        assert!(
            Instant::now() < deadline,
            "stream not closed after the last watch"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn compaction_ends_a_watch_with_its_revision() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let r1 = c.put("k", "1").unwrap().header().revision();
    c.put("k", "2").unwrap();
    let r3 = c.put("k", "3").unwrap().header().revision();
    c.compact_with(r3, CompactOptions::new().physical())
        .unwrap();
    let w = c
        .watch_with("k", WatchOptions::new().start_revision(r1))
        .unwrap();
    match w.recv_timeout(WAIT).unwrap_err() {
        Error::Compacted { compact_revision } => assert_eq!(compact_revision, Some(r3)),
        other => panic!("{other:?}"),
    }
    // The end is reported again, not a hang.
    assert!(matches!(w.recv(), Err(Error::WatchCanceled { .. })));
    assert_eq!(w.iter().count(), 1);
}

#[test]
fn a_slow_consumer_loses_nothing_and_stays_bounded() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let w = c
        .watch_with("slow/", WatchOptions::new().prefix().buffer(8))
        .unwrap();
    let writer = {
        let c = c.clone();
        thread::spawn(move || {
            for i in 0..3000 {
                c.put(format!("slow/{i:05}"), "v").unwrap();
            }
        })
    };
    // Sleep while thousands of events arrive: the buffer holds 8.
    thread::sleep(Duration::from_secs(2));
    assert!(w.receiver().len() <= 8);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 3000 {
        assert!(Instant::now() < deadline, "only {} events", seen.len());
        if let Some(r) = w.recv_timeout(Duration::from_secs(5)).unwrap() {
            for ev in r.events() {
                seen.push(ev.kv().key_str().unwrap().to_string());
            }
        }
        if seen.len() % 500 < 20 {
            thread::sleep(Duration::from_millis(50)); // stay slow now and then
        }
    }
    writer.join().unwrap();
    let want: Vec<String> = (0..3000).map(|i| format!("slow/{i:05}")).collect();
    assert_eq!(seen, want, "every event once, in order");
}

/// Runs a watch while a writer puts 2000 keys and `fault` hits the member
/// the watch stream is on; the watch must see exactly the history.
fn watch_survives(fault: impl FnOnce(&common::Cluster, usize)) {
    let cluster = common::fast_keepalive_cluster();
    let eps = cluster.endpoints();
    let watch_client = common::fast_keepalive_client(&cluster).connect().unwrap();
    let writer_client = Client::builder(&eps)
        .request_timeout(Duration::from_secs(3))
        .connect()
        .unwrap();
    let start = writer_client
        .put("seq-start", "")
        .unwrap()
        .header()
        .revision()
        + 1;
    let w = watch_client
        .watch_with("seq/", WatchOptions::new().prefix())
        .unwrap();
    let writer = write_sequence(writer_client.clone(), "seq/", 2000);
    let mut live: Vec<(i64, String)> = Vec::new();
    let mut fault = Some(fault);
    let mut last_message = Instant::now();
    let mut longest_gap = Duration::ZERO;
    let mut faulted = false;
    let started = Instant::now();
    // Every key is written at least once (the writer retries until a put
    // succeeds, so a key may be written twice): wait for all of them.
    let mut keys_seen = std::collections::HashSet::new();
    while keys_seen.len() < 2000 || !writer.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "stuck at {}",
            live.len()
        );
        let Some(r) = w.recv_timeout(Duration::from_secs(1)).unwrap() else {
            continue;
        };
        if !faulted && live.len() > 300 {
            let fault = fault.take().expect("one fault");
            let member = r.header().member_id();
            let idx = cluster.index_of_member(member);
            eprintln!("fault on member {idx} after {} events", live.len());
            fault(&cluster, idx);
            faulted = true;
        }
        if faulted {
            longest_gap = longest_gap.max(last_message.elapsed());
        }
        last_message = Instant::now();
        for ev in r.events() {
            let key = ev.kv().key_str().unwrap().to_string();
            keys_seen.insert(key.clone());
            live.push((ev.revision(), key));
        }
    }
    writer.join().unwrap();
    eprintln!("longest pause in delivery after the fault: {longest_gap:?}");
    assert!(faulted);
    assert_is_history(&writer_client, start, &live, 2000);
}

#[test]
fn watch_survives_killing_its_member() {
    watch_survives(|cluster, idx| {
        cluster.kill(idx);
        thread::sleep(Duration::from_secs(1));
        cluster.restart(idx);
    });
}

#[test]
fn watch_survives_freezing_its_member() {
    watch_survives(|cluster, idx| {
        cluster.stop(idx);
        thread::sleep(Duration::from_secs(4));
        cluster.cont(idx);
    });
}

#[test]
fn progress_notices_respect_the_buffer() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let w = c
        .watch_with("cap", WatchOptions::new().buffer(2).created_notify())
        .unwrap();
    for _ in 0..10 {
        c.request_progress().unwrap();
    }
    // Answers arrive, but no more than the buffer holds.
    let t = Instant::now();
    while w.receiver().len() < 2 {
        assert!(t.elapsed() < WAIT, "no progress answers");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(500));
    assert_eq!(w.receiver().len(), 2, "the buffer of 2 was overrun");
    // Events still arrive in full once read.
    c.put("cap", "v").unwrap();
    let r = next_events(&w);
    assert_eq!(r.events().len(), 1);
}

#[test]
fn periodic_notices_that_do_not_fit_are_dropped_without_suspending_the_watch() {
    let cluster = common::ClusterBuilder::new(1)
        .arg("--experimental-watch-progress-notify-interval=200ms")
        .start();
    let ep = cluster.endpoint(0);
    let c = Client::connect(cluster.endpoints()).unwrap();
    let w = c
        .watch_with("periodic", WatchOptions::new().progress_notify().buffer(2))
        .unwrap();
    assert_eq!(metric(&ep, "etcd_debugging_mvcc_watcher_total"), 1);
    // Two notices fill the buffer; more keep coming while nobody reads.
    let t = Instant::now();
    while w.receiver().len() < 2 {
        assert!(t.elapsed() < WAIT, "no periodic notices");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(1_500));
    assert_eq!(w.receiver().len(), 2, "the buffer of 2 was overrun");
    // Dropped, not a reason to suspend: etcd still holds the watch.
    assert_eq!(metric(&ep, "etcd_debugging_mvcc_watcher_total"), 1);
    for _ in 0..2 {
        assert!(w.try_recv().unwrap().unwrap().is_progress_notify());
    }
    let put = c.put("periodic", "v").unwrap().header().revision();
    assert_eq!(next_events(&w).events()[0].revision(), put);
}

#[test]
fn closing_the_client_ends_watches() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let w = c.watch("k").unwrap();
    c.put_with("k", "v", PutOptions::new()).unwrap();
    next_events(&w);
    c.close().unwrap();
    assert!(matches!(w.recv(), Err(Error::ClientClosed)));
    assert!(matches!(w.recv(), Err(Error::WatchCanceled { .. })));
    assert!(matches!(c.watch("k"), Err(Error::ClientClosed)));
}

#[test]
fn a_member_that_loses_its_leader_ends_the_watch_stream() {
    // The watch stream carries `hasleader`: when its member is cut off
    // from the others, etcd ends the stream instead of letting it go
    // silent, and the watch carries on elsewhere once it can.
    let cluster = common::fast_keepalive_cluster();
    let c = common::fast_keepalive_client(&cluster).connect().unwrap();
    let w = c.watch_with("hl/", WatchOptions::new().prefix()).unwrap();
    c.put("hl/0", "before").unwrap();
    let member = next_events(&w).header().member_id();
    let idx = cluster.index_of_member(member);
    let ep = cluster.endpoint(idx);
    assert_eq!(metric(&ep, "etcd_debugging_mvcc_watch_stream_total"), 1);
    let others: Vec<usize> = (0..3).filter(|&i| i != idx).collect();
    for &i in &others {
        cluster.stop(i);
    }
    let t = Instant::now();
    while metric(&ep, "etcd_debugging_mvcc_watch_stream_total") != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the leaderless member kept the stream"
        );
        thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "leaderless member ended the watch stream after {:?}",
        t.elapsed()
    );
    for &i in &others {
        cluster.cont(i);
    }
    // Nothing lost: the next write reaches the watch.
    let writer = Client::builder(cluster.endpoints())
        .request_timeout(Duration::from_secs(10))
        .connect()
        .unwrap();
    let t = Instant::now();
    while writer.put("hl/1", "after").is_err() {
        assert!(t.elapsed() < Duration::from_secs(20));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let r = w
            .recv_timeout(left)
            .unwrap()
            .expect("event after the partition");
        if let Some(ev) = r.events().first() {
            assert_eq!(ev.kv().key(), b"hl/1");
            break;
        }
    }
}

#[test]
fn a_negative_start_revision_is_refused_before_anything_is_sent() {
    // etcd 3.4.38, 3.5.24 and 3.6.6 on reject it; older servers give it no
    // meaning. The client refuses it itself, the same on every server.
    let c = client();
    let key = common::unique_prefix("negative-start");
    for rev in [-1, i64::MIN] {
        match c.watch_with(&*key, WatchOptions::new().start_revision(rev)) {
            Err(Error::InvalidRequest(m)) => assert!(m.contains("negative"), "{m}"),
            other => panic!("start revision {rev}: {other:?}"),
        }
    }
    // 0 is "the next revision", as always.
    let w = c
        .watch_with(&*key, WatchOptions::new().start_revision(0))
        .unwrap();
    let put = c.put(&*key, "v").unwrap().header().revision();
    assert_eq!(next_events(&w).events()[0].revision(), put);
}

#[test]
fn many_watches_are_created_at_once_with_every_guarantee() {
    let cluster = common::Cluster::start(1);
    let ep = cluster.endpoint(0);
    let c = Client::connect(cluster.endpoints()).unwrap();
    assert!(c
        .watch_many(Vec::<(String, WatchOptions)>::new())
        .unwrap()
        .is_empty());

    // Bad input anywhere fails the call before anything is sent.
    let bad = (0..5).map(|i| {
        let rev = if i == 3 { -1 } else { 0 };
        (format!("many/{i}"), WatchOptions::new().start_revision(rev))
    });
    assert!(matches!(c.watch_many(bad), Err(Error::InvalidRequest(_))));
    assert_eq!(metric(&ep, "etcd_debugging_mvcc_watcher_total"), 0);

    // History from a start revision, one ended for a compacted start,
    // and every change after the call returns.
    let first = c.put("many/old", "a").unwrap().header().revision();
    c.put("many/old", "b").unwrap();
    c.compact(first).unwrap();
    let n = 300;
    let mut asks: Vec<(String, WatchOptions)> = (0..n)
        .map(|i| (format!("many/{i}"), WatchOptions::new()))
        .collect();
    asks.push((
        "many/old".into(),
        WatchOptions::new().start_revision(first + 1),
    ));
    asks.push((
        "many/old".into(),
        WatchOptions::new().start_revision(first - 1),
    ));
    let mut got = c.watch_many(asks).unwrap();
    assert_eq!(got.len(), n + 2);
    // etcd creates a watch from a compacted revision, then ends it.
    let compacted = got.pop().unwrap().unwrap();
    match compacted.recv_timeout(WAIT) {
        Err(Error::Compacted { compact_revision }) => assert_eq!(compact_revision, Some(first)),
        other => panic!("expected the compacted start to end the watch, got {other:?}"),
    }
    let replay = got.pop().unwrap().unwrap();
    assert_eq!(
        next_events(&replay).events()[0].kv().value_str().unwrap(),
        "b"
    );
    let watchers: Vec<Watcher> = got.into_iter().map(Result::unwrap).collect();
    let t = Instant::now();
    while metric(&ep, "etcd_debugging_mvcc_watcher_total") != n as i64 + 1 {
        assert!(
            t.elapsed() < WAIT,
            "the compacted watch was not canceled on the server"
        );
        thread::sleep(Duration::from_millis(20));
    }
    for i in 0..n {
        c.put(format!("many/{i}"), "v").unwrap();
    }
    for (i, w) in watchers.iter().enumerate() {
        let r = next_events(w);
        assert_eq!(r.events().len(), 1);
        assert_eq!(r.events()[0].kv().key_str().unwrap(), format!("many/{i}"));
    }
    drop(watchers);
    drop(replay);
    let t = Instant::now();
    while metric(&ep, "etcd_debugging_mvcc_watcher_total") != 0 {
        assert!(t.elapsed() < WAIT, "dropped watchers were not canceled");
        thread::sleep(Duration::from_millis(20));
    }
}
