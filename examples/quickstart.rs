//! Quick start: put, get and a transaction.
//!
//! Runs against `ETCD_ENDPOINTS` (comma-separated) when it is set; otherwise
//! it starts a throwaway single-member etcd on a free loopback port (the
//! `etcd` on PATH, or `ETCD_BIN`) and removes it afterwards.
//!
//!     cargo run --example quickstart

mod support;

use std::time::Duration;

use etcd_blocking::{Client, Compare, CompareOp, Error, EtcdError, GetOptions, Op, Txn};

fn main() -> Result<(), Error> {
    let etcd = support::etcd();

    let client = Client::builder(&etcd.endpoints)
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
