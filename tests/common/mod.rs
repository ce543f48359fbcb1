//! Helpers shared by the integration tests (`mod common;`).
//!
//! The crate-independent harness (throwaway etcd clusters, faults, ports,
//! HTTP probes, the shared cluster, the TCP proxy) is the `etcd-harness`
//! package in `harness/`, which depends on neither this crate nor its
//! tests; it is re-exported here so test files reach all of it as
//! `common::…`. This file adds the helpers that depend on the crate under
//! test, `etcd_blocking`.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::{Client, WatchOptions, WatchResponse, Watcher};

pub use etcd_harness::*;

/// How long the watch helpers wait for events.
const WAIT: Duration = Duration::from_secs(10);

// Each test file compiles this module into its own test crate and uses only
// some of the helpers below, so in the others they would be dead code; the
// `allow`s are on these items alone (everything re-exported from
// etcd-harness is a library's public API and never warns).

/// The keys of a read, as text.
#[allow(dead_code)]
pub fn keys(r: &etcd_blocking::GetResponse) -> Vec<String> {
    r.kvs()
        .iter()
        .map(|kv| kv.key_str().unwrap().to_string())
        .collect()
}

/// A client for [`fast_keepalive_cluster`]: pings every second and gives
/// up on a silent member after another.
#[allow(dead_code)]
pub fn fast_keepalive_client(cluster: &Cluster) -> etcd_blocking::ClientBuilder {
    etcd_blocking::Client::builder(cluster.endpoints())
        .keepalive_time(Duration::from_secs(1))
        .keepalive_timeout(Duration::from_secs(1))
        .server_keepalive_min_time(Duration::from_secs(1))
}

/// The next response that carries events.
#[allow(dead_code)] // used by the watch tests only
pub fn next_events(w: &Watcher) -> WatchResponse {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match w.recv_timeout(left).unwrap() {
            Some(r) if !r.events().is_empty() => return r,
            Some(_) => continue,
            None => panic!("no events within {WAIT:?}"),
        }
    }
}

/// Writes `n` keys under `prefix` through `c`, retrying a put whose outcome
/// is unknown (that may write the key twice: both revisions are real and
/// the watcher must see both). Returns after the last put.
#[allow(dead_code)] // used by the watch tests only
pub fn write_sequence(c: Client, prefix: &'static str, n: usize) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for i in 0..n {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match c.put(format!("{prefix}{i:05}"), format!("{i}")) {
                    Ok(_) => break,
                    Err(e) if Instant::now() < deadline => {
                        eprintln!("writer: {e}");
                        thread::sleep(Duration::from_millis(50));
                    }
                    Err(e) => panic!("writer gave up: {e}"),
                }
            }
        }
    })
}

/// `live` (revision, key) is exactly what etcd's history holds under
/// `seq/` from `start` up to the last revision `live` reached (nothing
/// lost, nothing repeated), and covers `keys` distinct keys.
#[allow(dead_code)] // used by the watch tests only
pub fn assert_is_history(c: &Client, start: i64, live: &[(i64, String)], keys: usize) {
    let replay = c
        .watch_with("seq/", WatchOptions::new().prefix().start_revision(start))
        .unwrap();
    let mut truth: Vec<(i64, String)> = Vec::new();
    while truth.len() < live.len() {
        let r = next_events(&replay);
        for ev in r.events() {
            truth.push((ev.revision(), ev.kv().key_str().unwrap().to_string()));
        }
    }
    // A write whose outcome was unknown may still be applied after the
    // last one the watch was read to (a proposal stuck in a frozen member
    // is forwarded when it thaws): history past what was read is not the
    // watch's to have seen.
    let last_read = live.last().map_or(0, |(rev, _)| *rev);
    truth.retain(|(rev, _)| *rev <= last_read);
    let missing: Vec<_> = truth.iter().filter(|e| !live.contains(e)).collect();
    if !missing.is_empty() {
        let near = |v: &[(i64, String)]| -> Vec<(i64, String)> {
            let r = missing[0].0;
            v.iter()
                .filter(|(x, _)| (r - 3..=r + 3).contains(x))
                .cloned()
                .collect()
        };
        eprintln!(
            "near the gap: live {:?} history {:?}",
            near(live),
            near(&truth)
        );
    }
    let extra: Vec<_> = live.iter().filter(|e| !truth.contains(e)).collect();
    assert!(
        live == truth,
        "the live watch differs from the history: {} live, {} in history; missing {missing:?}, \
         not in history {extra:?}",
        live.len(),
        truth.len()
    );
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    for (_, k) in live {
        *per_key.entry(k).or_default() += 1;
    }
    assert_eq!(per_key.len(), keys, "every key seen");
}
