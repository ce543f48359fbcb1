//! Metrics (feature `metrics`) against real etcd: a real Prometheus
//! exporter is installed as the global recorder, known calls are made
//! (puts, reads, a failing read, refusals, a read retried after the member
//! in use is killed, a watch resumed after a member restart and after a
//! slow consumer caught up, leases lost three ways, an expired auth token),
//! and after each step the rendered exposition is parsed with a Prometheus
//! text parser and every series is checked to have moved by exactly what
//! was done, with go-grpc-prometheus's labels.
//!
//! A process has one global recorder, so this file is its own test binary
//! and its checks run in order inside few test functions that never
//! overlap in what they count (each compares before and after, on the
//! label values of its own calls, and holds `SERIAL` so no other test's
//! calls land in between).

#![cfg(feature = "metrics")]

mod common;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::{CancelToken, Client, Error, GetOptions, WatchOptions};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// go-grpc-prometheus's default buckets (Prometheus' `DefBuckets`).
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static SERIAL: Mutex<()> = Mutex::new(());

fn handle() -> &'static PrometheusHandle {
    static H: OnceLock<PrometheusHandle> = OnceLock::new();
    H.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .unwrap()
            .install_recorder()
            .expect("install the Prometheus recorder")
    })
}

/// One scrape, parsed by a real Prometheus text-format parser.
struct Scrape(prometheus_parse::Scrape);

fn scrape() -> Scrape {
    let text = handle().render();
    if let Ok(path) = std::env::var("METRICS_DUMP") {
        std::fs::write(path, &text).unwrap();
    }
    let lines = text.lines().map(|l| Ok(l.to_string()));
    Scrape(prometheus_parse::Scrape::parse(lines).expect("parse the exposition"))
}

impl Scrape {
    /// The sum of `metric` over every sample whose labels include
    /// `labels` (for a histogram: its count).
    fn get(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == metric)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(b) => b
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .map_or(0.0, |b| b.count),
                prometheus_parse::Value::Summary(_) => panic!("{metric} is a summary"),
            })
            .sum()
    }

    /// Every sample's value, keyed by metric and labels, for differences.
    fn all(&self) -> HashMap<String, f64> {
        let mut m = HashMap::new();
        for s in &self.0.samples {
            let v = match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(b) => b
                    .iter()
                    .find(|b| b.less_than.is_infinite())
                    .map_or(0.0, |b| b.count),
                prometheus_parse::Value::Summary(_) => continue,
            };
            m.insert(format!("{}{{{}}}", s.metric, s.labels), v);
        }
        m
    }
}

/// What moved between two scrapes: `metric{labels}` → difference.
fn delta(before: &Scrape, after: &Scrape) -> HashMap<String, f64> {
    let b = before.all();
    after
        .all()
        .into_iter()
        .filter_map(|(k, v)| {
            let d = v - b.get(&k).copied().unwrap_or(0.0);
            (d != 0.0).then_some((k, d))
        })
        .collect()
}

fn d(before: &Scrape, after: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    after.get(metric, labels) - before.get(metric, labels)
}

