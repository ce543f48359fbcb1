//! The legacy v2 API (`--features v2`): keys with TTLs and conditions, a
//! queue made with create-in-order, a watcher that misses nothing, and the
//! typed v2 errors.
//!
//! Runs against `ETCD_ENDPOINTS` (servers started with `--enable-v2`) when
//! it is set, else a throwaway etcd with v2 on.
//!
//!     cargo run --features v2 --example v2

mod support;

use std::thread;
use std::time::Duration;

use etcd_blocking::v2::{
    self, ErrorKind, SetOptions, V2DeleteOptions, V2Error, V2GetOptions, WatcherOptions,
};
use etcd_blocking::Error;

fn main() -> Result<(), Error> {
    let etcd = support::etcd_v2();
    let client = v2::Client::builder(&etcd.endpoints)
        .request_timeout(Duration::from_secs(5))
        .connect()?;
    println!("server {:?}", client.version()?);
    let keys = client.keys_with_prefix("/example");
    match keys.delete_with("/", V2DeleteOptions::new().recursive().dir()) {
        Ok(_)
        | Err(Error::V2(V2Error {
            kind: ErrorKind::KeyNotFound,
            ..
        })) => {}
        Err(e) => return Err(e),
    }

    // A key with a TTL, and a compare-and-swap on it.
    keys.set_with(
        "/leader",
        "me",
        SetOptions::new().ttl(Duration::from_secs(30)),
    )?;
    // A v2 set replaces the node: without a TTL the key would lose it.
    let swapped = keys.set_with(
        "/leader",
        "you",
        SetOptions::new()
            .prev_value("me")
            .ttl(Duration::from_secs(30)),
    )?;
    println!(
        "{:?}: {} = {} (ttl {} s, was {:?})",
        swapped.action,
        swapped.node.key,
        swapped.node.value_str(),
        swapped.node.ttl,
        swapped.prev_node.map(|n| n.value)
    );
    match keys.create("/leader", "someone else") {
        Err(Error::V2(e)) if e.kind == ErrorKind::NodeExist => {
            println!("create refused: {e}")
        }
        other => println!("unexpected: {other:?}"),
    }

    // A watcher from the current index on, and a writer filling a queue.
    let now = keys.get("/leader")?.index;
    let mut watcher = keys.watcher("/jobs", WatcherOptions::new().recursive().after_index(now));
    let writer = {
        let keys = keys.clone();
        thread::spawn(move || -> Result<(), Error> {
            for job in ["build", "test", "ship"] {
                keys.create_in_order("/jobs", job)?;
            }
            Ok(())
        })
    };
    for _ in 0..3 {
        match watcher.next_event_timeout(Duration::from_secs(5))? {
            Some(ev) => println!(
                "event {:?} {} = {} at {}",
                ev.action,
                ev.node.key,
                ev.node.value_str(),
                ev.node.modified_index
            ),
            None => println!("no event for 5 s"),
        }
    }
    writer.join().expect("writer panicked")?;

    let queue = keys.get_with("/jobs", V2GetOptions::new().sorted())?;
    let jobs: Vec<&str> = queue.node.nodes.iter().map(|n| n.value_str()).collect();
    println!("queue in order: {jobs:?}");
    client.close();
    Ok(())
}
