//! A distributed lock shared by several workers, each write fenced: etcd
//! itself refuses a write from a worker that no longer holds the lock.
//!
//! A lease-based lock alone does not exclude a holder that stalls past its
//! lease's TTL: the lock passes to the next worker, and the stalled one,
//! when it resumes, still believes it holds it. Guarding the write with
//! the lock's "is owner" compare, in the same transaction, closes that
//! gap. The last part shows it: a holder whose lease is revoked behind its
//! back tries to write, and etcd refuses.
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway etcd.
//!
//!     cargo run --example lock

mod support;

use std::thread;
use std::time::Duration;

use etcd_blocking::concurrency::Session;
use etcd_blocking::{Client, Error, Op, Txn};

const LOCK: &str = "examples/lock/counter";
const COUNTER: &str = "examples/lock/counter-value";

/// Adds one to the counter while holding the lock, the write fenced.
fn increment(client: &Client, worker: usize) -> Result<(), Error> {
    let session = Session::with_ttl(client, 5)?;
    let mut lock = session.mutex(LOCK);
    for _ in 0..5 {
        lock.lock_within(Duration::from_secs(30))?;
        let n: u64 = match client.get(COUNTER)?.kvs().first() {
            Some(kv) => kv.value_str()?.parse().unwrap_or(0),
            None => 0,
        };
        // Written only if our lock key is still the one we created.
        let resp = client.txn(
            Txn::new()
                .when([lock.owner_compare()])
                .and_then([Op::put(COUNTER, (n + 1).to_string())]),
        )?;
        assert!(resp.succeeded(), "worker {worker} lost the lock");
        println!(
            "worker {worker}: {n} -> {} (fencing token {})",
            n + 1,
            lock.revision()
        );
        lock.unlock()?;
    }
    session.close()
}

fn main() -> Result<(), Error> {
    let etcd = support::etcd();
    let client = Client::connect(&etcd.endpoints)?;
    client.delete(COUNTER)?;

    let workers: Vec<_> = (0..3)
        .map(|i| {
            let client = client.clone();
            thread::spawn(move || increment(&client, i))
        })
        .collect();
    for w in workers {
        w.join().expect("worker panicked")?;
    }
    println!("counter: {}", client.get(COUNTER)?.kvs()[0].value_str()?);

    // A holder that loses its lease without noticing (here: revoked by
    // someone else; in life: a pause longer than the TTL).
    let session = Session::with_ttl(&client, 5)?;
    let mut lock = session.mutex(LOCK);
    lock.lock()?;
    client.revoke(session.lease())?;
    let resp = client.txn(
        Txn::new()
            .when([lock.owner_compare()])
            .and_then([Op::put(COUNTER, "stale write")]),
    )?;
    println!(
        "write after the lease was lost: {}",
        if resp.succeeded() {
            "applied (unsafe!)"
        } else {
            "refused by etcd"
        }
    );
    assert!(!resp.succeeded());
    drop(session);
    client.close()
}
