//! The example CLI (`examples/etcdctl/`) against the real etcdctl: the
//! one next to the etcd under test (`/usr/bin/etcdctl` 3.4.23 beside
//! `/usr/bin/etcd`, 3.5.30's beside `/opt/etcd-3.5.30/usr/bin/etcd`), with
//! `ETCDCTL_API=3`. Both run the same command list against one etcd as
//! processes, and their standard output must match byte for byte (simple
//! format) or field for field, in Go's field order (JSON), with exit codes
//! and etcdctl's own stderr lines (`Error: …`, a watch cancelled, an
//! endpoint that failed) equal too. Only what legitimately differs between
//! two runs is masked: revisions, lease ids, raft indexes, database sizes,
//! timings; and what differs between etcdctl releases the example cannot
//! both print: a table's borders (3.4 draws ASCII, 3.5.30 box-drawing
//! characters) and the names of a transaction's responses in JSON (3.4
//! `ResponseRange`, 3.5 `response_range`).
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

use etcd_blocking::{Client, DeleteOptions, GetOptions, Permission};

/// The etcdctl compared with: the one next to the etcd under test (the
/// same release as the server), or `ETCDCTL_COMPARE_BIN` when set.
fn etcdctls() -> Vec<PathBuf> {
    if let Some(bin) = std::env::var_os("ETCDCTL_COMPARE_BIN") {
        return vec![PathBuf::from(bin)];
    }
    let sibling = common::etcd_bin().with_file_name("etcdctl");
    assert!(
        sibling.exists(),
        "{} is missing: the etcdctl of the etcd under test is compared with \
         (or set ETCDCTL_COMPARE_BIN)",
        sibling.display()
    );
    vec![sibling]
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
/// no `ETCDCTL_*` variables but `ETCDCTL_API=3`, `stdin` as its standard
/// input (none: an empty one), for at most `limit` (then it is killed:
/// watch, elect, lock without a command).
fn run(bin: &Path, args: &[String], stdin: Option<&str>, limit: Duration) -> Output {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("ETCDCTL") {
            cmd.env_remove(k);
        }
    }
    cmd.env("ETCDCTL_API", "3")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        // Dropped at the end: the CLI reads end of input after it.
        let _ = pipe.write_all(input.as_bytes());
    }
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

/// How a step's stderr is compared.
#[derive(Clone, Copy, PartialEq)]
enum Stderr {
    /// etcdctl's own lines (see [`ETCDCTL_LINES`]), masked as stdout is.
    Same,
    /// A flag's value refused: both print an `Error: …` line, with our
    /// own wording after it (the crate's parser, not Go's), and etcdctl
    /// its help on stdout; compared: that there is an `Error:` line (and
    /// the exit code).
    ErrorLine,
}

/// The stderr lines etcdctl writes itself (its gRPC log lines, JSON,
/// are left out): the error it exits with, a watch the server cancelled,
/// an endpoint that failed.
const ETCDCTL_LINES: &[&str] = &[
    "Error:",
    "watch was canceled",
    "Failed to get the status of endpoint",
];

/// What is compared: stdout (masked), the exit code (`None` when killed
/// after its time limit), etcdctl's own stderr lines, and the healthy
/// endpoints of `endpoint health` (etcdctl 3.4 prints them on stderr, 3.5
/// on stdout: compared wherever they are).
#[derive(Debug, PartialEq)]
struct Seen {
    stdout: String,
    code: Option<i32>,
    stderr: Vec<String>,
    healthy: Vec<String>,
}

const HEALTHY: &str = " is healthy: successfully committed proposal";

