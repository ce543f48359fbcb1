//! Runs every example that needs no setup of its own as a process, the
//! way a user would, and checks what it prints: the lines that carry its
//! point, in order, and exit code 0.
//!
//! Most run against one etcd this test starts (`ETCD_ENDPOINTS` set to
//! it, as a user would point them at a cluster); the ones that change
//! cluster-wide settings (auth), need a cluster of several members
//! (operator) or a server configured their way (tls, v2) run with
//! `ETCD_ENDPOINTS` unset and start their own throwaway etcd from the
//! same `ETCD_BIN`.
//!
//! The binaries: cargo gives examples no `CARGO_BIN_EXE_*`, so they are
//! looked up where `cargo build --all-targets` (and `cargo test`) put
//! them, `<target>/<profile>/examples/<name>` next to this test's `deps/`
//! directory. A missing binary, or one older than the sources it is built
//! from, fails the test with the command that builds it.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The longest an example may take; each takes a few seconds.
const LIMIT: Duration = Duration::from_secs(90);

/// Where an example finds etcd.
#[derive(Clone, Copy)]
enum Etcd {
    /// `ETCD_ENDPOINTS` names the test's own single-member etcd.
    Shared,
    /// `ETCD_ENDPOINTS` unset: the example starts its own.
    Own,
}

fn cluster() -> &'static common::Cluster {
    static C: OnceLock<common::Cluster> = OnceLock::new();
    C.get_or_init(|| common::Cluster::start(1))
}

/// The newest modification time under `paths` (files or directories).
fn newest(paths: Vec<PathBuf>) -> (SystemTime, PathBuf) {
    let mut newest = (SystemTime::UNIX_EPOCH, PathBuf::new());
    let mut visit = paths;
    while let Some(p) = visit.pop() {
        let md = std::fs::metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        if md.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                visit.push(e.unwrap().path());
            }
        } else if md.modified().unwrap() > newest.0 {
            newest = (md.modified().unwrap(), p);
        }
    }
    newest
}

/// The built example `name`, checked to be newer than its sources.
fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join("examples").join(name);
    let how = "build the examples with `cargo build --all-targets` and the same --features \
               (scripts/features.sh)";
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}; {how}", bin.display()));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = manifest.join("examples").join(format!("{name}.rs"));
    let mut sources = vec![
        manifest.join("src"),
        main.clone(),
        manifest.join("harness/src"),
        manifest.join("Cargo.toml"),
    ];
    // Cargo rebuilds an example for a change in `support` only if it uses it.
    let text = std::fs::read_to_string(&main).unwrap_or_else(|e| panic!("{}: {e}", main.display()));
    if text.contains("mod support;") {
        sources.push(manifest.join("examples/support"));
    }
    let (newest, path) = newest(sources);
    assert!(
        built >= newest,
        "{} is older than {}: {how}",
        bin.display(),
        path.display()
    );
    bin
}

/// What a finished example printed.
struct Run {
    name: String,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Checks that each of `wanted` is part of a line of stdout, each on
    /// a later line than the one before.
    fn expect_lines(&self, wanted: &[&str]) {
        let lines: Vec<&str> = self.stdout.lines().collect();
        let mut from = 0;
        for want in wanted {
            match lines[from..].iter().position(|l| l.contains(want)) {
                Some(i) => from += i + 1,
                None => panic!(
                    "example {}: no line with {want:?} after line {from}\n--- stdout\n{}--- stderr\n{}",
                    self.name, self.stdout, self.stderr
                ),
            }
        }
    }

    /// The lines of stdout that contain `part`.
    fn lines_with(&self, part: &str) -> Vec<&str> {
        self.stdout.lines().filter(|l| l.contains(part)).collect()
    }
}

/// Starts example `name`, hands each line of its stdout to `on_line` as
/// it comes, and waits for it to exit (killing it after [`LIMIT`]); it
/// must exit with code 0.
fn run_with(name: &str, etcd: Etcd, env: &[(&str, &str)], mut on_line: impl FnMut(&str)) -> Run {
    let bin = example_bin(name);
    let mut cmd = Command::new(&bin);
    match etcd {
        Etcd::Shared => cmd.env("ETCD_ENDPOINTS", cluster().client_urls().join(",")),
        Etcd::Own => cmd.env_remove("ETCD_ENDPOINTS"),
    };
    cmd.envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = std::time::Instant::now() + LIMIT;
    let mut out = String::new();
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                on_line(&line);
                out.push_str(&line);
                out.push('\n');
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Our own child, by its handle.
                let _ = child.kill();
                timed_out = true;
                break;
            }
        }
    }
    let status = child.wait().unwrap();
    let _ = reader.join();
    let run = Run {
        name: name.to_string(),
        stdout: out,
        stderr: errors.join().unwrap(),
    };
    assert!(
        !timed_out && status.success(),
        "example {name}: {}\n--- stdout\n{}--- stderr\n{}",
        if timed_out {
            format!("still running after {LIMIT:?}, killed")
        } else {
            format!("exited with {status}")
        },
        run.stdout,
        run.stderr
    );
    run
}

