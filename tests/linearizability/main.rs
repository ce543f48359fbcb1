//! Linearizability under faults, checked the way etcd's robustness tests
//! and Jepsen check it. Concurrent clients do get / put / delete /
//! compare-and-set (a transaction comparing the value) on a few keys of a
//! three-member cluster, each through its own TCP proxy, while a nemesis
//! kills and restarts, freezes (SIGSTOP) and blackholes members and moves
//! the leader, one fault at a time. Every operation's invocation,
//! completion and outcome is recorded: ok, failed (`Err` that says the
//! write was not applied: dropped from the history) or unknown
//! ([`Error::is_outcome_unknown`]: may have taken effect, at any time after
//! its invocation). `checker.rs` then checks each key's history.
//!
//! On the same run, watchers on the key prefix (through the proxies, so
//! they live through the faults too) are checked against etcd's own record
//! of the run (a watch from the first revision, opened afterwards on the
//! healthy cluster): events in revision order, none repeated, every
//! revision's events in one response, every event of the record seen (so
//! every acknowledged write). Acknowledged writes must also be in the
//! record at the revision their response named, and writes that failed
//! with an error saying "not applied" must be absent from it.
//!
//! Knobs (environment): `LIN_DURATION_SECS` (default 15, 300 with
//! `LIN_SOAK=1`), `LIN_CLIENTS` (4), `LIN_KEYS` (3), `LIN_WATCHERS` (2),
//! `LIN_MAX_OPS` (bound on operations, 1 000 000), `LIN_FAULT_EVERY_MS`
//! (pause between faults, 1000), `LIN_FAULT_HOLD_MS` (how long a fault
//! lasts, 1000), `LIN_TIMEOUT_MS` (client deadline, 1500), `LIN_SEED`.
//! The test prints one summary line (`linearizability: …`).

mod checker;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use checker::{Kind, ABSENT};
use etcd_blocking::{Client, Compare, CompareOp, Error, EventType, Op as TxnOp, Txn, WatchOptions};
use etcd_harness::proxy::Proxy;
use etcd_harness::Cluster;

const PREFIX: &str = "lin/";
/// Search steps the checker may take per key before giving up (a failure).
const CHECK_BUDGET: u64 = 50_000_000;

struct Config {
    duration: Duration,
    clients: usize,
    keys: usize,
    watchers: usize,
    max_ops: usize,
    fault_every: Duration,
    fault_hold: Duration,
    timeout: Duration,
    seed: u64,
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a valid value")),
        _ => default,
    }
}

impl Config {
    fn from_env() -> Config {
        let soak = env("LIN_SOAK", 0u32) != 0;
        let ms = |name, default| Duration::from_millis(env(name, default));
        Config {
            duration: Duration::from_secs(env("LIN_DURATION_SECS", if soak { 300 } else { 15 })),
            clients: env("LIN_CLIENTS", 4),
            keys: env("LIN_KEYS", 3),
            watchers: env("LIN_WATCHERS", 2),
            max_ops: env("LIN_MAX_OPS", 1_000_000),
            fault_every: ms("LIN_FAULT_EVERY_MS", 1000),
            fault_hold: ms("LIN_FAULT_HOLD_MS", 1000),
            timeout: ms("LIN_TIMEOUT_MS", 1500),
            seed: env("LIN_SEED", 0x5eed),
        }
    }
}

/// A tiny deterministic generator (no dependency).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Ok,
    Failed,
    Unknown,
}

/// One operation as a client saw it.
#[derive(Clone, Debug)]
struct Record {
    key: usize,
    /// For the checker; `ret` is `None` for an unknown outcome.
    op: checker::Op,
    outcome: Outcome,
    /// The revision an acknowledged write (put, swapped CAS, delete that
    /// deleted) was applied at.
    revision: Option<i64>,
    /// The error, for the summary of error kinds.
    error: Option<String>,
}

fn key_name(k: usize) -> String {
    format!("{PREFIX}k{k}")
}