fn seen(out: &Output, mask: fn(&str) -> String, how: Stderr) -> Seen {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let healthy = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains(HEALTHY))
        .map(|l| mask(l).trim_end().to_string())
        .collect();
    let stdout: String = stdout
        .split_inclusive('\n')
        .filter(|l| !l.contains(HEALTHY))
        .collect();
    let own = stderr.lines().filter(|l| {
        ETCDCTL_LINES.iter().any(|p| l.starts_with(p)) || l.contains(" is unhealthy: ")
    });
    let stdout = match how {
        Stderr::Same => mask(&stdout),
        Stderr::ErrorLine => String::new(),
    };
    Seen {
        stdout,
        code: out.status.code(),
        healthy,
        stderr: match how {
            Stderr::Same => own
                .map(|l| {
                    // Our own detail after Go's words, in parentheses.
                    let l = match l.find(" (no endpoint") {
                        Some(i) => &l[..i],
                        None => l,
                    };
                    mask(l).trim_end().to_string()
                })
                .collect(),
            // One line or two (cobra prints its error, then etcdctl again).
            Stderr::ErrorLine => {
                let any = own.into_iter().any(|l| l.starts_with("Error:"));
                vec![format!("an Error: line: {any}")]
            }
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
        "CompactRevision",
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

/// A Go duration (`4.56ms`, `5.0005s`, `950µs`) anywhere in a word.
fn durations(s: &str) -> String {
    let is_duration = |w: &str| {
        let digits = w.trim_end_matches(|c: char| c.is_alphabetic() || c == 'µ');
        let unit = &w[digits.len()..];
        !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
            && ["ns", "µs", "ms", "s", "m", "h"].contains(&unit)
    };
    s.lines()
        .map(|l| {
            l.split(' ')
                .map(|w| if is_duration(w) { "D" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
                + "\n"
        })
        .collect()
}

/// `-w table`: etcdctl 3.5.30 draws the borders with box-drawing
/// characters, 3.4 in ASCII; compared in ASCII.
fn table(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '┌' | '┬' | '┐' | '├' | '┼' | '┤' | '└' | '┴' | '┘' => '+',
            '─' => '-',
            '│' => '|',
            c => c,
        })
        .collect()
}

/// `-w table` with cells that differ between two runs (raft indexes,
/// sizes, timings): the cells trimmed, their widths and rules left out.
fn table_cells(s: &str) -> String {
    table(s)
        .lines()
        .filter(|l| !l.starts_with('+'))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split('|')
                .map(|c| numbers(&durations(c.trim())).trim_end().to_string())
                .collect();
            cells.join("|") + "\n"
        })
        .collect()
}

/// `-w fields`: the values of fields that differ between two runs.
fn fields(s: &str) -> String {
    const MASKED: &[&str] = &[
        "Revision",
        "CreateRevision",
        "ModRevision",
        "PrevCreateRevision",
        "PrevModRevision",
        "RaftIndex",
        "RaftAppliedIndex",
        "DBSize",
        "Took",
        "ID",
        "TTL",
        "Lease",
    ];
    s.lines()
        .map(|l| {
            let masked = MASKED
                .iter()
                .find(|f| l.starts_with(&format!("\"{f}\" : ")));
            match masked {
                Some(f) => format!("\"{f}\" : X\n"),
                None => format!("{l}\n"),
            }
        })
        .collect()
}