fn run(name: &str, etcd: Etcd) -> Run {
    run_with(name, etcd, &[], |_| {})
}

#[test]
fn quickstart() {
    run("quickstart", Etcd::Shared).expect_lines(&[
        "using ETCD_ENDPOINTS=",
        "quickstart/greeting = hello",
        "quickstart/subject = world",
        "txn succeeded: true",
        "future revision refused, as expected",
        "with a 500 ms deadline: 2 keys",
        "done",
    ]);
}

#[test]
fn watch() {
    run("watch", Etcd::Shared).expect_lines(&[
        ": put jobs/1 = queued (was None)",
        ": put jobs/1 = running (was Some(\"queued\"))",
        ": put jobs/2 = queued (was None)",
        ": delete jobs/1 (was Some(\"running\"))",
        "events in the first message",
    ]);
}

#[test]
fn lease() {
    run("lease", Etcd::Shared).expect_lines(&[
        "granted for 2 s",
        "after 5 s: alive, TTL",
        "key still there: true",
        "after letting go: key there: false",
    ]);
}

#[test]
fn lock() {
    let run = run("lock", Etcd::Shared);
    run.expect_lines(&[
        "counter: 15",
        "write after the lease was lost: refused by etcd",
    ]);
    assert_eq!(run.lines_with("(fencing token").len(), 15);
}

#[test]
fn stm() {
    run("stm", Etcd::Shared).expect_lines(&["total: 500 (started with 500)"]);
}

#[test]
fn auth() {
    run("auth", Etcd::Own).expect_lines(&[
        "ETCD_ENDPOINTS is unset: started a throwaway etcd",
        // The root role is built in: etcd does not list it.
        "users [\"alice\", \"bob\", \"root\"], roles [\"app-reader\", \"app-writer\"]",
        "role app-reader: Read on [app/, app0)",
        "role app-writer: ReadWrite on [app/, app0)",
        "auth enabled",
        "without credentials: refused (EtcdError::UserEmpty)",
        "wrong password: refused at connect (EtcdError::AuthFailed)",
        "alice reads app/config = v1",
        "alice writes app/config: refused (EtcdError::PermissionDenied)",
        "alice reads other/key: refused (EtcdError::PermissionDenied)",
        "bob writes app/config = v2 at revision",
        "alice now reads app/config = v2",
        "auth disabled",
        "users and roles removed",
        "done",
    ]);
}

#[test]
fn namespaces() {
    run("namespaces", Etcd::Shared).expect_lines(&[
        "billing reads config/db = postgres://billing",
        "shipping reads config/db = postgres://shipping",
        "billing sees: config/db=postgres://billing config/rate=0.2",
        "shipping sees: carriers/dhl=on config/db=postgres://shipping",
        "billing reads carriers/dhl: 0 keys",
        "raw key ns-demo/billing/config/db = postgres://billing",
        "raw key ns-demo/billing/config/rate = 0.2",
        "raw key ns-demo/shipping/carriers/dhl = on",
        "raw key ns-demo/shipping/config/db = postgres://shipping",
        "billing's watch saw: config/db config/rate",
        "shipping deleted all its keys: 2",
        "billing sees: config/db=postgres://billing config/rate=0.2",
        "raw keys left: 2",
        "nested: invoices/2024-001 is stored as ns-demo/billing/invoices/2024-001",
        "done",
    ]);
}

#[test]
fn get_iter() {
    let run = run("get_iter", Etcd::Shared);
    run.expect_lines(&[
        "wrote 20000 keys of 512 bytes",
        "get_iter: 20000 keys, 10.1 MiB, in pages of 500, all at revision",
        "the writes made while listing are not in it: 20000 keys listed, first value 512 bytes long",
        "peak memory grew by",
        "one get: 20001 keys at revision",
        "watch from revision",
        "deleted 20001 keys",
        "done",
    ]);
    // The watch from the revision after the listing delivers the two
    // writes made during it, and nothing else.
    let watch = run.lines_with("watch from revision")[0];
    assert!(
        watch.ends_with(": Put iter-demo/99999-late, Put iter-demo/00000"),
        "{watch}"
    );
}

