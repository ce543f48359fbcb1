//! An operator's round: the status of every member, defragmenting the
//! members one at a time (followers first, the leader last, each checked
//! healthy before the next), and a snapshot saved with progress.
//!
//! The client is given any endpoint of the cluster and learns the others
//! from the member list (`sync_endpoints`); `with_endpoint` aims a call at
//! one member, as `etcdctl --endpoints=<one>` does. To give the
//! defragmentation something to give back, it first writes and deletes
//! 4 MiB under `operator-demo/` and compacts the history; the snapshot
//! holds 2 MiB more, deleted at the end.
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway
//! three-member etcd. It compacts the cluster's history up to now, so
//! run it against a cluster whose old revisions nobody needs.
//!
//!     cargo run --example operator

mod support;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Duration;

use etcd_blocking::{Client, CompactOptions, DeleteOptions, Error, Op, StatusResponse, Txn};

fn mib(bytes: i64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The members as (name, client URL), learners and unstarted ones left out.
fn members(client: &Client) -> Result<Vec<(String, String)>, Error> {
    Ok(client
        .member_list()?
        .members()
        .iter()
        .filter(|m| !m.is_learner() && m.is_started())
        .filter_map(|m| Some((m.name().to_string(), m.client_urls().first()?.clone())))
        .collect())
}

fn status_line(name: &str, url: &str, s: &StatusResponse) -> String {
    format!(
        "{name} {url}: {}, version {}, db {} ({} in use), raft term {} index {}{}",
        if s.is_leader() { "leader" } else { "follower" },
        s.version(),
        mib(s.db_size()),
        mib(s.db_size_in_use()),
        s.raft_term(),
        s.raft_index(),
        if s.errors().is_empty() {
            String::new()
        } else {
            format!(", errors: {}", s.errors().join("; "))
        }
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let etcd = support::etcd_members(3);
    let client = Client::builder(&etcd.endpoints)
        .request_timeout(Duration::from_secs(10))
        .connect()?;
    let endpoints = client.sync_endpoints()?;
    println!("cluster members' client URLs: {}", endpoints.join(","));

    // 1. Status of every member, asked of that member.
    let members = members(&client)?;
    let mut statuses = Vec::new();
    for (name, url) in &members {
        let s = client.with_endpoint(url)?.status()?;
        println!("status {}", status_line(name, url, &s));
        statuses.push(s);
    }

    // Data to back up (2 MiB, kept until the end), and garbage to
    // reclaim (4 MiB, written, deleted and compacted away).
    let value = "x".repeat(4096);
    for (what, batches) in [("keep", 8), ("garbage", 16)] {
        for batch in 0..batches {
            let puts = (0..64).map(|i| {
                Op::put(
                    format!("operator-demo/{what}/{batch:02}-{i:02}"),
                    value.as_str(),
                )
            });
            client.txn(Txn::new().and_then(puts))?;
        }
    }
    let deleted = client.delete_with("operator-demo/garbage/", DeleteOptions::new().prefix())?;
    let rev = deleted.header().revision();
    client.compact_with(rev, CompactOptions::new().physical())?;
    println!(
        "wrote 512 keys of 4 KiB to keep and 1024 to delete, deleted them, compacted up to revision {rev}"
    );

    // 2. Defragment one member at a time: a member defragmenting does not
    // answer, so never all at once; the leader last, to move leadership
    // as little as possible. Each must answer its status before the next.
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by_key(|&i| statuses[i].is_leader());
    for i in order {
        let (name, url) = &members[i];
        let member = client
            .with_endpoint(url)?
            .with_timeout(Duration::from_secs(60));
        let before = member.status()?;
        member.defragment()?;
        let after = member.status()?;
        println!(
            "defragmented {name}{}: db {} -> {}, healthy again",
            if after.is_leader() { " (leader)" } else { "" },
            mib(before.db_size()),
            mib(after.db_size()),
        );
    }

    // 3. A snapshot, with progress. `snapshot_save(path)` does the same
    // without a progress callback: stream to a temporary file, check
    // etcd's checksum, sync, rename into place.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("etcd-backup.db");
    let part = dir.path().join("etcd-backup.db.part");
    let file = File::create(&part)?;
    let mut out = BufWriter::new(&file);
    let (mut messages, mut next) = (0u64, 0u64);
    let info =
        client
            .with_timeout(Duration::from_secs(600))
            .snapshot_to(&mut out, |got, left| {
                messages += 1;
                // A line per tenth, not per message.
                let pct = got * 100 / (got + left).max(1);
                if pct >= next {
                    next = pct / 10 * 10 + 10;
                    eprintln!("snapshot: {pct}% ({got} bytes received, {left} to go)");
                }
            })?;
    out.flush()?;
    drop(out);
    file.sync_all()?;
    std::fs::rename(&part, &path)?;
    let sha: String = info.sha256().iter().map(|b| format!("{b:02x}")).collect();
    println!(
        "snapshot saved: {} bytes in {messages} messages ({} of database), sha256 {sha}, checksum verified",
        info.size(),
        info.db_size()
    );
    println!("file on disk: {} bytes", std::fs::metadata(&path)?.len());

    client.delete_with("operator-demo/", DeleteOptions::new().prefix())?;
    client.close()?;
    println!("done");
    Ok(())
}
