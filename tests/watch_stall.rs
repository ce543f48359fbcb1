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

/// A watch stream's Watch streams as the member counts them: one per open,
/// so every reset of the client's stream adds one.
fn watch_streams(cluster: &common::Cluster) -> u64 {
    common::streams_started(&cluster.endpoint(0), "Watch")
}

/// Waits for the next progress notice on `w`, skipping event responses.
fn next_progress(w: &etcd_blocking::Watcher, within: Duration) -> Option<i64> {
    let until = Instant::now() + within;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match w.recv_timeout(left).unwrap() {
            Some(r) if r.is_progress_notify() => return Some(r.header().revision()),
            Some(_) => continue,
            None => break,
        }
    }
    None
}

#[test]
fn a_users_progress_answer_is_never_taken_for_the_probes() {
    // etcd 3.5.13+ drops a progress request while a watch of the stream
    // waits for a future start revision. The stall probe fires after 3 s
    // of silence; had it asked for progress, that request would be dropped
    // and the user's later answer counted as the probe's, never delivered.
    let cluster = common::Cluster::start(1);
    let c = Client::connect(cluster.endpoints()).unwrap();
    let rev = c.put("progress/x", "0").unwrap().header().revision();
    let near = c.watch("progress/a").unwrap();
    let future = c
        .watch_with("progress/b", WatchOptions::new().start_revision(rev + 3))
        .unwrap();
    // Silence past the probe's 3 s, so it fires while `future` waits.
    thread::sleep(Duration::from_millis(4_500));
    c.put("progress/a", "1").unwrap();
    c.put("progress/c", "2").unwrap();
    let now = c.put("progress/d", "3").unwrap().header().revision();
    assert_eq!(now, rev + 3);
    assert_eq!(next_events(&near).events().len(), 1);
    c.request_progress().unwrap();
    // Within 2 s: less than the probe's 3 s of silence, so a later probe's
    // answer cannot stand in for the user's.
    for w in [&near, &future] {
        let at = next_progress(w, Duration::from_secs(2))
            .expect("the user's progress request was answered but not delivered");
        assert!(at >= now, "progress at {at}, before {now}");
    }
    assert_eq!(watch_streams(&cluster), 1, "the watch stream was reset");
}

#[test]
fn a_healthy_stream_is_never_reset_by_the_probe() {
    // A watch waiting for a future revision keeps etcd 3.5.13+ from
    // answering any progress request on its stream, and 3.4.25+/3.5.8-12
    // from answering until it is synced. User requests, all unanswered
    // there, are interleaved with the probes over 14 s: the stream is
    // quiet but healthy, and must not be reset once.
    let cluster = common::Cluster::start(1);
    let c = Client::connect(cluster.endpoints()).unwrap();
    let rev = c.put("healthy/x", "0").unwrap().header().revision();
    let near = c.watch("healthy/a").unwrap();
    let _far = c
        .watch_with("healthy/b", WatchOptions::new().start_revision(rev + 1_000))
        .unwrap();
    assert_eq!(watch_streams(&cluster), 1);
    let started = Instant::now();
    for at in [1_000, 5_500, 9_000, 12_500] {
        thread::sleep(Duration::from_millis(at).saturating_sub(started.elapsed()));
        c.request_progress().unwrap();
    }
    thread::sleep(Duration::from_secs(14).saturating_sub(started.elapsed()));
    assert_eq!(watch_streams(&cluster), 1, "the healthy stream was reset");
    // And the stream still carries events.
    let put = c.put("healthy/a", "1").unwrap().header().revision();
    assert_eq!(next_events(&near).events()[0].revision(), put);
    assert_eq!(watch_streams(&cluster), 1);
}
