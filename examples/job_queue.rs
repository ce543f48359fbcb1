//! A job queue with the recipes (`concurrency::recipes`): producers and
//! consumers in threads share a first-in, first-out `Queue`, each job
//! going to exactly one consumer; then a `PriorityQueue` hands out the
//! urgent job before the ones queued earlier. The key layouts are Go's
//! (`contrib/recipes`), so Go programs can produce or consume too.
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway etcd.
//! It uses and then deletes the keys under `jobs-demo/`.
//!
//!     cargo run --example job_queue

mod support;

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::concurrency::recipes::{PriorityQueue, Queue};
use etcd_blocking::{Client, DeleteOptions, Error, GetOptions};

const QUEUE: &str = "jobs-demo/queue";
const PRIORITY: &str = "jobs-demo/priority";
const PRODUCERS: usize = 2;
const CONSUMERS: usize = 3;
const JOBS_EACH: usize = 20;
/// Tells a consumer to stop; queued after every job, so it comes last.
const STOP: &[u8] = b"stop";

fn main() -> Result<(), Error> {
    let etcd = support::etcd();
    let client = Client::connect(&etcd.endpoints)?;
    client.delete_with("jobs-demo/", DeleteOptions::new().prefix())?;

    // A dequeue waits while the queue is empty, within the queue's
    // deadline (here 10 s rather than the client's 5 s).
    let queue = Queue::new(&client, QUEUE).with_timeout(Duration::from_secs(10));

    let producers: Vec<_> = (1..=PRODUCERS)
        .map(|p| {
            let queue = queue.clone();
            thread::spawn(move || -> Result<(), Error> {
                for j in 1..=JOBS_EACH {
                    queue.enqueue(format!("producer-{p} job {j:02}"))?;
                }
                Ok(())
            })
        })
        .collect();
    // Jobs are keys under the queue's prefix, named as Go's recipe names
    // them. Looked at before any consumer runs, so there is one to see.
    wait_for_a_job(&client)?;
    let first = client.get_with(QUEUE, GetOptions::new().prefix().limit(1).keys_only())?;
    println!("a queued job's key: {}", first.kvs()[0].key_str()?);

    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let queue = queue.clone();
            thread::spawn(move || -> Result<Vec<String>, Error> {
                let mut done = Vec::new();
                loop {
                    let job = queue.dequeue()?;
                    if job == STOP {
                        return Ok(done);
                    }
                    // The work itself would go here.
                    done.push(String::from_utf8_lossy(&job).into_owned());
                }
            })
        })
        .collect();
    for p in producers {
        p.join().expect("producer panicked")?;
    }
    println!(
        "{PRODUCERS} producers queued {} jobs",
        PRODUCERS * JOBS_EACH
    );
    for _ in 0..CONSUMERS {
        queue.enqueue(STOP)?;
    }

    // Every job was taken by exactly one consumer.
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    for (i, c) in consumers.into_iter().enumerate() {
        let jobs = c.join().expect("consumer panicked")?;
        println!("consumer {}: {} jobs", i + 1, jobs.len());
        for job in jobs {
            *taken.entry(job).or_default() += 1;
        }
    }
    let twice = taken.values().filter(|&&n| n > 1).count();
    println!(
        "{} distinct jobs done, {} done more than once",
        taken.len(),
        twice
    );
    println!(
        "left in the queue: {}",
        client
            .get_with(QUEUE, GetOptions::new().prefix().count_only())?
            .count()
    );

    // An empty queue: dequeue waits, then gives up at the deadline.
    match queue.with_timeout(Duration::from_millis(300)).dequeue() {
        Err(Error::DeadlineExceeded(d)) => {
            println!("empty queue: dequeue gave up after {d:?} (Error::DeadlineExceeded)")
        }
        other => println!("empty queue: unexpected {other:?}"),
    }

    // Priorities: lowest number first, and in order of arrival within one.
    let jobs = PriorityQueue::new(&client, PRIORITY);
    jobs.enqueue("nightly backup", 10)?;
    jobs.enqueue("resize photo 17", 5)?;
    jobs.enqueue("rebuild search index", 10)?;
    jobs.enqueue("page the on-call", 0)?;
    jobs.enqueue("resize photo 18", 5)?;
    let keys = client.get_with(PRIORITY, GetOptions::new().prefix().keys_only())?;
    println!(
        "priority queue keys: {}",
        keys.kvs()
            .iter()
            .map(|kv| kv.key_str().map(str::to_string))
            .collect::<Result<Vec<_>, _>>()?
            .join(" ")
    );
    let mut order = Vec::new();
    for _ in 0..5 {
        order.push(String::from_utf8_lossy(&jobs.dequeue()?).into_owned());
    }
    println!("priority order: {}", order.join(", "));

    client.delete_with("jobs-demo/", DeleteOptions::new().prefix())?;
    client.delete_with("__jobs-demo/", DeleteOptions::new().prefix())?;
    client.close()?;
    println!("done");
    Ok(())
}

/// Waits until the queue holds at least one job.
fn wait_for_a_job(client: &Client) -> Result<(), Error> {
    let count = GetOptions::new().prefix().count_only();
    let until = Instant::now() + Duration::from_secs(10);
    while client.get_with(QUEUE, count.clone())?.count() == 0 {
        if Instant::now() > until {
            return Err(Error::InvalidRequest("no job queued within 10 s".into()));
        }
        thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
