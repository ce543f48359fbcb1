//! Reading a huge prefix page by page with `get_iter`: 20,000 keys of
//! 512 bytes (10 MiB) read 500 at a time, holding one page in memory,
//! every page at the revision of the first, so a writer changing the
//! prefix meanwhile does not show in the result; then a watch from the
//! revision after it picks up exactly those changes, so nothing falls
//! between the listing and the watch.
//!
//! It prints how much the process's peak memory grew while iterating,
//! and then while reading the same prefix with one `get`, for comparison
//! (Linux only; the figures vary from run to run).
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway etcd.
//! It writes and then deletes the keys under `iter-demo/`.
//!
//!     cargo run --example get_iter

mod support;

use std::time::{Duration, Instant};

use etcd_blocking::{Client, DeleteOptions, Error, GetOptions, Op, Txn, WatchOptions};

const PREFIX: &str = "iter-demo/";
const KEYS: usize = 20_000;
const VALUE_LEN: usize = 512;
const PAGE: usize = 500;
/// etcd refuses transactions of more than `--max-txn-ops` (128 by default).
const PER_TXN: usize = 128;

/// The process's peak resident memory so far, in KiB (`VmHWM`).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: Option<u64>, since: Option<u64>) -> String {
    match (kib, since) {
        (Some(now), Some(then)) => format!("{:.1} MiB", (now - then) as f64 / 1024.0),
        _ => "unknown (no /proc)".into(),
    }
}

fn main() -> Result<(), Error> {
    let etcd = support::etcd();
    let client = Client::builder(&etcd.endpoints)
        .request_timeout(Duration::from_secs(10))
        .connect()?;
    client.delete_with(PREFIX, DeleteOptions::new().prefix())?;

    // Fill the prefix, many keys per transaction.
    let started = Instant::now();
    let value = "x".repeat(VALUE_LEN);
    let keys: Vec<String> = (0..KEYS).map(|i| format!("{PREFIX}{i:05}")).collect();
    for chunk in keys.chunks(PER_TXN) {
        let puts = chunk.iter().map(|k| Op::put(k.as_str(), value.as_str()));
        client.txn(Txn::new().and_then(puts))?;
    }
    println!(
        "wrote {KEYS} keys of {VALUE_LEN} bytes in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Read them back in pages. After the first page, another writer adds a
    // key and changes one: the iteration reads at the first page's
    // revision and sees neither.
    let before = peak_rss_kib();
    let mut pages = client.get_iter(PREFIX, GetOptions::new().prefix(), PAGE)?;
    let (mut count, mut bytes, mut first_value_len) = (0usize, 0usize, 0usize);
    for kv in pages.by_ref() {
        let kv = kv?;
        if count == 0 {
            first_value_len = kv.value().len();
            client.put(format!("{PREFIX}99999-late"), "added while listing")?;
            client.put(format!("{PREFIX}00000"), "changed while listing")?;
        }
        count += 1;
        bytes += kv.key().len() + kv.value().len();
    }
    let revision = pages.revision().expect("the first page was read");
    println!(
        "get_iter: {count} keys, {:.1} MiB, in pages of {PAGE}, all at revision {revision}",
        bytes as f64 / (1024.0 * 1024.0)
    );
    println!(
        "the writes made while listing are not in it: {} keys listed, first value {} bytes long",
        count, first_value_len
    );
    println!(
        "peak memory grew by {} while iterating",
        mib(peak_rss_kib(), before)
    );

    // The same prefix in one read holds all of it at once.
    let before = peak_rss_kib();
    let all = client.get_with(PREFIX, GetOptions::new().prefix())?;
    println!(
        "one get: {} keys at revision {}; peak memory grew by {}",
        all.count(),
        all.header().revision(),
        mib(peak_rss_kib(), before)
    );
    drop(all);

    // Watching from the revision after the listing delivers exactly what
    // changed since: the listing plus this watch miss nothing.
    let watcher = client.watch_with(
        PREFIX,
        WatchOptions::new().prefix().start_revision(revision + 1),
    )?;
    let mut changes = Vec::new();
    while changes.len() < 2 {
        let Some(resp) = watcher.recv_timeout(Duration::from_secs(5))? else {
            break;
        };
        for ev in resp.events() {
            changes.push(format!("{:?} {}", ev.event_type(), ev.kv().key_str()?));
        }
    }
    println!(
        "watch from revision {}: {}",
        revision + 1,
        changes.join(", ")
    );
    drop(watcher);

    let deleted = client.delete_with(PREFIX, DeleteOptions::new().prefix())?;
    println!("deleted {} keys", deleted.deleted());
    client.close()?;
    println!("done");
    Ok(())
}
