//! Watch a prefix while another thread writes to it; then read the history
//! again from an old revision.
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway etcd.
//!
//!     cargo run --example watch

mod support;

use std::thread;
use std::time::Duration;

use etcd_blocking::{Client, DeleteOptions, Error, EventType, WatchOptions};

fn main() -> Result<(), Error> {
    let etcd = support::etcd();
    let client = Client::connect(&etcd.endpoints)?;
    client.delete_with("jobs/", DeleteOptions::new().prefix())?;

    // `watch_with` returns once etcd created the watch: nothing written
    // after this line is missed.
    let watcher = client.watch_with("jobs/", WatchOptions::new().prefix().prev_kv())?;
    let writer = {
        let client = client.clone();
        thread::spawn(move || -> Result<i64, Error> {
            let first = client.put("jobs/1", "queued")?.header().revision();
            client.put("jobs/1", "running")?;
            client.put("jobs/2", "queued")?;
            client.delete("jobs/1")?;
            Ok(first)
        })
    };
    let mut seen = 0;
    while seen < 4 {
        let Some(resp) = watcher.recv_timeout(Duration::from_secs(5))? else {
            println!("no events for 5 s");
            break;
        };
        for ev in resp.events() {
            seen += 1;
            let before = ev
                .prev_kv()
                .map(|kv| kv.value_str().unwrap_or("?").to_string());
            match ev.event_type() {
                EventType::Put => println!(
                    "rev {}: put {} = {} (was {before:?})",
                    ev.revision(),
                    ev.kv().key_str()?,
                    ev.kv().value_str()?
                ),
                EventType::Delete => {
                    println!(
                        "rev {}: delete {} (was {before:?})",
                        ev.revision(),
                        ev.kv().key_str()?
                    )
                }
            }
        }
    }
    let first = writer.join().expect("writer thread")?;
    watcher.cancel();

    // History replays from any revision that is not compacted yet.
    let replay = client.watch_with("jobs/", WatchOptions::new().prefix().start_revision(first))?;
    let resp = replay
        .recv_timeout(Duration::from_secs(5))?
        .expect("history");
    println!(
        "replayed from revision {first}: {} events in the first message",
        resp.events().len()
    );
    client.close()
}
