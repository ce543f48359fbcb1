//! Namespaces: two programs share one cluster, each in a key space of its
//! own, with the same key names and no way to see or touch the other's
//! keys.
//!
//! Each "program" is a client of its own (as two processes would have)
//! with a `with_namespace` handle: `billing` lives under `ns-demo/billing/`,
//! `shipping` under `ns-demo/shipping/`. Both write `config/db`; each
//! lists "every key" and sees only its own, watches only its own, deletes
//! only its own. A client without a namespace shows the raw keys.
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway etcd.
//!
//!     cargo run --example namespaces

mod support;

use std::time::Duration;

use etcd_blocking::{Client, DeleteOptions, Error, GetOptions, WatchOptions};

const ROOT: &str = "ns-demo/";

/// One program: its own connection, all its calls under `prefix`.
fn program(endpoints: &[String], prefix: &str) -> Result<Client, Error> {
    Ok(Client::connect(endpoints)?.with_namespace(prefix))
}

fn list(name: &str, client: &Client) -> Result<(), Error> {
    // An empty key with `prefix()` is every key, and in a namespace
    // every key of the namespace.
    let resp = client.get_with("", GetOptions::new().prefix())?;
    let keys: Vec<String> = resp
        .kvs()
        .iter()
        .map(|kv| Ok(format!("{}={}", kv.key_str()?, kv.value_str()?)))
        .collect::<Result<_, Error>>()?;
    println!("{name} sees: {}", keys.join(" "));
    Ok(())
}

fn main() -> Result<(), Error> {
    let etcd = support::etcd();
    let raw = Client::connect(&etcd.endpoints)?;
    raw.delete_with(ROOT, DeleteOptions::new().prefix())?;

    let billing = program(&etcd.endpoints, "ns-demo/billing/")?;
    let shipping = program(&etcd.endpoints, "ns-demo/shipping/")?;

    // Billing watches its own config from the start.
    let watcher = billing.watch_with("config/", WatchOptions::new().prefix())?;

    billing.put("config/db", "postgres://billing")?;
    billing.put("config/rate", "0.2")?;
    shipping.put("config/db", "postgres://shipping")?;
    shipping.put("carriers/dhl", "on")?;

    // The same key name, two values: each program reads its own.
    println!(
        "billing reads config/db = {}",
        billing.get("config/db")?.kvs()[0].value_str()?
    );
    println!(
        "shipping reads config/db = {}",
        shipping.get("config/db")?.kvs()[0].value_str()?
    );
    list("billing", &billing)?;
    list("shipping", &shipping)?;
    println!(
        "billing reads carriers/dhl: {} keys",
        billing.get("carriers/dhl")?.count()
    );

    // What is really stored: the namespace is part of every key.
    for kv in raw.get_with(ROOT, GetOptions::new().prefix())?.kvs() {
        println!("raw key {} = {}", kv.key_str()?, kv.value_str()?);
    }

    // Billing's watch got its own two writes (keys without the prefix) and
    // nothing of shipping's.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match watcher.recv_timeout(Duration::from_secs(5))? {
            Some(resp) => {
                for ev in resp.events() {
                    seen.push(ev.kv().key_str()?.to_string());
                }
            }
            None => break,
        }
    }
    shipping.put("config/db", "postgres://shipping-2")?;
    if let Some(resp) = watcher.recv_timeout(Duration::from_millis(300))? {
        for ev in resp.events() {
            seen.push(ev.kv().key_str()?.to_string());
        }
    }
    println!("billing's watch saw: {}", seen.join(" "));

    // Deleting "everything" deletes everything of one namespace only.
    let deleted = shipping.delete_with("", DeleteOptions::new().prefix())?;
    println!("shipping deleted all its keys: {}", deleted.deleted());
    list("billing", &billing)?;
    println!(
        "raw keys left: {}",
        raw.get_with(ROOT, GetOptions::new().prefix().count_only())?
            .count()
    );

    // Namespaces nest: a part of billing gets a namespace of its own.
    let invoices = billing.with_namespace("invoices/");
    invoices.put("2024-001", "paid")?;
    println!(
        "nested: invoices/2024-001 is stored as {}",
        raw.get_with("ns-demo/billing/invoices/", GetOptions::new().prefix())?
            .kvs()[0]
            .key_str()?
    );

    raw.delete_with(ROOT, DeleteOptions::new().prefix())?;
    drop(watcher);
    billing.close()?;
    shipping.close()?;
    raw.close()?;
    println!("done");
    Ok(())
}
