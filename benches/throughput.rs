//! Throughput benchmark with the same flags and output line as the peer
//! clients' benchmark programs (the "anchors", see `benches/README.md`),
//! so the three can be compared side by side against one server:
//!
//!     cargo bench --bench throughput -- -workload put -clients 64 -conns 4 -total 30000
//!
//! Workloads (as the anchors define them): `put`; `range` (`-serializable`
//! for serializable reads) of one key; `txn` (compare mod revision, then
//! put); `watch` (puts under `w/` while one prefix watch counts the events;
//! qps is delivered events per second); `lease` (keep-alive-once on one
//! lease). Two resource probes: `idle-watches` (`-total` idle watches on one
//! client) and `idle-leases` (`-total` leases kept alive by one client),
//! which report memory and CPU instead of qps.
//!
//! `-endpoints` defaults to `ETCD_ENDPOINTS`, else a throwaway etcd on tmpfs
//! that the benchmark starts and stops. Without flags, a short default suite
//! runs. `client_cpu_us_per_op` is this process's user+sys CPU time
//! (getrusage) over the run, divided by the operations; `ctxsw_per_op` its
//! context switches (voluntary and not) per operation; `vcsw_per_op_by_thread`
//! splits the voluntary ones by thread name (`worker` for the workload's
//! own threads, `reader` for the watch reader; the client's threads by
//! their names, numbers dropped), read from `/proc/self/task/*/status`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::{Client, Compare, CompareOp, GetOptions, Op, Txn, WatchOptions};

#[derive(Clone, Debug)]
struct Args {
    endpoints: Option<Vec<String>>,
    workload: String,
    clients: usize,
    conns: usize,
    total: usize,
    key_size: usize,
    val_size: usize,
    serializable: bool,
    idle_secs: u64,
    /// idle-watches: create them with `watch_many` in batches of this
    /// size (0: one `watch` call each).
    many: usize,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            endpoints: None,
            workload: "put".into(),
            clients: 1,
            conns: 1,
            total: 10_000,
            key_size: 8,
            val_size: 8,
            serializable: false,
            idle_secs: 10,
            many: 0,
        }
    }
}

fn parse(argv: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let flag = flag.trim_start_matches('-');
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        if name == "serializable" {
            a.serializable = inline.is_none_or(|v| v != "false");
            continue;
        }
        if name == "bench" || name.is_empty() {
            continue; // cargo bench passes --bench
        }
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or(format!("-{name} needs a value"))?.clone(),
        };
        let num = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("-{name}: not a number: {v}"))
        };
        match name {
            "endpoints" => a.endpoints = Some(value.split(',').map(str::to_string).collect()),
            "workload" => a.workload = value,
            "clients" => a.clients = num(&value)?.max(1),
            "conns" => a.conns = num(&value)?.max(1),
            "total" => a.total = num(&value)?.max(1),
            "key-size" => a.key_size = num(&value)?.max(1),
            "val-size" => a.val_size = num(&value)?,
            "idle-secs" => a.idle_secs = num(&value)? as u64,
            "many" => a.many = num(&value)?,
            other => return Err(format!("unknown flag -{other}")),
        }
    }
    Ok(a)
}

/// This process's user+sys CPU time.
/// Context switches of this process so far (voluntary + involuntary).
fn ctx_switches() -> u64 {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    (ru.ru_nvcsw + ru.ru_nivcsw) as u64
}

/// Voluntary context switches of one thread, from its `status` file.
fn voluntary_switches(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The calling thread's voluntary context switches.
fn my_voluntary_switches() -> u64 {
    std::fs::read_to_string("/proc/thread-self/status")
        .map(|s| voluntary_switches(&s))
        .unwrap_or(0)
}

/// Every live thread of this process: id, name without its digits (so
/// `grpc-poll-1` and `grpc-poll-2` add up), voluntary switches.
fn threads() -> Vec<(String, String, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|t| {
        let t = t.ok()?;
        let name = std::fs::read_to_string(t.path().join("comm")).ok()?;
        let status = std::fs::read_to_string(t.path().join("status")).ok()?;
        let name: String = name
            .trim()
            .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
            .into();
        Some((
            t.file_name().to_string_lossy().into_owned(),
            name,
            voluntary_switches(&status),
        ))
    })
    .collect()
}

