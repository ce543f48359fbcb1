//! A watch whose member freezes, with default settings: the client's own
//! progress probe must notice within seconds and resume elsewhere with no
//! event lost or repeated. Its own test binary, so the watch tests running
//! beside it do not blur the timing it measures.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{assert_is_history, next_events, write_sequence};
use etcd_blocking::{Client, WatchOptions};

#[test]
fn a_frozen_members_watch_moves_on_with_default_settings() {
    // Default settings: HTTP/2 keepalive would take 30 s + 10 s to notice a
    // frozen member; the watch's own progress probe must do it in < 10 s.
    let cluster = common::Cluster::start(3);
    let watcher = Client::connect(cluster.endpoints()).unwrap();
    let m = cluster.index_of_member(watcher.get("probe").unwrap().header().member_id());
    let others: Vec<String> = (0..3)
        .filter(|&i| i != m)
        .map(|i| cluster.endpoint(i))
        .collect();
    let writer_client = Client::connect(&others).unwrap();
    let start = writer_client
        .put("seq-start", "")
        .unwrap()
        .header()
        .revision()
        + 1;
    let w = watcher
        .watch_with("seq/", WatchOptions::new().prefix())
        .unwrap();
    let n = 200;
    let mut live: Vec<(i64, String)> = Vec::new();
    let collect_until = |live: &mut Vec<(i64, String)>, keys: usize| -> Instant {
        let started = Instant::now();
        let mut first = None;
        while live
            .iter()
            .map(|(_, k)| k)
            .collect::<std::collections::HashSet<_>>()
            .len()
            < keys
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "stuck at {}",
                live.len()
            );
            let Some(r) = w.recv_timeout(Duration::from_secs(1)).unwrap() else {
                continue;
            };
            for ev in r.events() {
                first.get_or_insert_with(Instant::now);
                live.push((ev.revision(), ev.kv().key_str().unwrap().to_string()));
            }
        }
        first.expect("events")
    };
    write_sequence(writer_client.clone(), "seq/", n / 2)
        .join()
        .unwrap();
    collect_until(&mut live, n / 2);
    // The member under the watch freezes; writes go on elsewhere.
    cluster.stop(m);
    let frozen_at = Instant::now();
    let writer = thread::spawn({
        let c = writer_client.clone();
        move || {
            for i in n / 2..n {
                let key = format!("seq/{i:05}");
                while c.put(key.as_str(), "v").is_err() {
                    thread::sleep(Duration::from_millis(50));
                }
            }
        }
    });
    let resumed = collect_until(&mut live, n);
    let stall = resumed - frozen_at;
    eprintln!("the watch moved off the frozen member after {stall:?}");
    writer.join().unwrap();
    // A put the writer retried may have been applied twice: read on until
    // the watch has reached the last write.
    let end = writer_client.get("seq/").unwrap().header().revision();
    while live.last().is_none_or(|(rev, _)| *rev < end) {
        for ev in next_events(&w).events() {
            live.push((ev.revision(), ev.kv().key_str().unwrap().to_string()));
        }
    }
    cluster.cont(m);
    assert!(stall < Duration::from_secs(10), "took {stall:?}");
    assert_is_history(&writer_client, start, &live, n);
}
