//! Nothing leaks: closing or dropping a client gives back every thread and
//! file descriptor it took. One test in its own binary, so no other test's
//! threads muddy the counts.
//!
//! gRPC's C core keeps a small process-wide pool (`default-executor`, at
//! most two per core, `resolver-executor`, `grpc_global_timer`, and the
//! `event_engine` and `timer_manager` threads it starts and retires on
//! demand); it is shared by every client in the process, so it is counted
//! separately and only checked to stay bounded.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::Client;

const GRPC_GLOBAL: [&str; 5] = [
    "default-executo",
    "resolver-execut",
    "grpc_global_tim",
    "event_engine",
    "timer_manager",
];

/// Thread names (15 characters at most, as the kernel keeps them).
fn thread_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect();
    v.sort();
    v
}

/// (threads of our own and the harness, gRPC's process-wide threads)
fn threads() -> (Vec<String>, usize) {
    let (global, own): (Vec<_>, Vec<_>) = thread_names()
        .into_iter()
        .partition(|n| GRPC_GLOBAL.contains(&n.as_str()));
    (own, global.len())
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Polls `f` until it is at most `want`: an exited thread or a closed socket
/// can take a moment to leave /proc.
fn settles(want: usize, f: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let n = f();
        if n <= want || Instant::now() > deadline {
            return n;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn close_and_drop_release_threads_and_descriptors() {
    let cluster = common::Cluster::start(3);
    let eps = cluster.endpoints();
    // Warm up: gRPC starts its process-wide threads on first use.
    Client::connect(&eps).unwrap().close().unwrap();
    thread::sleep(Duration::from_millis(200));
    let (own_before, _) = threads();
    let fds_before = fds();

    for round in 0..20 {
        let c = Client::builder(&eps)
            .completion_queue_threads(2)
            .connect()
            .unwrap();
        // Streams too: the pump thread starts with the first watch.
        let w = c.watch("k").unwrap();
        let lease = c.grant(5).unwrap().id();
        let ka = c.keep_alive(lease).unwrap();
        c.put("k", format!("{round}")).unwrap();
        assert_eq!(c.get("k").unwrap().count(), 1);
        assert!(w.recv_timeout(Duration::from_secs(5)).unwrap().is_some());
        // Closing while refreshes and their answers flow: the streams'
        // calls must be cancelled before the channels go, or gRPC's
        // threads outlive the close (`ShutdownTimeout`).
        assert!(ka
            .receiver()
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .is_ok());
        thread::sleep(Duration::from_millis(round % 4 * 40));
        let (own, _) = threads();
        assert_eq!(
            own.iter().filter(|n| n.starts_with("etcd-grpc")).count(),
            2,
            "{own:?}"
        );
        assert_eq!(
            own.iter().filter(|n| *n == "etcd-pump").count(),
            1,
            "{own:?}"
        );
        if round % 3 == 0 {
            // Handles that outlive the client see it closed.
            drop((w, ka));
        }
        if round % 2 == 0 {
            c.close().unwrap();
        } else {
            let clone = c.clone();
            drop(c);
            drop(clone); // the last handle closes
        }
        // close() and the last drop join the client's threads before
        // returning.
        let (own, _) = threads();
        assert!(
            !own.iter()
                .any(|n| n.starts_with("etcd-") && !n.starts_with("etcd-harness")),
            "{own:?}"
        );
    }
    // And many short lives in a row.
    let t = Instant::now();
    for _ in 0..1000 {
        let c = Client::connect(&eps).unwrap();
        c.get("k").unwrap();
        c.close().unwrap();
    }
    eprintln!("1000 connect/get/close cycles in {:?}", t.elapsed());
    let own_after = settles(own_before.len(), || threads().0.len());
    assert_eq!(
        own_after,
        own_before.len(),
        "{own_before:?} -> {:?}",
        threads().0
    );
    let fds_after = settles(fds_before, fds);
    assert!(
        fds_after <= fds_before,
        "descriptors leaked: {fds_before} -> {fds_after}"
    );
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let (_, global) = threads();
    assert!(
        global <= 4 * cores + 8,
        "gRPC's shared pool grew to {global}"
    );
}