/// Voluntary switches per operation by thread name, over a run: the live
/// threads' growth since `before`, plus the counts the workload threads
/// reported as they ended (`ended`).
fn split_by_thread(before: &[(String, String, u64)], ended: &[(&str, u64)], ops: usize) -> String {
    let mut by_name: std::collections::BTreeMap<String, u64> = Default::default();
    for (tid, name, n) in threads() {
        let was = before.iter().find(|(t, ..)| *t == tid).map_or(0, |b| b.2);
        *by_name.entry(name).or_default() += n.saturating_sub(was);
    }
    for (name, n) in ended {
        *by_name.entry(name.to_string()).or_default() += n;
    }
    by_name
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| {
            format!(
                "{}:{:.2}",
                name.replace([' ', ','], "_"),
                n as f64 / ops as f64
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Resident memory of this process, in MiB.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn key(a: &Args, i: usize) -> String {
    format!("{:0width$}", i % 100_000, width = a.key_size)
}

fn run(a: &Args, endpoints: &[String]) {
    match a.workload.as_str() {
        "idle-watches" => return idle_watches(a, endpoints),
        "idle-leases" => return idle_leases(a, endpoints),
        "put" | "range" | "txn" | "watch" | "lease" => {}
        other => {
            eprintln!("unknown workload {other}");
            std::process::exit(2);
        }
    }
    let clients: Vec<Client> = (0..a.conns)
        .map(|_| {
            Client::builder(endpoints)
                .request_timeout(Duration::from_secs(30))
                .connect()
                .expect("connect")
        })
        .collect();
    let val = "v".repeat(a.val_size);
    let c0 = &clients[0];
    if a.workload == "range" {
        c0.put(key(a, 0), val.clone()).expect("seed");
    }
    let lease = (a.workload == "lease").then(|| c0.grant(60).expect("grant").id());
    let watcher = (a.workload == "watch").then(|| {
        c0.watch_with("w/", WatchOptions::new().prefix())
            .expect("watch")
    });

    let next = Arc::new(AtomicUsize::new(0));
    let threads0 = threads();
    let csw0 = ctx_switches();
    let cpu0 = cpu_time();
    let start = Instant::now();
    let counter = watcher.map(|w| {
        let total = a.total;
        thread::spawn(move || {
            let before = my_voluntary_switches();
            let mut got = 0;
            while got < total {
                got += w.recv().expect("watch").events().len();
            }
            my_voluntary_switches() - before
        })
    });
    let workers: Vec<_> = (0..a.clients)
        .map(|w| {
            let c = clients[w % clients.len()].clone();
            let a = a.clone();
            let val = val.clone();
            let next = next.clone();
            thread::spawn(move || {
                let switches0 = my_voluntary_switches();
                let mut lat = Vec::with_capacity(a.total / a.clients + 1);
                let range_key = key(&a, 0);
                let range_opts = if a.serializable {
                    GetOptions::new().serializable()
                } else {
                    GetOptions::new()
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= a.total {
                        return (lat, my_voluntary_switches() - switches0);
                    }
                    let t = Instant::now();
                    let r = match a.workload.as_str() {
                        "put" => c.put(key(&a, i), val.as_str()).map(drop),
                        "range" => c.get_with(range_key.as_str(), range_opts.clone()).map(drop),
                        "txn" => {
                            let k = key(&a, i);
                            c.txn(
                                Txn::new()
                                    .when([Compare::mod_revision(
                                        k.as_str(),
                                        CompareOp::Greater,
                                        0,
                                    )])
                                    .and_then([Op::put(k.as_str(), val.as_str())])
                                    .or_else([Op::put(k.as_str(), val.as_str())]),
                            )
                            .map(drop)
                        }
                        "watch" => c.put(format!("w/{}", key(&a, i)), val.as_str()).map(drop),
                        "lease" => c.keep_alive_once(lease.expect("lease")).map(drop),
                        _ => unreachable!(),
                    };
                    if let Err(e) = r {
                        eprintln!("{e}");
                        std::process::exit(1);
                    }
                    lat.push(t.elapsed());
                }
            })
        })
        .collect();
    let mut lat: Vec<Duration> = Vec::with_capacity(a.total);
    let mut ended = vec![("worker", 0)];
    for w in workers {
        let (l, switches) = w.join().expect("worker");
        lat.extend(l);
        ended[0].1 += switches;
    }
    if let Some(c) = counter {
        ended.push(("reader", c.join().expect("watch counter")));
    }
    let elapsed = start.elapsed();
    let cpu = cpu_time() - cpu0;
    let csw = ctx_switches() - csw0;
    let split = split_by_thread(&threads0, &ended, a.total);
    lat.sort_unstable();
    let pct = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "client=etcd-blocking workload={} clients={} conns={} total={} qps={:.0} p50_ms={:.3} p99_ms={:.3} client_cpu_us_per_op={:.1} ctxsw_per_op={:.2} vcsw_per_op_by_thread={}",
        a.workload,
        a.clients,
        a.conns,
        a.total,
        a.total as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99),
        cpu.as_secs_f64() * 1e6 / a.total as f64,
        csw as f64 / a.total as f64,
        split
    );
    for c in clients {
        let _ = c.close();
    }
}

/// `-total` idle watches on one client: setup time, memory, and CPU while
/// nothing happens. The watches are created by `-clients` threads at once
/// (each `watch` call blocks until etcd created its watch, so one thread
/// pays a round trip per watch; several share the one stream and overlap).
fn idle_watches(a: &Args, endpoints: &[String]) {
    let c = Client::connect(endpoints).expect("connect");
    let rss0 = rss_mib();
    let t = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let creators: Vec<_> = (0..a.clients.max(1))
        .map(|_| {
            let (c, next, total, many) = (c.clone(), next.clone(), a.total, a.many);
            thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let step = many.max(1);
                    let i = next.fetch_add(step, Ordering::Relaxed);
                    if i >= total {
                        return mine;
                    }
                    if many == 0 {
                        mine.push(c.watch(format!("idle/{i}")).expect("watch"));
                        continue;
                    }
                    let batch = (i..(i + step).min(total))
                        .map(|k| (format!("idle/{k}"), WatchOptions::new()));
                    for w in c.watch_many(batch).expect("watch_many") {
                        mine.push(w.expect("watch"));
                    }
                }
            })
        })
        .collect();
    let watchers: Vec<_> = creators
        .into_iter()
        .flat_map(|t| t.join().expect("creator"))
        .collect();
    let setup = t.elapsed();
    let rss1 = rss_mib();
    let cpu0 = cpu_time();
    thread::sleep(Duration::from_secs(a.idle_secs));
    let cpu = cpu_time() - cpu0;
    println!(
        "client=etcd-blocking workload=idle-watches total={} creators={} many={} setup_s={:.2} rss_mib_per_1000={:.2} idle_cpu_pct={:.2}",
        a.total,
        a.clients.max(1),
        a.many,
        setup.as_secs_f64(),
        (rss1 - rss0) * 1000.0 / a.total as f64,
        cpu.as_secs_f64() * 100.0 / a.idle_secs as f64
    );
    drop(watchers);
    let _ = c.close();
}

