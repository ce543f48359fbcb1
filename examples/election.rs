//! Leader election for a service that fails over: three candidates
//! campaign with `concurrency::Election`, an observer follows every
//! leader with `observe`, the first leader steps down, the second
//! crashes (its session's lease stops being refreshed and runs out) and
//! the third takes over. The crashed leader, coming back, is refused
//! when it writes as leader: its writes are fenced with
//! `leader_compare`.
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway etcd.
//! It takes about as long as the session TTL (2 s) for the crash.
//!
//!     cargo run --example election

mod support;

use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use etcd_blocking::concurrency::Session;
use etcd_blocking::{Client, DeleteOptions, Error, GetOptions, Op, Txn};
use std::sync::mpsc::{self, Receiver, Sender};

const ELECTION: &str = "election-demo/scheduler";
/// What the leader of the service writes, guarded by its leadership.
const ACTIVE: &str = "election-demo/active";
/// How long a crashed leader's session outlives it.
const TTL: i64 = 2;

/// What the main thread tells the leader to do.
enum Order {
    /// Step down cleanly: the next candidate leads at once.
    Resign,
    /// Stop refreshing the session, as a process that died would.
    Crash,
    /// (After a crash) come back and try to carry on as leader.
    ComeBack,
}

/// One instance of the service: campaigns, leads, obeys one order.
fn candidate(client: Client, name: &'static str, orders: Receiver<Order>) -> Result<(), Error> {
    let session = Session::with_ttl(&client, TTL)?;
    let mut election = session.election(ELECTION);
    // Waits as long as it takes: until every earlier candidate is gone.
    election.campaign(name)?;
    println!("{name}: elected");
    // The leader's work, fenced: etcd applies it only while this
    // candidate's campaign key is still the leader's.
    let fenced = |value: &str| {
        client.txn(
            Txn::new()
                .when([election.leader_compare()])
                .and_then([Op::put(ACTIVE, value)]),
        )
    };
    fenced(name)?;
    match orders.recv() {
        Ok(Order::Resign) => {
            election.resign()?;
            println!("{name}: resigned");
            session.close()
        }
        Ok(Order::Crash) => {
            let lease = session.orphan();
            println!("{name}: crashed (lease {lease:x} no longer kept alive)");
            if let Ok(Order::ComeBack) = orders.recv() {
                let resp = fenced(&format!("{name} (stale)"))?;
                println!(
                    "{name}: came back and wrote as leader: {}",
                    if resp.succeeded() {
                        "applied"
                    } else {
                        "refused, no longer the leader"
                    }
                );
            }
            Ok(())
        }
        Ok(Order::ComeBack) | Err(_) => Ok(()),
    }
}

/// A candidate's thread with its name.
type Candidate = (&'static str, JoinHandle<Result<(), Error>>);

/// Waits for candidate `name` to finish what it was told.
fn finish(threads: &mut Vec<Candidate>, name: &str) -> Result<(), Error> {
    let at = threads.iter().position(|(n, _)| *n == name).unwrap();
    let (_, thread) = threads.remove(at);
    thread.join().expect("candidate panicked")
}

/// Waits until `n` candidates are in the election's line.
fn wait_for_candidates(client: &Client, n: i64) -> Result<(), Error> {
    let line = GetOptions::new().prefix().count_only();
    let until = Instant::now() + Duration::from_secs(10);
    while client
        .get_with(format!("{ELECTION}/"), line.clone())?
        .count()
        < n
    {
        if Instant::now() > until {
            return Err(Error::InvalidRequest(format!(
                "{n} candidates not in the line within 10 s"
            )));
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let etcd = support::etcd();
    let client = Client::connect(&etcd.endpoints)?;
    client.delete_with("election-demo/", DeleteOptions::new().prefix())?;

    // Anyone can observe, campaigning or not.
    let watch_session = Session::new(&client)?;
    let observer = watch_session.election(ELECTION).observe()?;

    let mut orders: Vec<(&str, Sender<Order>)> = Vec::new();
    let mut threads: Vec<Candidate> = Vec::new();
    for (i, name) in ["node-a", "node-b", "node-c"].into_iter().enumerate() {
        let (tx, rx) = mpsc::channel();
        let own = client.clone();
        threads.push((name, thread::spawn(move || candidate(own, name, rx))));
        orders.push((name, tx));
        // Candidates lead in the order they joined the line (one key each
        // under the election's prefix): start the next once this one is in.
        wait_for_candidates(&client, i as i64 + 1)?;
    }
    let order = |leader: &str, o: Order| {
        let (_, tx) = orders.iter().find(|(n, _)| *n == leader).unwrap();
        let _ = tx.send(o);
    };

    let mut crashed: Option<(String, Instant)> = None;
    for round in 0..3 {
        let Some(event) = observer.recv_timeout(Duration::from_secs(10))? else {
            return Err(Error::InvalidRequest("no leader within 10 s".into()));
        };
        let leader = event.kv().value_str()?.to_string();
        println!(
            "observer: leader is {leader} (campaigned at revision {})",
            event.leader_revision()
        );
        match round {
            0 => {
                order(&leader, Order::Resign);
                // Its "resigned" comes before anything the next leader
                // prints.
                finish(&mut threads, &leader)?;
            }
            1 => {
                order(&leader, Order::Crash);
                crashed = Some((leader, Instant::now()));
            }
            _ => {
                if let Some((old, at)) = crashed.take() {
                    println!(
                        "observer: {leader} took over {:.1} s after {old} crashed (session TTL {TTL} s)",
                        at.elapsed().as_secs_f64()
                    );
                    order(&old, Order::ComeBack);
                    // Its stale write is tried while the new leader still
                    // leads.
                    finish(&mut threads, &old)?;
                }
                order(&leader, Order::Resign);
            }
        }
    }
    for (_, t) in threads {
        t.join().expect("candidate panicked")?;
    }
    println!("{ACTIVE} = {}", client.get(ACTIVE)?.kvs()[0].value_str()?);

    drop(observer);
    watch_session.close()?;
    client.delete_with("election-demo/", DeleteOptions::new().prefix())?;
    client.close()?;
    println!("done");
    Ok(())
}