#[test]
fn cancel() {
    let run = run("cancel", Etcd::Shared);
    run.expect_lines(&[
        "holder has the lock",
        "main: the locker is waiting (2 keys under the lock)",
        "watch: cancel-demo/jobs = job-1",
        "main: cancelling",
        "lock call: Error::Canceled after",
        "later call through the handle: Error::Canceled",
        "the client still works: cancel-demo/jobs = job-1",
        "keys under the lock: 1 (the holder's)",
        "done",
    ]);
    // The watch ends once, whichever thread noticed the token first.
    assert_eq!(
        run.lines_with("watch: ended by the cancel token").len(),
        1,
        "{}",
        run.stdout
    );
}

#[test]
fn election() {
    let run = run("election", Etcd::Shared);
    let leaders: Vec<&str> = run
        .lines_with("observer: leader is ")
        .iter()
        .map(|l| l.split_whitespace().nth(3).unwrap())
        .collect();
    assert_eq!(leaders, ["node-a", "node-b", "node-c"], "{}", run.stdout);
    run.expect_lines(&[
        "node-a: elected",
        "node-a: resigned",
        "node-b: crashed",
        "observer: node-c took over",
        "node-b: came back and wrote as leader: refused, no longer the leader",
        "node-c: resigned",
        "election-demo/active = node-c",
        "done",
    ]);
    run.expect_lines(&["node-b: elected", "node-c: elected"]);
}

#[test]
fn job_queue() {
    run("job_queue", Etcd::Shared).expect_lines(&[
        "a queued job's key: jobs-demo/queue/",
        "2 producers queued 40 jobs",
        "40 distinct jobs done, 0 done more than once",
        "left in the queue: 0",
        // The deadline error reports the wait's 300 ms, whichever of its
        // steps ran out.
        "empty queue: dequeue gave up after 300ms (Error::DeadlineExceeded)",
        "priority queue keys: jobs-demo/priority/00000/",
        "priority order: page the on-call, resize photo 17, resize photo 18, nightly backup, rebuild search index",
        "done",
    ]);
}

#[test]
fn operator() {
    let run = run("operator", Etcd::Own);
    run.expect_lines(&[
        "(3 members)",
        "cluster members' client URLs:",
        "wrote 512 keys of 4 KiB to keep and 1024 to delete, deleted them, compacted up to revision",
        "checksum verified",
        "file on disk:",
        "done",
    ]);
    let status = run.lines_with("status ");
    assert_eq!(status.len(), 3, "{}", run.stdout);
    assert_eq!(
        status.iter().filter(|l| l.contains(": leader,")).count(),
        1,
        "{}",
        run.stdout
    );
    let defrag = run.lines_with("defragmented ");
    assert_eq!(defrag.len(), 3, "{}", run.stdout);
    assert!(defrag[2].contains("(leader)"), "{}", run.stdout);
    // The snapshot's size on disk is the one etcd announced and verified.
    let saved = run.lines_with("snapshot saved: ")[0];
    let size = saved.split_whitespace().nth(2).unwrap();
    run.expect_lines(&[&format!("file on disk: {size} bytes")]);
    assert!(run.stderr.contains("snapshot: 100%"), "{}", run.stderr);
}

#[cfg(feature = "tls")]
#[test]
fn tls() {
    run("tls", Etcd::Own).expect_lines(&[
        "no endpoints given: started a throwaway TLS etcd",
        "connected to https://",
        "put tls-example/greeting at revision",
        "tls-example/greeting = hello over TLS (version 1",
        "done",
    ]);
}

#[cfg(feature = "v2")]
#[test]
fn v2() {
    run("v2", Etcd::Own).expect_lines(&["server", "queue in order:"]);
}

/// The metrics example serves for `SERVE_SECS`; scraped while it does.
#[cfg(feature = "metrics")]
#[test]
fn metrics() {
    let mut scraped = None;
    let run = run_with("metrics", Etcd::Shared, &[("SERVE_SECS", "3")], |line| {
        if let Some(url) = line.strip_prefix("serving metrics at http://") {
            let (addr, path) = url.split_once('/').unwrap();
            // Let the traffic thread make a few calls first.
            std::thread::sleep(Duration::from_millis(500));
            scraped = Some(common::http_get(addr, &format!("/{path}")).unwrap());
        }
    });
    let (status, body) = scraped.unwrap_or_else(|| panic!("no URL printed:\n{}", run.stdout));
    assert_eq!(status, 200);
    assert!(
        body.contains("grpc_client_started_total{grpc_type=\"unary\",grpc_service=\"etcdserverpb.KV\",grpc_method=\"Put\"}"),
        "{body}"
    );
    assert!(body.contains("etcd_client_watchers 1"), "{body}");
}