/// `-total` leases kept alive by one client: memory and CPU per second.
fn idle_leases(a: &Args, endpoints: &[String]) {
    let c = Client::connect(endpoints).expect("connect");
    let ids: Vec<i64> = (0..a.total)
        .map(|_| c.grant(30).expect("grant").id())
        .collect();
    let rss0 = rss_mib();
    let handles: Vec<_> = ids
        .iter()
        .map(|&id| c.keep_alive(id).expect("keep alive"))
        .collect();
    let cpu0 = cpu_time();
    thread::sleep(Duration::from_secs(a.idle_secs));
    let cpu = cpu_time() - cpu0;
    let rss1 = rss_mib();
    let alive = handles.iter().filter(|h| h.is_alive()).count();
    println!(
        "client=etcd-blocking workload=idle-leases total={} alive={} rss_mib_per_1000={:.2} cpu_pct={:.2}",
        a.total,
        alive,
        (rss1 - rss0) * 1000.0 / a.total as f64,
        cpu.as_secs_f64() * 100.0 / a.idle_secs as f64
    );
    drop(handles);
    for id in ids {
        let _ = c.revoke(id);
    }
    let _ = c.close();
}

/// With the `metrics` feature and `BENCH_METRICS=1`, the client records
/// into a real Prometheus exporter (what an application would install), so
/// the run measures recording; without it no recorder is installed.
fn install_recorder() {
    #[cfg(feature = "metrics")]
    if std::env::var("BENCH_METRICS").is_ok_and(|v| v == "1") {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .expect("install the Prometheus recorder");
        eprintln!("BENCH_METRICS=1: recording into a Prometheus exporter");
    }
}

fn main() {
    install_recorder();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let explicit = argv.iter().any(|a| a.trim_start_matches('-') != "bench");
    let a = match parse(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let from_env = std::env::var("ETCD_ENDPOINTS")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.split(',').map(str::to_string).collect());
    let mut _server = None;
    let endpoints = match a.endpoints.clone().or(from_env) {
        Some(e) => e,
        None => {
            let cluster = etcd_harness::Cluster::single();
            let e = cluster.endpoints();
            _server = Some(cluster);
            e
        }
    };
    if explicit {
        run(&a, &endpoints);
        return;
    }
    // The default suite: short runs of every workload.
    for (workload, clients, conns, total) in [
        ("put", 1, 1, 2000),
        ("put", 16, 4, 5000),
        ("range", 1, 1, 2000),
        ("txn", 1, 1, 2000),
        ("watch", 1, 1, 2000),
        ("lease", 1, 1, 2000),
    ] {
        let a = Args {
            workload: workload.into(),
            clients,
            conns,
            total,
            ..a.clone()
        };
        run(&a, &endpoints);
    }
}