/// A short label for an error kind: the variant, and etcd's own kind.
fn error_kind(e: &Error) -> String {
    match e {
        Error::Etcd(k) => format!("Etcd({k:?})"),
        Error::Grpc { code, .. } => format!("Grpc({code:?})"),
        other => format!("{other:?}")
            .split(['(', ' ', '{'])
            .next()
            .unwrap_or("?")
            .to_string(),
    }
}

fn parse_value(v: &[u8]) -> u64 {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a value this test did not write: {v:?}"))
}

fn fault_client(eps: &[String], timeout: Duration) -> Client {
    // Pings every second (the cluster accepts that) so a blackholed or
    // frozen member's connections are given up quickly.
    Client::builder(eps)
        .request_timeout(timeout)
        .keepalive_time(Duration::from_secs(1))
        .keepalive_timeout(Duration::from_secs(1))
        .server_keepalive_min_time(Duration::from_secs(1))
        .connect()
        .expect("connect")
}

/// One client's loop: random operations on random keys until `stop`.
fn run_client(
    id: usize,
    cfg: &Config,
    eps: &[String],
    clock: &Clock,
    values: &AtomicU64,
    budget: &AtomicUsize,
    stop: &AtomicBool,
) -> Vec<Record> {
    let c = fault_client(eps, cfg.timeout);
    let mut rng = Rng(cfg.seed ^ (id as u64 + 1).wrapping_mul(0x1234_5678_9abc_def1));
    let mut last_seen = vec![ABSENT; cfg.keys];
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) && budget.fetch_add(1, Ordering::Relaxed) < cfg.max_ops {
        let key = rng.below(cfg.keys as u64) as usize;
        let name = key_name(key);
        let dice = rng.below(100);
        let call = clock.now();
        let (kind, result): (Kind, Result<(Kind, Option<i64>), Error>) = if dice < 40 {
            let kind = Kind::Read { saw: ABSENT };
            let r = c.get(name.as_str()).map(|r| {
                let saw = r.first().map_or(ABSENT, |kv| parse_value(kv.value()));
                last_seen[key] = saw;
                (Kind::Read { saw }, None)
            });
            (kind, r)
        } else if dice < 70 {
            let value = values.fetch_add(1, Ordering::Relaxed);
            let kind = Kind::Write { value };
            let r = c
                .put(name.as_str(), value.to_string())
                .map(|r| (kind, Some(r.header().revision())));
            (kind, r)
        } else if dice < 95 {
            let expect = last_seen[key];
            let new = values.fetch_add(1, Ordering::Relaxed);
            // etcd fails a value comparison on a missing key, so "absent"
            // is compared as version 0.
            let cmp = if expect == ABSENT {
                Compare::version(name.as_str(), CompareOp::Equal, 0)
            } else {
                Compare::value(name.as_str(), CompareOp::Equal, expect.to_string())
            };
            let txn = Txn::new()
                .when([cmp])
                .and_then([TxnOp::put(name.as_str(), new.to_string())]);
            let kind = Kind::Cas {
                expect,
                new,
                swapped: None,
            };
            let r = c.txn(txn).map(|r| {
                let swapped = r.succeeded();
                let kind = Kind::Cas {
                    expect,
                    new,
                    swapped: Some(swapped),
                };
                (kind, swapped.then(|| r.header().revision()))
            });
            (kind, r)
        } else {
            let kind = Kind::Write { value: ABSENT };
            let r = c
                .delete(name.as_str())
                .map(|r| (kind, (r.deleted() > 0).then(|| r.header().revision())));
            (kind, r)
        };
        let ret = clock.now();
        let rec = match result {
            Ok((kind, revision)) => Record {
                key,
                op: checker::Op {
                    client: id,
                    call,
                    ret: Some(ret),
                    kind,
                },
                outcome: Outcome::Ok,
                revision,
                error: None,
            },
            Err(e) => Record {
                key,
                op: checker::Op {
                    client: id,
                    call,
                    ret: None,
                    kind,
                },
                outcome: if e.is_outcome_unknown() {
                    Outcome::Unknown
                } else {
                    Outcome::Failed
                },
                revision: None,
                error: Some(error_kind(&e)),
            },
        };
        out.push(rec);
    }
    c.close().ok();
    out
}

