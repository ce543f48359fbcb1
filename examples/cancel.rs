//! Cancelling from another thread with a `CancelToken`: a call blocked on
//! the server (waiting for a lock someone else holds) and a watch, both
//! made through one cancellable handle, are stopped by the main thread,
//! the blocking counterpart of cancelling a Go `context.Context`.
//!
//! The lock call returns `Error::Canceled` (and the server withdraws its
//! place in the lock's queue); calls made later through the handle are
//! refused at once; the client and its other handles carry on.
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway etcd.
//!
//!     cargo run --example cancel

mod support;

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::{CancelToken, Client, DeleteOptions, Error, GetOptions};

const LOCK: &str = "cancel-demo/lock";
const JOBS: &str = "cancel-demo/jobs";

fn main() -> Result<(), Error> {
    let etcd = support::etcd();
    let client = Client::connect(&etcd.endpoints)?;
    client.delete_with("cancel-demo/", DeleteOptions::new().prefix())?;

    // Someone holds the lock, so a second locker waits on the server.
    let holder_lease = client.grant(30)?.id();
    let held = client.lock(LOCK, holder_lease)?;
    println!("holder has the lock");

    // One token, one handle: everything made through `stoppable` stops
    // when the token fires. The long deadline shows that it is the token,
    // not the deadline, that ends the calls.
    let token = CancelToken::new();
    let stoppable = client
        .with_cancel(&token)
        .with_timeout(Duration::from_secs(600));

    let locker_lease = client.grant(30)?.id();
    let locker = {
        let stoppable = stoppable.clone();
        thread::spawn(move || {
            let started = Instant::now();
            match stoppable.lock(LOCK, locker_lease) {
                Err(Error::Canceled) => println!(
                    "lock call: Error::Canceled after {} ms of waiting",
                    started.elapsed().as_millis()
                ),
                other => println!("lock call: unexpected {other:?}"),
            }
        })
    };

    let (seen, delivered) = mpsc::channel();
    let watching = {
        let watcher = stoppable.watch(JOBS)?;
        // A watcher from a cancellable handle ends with Error::Canceled
        // when its token fires: a blocking recv wakes with it.
        thread::spawn(move || loop {
            match watcher.recv() {
                Ok(resp) => {
                    for ev in resp.events() {
                        println!("watch: {} = {}", JOBS, ev.kv().value_str().unwrap_or("?"));
                    }
                    let _ = seen.send(());
                }
                Err(Error::Canceled) => {
                    println!("watch: ended by the cancel token (Error::Canceled)");
                    return;
                }
                Err(e) => {
                    println!("watch: unexpected end {e:?}");
                    return;
                }
            }
        })
    };

    // Cancel once both are under way: the locker waiting on the server
    // (its key queued behind the holder's) and the watch delivering.
    let in_line = GetOptions::new().prefix().count_only();
    let until = Instant::now() + Duration::from_secs(10);
    while client.get_with(LOCK, in_line.clone())?.count() < 2 && Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
    }
    println!(
        "main: the locker is waiting ({} keys under the lock)",
        client.get_with(LOCK, in_line.clone())?.count()
    );
    client.put(JOBS, "job-1")?;
    let _ = delivered.recv_timeout(Duration::from_secs(10));
    println!("main: cancelling");
    token.cancel();
    locker.join().expect("locker panicked");
    watching.join().expect("watcher panicked");

    // The token stays fired: the handle refuses new calls without sending.
    match stoppable.get(JOBS) {
        Err(Error::Canceled) => println!("later call through the handle: Error::Canceled"),
        other => println!("later call through the handle: unexpected {other:?}"),
    }
    // The client and its other handles are not affected.
    println!(
        "the client still works: {} = {}",
        JOBS,
        client.get(JOBS)?.kvs()[0].value_str()?
    );

    // The canceled locker's place in the queue is gone: only the holder's
    // key is left under the lock (the server removes it as the canceled
    // call ends, so look for a little while).
    let until = Instant::now() + Duration::from_secs(5);
    let mut keys = client.get_with(LOCK, in_line.clone())?.count();
    while keys > 1 && Instant::now() < until {
        thread::sleep(Duration::from_millis(50));
        keys = client.get_with(LOCK, in_line.clone())?.count();
    }
    println!("keys under the lock: {keys} (the holder's)");

    client.unlock(held.key())?;
    client.revoke(holder_lease)?;
    client.revoke(locker_lease)?;
    client.delete_with("cancel-demo/", DeleteOptions::new().prefix())?;
    client.close()?;
    println!("done");
    Ok(())
}