/// A transaction in JSON: etcdctl 3.4 names the responses `ResponseRange`,
/// `ResponsePut`, `ResponseDeleteRange`; 3.5 `response_range`, … .
fn txn_json(s: &str) -> String {
    json_fields(
        &s.replace("\"ResponseRange\"", "\"response_range\"")
            .replace("\"ResponsePut\"", "\"response_put\"")
            .replace("\"ResponseDeleteRange\"", "\"response_delete_range\""),
    )
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

/// The keys of [`fixture`], and no users or roles but `cmp-u1` (password
/// `pw1`, role `cmp-r1`) and `cmp-r1` (read `cmp/a`, read-write the
/// prefix `cmp/`, write [`cmp/b`, `cmp/d`), read from `x`).
fn users_fixture() -> String {
    fixture();
    let c = client();
    for u in c.user_list().unwrap().users() {
        c.user_delete(u).unwrap();
    }
    for r in c.role_list().unwrap().roles() {
        c.role_delete(r).unwrap();
    }
    c.user_add("cmp-u1", "pw1").unwrap();
    c.role_add("cmp-r1").unwrap();
    for perm in [
        Permission::read("cmp/a"),
        Permission::read_write("cmp/").prefix(),
        Permission::write("cmp/b").range_end("cmp/d"),
        Permission::read("x").range_end(vec![0]),
    ] {
        c.role_grant_permission("cmp-r1", perm).unwrap();
    }
    c.user_grant_role("cmp-u1", "cmp-r1").unwrap();
    String::new()
}

/// How a step runs and what is compared.
struct Step {
    args: &'static str,
    /// Sets the data up; its result replaces `{x}` in `args`.
    setup: fn() -> String,
    mask: fn(&str) -> String,
    stderr: Stderr,
    /// Standard input (none: empty).
    stdin: Option<&'static str>,
    /// Kill after this long (commands that do not end by themselves).
    limit: Duration,
}

impl Step {
    fn setup(self, setup: fn() -> String) -> Step {
        Step { setup, ..self }
    }
    fn mask(self, mask: fn(&str) -> String) -> Step {
        Step { mask, ..self }
    }
    fn stdin(self, stdin: &'static str) -> Step {
        Step {
            stdin: Some(stdin),
            ..self
        }
    }
    fn killed(self) -> Step {
        Step {
            limit: KILLED,
            ..self
        }
    }
    fn error_line(self) -> Step {
        Step {
            stderr: Stderr::ErrorLine,
            ..self
        }
    }
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
/// The history compacted up to now: `{x}` is a revision compacted away.
fn compacted_fixture() -> String {
    let first = fixture();
    let now = client().put("cmp/a", "2").unwrap().header().revision();
    client().compact(now).unwrap();
    first.to_string()
}

const SHORT: Duration = Duration::from_secs(30);
const KILLED: Duration = Duration::from_millis(2500);

fn step(args: &'static str) -> Step {
    Step {
        args,
        setup: plain_fixture,
        mask: as_is,
        stderr: Stderr::Same,
        stdin: None,
        limit: SHORT,
    }
}

/// A transaction's input: compares, success requests, failure requests,
/// each section ended by a blank line.
const TXN: &str = "value(\"cmp/a\") = \"1\"\nmod(\"cmp/b\") > \"0\"\n\nput cmp/b 23 --prev-kv\nget cmp/ --prefix --keys-only\ndel cmp/c\n\nget cmp/a\n\n";
const TXN_FAILS: &str = "version(\"cmp/a\") != \"1\"\n\nput cmp/x 1\n\nget cmp/ --prefix --limit 1\nput \"cmp/quoted key\" 'v w'\n\n";

fn steps() -> Vec<Step> {
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
        step("get cmp/a --rev={x}").setup(rev_fixture),
        step("get cmp/ --prefix -w json").mask(json_fields),
        step("get cmp/missing -w json").mask(json_fields),
        step("get cmp/ --prefix --keys-only --limit 1 -w json").mask(json_fields),
        step("get cmp/ --prefix -w fields").mask(fields),
        step("get cmp/ --prefix -w table"),
        step("get cmp/ --prefix --from-key"),
        step("get cmp/a --print-value-only -w json"),
        step("get cmp/ --prefix --sort-by=NOPE"),
        // put
        step("put cmp/a new"),
        step("put cmp/a new --prev-kv"),
        step("put cmp/new v --prev-kv"),
        step("put cmp/a v --prev-kv -w json").mask(json_fields),
        step("put cmp/a v --prev-kv -w fields").mask(fields),
        step("put cmp/l v --lease={x}").setup(lease_fixture),
        step("put cmp/l v --lease=zz"),
        step("put cmp/l v --lease=123"),
        // del
        step("del cmp/a"),
        step("del cmp/missing"),
        step("del cmp/ --prefix"),
        step("del cmp/a --prev-kv"),
        step("del cmp/ --prefix --prev-kv"),
        step("del cmp/a cmp/c"),
        step("del cmp/ --prefix --prev-kv -w json").mask(json_fields),
        step("del cmp/ --prefix --prev-kv -w fields").mask(fields),
        // txn
        step("txn").stdin(TXN),
        step("txn -i").stdin(TXN),
        step("txn").stdin(TXN_FAILS),
        step("txn -w json").stdin(TXN).mask(txn_json),
        step("txn -w json").stdin(TXN_FAILS).mask(txn_json),
        step("txn -w fields").stdin(TXN).mask(fields),
        step("txn -w table").stdin(TXN),
        step("txn").stdin("bogus\n\n\n\n"),
        step("txn").stdin("value(\"cmp/a\") = \"1\"\n\nfoo cmp/b\n\n\n"),
        step("txn").stdin("ver(\"cmp/a\") = \"x\"\n\n\n\n"),
        step("txn").stdin("value(\"cmp/a\") = \"1\"\n"),
        step("txn"),
        step("txn extra"),
        // cluster
        step("member list"),
        step("member list -w json").mask(json_fields),
        step("member list -w table").mask(table),
        step("member list -w fields").mask(fields),
        step("endpoint status").mask(status_row),
        step("endpoint status -w json").mask(json_fields),
        step("endpoint status -w table").mask(table_cells),
        step("endpoint status -w fields").mask(fields),
        step("endpoint health -w json").mask(json_fields),
        step("endpoint health -w table").mask(table_cells),
        step("endpoint health -w fields").mask(fields),
        // an endpoint that cannot be reached, among others
        step("--endpoints={ep},127.0.0.1:1 endpoint status").mask(status_row),
        step("--endpoints={ep},127.0.0.1:1 endpoint status -w json").mask(json_fields),
        step("--endpoints={ep},127.0.0.1:1 --command-timeout=2s endpoint health").mask(durations),
        step("--endpoints={ep},127.0.0.1:1 --command-timeout=2s endpoint health -w json")
            .mask(json_fields),
        // leases
        step("lease grant 100").mask(lease_ids),
        step("lease grant 100 -w json").mask(json_fields),
        step("lease grant 100 -w fields").mask(fields),
        step("lease list").setup(lease_fixture).mask(lease_ids),
        step("lease list -w json")
            .setup(lease_fixture)
            .mask(json_fields),
        step("lease timetolive {x}")
            .setup(lease_fixture)
            .mask(lease_ids),
        step("lease timetolive {x} --keys")
            .setup(lease_fixture)
            .mask(lease_ids),
        step("lease timetolive {x} -w json")
            .setup(lease_fixture)
            .mask(json_fields),
        step("lease timetolive {x} -w fields")
            .setup(lease_fixture)
            .mask(fields),
        step("lease revoke {x}")
            .setup(lease_fixture)
            .mask(lease_ids),
        step("lease revoke 123"),
        step("lease timetolive 123"),
        step("lease keep-alive --once {x}")
            .setup(lease_fixture)
            .mask(lease_ids),
        step("lease grant nope"),
        step("lease grant"),
        step("lease grant 10 20"),
        step("lease revoke"),
        // users and roles
        step("user add cmp-new:pw").setup(users_fixture),
        step("user add cmp-u1:pw").setup(users_fixture),
        step("user add :pw").setup(users_fixture),
        step("user add cmp-new").setup(users_fixture),
        step("user add cmp-new --interactive=false")
            .setup(users_fixture)
            .stdin("pw\n"),
        step("user add cmp-new --no-password").setup(users_fixture),
        step("user add cmp-new --new-user-password=pw -w json")
            .setup(users_fixture)
            .mask(json_fields),
        step("user add").setup(users_fixture),
        step("user get cmp-u1").setup(users_fixture),
        step("user get cmp-u1 --detail").setup(users_fixture),
        step("user get cmp-u1 -w json")
            .setup(users_fixture)
            .mask(json_fields),
        step("user get cmp-u1 -w fields").setup(users_fixture),
        step("user get cmp-nobody").setup(users_fixture),
        step("user list").setup(users_fixture),
        step("user list -w json")
            .setup(users_fixture)
            .mask(json_fields),
        step("user passwd cmp-u1 --interactive=false")
            .setup(users_fixture)
            .stdin("pw2\n"),
        step("user grant-role cmp-u1 cmp-r1").setup(users_fixture),
        step("user revoke-role cmp-u1 cmp-r1").setup(users_fixture),
        step("user revoke-role cmp-u1").setup(users_fixture),
        step("user delete cmp-u1").setup(users_fixture),
        step("user delete cmp-u1 -w fields")
            .setup(users_fixture)
            .mask(fields),
        step("role add cmp-new").setup(users_fixture),
        step("role add cmp-r1").setup(users_fixture),
        step("role get cmp-r1").setup(users_fixture),
        step("role get cmp-r1 -w json")
            .setup(users_fixture)
            .mask(json_fields),
        step("role get cmp-r1 -w fields")
            .setup(users_fixture)
            .mask(fields),
        step("role get cmp-nobody").setup(users_fixture),
        step("role list").setup(users_fixture),
        step("role list -w fields")
            .setup(users_fixture)
            .mask(fields),
        step("role grant-permission cmp-r1 readwrite k1").setup(users_fixture),
        step("role grant-permission cmp-r1 read k/ --prefix").setup(users_fixture),
        step("role grant-permission cmp-r1 write a z").setup(users_fixture),
        step("role grant-permission cmp-r1 read y --from-key").setup(users_fixture),
        step("role grant-permission cmp-r1 bogus k").setup(users_fixture),
        step("role grant-permission cmp-r1 read a z --prefix").setup(users_fixture),
        step("role grant-permission cmp-r1 read").setup(users_fixture),
        step("role revoke-permission cmp-r1 cmp/a").setup(users_fixture),
        step("role revoke-permission cmp-r1 cmp/ --prefix").setup(users_fixture),
        step("role revoke-permission cmp-r1 cmp/b cmp/d").setup(users_fixture),
        step("role revoke-permission cmp-r1 x --from-key").setup(users_fixture),
        step("role revoke-permission cmp-r1 cmp/nothing").setup(users_fixture),
        step("role delete cmp-r1").setup(users_fixture),
        step("role delete cmp-r1 -w json")
            .setup(users_fixture)
            .mask(json_fields),
        // compaction
        step("compaction {x}").setup(compact_fixture).mask(numbers),
        step("compaction 1"),
        // watch, lock, elect: run until killed
        step("watch cmp/ --prefix --rev={x}")
            .setup(rev_fixture)
            .killed(),
        step("watch cmp/ --prefix --rev={x} --prev-kv")
            .setup(rev_fixture)
            .killed(),
        step("watch cmp/ --prefix --rev={x} -w json")
            .setup(rev_fixture)
            .mask(json_fields)
            .killed(),
        step("watch cmp/ --prefix --rev={x} -w fields")
            .setup(rev_fixture)
            .mask(fields)
            .killed(),
        // a watch from a compacted revision: cancelled by the server
        step("watch cmp/ --prefix --rev={x}")
            .setup(compacted_fixture)
            .killed(),
        step("watch cmp/ --prefix --rev={x} -w json")
            .setup(compacted_fixture)
            .mask(json_fields)
            .killed(),
        step("lease keep-alive {x}")
            .setup(lease_fixture)
            .mask(lease_ids)
            .killed(),
        step("lock cmp-lock echo locked"),
        step("lock cmp-lock").mask(lease_ids).killed(),
        step("elect cmp-elect me").mask(lease_ids).killed(),
        // errors and their exit codes
        // (Go says "context deadline exceeded"; we add the cause.)
        step("--endpoints=127.0.0.1:1 --dial-timeout=1s get cmp/a"),
        step("--command-timeout=1ns get cmp/a"),
        step("--dial-timeout=nope get cmp/a").error_line(),
        step("--command-timeout=5 get cmp/a").error_line(),
        step("--no-such-flag get cmp/a").error_line(),
        step("get"),
        step("put"),
        step("del"),
        step("lease revoke zz"),
        step("compaction x"),
        step("-w yaml get cmp/a"),
    ]
}

/// Runs every step with etcdctl and the example against `ep`.
fn compare(steps: Vec<Step>, ep: &str) -> (usize, Vec<String>) {
    let ours = example_bin();
    let mut mismatches = Vec::new();
    let mut ran = 0;
    for etcdctl in etcdctls() {
        for s in &steps {
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
                        .replace("{ep}", ep)
                        .split_whitespace()
                        .map(String::from),
                );
                args
            };
            let args = args_for(&(s.setup)());
            let want_out = run(&etcdctl, &args, s.stdin, s.limit);
            let got_out = run(&ours, &args_for(&(s.setup)()), s.stdin, s.limit);
            let want = seen(&want_out, s.mask, s.stderr);
            let got = seen(&got_out, s.mask, s.stderr);
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
    (ran, mismatches)
}

#[test]
fn example_cli_matches_etcdctl() {
    let steps = steps();
    let all = steps.len() * etcdctls().len();
    let (ran, mismatches) = compare(steps, &cluster().endpoint(0));
    assert_eq!(ran, all);
    assert!(
        mismatches.is_empty(),
        "{} of {ran} commands differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// `auth enable|disable` on a cluster of their own (enabling auth would
/// refuse the other tests' calls).
fn auth_cluster() -> &'static common::Cluster {
    static C: OnceLock<common::Cluster> = OnceLock::new();
    C.get_or_init(|| common::Cluster::start(1))
}

/// Auth off, no users or roles but `root` (password `rootpw`) when
/// `with_root`.
fn auth_reset(with_root: bool) {
    let eps = auth_cluster().endpoints();
    // On while a step left it on: only root may turn it off.
    if let Ok(root) = Client::builder(eps.clone())
        .user("root", "rootpw")
        .connect()
    {
        let _ = root.auth_disable();
    }
    let c = Client::connect(eps).unwrap();
    for u in c.user_list().unwrap().users() {
        c.user_delete(u).unwrap();
    }
    for r in c.role_list().unwrap().roles() {
        c.role_delete(r).unwrap();
    }
    if with_root {
        c.user_add("root", "rootpw").unwrap();
    }
}
fn root_fixture() -> String {
    auth_reset(true);
    String::new()
}
fn no_root_fixture() -> String {
    auth_reset(false);
    String::new()
}
fn auth_on_fixture() -> String {
    auth_reset(true);
    let c = Client::connect(auth_cluster().endpoints()).unwrap();
    c.role_add("root").unwrap();
    c.user_grant_role("root", "root").unwrap();
    c.auth_enable().unwrap();
    String::new()
}

#[test]
fn auth_enable_disable_match_etcdctl() {
    let steps = vec![
        // A root user without the root role: etcdctl adds the role.
        step("auth enable").setup(root_fixture),
        step("auth enable").setup(no_root_fixture),
        step("auth enable extra").setup(root_fixture),
        step("--user=root:rootpw auth disable").setup(auth_on_fixture),
        step("auth disable").setup(auth_on_fixture),
        step("auth disable").setup(root_fixture),
        step("--user=root:rootpw user list").setup(auth_on_fixture),
    ];
    let all = steps.len() * etcdctls().len();
    let (ran, mismatches) = compare(steps, &auth_cluster().endpoint(0));
    auth_reset(false);
    assert_eq!(ran, all);
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
    // A server of its own: `fixture` on the shared one would reset keys
    // and leases under the other test's running steps.
    let own = common::Cluster::start(1);
    let ep = own.endpoint(0);
    let c = Client::connect(own.endpoints()).unwrap();
    for (k, v) in [("cmp/a", "1"), ("cmp/b", "22"), ("cmp/c", "3")] {
        c.put(k, v).unwrap();
    }
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
    let want = run(&etcdctl, &args(&path), None, SHORT);
    assert!(path.exists());
    std::fs::remove_file(&path).unwrap();
    let got = run(&ours, &args(&path), None, SHORT);
    assert_eq!(
        seen(&want, as_is, Stderr::Same),
        seen(&got, as_is, Stderr::Same),
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
