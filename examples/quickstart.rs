//! Quick start: put, get and a transaction.
//!
//! Runs against `ETCD_ENDPOINTS` (comma-separated) when it is set; otherwise
//! it starts a throwaway single-member etcd on a free loopback port (the
//! `etcd` on PATH, or `ETCD_BIN`) and removes it afterwards.
//!
//!     cargo run --example quickstart

// The throwaway server comes from the test harness, so examples and tests
// start etcd the same way.
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use etcd_blocking::{Client, Compare, CompareOp, Error, EtcdError, GetOptions, Op, Txn};

fn main() -> Result<(), Error> {
    let _ = env_logger::try_init();
    let (_server, endpoints) = match std::env::var("ETCD_ENDPOINTS") {
        Ok(list) if !list.trim().is_empty() => {
            println!("using ETCD_ENDPOINTS={list}");
            (
                None,
                list.split(',').map(|s| s.trim().to_string()).collect(),
            )
        }
        _ => {
            let cluster = common::Cluster::single();
            let endpoints = cluster.endpoints();
            println!(
                "ETCD_ENDPOINTS is unset: started a throwaway etcd {:?} at {}",
                common::etcd_version(),
                endpoints.join(",")
            );
            (Some(cluster), endpoints)
        }
    };

    let client = Client::builder(&endpoints)
        .request_timeout(Duration::from_secs(2))
        .connect()?;

    // Plain put and get.
    client.put("quickstart/greeting", "hello")?;
    client.put("quickstart/subject", "world")?;
    let resp = client.get_with("quickstart/", GetOptions::new().prefix())?;
    for kv in resp.kvs() {
        println!("{} = {}", kv.key_str()?, kv.value_str()?);
    }

    // A transaction: change the greeting only if nobody else did.
    let txn = Txn::new()
        .when([Compare::value(
            "quickstart/greeting",
            CompareOp::Equal,
            "hello",
        )])
        .and_then([Op::put("quickstart/greeting", "hi")])
        .or_else([Op::get("quickstart/greeting")]);
    let r = client.txn(txn)?;
    println!(
        "txn succeeded: {} at revision {}",
        r.succeeded(),
        r.header().revision()
    );

    // Errors are typed: match them instead of parsing strings.
    match client.get_with(
        "quickstart/greeting",
        GetOptions::new().revision(i64::MAX / 2),
    ) {
        Err(Error::Etcd(EtcdError::FutureRevision)) => {
            println!("future revision refused, as expected")
        }
        other => println!("unexpected: {other:?}"),
    }
    let quick = client.with_timeout(Duration::from_millis(500));
    println!(
        "with a 500 ms deadline: {} keys",
        quick
            .get_with("quickstart/", GetOptions::new().prefix().count_only())?
            .count()
    );

    client.delete_with("quickstart/", etcd_blocking::DeleteOptions::new().prefix())?;
    client.close()?;
    println!("done");
    Ok(())
}