const UNARY: (&str, &str) = ("grpc_type", "unary");
const KV: (&str, &str) = ("grpc_service", "etcdserverpb.KV");
const PUT: (&str, &str) = ("grpc_method", "Put");
const RANGE: (&str, &str) = ("grpc_method", "Range");

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rpc_series_and_client_series_move_by_what_was_done() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    handle();
    let cluster = common::Cluster::start(3);
    // Followers first: the member in use, killed below, is not the leader,
    // so the read after the kill meets no election (whose "not now"
    // answers and retries would be counted too, rightly, but not exactly).
    let leader = cluster.wait_leader(Duration::from_secs(10));
    let mut order: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    order.push(leader);
    let c = Client::builder(order.iter().map(|&i| cluster.endpoint(i)))
        .request_timeout(Duration::from_secs(3))
        .max_send_message_size(64 * 1024)
        .connect()
        .unwrap();
    let s0 = scrape();
    assert_eq!(d(&Scrape(empty()), &s0, "etcd_client_endpoints", &[]), 3.0);

    // Three puts, two reads: one started, sent, received and OK-handled
    // call each, and a handling time each.
    for i in 0..3 {
        c.put(format!("m/{i}"), "v").unwrap();
    }
    c.get("m/0").unwrap();
    c.get("m/1").unwrap();
    let s1 = scrape();
    let put = [UNARY, KV, PUT];
    let range = [UNARY, KV, RANGE];
    for (labels, n) in [(&put, 3.0), (&range, 2.0)] {
        assert_eq!(d(&s0, &s1, "grpc_client_started_total", labels), n);
        assert_eq!(d(&s0, &s1, "grpc_client_msg_sent_total", labels), n);
        assert_eq!(d(&s0, &s1, "grpc_client_msg_received_total", labels), n);
        let mut ok = labels.to_vec();
        ok.push(("grpc_code", "OK"));
        assert_eq!(d(&s0, &s1, "grpc_client_handled_total", &ok), n);
        assert_eq!(d(&s0, &s1, "grpc_client_handled_total", labels), n);
        assert_eq!(d(&s0, &s1, "grpc_client_handling_seconds", labels), n);
    }
    assert_eq!(
        delta(&s0, &s1)
            .keys()
            .filter(|k| k.starts_with("etcd_client_"))
            .count(),
        0,
        "{:?}",
        delta(&s0, &s1)
    );

    // A failing call: a read at a future revision is OutOfRange, answered
    // (no message received), not retried.
    let e = c
        .get_with("m/0", GetOptions::new().revision(1 << 40))
        .unwrap_err();
    assert!(matches!(e, Error::Etcd(_)), "{e}");
    let s2 = scrape();
    assert_eq!(d(&s1, &s2, "grpc_client_started_total", &range), 1.0);
    assert_eq!(d(&s1, &s2, "grpc_client_msg_sent_total", &range), 1.0);
    assert_eq!(d(&s1, &s2, "grpc_client_msg_received_total", &range), 0.0);
    let mut oor = range.to_vec();
    oor.push(("grpc_code", "OutOfRange"));
    assert_eq!(d(&s1, &s2, "grpc_client_handled_total", &oor), 1.0);
    assert_eq!(d(&s1, &s2, "etcd_client_retries_total", &[]), 0.0);

    // Refusals: nothing is sent.
    assert!(matches!(c.put("", "v"), Err(Error::EmptyKey)));
    assert!(matches!(c.get(""), Err(Error::EmptyKey)));
    assert!(matches!(
        c.put("big", vec![0u8; 100 * 1024]),
        Err(Error::RequestTooLarge { .. })
    ));
    let closed = Client::connect(cluster.endpoints()).unwrap();
    closed.close().unwrap();
    assert!(matches!(closed.get("m/0"), Err(Error::ClientClosed)));
    let token = CancelToken::new();
    token.cancel();
    assert!(matches!(
        c.with_cancel(&token).get("m/0"),
        Err(Error::Canceled)
    ));
    let s3 = scrape();
    let refused = |r| {
        d(
            &s2,
            &s3,
            "etcd_client_calls_refused_total",
            &[("reason", r)],
        )
    };
    assert_eq!(refused("empty_key"), 2.0);
    assert_eq!(refused("too_large"), 1.0);
    assert_eq!(refused("closed"), 1.0);
    assert_eq!(refused("canceled"), 1.0);
    assert_eq!(d(&s2, &s3, "grpc_client_started_total", &[]), 0.0);
    // The closed client's endpoints and pin were counted and uncounted.
    assert_eq!(d(&s2, &s3, "etcd_client_endpoints", &[]), 0.0);
    assert_eq!(d(&s2, &s3, "etcd_client_pinned_endpoint", &[]), 0.0);

    // A read retried after the member in use is killed: one attempt fails
    // on the dead member (Unavailable), is retried on the next, which
    // answers; the pin moves once.
    let idx = cluster.index_of_member(c.get("m/0").unwrap().header().member_id());
    // On a loaded machine an election may have made the member in use the
    // leader since the client was built: hand leadership on, so the kill
    // takes a follower (a dying leader would add an election's retries).
    if idx == cluster.wait_leader(Duration::from_secs(10)) {
        let next = cluster.member_id((idx + 1) % 3).unwrap();
        c.with_endpoint(&cluster.endpoint(idx))
            .unwrap()
            .move_leader(next)
            .unwrap();
        let t = Instant::now();
        while cluster.wait_leader(Duration::from_secs(10)) == idx {
            assert!(t.elapsed() < Duration::from_secs(10), "leadership stayed");
            thread::sleep(Duration::from_millis(50));
        }
    }
    assert_ne!(idx, cluster.wait_leader(Duration::from_secs(10)));
    let dead = cluster.endpoint(idx);
    let s4 = scrape();
    cluster.kill(idx);
    assert_eq!(c.get("m/0").unwrap().count(), 1);
    let s5 = scrape();
    eprintln!("after the kill: {:?}", delta(&s4, &s5));
    let failed = d(
        &s4,
        &s5,
        "grpc_client_handled_total",
        &[RANGE, ("grpc_code", "Unavailable")],
    );
    assert_eq!(failed, 1.0, "one attempt on the dead member");
    assert_eq!(d(&s4, &s5, "grpc_client_started_total", &range), 2.0);
    let mut ok = range.to_vec();
    ok.push(("grpc_code", "OK"));
    assert_eq!(d(&s4, &s5, "grpc_client_handled_total", &ok), 1.0);
    assert_eq!(
        d(
            &s4,
            &s5,
            "etcd_client_retries_total",
            &[KV, RANGE, ("reason", "transport")]
        ),
        1.0
    );
    assert_eq!(d(&s4, &s5, "etcd_client_retries_total", &[]), 1.0);
    assert_eq!(d(&s4, &s5, "etcd_client_endpoint_switches_total", &[]), 1.0);
    let pinned_at = |s: &Scrape, ep: &str| {
        s.0.samples
            .iter()
            .filter(|x| x.metric == "etcd_client_pinned_endpoint")
            .filter(|x| x.labels.get("endpoint").is_some_and(|e| e.ends_with(ep)))
            .map(|x| match x.value {
                prometheus_parse::Value::Gauge(v) => v,
                _ => 0.0,
            })
            .sum::<f64>()
    };
    let dead_port = dead.rsplit(':').next().unwrap().to_string();
    assert_eq!(pinned_at(&s5, &format!(":{dead_port}")), 0.0);
    assert_eq!(s5.get("etcd_client_pinned_endpoint", &[]), 1.0);
    cluster.restart(idx);

    // A watch that resumes after the member it is on restarts.
    let w = c.watch_with("w/", WatchOptions::new().prefix()).unwrap();
    c.put("w/1", "a").unwrap();
    assert_eq!(
        w.recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap()
            .events()
            .len(),
        1
    );
    let s6 = scrape();
    assert_eq!(s6.get("etcd_client_watchers", &[]), 1.0);
    let on = cluster.index_of_member(c.get("m/0").unwrap().header().member_id());
    cluster.restart(on);
    c.put("w/2", "b").unwrap();
    let r = w.recv_timeout(Duration::from_secs(15)).unwrap().unwrap();
    assert_eq!(r.events()[0].kv().key(), b"w/2", "no loss, no repeat");
    let s7 = scrape();
    eprintln!("after the restart: {:?}", delta(&s6, &s7));
    let watch = [
        ("grpc_type", "bidi_stream"),
        ("grpc_service", "etcdserverpb.Watch"),
        ("grpc_method", "Watch"),
    ];
    let reopens = d(&s6, &s7, "etcd_client_stream_reopens_total", &watch[1..]);
    assert!(reopens >= 1.0, "the watch stream reopened");
    assert_eq!(
        d(
            &s6,
            &s7,
            "etcd_client_watch_resumes_total",
            &[("reason", "reconnect")]
        ),
        reopens,
        "one watch, resumed once per reopening"
    );
    assert_eq!(d(&s6, &s7, "grpc_client_started_total", &watch), reopens);
    assert_eq!(d(&s6, &s7, "grpc_client_handled_total", &watch), reopens);
    // Three requests: create, re-create; the events came back as messages.
    assert!(d(&s6, &s7, "grpc_client_msg_sent_total", &watch) >= 1.0);
    assert!(d(&s6, &s7, "grpc_client_msg_received_total", &watch) >= 2.0);
    drop(w);
    let canceled = [watch[2], ("grpc_code", "Canceled")];
    wait_until("the watch stream to close", Duration::from_secs(5), || {
        let s = scrape();
        s.get("etcd_client_watchers", &[]) == 0.0
            && d(&s7, &s, "grpc_client_handled_total", &canceled) > 0.0
    });
    let s8 = scrape();
    // The last watch closed the stream: a client-side cancel.
    assert_eq!(
        d(
            &s7,
            &s8,
            "grpc_client_handled_total",
            &[watch[2], ("grpc_code", "Canceled")]
        ),
        1.0
    );
    assert_eq!(d(&s7, &s8, "etcd_client_stream_reopens_total", &[]), 0.0);

    // A slow consumer: a watcher with room for 2 responses gets 6; the
    // pump suspends it and resumes it once it is drained.
    let w = c
        .watch_with("slow/", WatchOptions::new().prefix().buffer(2))
        .unwrap();
    for i in 0..6 {
        c.put(format!("slow/{i}"), "v").unwrap();
    }
    wait_until("a suspended watcher", Duration::from_secs(5), || {
        scrape().get("etcd_client_watchers_suspended", &[]) == 1.0
    });
    let s9 = scrape();
    let mut got = 0;
    while got < 6 {
        got += w
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap()
            .events()
            .len();
    }
    let s10 = scrape();
    assert_eq!(s10.get("etcd_client_watchers_suspended", &[]), 0.0);
    assert!(
        d(
            &s9,
            &s10,
            "etcd_client_watch_resumes_total",
            &[("reason", "slow_consumer")]
        ) >= 1.0
    );
    assert_eq!(
        d(
            &s9,
            &s10,
            "etcd_client_watch_resumes_total",
            &[("reason", "reconnect")]
        ),
        0.0
    );
    drop(w);

    // Leases: one revoked under its keepalive, one lost when nothing
    // answers before its TTL runs out, one ended by closing the client.
    let s11 = scrape();
    let id = c.grant(6).unwrap().id();
    let ka = c.keep_alive(id).unwrap();
    ka.receiver()
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(scrape().get("etcd_client_leases_kept_alive", &[]), 1.0);
    c.revoke(id).unwrap();
    wait_until(
        "the revoked lease to be lost",
        Duration::from_secs(10),
        || {
            let lost = [("cause", "revoked")];
            d(&s11, &scrape(), "etcd_client_leases_lost_total", &lost) > 0.0
        },
    );
    assert!(!ka.is_alive());
    let s12 = scrape();
    assert_eq!(
        d(
            &s11,
            &s12,
            "etcd_client_leases_lost_total",
            &[("cause", "revoked")]
        ),
        1.0
    );
    assert_eq!(s12.get("etcd_client_leases_kept_alive", &[]), 0.0);
    assert!(d(&s11, &s12, "etcd_client_keepalive_refresh_seconds", &[]) >= 1.0);
    let keepalive = [
        ("grpc_service", "etcdserverpb.Lease"),
        ("grpc_method", "LeaseKeepAlive"),
    ];
    assert!(d(&s11, &s12, "grpc_client_msg_received_total", &keepalive) >= 2.0);
    drop(ka);

    let id = c.grant(3).unwrap().id();
    let ka = c.keep_alive(id).unwrap();
    ka.receiver()
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    for i in 0..3 {
        cluster.stop(i);
    }
    wait_until(
        "the lease to run out locally",
        Duration::from_secs(10),
        || {
            let lost = [("cause", "expired_locally")];
            d(&s12, &scrape(), "etcd_client_leases_lost_total", &lost) > 0.0
        },
    );
    assert!(!ka.is_alive());
    for i in 0..3 {
        cluster.cont(i);
    }
    let s13 = scrape();
    assert_eq!(
        d(
            &s12,
            &s13,
            "etcd_client_leases_lost_total",
            &[("cause", "expired_locally")]
        ),
        1.0
    );
    drop(ka);

    cluster.wait_all_running_healthy();
    let id = c.grant(30).unwrap().id();
    let ka = c.keep_alive(id).unwrap();
    ka.receiver()
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(scrape().get("etcd_client_leases_kept_alive", &[]), 1.0);
    c.close().unwrap();
    let s14 = scrape();
    assert_eq!(
        d(
            &s13,
            &s14,
            "etcd_client_leases_lost_total",
            &[("cause", "closed")]
        ),
        1.0
    );
    assert_eq!(s14.get("etcd_client_leases_kept_alive", &[]), 0.0);
    assert_eq!(s14.get("etcd_client_watchers", &[]), 0.0);
    assert_eq!(s14.get("etcd_client_endpoints", &[]), 0.0);
    assert_eq!(s14.get("etcd_client_pinned_endpoint", &[]), 0.0);
    assert_eq!(
        d(&s0, &s14, "etcd_client_leases_lost_total", &[]),
        3.0,
        "exactly the three losses"
    );
    promtool_check(&handle().render());
}

