//! A key that lives only while this program keeps its lease alive.
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway etcd.
//!
//!     cargo run --example lease

mod support;

use std::thread;
use std::time::Duration;

use etcd_blocking::{Client, Error, LeaseState, PutOptions};

fn main() -> Result<(), Error> {
    let etcd = support::etcd();
    let client = Client::connect(&etcd.endpoints)?;

    let lease = client.grant(2)?;
    client.put_with(
        "services/me",
        "10.0.0.7:8080",
        PutOptions::new().lease(lease.id()),
    )?;
    println!("lease {:x} granted for {} s", lease.id(), lease.ttl());

    // Refreshed in the background at a third of the TTL, for as long as
    // the handle lives.
    let keepalive = client.keep_alive(lease.id())?;
    thread::sleep(Duration::from_secs(5));
    match keepalive.state() {
        LeaseState::Alive { ttl } => println!("after 5 s: alive, TTL {ttl} s"),
        LeaseState::Lost(e) => println!("after 5 s: lost: {e}"),
    }
    println!(
        "key still there: {}",
        client.get("services/me")?.count() == 1
    );

    // Dropping the handle stops refreshing; the lease then runs out.
    drop(keepalive);
    thread::sleep(Duration::from_secs(4));
    println!(
        "after letting go: key there: {}",
        client.get("services/me")?.count() == 1
    );
    client.close()
}