/// Nanoseconds since the start of the run, shared by every thread.
struct Clock(Instant);
impl Clock {
    fn now(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// One event as a watcher saw it: (revision, key, value or ABSENT).
type Event = (i64, String, u64);

/// What one watcher received: the events of each non-empty response, and
/// when and from which member (for reports).
struct WatchLog {
    responses: Vec<Vec<Event>>,
    meta: Vec<(u64, u64, i64)>,
    error: Option<String>,
}

fn events_of(resp: &etcd_blocking::WatchResponse) -> Vec<Event> {
    resp.events()
        .iter()
        .map(|ev| {
            let value = match ev.event_type() {
                EventType::Put => parse_value(ev.kv().value()),
                EventType::Delete => ABSENT,
            };
            (ev.revision(), ev.kv().key_str().unwrap().to_string(), value)
        })
        .collect()
}

/// Collects a watch on the prefix from `from` until it has seen revision
/// `*until` (once that is set) or `give_up` passes after it was set.
fn collect_watch(c: &Client, from: i64, until: &Mutex<Option<i64>>, clock: &Clock) -> WatchLog {
    let mut log = WatchLog {
        responses: Vec::new(),
        meta: Vec::new(),
        error: None,
    };
    let w = match c.watch_with(PREFIX, WatchOptions::new().prefix().start_revision(from)) {
        Ok(w) => w,
        Err(e) => {
            log.error = Some(format!("cannot watch: {e}"));
            return log;
        }
    };
    let mut last = from - 1;
    let mut target_seen_at: Option<Instant> = None;
    loop {
        if let Some(target) = *until.lock().unwrap() {
            if last >= target {
                return log;
            }
            let t = *target_seen_at.get_or_insert_with(Instant::now);
            if t.elapsed() > Duration::from_secs(30) {
                log.error = Some(format!(
                    "did not catch up: last revision seen {last}, wanted {target}"
                ));
                return log;
            }
        }
        match w.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(resp)) => {
                let events = events_of(&resp);
                if let Some(e) = events.last() {
                    last = last.max(e.0);
                    log.responses.push(events);
                    let h = resp.header();
                    log.meta.push((clock.now(), h.member_id(), h.revision()));
                }
            }
            Ok(None) => {}
            Err(e) => {
                log.error = Some(format!("watch ended: {e}"));
                return log;
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Fault {
    Kill,
    Freeze,
    Blackhole,
    MoveLeader,
}

/// Injects one fault at a time, healing each before the next, until
/// `stop`. Returns the faults injected by kind, and failed leader moves.
fn nemesis(
    cfg: &Config,
    cluster: &Cluster,
    proxies: &[Proxy],
    stop: &AtomicBool,
    clock: &Clock,
    timeline: &Mutex<Vec<String>>,
) -> (BTreeMap<Fault, usize>, Vec<String>) {
    let admin = Client::builder(cluster.endpoints())
        .request_timeout(Duration::from_secs(3))
        .connect()
        .expect("connect admin");
    let ids: Vec<u64> = (0..3)
        .map(|i| cluster.member_id(i).expect("member id"))
        .collect();
    timeline
        .lock()
        .unwrap()
        .push(format!("member ids {ids:x?}"));
    let note = |what: String| {
        let line = format!("{:.3}s {what}", clock.now() as f64 / 1e9);
        timeline.lock().unwrap().push(line);
    };
    let mut rng = Rng(cfg.seed ^ 0xfa17);
    let mut done = BTreeMap::new();
    let mut problems = Vec::new();
    let kinds = [
        Fault::Kill,
        Fault::Freeze,
        Fault::Blackhole,
        Fault::MoveLeader,
    ];
    let sleep = |d: Duration| {
        let end = Instant::now() + d;
        while Instant::now() < end && !stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(20));
        }
    };
    for n in 0.. {
        sleep(cfg.fault_every);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // Every kind in turn, so even a short run has each; the target is
        // the leader half of the time (that is where writes are in flight).
        let fault = kinds[n % kinds.len()];
        let leader = cluster.wait_leader(Duration::from_secs(20));
        let target = if rng.below(2) == 0 {
            leader
        } else {
            rng.below(3) as usize
        };
        note(format!("{fault:?} m{target} (leader m{leader})"));
        match fault {
            Fault::Kill => {
                cluster.kill(target);
                sleep(cfg.fault_hold);
                cluster.restart(target);
            }
            Fault::Freeze => {
                cluster.stop(target);
                sleep(cfg.fault_hold);
                cluster.cont(target);
            }
            Fault::Blackhole => {
                proxies[target].blackhole(true);
                sleep(cfg.fault_hold);
                proxies[target].blackhole(false);
            }
            Fault::MoveLeader => {
                let to = (leader + 1 + rng.below(2) as usize) % 3;
                note(format!("moving the leader to m{to}"));
                if let Err(e) = admin.move_leader(ids[to]) {
                    problems.push(format!("move_leader: {e}"));
                    continue;
                }
            }
        }
        note(format!("{fault:?} m{target} healed"));
        *done.entry(fault).or_insert(0) += 1;
    }
    admin.close().ok();
    (done, problems)
}

#[test]
fn linearizable_under_faults() {
    let cfg = Config::from_env();
    let cluster = etcd_harness::fast_keepalive_cluster();
    let proxies: Vec<Proxy> = (0..3).map(|i| Proxy::start(&cluster.endpoint(i))).collect();
    let eps: Vec<String> = proxies.iter().map(|p| p.addr().to_string()).collect();
    let admin = Client::builder(cluster.endpoints())
        .request_timeout(Duration::from_secs(5))
        .connect()
        .unwrap();
    let start_rev = admin
        .get_with(PREFIX, etcd_blocking::GetOptions::new().prefix())
        .unwrap()
        .header()
        .revision();

    let clock = Clock(Instant::now());
    let stop = AtomicBool::new(false);
    let values = AtomicU64::new(1);
    let budget = AtomicUsize::new(0);
    let watch_until: Mutex<Option<i64>> = Mutex::new(None);
    let timeline: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let (records, (faults, fault_problems), watch_logs) = thread::scope(|s| {
        let watchers: Vec<_> = (0..cfg.watchers)
            .map(|_| {
                let c = fault_client(&eps, cfg.timeout);
                let (until, clock) = (&watch_until, &clock);
                s.spawn(move || {
                    let log = collect_watch(&c, start_rev + 1, until, clock);
                    c.close().ok();
                    log
                })
            })
            .collect();
        let clients: Vec<_> = (0..cfg.clients)
            .map(|id| {
                let (cfg, eps, clock, values, budget, stop) =
                    (&cfg, &eps, &clock, &values, &budget, &stop);
                s.spawn(move || run_client(id, cfg, eps, clock, values, budget, stop))
            })
            .collect();
        let nem = {
            let (cfg, cluster, proxies, stop, clock, timeline) =
                (&cfg, &cluster, &proxies, &stop, &clock, &timeline);
            s.spawn(move || nemesis(cfg, cluster, proxies, stop, clock, timeline))
        };
        let end = Instant::now() + cfg.duration;
        while Instant::now() < end && budget.load(Ordering::Relaxed) < cfg.max_ops {
            thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::SeqCst);
        let faults = nem.join().expect("nemesis panicked");
        let records: Vec<Record> = clients
            .into_iter()
            .flat_map(|c| c.join().expect("client panicked"))
            .collect();
        // Healthy again: one last read of every key, and the revision the
        // watchers must reach.
        cluster.wait_all_running_healthy();
        let mut records = records;
        for key in 0..cfg.keys {
            let call = clock.now();
            let r = admin.get(key_name(key)).expect("final read");
            let saw = r.first().map_or(ABSENT, |kv| parse_value(kv.value()));
            records.push(Record {
                key,
                op: checker::Op {
                    client: usize::MAX,
                    call,
                    ret: Some(clock.now()),
                    kind: Kind::Read { saw },
                },
                outcome: Outcome::Ok,
                revision: None,
                error: None,
            });
        }
        let final_rev = admin
            .get_with(PREFIX, etcd_blocking::GetOptions::new().prefix())
            .unwrap()
            .header()
            .revision();
        *watch_until.lock().unwrap() = Some(final_rev);
        let logs: Vec<WatchLog> = watchers
            .into_iter()
            .map(|w| w.join().expect("watcher panicked"))
            .collect();
        (records, faults, logs)
    });

    // etcd's record of the run: a watch from the first revision on the
    // healthy cluster.
    let final_rev = watch_until.lock().unwrap().unwrap();
    let record = collect_watch(&admin, start_rev + 1, &watch_until, &clock);
    assert!(record.error.is_none(), "{:?}", record.error);
    let truth: Vec<Event> = record.responses.concat();

    let mut violations: Vec<String> = Vec::new();

    // 1. Linearizability, key by key.
    let mut checked = checker::Stats::default();
    for key in 0..cfg.keys {
        let ops: Vec<checker::Op> = records
            .iter()
            .filter(|r| r.key == key && r.outcome != Outcome::Failed)
            .map(|r| r.op.clone())
            .collect();
        match checker::check(&ops, ABSENT, CHECK_BUDGET) {
            Ok(s) => {
                checked.ops += s.ops;
                checked.unknown_observed += s.unknown_observed;
                checked.unknown_free += s.unknown_free;
                checked.steps += s.steps;
            }
            Err(e) => violations.push(format!("{}: {e}", key_name(key))),
        }
    }

    // 2. Writes against etcd's record: acknowledged ones are there at the
    // revision their response named; refused ones are not there at all.
    let by_rev: HashMap<(i64, &str), u64> = truth
        .iter()
        .map(|(rev, k, v)| ((*rev, k.as_str()), *v))
        .collect();
    let written: HashSet<u64> = truth.iter().map(|e| e.2).collect();
    let mut unknown_applied = 0;
    for r in &records {
        let value = match r.op.kind {
            Kind::Write { value } => value,
            Kind::Cas { new, .. } => new,
            Kind::Read { .. } => continue,
        };
        let name = key_name(r.key);
        match r.outcome {
            Outcome::Ok => {
                if let Some(rev) = r.revision {
                    if by_rev.get(&(rev, name.as_str())) != Some(&value) {
                        violations.push(format!(
                            "acknowledged write {:?} at revision {rev} is not in etcd's record",
                            r.op
                        ));
                    }
                }
            }
            Outcome::Failed if value != ABSENT && written.contains(&value) => {
                violations.push(format!(
                    "a write that failed with {:?} (not applied) was applied: {:?}",
                    r.error, r.op
                ));
            }
            Outcome::Unknown if value != ABSENT && written.contains(&value) => unknown_applied += 1,
            _ => {}
        }
    }
    if let Some(last) = truth.last() {
        if last.0 != final_rev {
            violations.push(format!(
                "etcd's record ends at revision {}, the store is at {final_rev}",
                last.0
            ));
        }
    }

    // 3. The watchers that lived through the faults.
    for (i, log) in watch_logs.iter().enumerate() {
        violations.extend(
            check_watch(log, &truth)
                .into_iter()
                .map(|v| format!("watcher {i}: {v}")),
        );
    }

    // Summary.
    let count = |o: Outcome| records.iter().filter(|r| r.outcome == o).count();
    let (ok, failed, unknown) = (
        count(Outcome::Ok),
        count(Outcome::Failed),
        count(Outcome::Unknown),
    );
    let mut errors: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for r in &records {
        if let Some(e) = &r.error {
            let class = if r.outcome == Outcome::Unknown {
                "unknown"
            } else {
                "failed"
            };
            *errors.entry((e.clone(), class)).or_default() += 1;
        }
    }
    let watched: usize = watch_logs
        .iter()
        .map(|l| l.responses.iter().map(Vec::len).sum::<usize>())
        .sum();
    eprintln!(
        "linearizability: etcd {:?}, {:?}, {} clients, {} keys: {} ops ({ok} ok, {failed} failed, \
         {unknown} unknown: {unknown_applied} of those applied), {} checked ({} unknown observed, {} \
         unknown free, {} search steps), revisions {}..={final_rev}, {watched} events to {} watchers, \
         faults {faults:?} ({} failed leader moves), errors {errors:?}, violations {}",
        etcd_harness::etcd_version(),
        cfg.duration,
        cfg.clients,
        cfg.keys,
        records.len(),
        checked.ops,
        checked.unknown_observed,
        checked.unknown_free,
        checked.steps,
        start_rev + 1,
        watch_logs.len(),
        fault_problems.len(),
        violations.len(),
    );
    for p in &fault_problems {
        eprintln!("  nemesis: {p}");
    }
    for v in &violations {
        eprintln!("  VIOLATION {v}");
    }
    if !violations.is_empty() {
        for line in timeline.lock().unwrap().iter() {
            eprintln!("  nemesis: {line}");
        }
    }
    assert!(
        violations.is_empty(),
        "{} violations (see above)",
        violations.len()
    );
    // The run must have done something: faults of every kind, and writes
    // and reads that succeeded.
    for kind in [
        Fault::Kill,
        Fault::Freeze,
        Fault::Blackhole,
        Fault::MoveLeader,
    ] {
        assert!(
            faults.get(&kind).copied().unwrap_or(0) > 0,
            "no {kind:?} fault injected: {faults:?}"
        );
    }
    let ok_of = |f: fn(&Kind) -> bool| {
        records
            .iter()
            .filter(|r| r.outcome == Outcome::Ok && f(&r.op.kind))
            .count()
    };
    assert!(
        ok_of(|k| matches!(k, Kind::Read { .. })) > 0,
        "no read succeeded"
    );
    assert!(
        ok_of(|k| matches!(k, Kind::Write { .. })) > 0,
        "no write succeeded"
    );
    assert!(
        ok_of(|k| matches!(
            k,
            Kind::Cas {
                swapped: Some(true),
                ..
            }
        )) > 0,
        "no compare-and-set succeeded"
    );
    assert!(watched > 0, "the watchers saw nothing");
}

/// etcd's watch guarantees, for one watcher: ordered by revision, no event
/// twice, every revision's events in one response, nothing missing from
/// (or added to) etcd's record from the start revision on.
fn check_watch(log: &WatchLog, truth: &[Event]) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(e) = &log.error {
        v.push(e.clone());
    }
    let mut last_rev = i64::MIN;
    for (i, resp) in log.responses.iter().enumerate() {
        let first = resp[0].0;
        if first <= last_rev {
            v.push(format!(
                "response {i} starts at revision {first}, the one before ended at {last_rev} \
                 (out of order, repeated, or a revision split across responses)"
            ));
        }
        let mut seen = HashSet::new();
        for w in resp.windows(2) {
            if w[1].0 < w[0].0 {
                v.push(format!(
                    "response {i}: revision {} after {}",
                    w[1].0, w[0].0
                ));
            }
        }
        for e in resp {
            if !seen.insert((e.0, e.1.as_str())) {
                v.push(format!("response {i}: event {e:?} twice"));
            }
        }
        last_rev = last_rev.max(resp[resp.len() - 1].0);
    }
    let got: Vec<&Event> = log.responses.iter().flatten().collect();
    let want: Vec<&Event> = truth.iter().collect();
    if got != want {
        let at = got
            .iter()
            .zip(&want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        // Which responses carried the events around the difference.
        let mut n = 0;
        for (i, resp) in log.responses.iter().enumerate() {
            if n + resp.len() + 3 >= at && n <= at + 3 {
                let (t, member, rev) = log.meta[i];
                v.push(format!(
                    "  response {i} at {:.3}s from member {member:x} (header revision {rev}): \
                     revisions {}..={}",
                    t as f64 / 1e9,
                    resp[0].0,
                    resp[resp.len() - 1].0
                ));
            }
            n += resp.len();
        }
        v.push(format!(
            "events differ from etcd's record at event {at}: got {:?}, etcd has {:?} ({} vs {} events)",
            got.get(at),
            want.get(at),
            got.len(),
            want.len()
        ));
    }
    v
}