/// `promtool check metrics` (Debian's `prometheus` package, which
/// `scripts/install-deps.sh` installs) lints the exposition: names, types,
/// help texts, histogram shape. Skipped, saying so, where it is missing.
fn promtool_check(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("promtool not installed: exposition checked by the parser only");
            return;
        }
        Err(e) => panic!("promtool: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn token_renewals_are_counted() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    handle();
    let cluster = common::ClusterBuilder::new(1)
        .args(["--auth-token-ttl=2"])
        .start();
    let admin = Client::connect(cluster.endpoints()).unwrap();
    admin.user_add("root", "rootpw").unwrap();
    admin.user_grant_role("root", "root").unwrap();
    admin.auth_enable().unwrap();
    let s0 = scrape();
    let c = Client::builder(cluster.endpoints())
        .user("root", "rootpw")
        .connect()
        .unwrap();
    c.put("t/1", "v").unwrap();
    let s1 = scrape();
    // The first login is not a renewal, but it is an RPC.
    assert_eq!(d(&s0, &s1, "etcd_client_token_renewals_total", &[]), 0.0);
    let auth = [
        ("grpc_service", "etcdserverpb.Auth"),
        ("grpc_method", "Authenticate"),
    ];
    assert_eq!(d(&s0, &s1, "grpc_client_started_total", &auth), 1.0);

    // The token expires: the next call is refused, logs in again and is
    // retried once.
    thread::sleep(Duration::from_secs(4));
    c.put("t/2", "v").unwrap();
    let s2 = scrape();
    assert_eq!(d(&s1, &s2, "etcd_client_token_renewals_total", &[]), 1.0);
    assert_eq!(
        d(
            &s1,
            &s2,
            "etcd_client_retries_total",
            &[KV, PUT, ("reason", "auth_token")]
        ),
        1.0
    );
    assert_eq!(
        d(
            &s1,
            &s2,
            "grpc_client_handled_total",
            &[PUT, ("grpc_code", "Unauthenticated")]
        ),
        1.0,
        "etcd refuses an expired token as Unauthenticated"
    );

    // The password changes under the client: the renewal fails.
    let root2 = Client::builder(cluster.endpoints())
        .user("root", "rootpw")
        .connect()
        .unwrap();
    root2.user_change_password("root", "newpw").unwrap();
    thread::sleep(Duration::from_secs(4));
    assert!(c.put("t/3", "v").is_err());
    let s3 = scrape();
    assert_eq!(
        d(&s2, &s3, "etcd_client_token_renewal_failures_total", &[]),
        1.0
    );
    c.close().unwrap();
    root2.close().unwrap();
    admin.close().unwrap();
    promtool_check(&handle().render());
}

/// `keep_alive_once` is one unary-shaped call on the wire, but Go's client
/// makes it a LeaseKeepAlive stream and go-grpc-prometheus labels it
/// `bidi_stream`: so do we, or a dashboard over both would split it.
#[test]
fn keep_alive_once_is_labelled_as_go_labels_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    handle();
    let c = Client::connect(common::shared().endpoints()).unwrap();
    let id = c.grant(30).unwrap().id();
    let lease = ("grpc_service", "etcdserverpb.Lease");
    let keep_alive = ("grpc_method", "LeaseKeepAlive");
    let bidi = [("grpc_type", "bidi_stream"), lease, keep_alive];
    let s0 = scrape();
    assert_eq!(c.keep_alive_once(id).unwrap().id(), id);
    let s1 = scrape();
    eprintln!("keep_alive_once: {:?}", delta(&s0, &s1));
    assert_eq!(d(&s0, &s1, "grpc_client_started_total", &bidi), 1.0);
    let ok = [bidi[0], lease, keep_alive, ("grpc_code", "OK")];
    assert_eq!(d(&s0, &s1, "grpc_client_handled_total", &ok), 1.0);
    assert_eq!(d(&s0, &s1, "grpc_client_msg_sent_total", &bidi), 1.0);
    assert_eq!(d(&s0, &s1, "grpc_client_msg_received_total", &bidi), 1.0);
    assert_eq!(d(&s0, &s1, "grpc_client_handling_seconds", &bidi), 1.0);
    let unary = [UNARY, lease, keep_alive];
    assert_eq!(d(&s0, &s1, "grpc_client_started_total", &unary), 0.0);
    c.revoke(id).unwrap();
    c.close().unwrap();
}

#[test]
fn ambiguous_writes_and_etcd_refusals_are_counted() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    handle();
    let cluster = common::Cluster::start(3);
    let proxy = common::proxy::Proxy::start(&cluster.endpoint(0));
    let mut endpoints = vec![proxy.addr().to_string()];
    endpoints.extend([cluster.endpoint(1), cluster.endpoint(2)]);
    // Only the proxied member can finish the handshake while the others
    // are frozen, so the client pins it.
    cluster.stop(1);
    cluster.stop(2);
    let c = Client::connect(&endpoints);
    cluster.cont(1);
    cluster.cont(2);
    let c = c.unwrap();
    let id = cluster.member_id(0).unwrap();
    assert_eq!(c.get("m/probe").unwrap().header().member_id(), id);

    // A put whose connection is cut after the request reached etcd.
    let s0 = scrape();
    proxy.cut_after_request();
    let e = c.put("m/cut", "v").unwrap_err();
    assert!(matches!(e, Error::Ambiguous { .. }), "{e:?}");
    let s1 = scrape();
    assert_eq!(
        d(&s0, &s1, "etcd_client_ambiguous_writes_total", &[KV, PUT]),
        1.0
    );
    c.close().unwrap();

    // A member cut off from the others says "no leader"; a read that
    // requires one is retried on etcd's word until its deadline: every
    // attempt but the first is one retry for that reason.
    let lone = Client::builder([cluster.endpoint(0)])
        .require_leader(true)
        .request_timeout(Duration::from_secs(1))
        .connect()
        .unwrap();
    cluster.kill(1);
    cluster.kill(2);
    wait_until(
        "member 0 to lose its leader",
        Duration::from_secs(15),
        || {
            matches!(
                lone.get_with("m/k", GetOptions::new().serializable()),
                Err(Error::Etcd(etcd_blocking::EtcdError::NoLeader))
            )
        },
    );
    let s2 = scrape();
    let e = lone
        .get_with("m/k", GetOptions::new().serializable())
        .unwrap_err();
    assert!(
        matches!(e, Error::Etcd(etcd_blocking::EtcdError::NoLeader)),
        "{e}"
    );
    let s3 = scrape();
    let attempts = d(&s2, &s3, "grpc_client_started_total", &[UNARY, KV, RANGE]);
    assert!(attempts >= 2.0, "no retry on a transient refusal");
    assert_eq!(
        d(
            &s2,
            &s3,
            "etcd_client_retries_total",
            &[KV, RANGE, ("reason", "etcd_transient")]
        ),
        attempts - 1.0
    );
    lone.close().unwrap();
}

fn empty() -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(std::iter::empty()).unwrap()
}
