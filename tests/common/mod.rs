//! Real-etcd test harness shared by the integration tests (`mod common;`).
//!
//! It starts throwaway etcd clusters on loopback ports, waits until they
//! serve, injects faults (kill, SIGSTOP/SIGCONT, restart) and cleans up after
//! itself. It does not depend on the crate under test: only `std`, `libc` and
//! `tempfile`.
//!
//! * The etcd binary comes from `ETCD_BIN`, else `etcd` on `PATH`, else
//!   `/usr/bin/etcd`.
//! * Every etcd process is spawned from one dedicated, never-exiting thread
//!   with `PR_SET_PDEATHSIG = SIGKILL`, so it dies with the test process even
//!   when that process is killed. A detached watchdog (`/bin/sh` reading a
//!   pipe from the test process) SIGKILLs any survivor and removes this
//!   process's harness directory when the test process goes away, and every
//!   new test process sweeps directories left by dead ones.
//! * Data lives under `/dev/shm` when available (`ETCD_HARNESS_DIR`
//!   overrides), in `etcd-harness-<pid>-<nonce>/<cluster>/<member>/`.
//! * Ports are taken below the kernel's ephemeral range (so an outgoing
//!   connection can never take a killed member's port before it restarts)
//!   and reserved for the cluster's lifetime with an abstract unix socket
//!   named after the port, which excludes other test processes too
//!   (`cargo nextest`).
//!
//! Environment knobs: `ETCD_BIN`, `ETCD_HARNESS_DIR`,
//! `ETCD_HARNESS_LOG_LEVEL` (etcd's `--log-level`, default `warn`),
//! `ETCD_HARNESS_TIMEOUT_SECS` (startup timeout, default 20).
#![allow(dead_code)]

pub mod proxy;

use std::collections::hash_map::RandomState;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr as UnixSocketAddr, UnixListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How many times a cluster start is retried with fresh ports when a member
/// fails to bind its ports.
const START_ATTEMPTS: u32 = 4;
/// Default time allowed for a cluster (or a restarted member) to serve.
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Timeout of one `/health` probe (3.4 and 3.5 answer it with a quorum read).
const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Lines of each member's log quoted in panic messages.
const LOG_TAIL_LINES: usize = 40;

// ---------------------------------------------------------------------------
// The etcd binary and its version
// ---------------------------------------------------------------------------

/// Path of the etcd binary used by the harness: `ETCD_BIN` (a path, or a bare
/// name looked up on `PATH`), else `etcd` on `PATH`, else `/usr/bin/etcd`.
/// Panics with an install hint when none exists. Cached.
pub fn etcd_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("ETCD_BIN").filter(|b| !b.is_empty()) {
            let bin = PathBuf::from(bin);
            if bin.components().count() == 1 {
                if let Some(found) = find_in_path(bin.as_os_str()) {
                    return found;
                }
            }
            assert!(
                is_executable(&bin),
                "ETCD_BIN={} is not an executable file",
                bin.display()
            );
            return bin;
        }
        if let Some(found) = find_in_path(OsStr::new("etcd")) {
            return found;
        }
        let fallback = PathBuf::from("/usr/bin/etcd");
        if is_executable(&fallback) {
            return fallback;
        }
        panic!(
            "etcd binary not found: set ETCD_BIN or put etcd on PATH \
             (scripts/install-deps.sh installs /usr/bin/etcd)"
        )
    })
}

fn find_in_path(name: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Version of the etcd binary as `(major, minor, patch)`, parsed from
/// `etcd --version` (e.g. `(3, 4, 23)` or `(3, 5, 1)`). Cached.
pub fn etcd_version() -> (u32, u32, u32) {
    static VERSION: OnceLock<(u32, u32, u32)> = OnceLock::new();
    *VERSION.get_or_init(|| {
        let bin = etcd_bin();
        let mut cmd = Command::new(bin);
        cmd.arg("--version").stdin(Stdio::null());
        scrub_etcd_env(&mut cmd);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{} --version`: {e}", bin.display()));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        parse_etcd_version(&text).unwrap_or_else(|| {
            panic!(
                "cannot parse the output of `{} --version`: {text:?}",
                bin.display()
            )
        })
    })
}

/// True when the etcd binary is at least `major.minor` (e.g.
/// `etcd_at_least(3, 5)`).
pub fn etcd_at_least(major: u32, minor: u32) -> bool {
    let (ma, mi, _) = etcd_version();
    (ma, mi) >= (major, minor)
}

fn parse_etcd_version(text: &str) -> Option<(u32, u32, u32)> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("etcd Version:"))?;
    let mut parts = line.trim().trim_start_matches('v').split('.').map(|p| {
        let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse::<u32>().ok()
    });
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// Removes `ETCD_*` variables (e.g. `ETCD_BIN`, `ETCD_ENDPOINTS`) from a
/// child's environment: etcd reads every `ETCD_<FLAG>` variable as a flag.
fn scrub_etcd_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("ETCD_") && k != "ETCD_UNSUPPORTED_ARCH" {
            cmd.env_remove(&key);
        }
    }
}

// ---------------------------------------------------------------------------
// Process-wide runtime: harness directory, watchdog, spawner thread
// ---------------------------------------------------------------------------

struct SpawnRequest {
    cmd: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

struct Runtime {
    root: PathBuf,
    watchdog: Mutex<Option<ChildStdin>>,
    spawner: Mutex<mpsc::Sender<SpawnRequest>>,
}

/// Shell run by the watchdog. It reads the pids of spawned etcd processes
/// from its stdin until EOF (the test process has exited), then SIGKILLs
/// those whose command line still names the harness directory, waits for
/// them to go and removes the directory.
const WATCHDOG_SCRIPT: &str = r#"
trap '' INT HUP TERM PIPE
root=$1
pids=
while read -r pid; do pids="$pids $pid"; done
alive() { [ -r "/proc/$1/cmdline" ] && grep -qaF -- "$root" "/proc/$1/cmdline" 2>/dev/null; }
for p in $pids; do alive "$p" && kill -9 "$p" 2>/dev/null; done
i=0
while [ "$i" -lt 50 ]; do
  left=
  for p in $pids; do alive "$p" && left=1; done
  [ -z "$left" ] && break
  sleep 0.1
  i=$((i + 1))
done
rm -rf -- "$root" 2>/dev/null || { sleep 1; rm -rf -- "$root"; }
"#;

const ROOT_PREFIX: &str = "etcd-harness-";

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let root = create_root();

        let mut wd = Command::new("/bin/sh");
        wd.arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("etcd-harness-watchdog")
            .arg(&root)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Own session: a Ctrl-C or a process-group kill aimed at the tests
        // must not take the watchdog down before it has cleaned up.
        unsafe {
            wd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        // The Child handle is dropped on purpose: the watchdog outlives us.
        let watchdog = match wd.spawn() {
            Ok(mut child) => child.stdin.take(),
            Err(e) => {
                eprintln!("etcd harness: cannot start the cleanup watchdog: {e}");
                None
            }
        };

        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        // PR_SET_PDEATHSIG fires when the *thread* that forked the child
        // exits, so every etcd is forked by this thread, which never exits
        // (the Sender lives in a static).
        thread::Builder::new()
            .name("etcd-harness-spawner".into())
            .spawn(move || {
                for mut req in rx {
                    let result = req.cmd.spawn();
                    let _ = req.reply.send(result);
                }
            })
            .expect("cannot start the etcd spawner thread");

        Runtime {
            root,
            watchdog: Mutex::new(watchdog),
            spawner: Mutex::new(tx),
        }
    })
}

/// Directory holding every cluster of this test process
/// (`<base>/etcd-harness-<pid>-<nonce>`). It is removed by the watchdog when
/// the process exits.
pub fn harness_root() -> &'static Path {
    &runtime().root
}

fn create_root() -> PathBuf {
    let mut bases = Vec::new();
    if let Some(dir) = std::env::var_os("ETCD_HARNESS_DIR").filter(|d| !d.is_empty()) {
        bases.push(PathBuf::from(dir));
    } else {
        if Path::new("/dev/shm").is_dir() {
            bases.push(PathBuf::from("/dev/shm"));
        }
        bases.push(std::env::temp_dir());
    }
    let mut errors = Vec::new();
    for base in &bases {
        sweep_stale_roots(base);
        for _ in 0..10 {
            let name = format!(
                "{ROOT_PREFIX}{}-{:08x}",
                std::process::id(),
                rand_u64() as u32
            );
            let root = base.join(name);
            match fs::create_dir_all(base).and_then(|_| fs::create_dir(&root)) {
                Ok(()) => return root,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    errors.push(format!("{}: {e}", root.display()));
                    break;
                }
            }
        }
    }
    panic!(
        "cannot create the etcd harness directory: {}",
        errors.join("; ")
    )
}

/// Removes `etcd-harness-<pid>-*` directories of processes that no longer
/// exist (killing any etcd still using them).
fn sweep_stale_roots(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(rest) = name.strip_prefix(ROOT_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            stale.push(entry.path());
        }
    }
    if stale.is_empty() {
        return;
    }
    if let Ok(procs) = fs::read_dir("/proc") {
        for p in procs.flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cmdline) = fs::read(p.path().join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline);
            if stale
                .iter()
                .any(|s| cmdline.contains(&*s.to_string_lossy()))
            {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    for dir in stale {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Spawns `cmd` from the spawner thread with `PR_SET_PDEATHSIG = SIGKILL`
/// and registers its pid with the watchdog.
fn spawn_guarded(mut cmd: Command) -> io::Result<Child> {
    let rt = runtime();
    let parent = unsafe { libc::getpid() };
    // Only async-signal-safe calls in here: this runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before the prctl took effect.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let (reply, result) = mpsc::channel();
    lock(&rt.spawner)
        .send(SpawnRequest { cmd, reply })
        .expect("etcd spawner thread is gone");
    let child = result.recv().expect("etcd spawner thread is gone")?;
    if let Some(pipe) = lock(&rt.watchdog).as_mut() {
        let _ = writeln!(pipe, "{}", child.id());
    }
    Ok(child)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn rand_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

// ---------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------

/// A loopback TCP port reserved for this process until dropped: an abstract
/// unix socket `etcd-harness-port-<port>` is held, which other harness users
/// (this process or another) cannot bind.
struct PortGuard {
    port: u16,
    _reservation: UnixListener,
}

fn try_reserve(port: u16) -> Option<PortGuard> {
    let name = format!("etcd-harness-port-{port}");
    let addr = UnixSocketAddr::from_abstract_name(name.as_bytes()).ok()?;
    let reservation = UnixListener::bind_addr(&addr).ok()?;
    // Is it actually free? (The probe is closed before etcd binds the port.)
    TcpListener::bind(("127.0.0.1", port)).ok()?;
    Some(PortGuard {
        port,
        _reservation: reservation,
    })
}

/// Port ranges outside the kernel's ephemeral range (inclusive bounds).
fn port_ranges() -> Vec<(u16, u16)> {
    let (lo, hi) = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999));
    let mut ranges = Vec::new();
    if lo > 11_000 {
        ranges.push((10_000, lo - 1));
    }
    if hi < 64_000 {
        ranges.push((hi + 1, 65_000));
    }
    ranges
}

fn reserve_port() -> PortGuard {
    let ranges = port_ranges();
    let total: u32 = ranges.iter().map(|(a, b)| u32::from(b - a) + 1).sum();
    if total > 0 {
        for _ in 0..500 {
            let mut pick = (rand_u64() % u64::from(total)) as u32;
            for &(a, b) in &ranges {
                let len = u32::from(b - a) + 1;
                if pick < len {
                    if let Some(guard) = try_reserve(a + pick as u16) {
                        return guard;
                    }
                    break;
                }
                pick -= len;
            }
        }
    }
    // Fallback: let the kernel pick (inside the ephemeral range).
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("cannot bind a loopback port")
            .port();
        if let Some(guard) = try_reserve(port) {
            return guard;
        }
    }
    panic!("cannot find a free loopback port")
}

// ---------------------------------------------------------------------------
// Minimal HTTP/1.1 client (for /health, /version and the JSON gateway)
// ---------------------------------------------------------------------------

/// Sends one HTTP/1.1 request (`Connection: close`) to `addr`
/// ("127.0.0.1:P") and returns `(status, body)`. `timeout` bounds the
/// connect and each read/write. Chunked bodies are decoded.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> io::Result<(u16, String)> {
    let sock: SocketAddr = addr
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let body = body.unwrap_or("");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" || method == "PUT" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_http_response(&raw)
}

/// `GET path` on `addr` with a 3 s timeout; see [`http_request`].
pub fn http_get(addr: &str, path: &str) -> io::Result<(u16, String)> {
    http_request(addr, "GET", path, None, HEALTH_PROBE_TIMEOUT)
}

/// How many streams of one gRPC method (`"Watch"`, `"LeaseKeepAlive"`)
/// the server at `endpoint` has started: etcd's grpc-prometheus counter.
pub fn streams_started(endpoint: &str, method: &str) -> u64 {
    let (_, body) = http_get(endpoint, "/metrics").unwrap();
    let label = format!("grpc_method=\"{method}\"");
    body.lines()
        .filter(|l| l.starts_with("grpc_server_started_total") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// `POST path` with a JSON body on `addr` (3 s timeout), e.g. etcd's gRPC
/// gateway `/v3/maintenance/status`; see [`http_request`].
pub fn http_post_json(addr: &str, path: &str, body: &str) -> io::Result<(u16, String)> {
    http_request(addr, "POST", path, Some(body), HEALTH_PROBE_TIMEOUT)
}

fn parse_http_response(raw: &[u8]) -> io::Result<(u16, String)> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("truncated HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut body = raw[split + 4..].to_vec();
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("bad HTTP status line"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size_str = String::from_utf8_lossy(&rest[..eol]);
            let size_str = size_str.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_str, 16).map_err(|_| bad("bad chunk size"))?;
            rest = &rest[eol + 2..];
            if size == 0 || rest.len() < size {
                out.extend_from_slice(&rest[..size.min(rest.len())]);
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = rest.get(size + 2..).unwrap_or(&[]);
        }
        body = out;
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Extracts a string (or bare number) field `"key":"value"` from a flat
/// JSON text (first occurrence). Good enough for etcd's gateway answers.
pub fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("\"{key}\":");
    let start = json.find(&needle)? + needle.len();
    let rest = json[start..].trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        Some(&s[..s.find('"')?])
    } else {
        let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

// ---------------------------------------------------------------------------
// Cluster
// ---------------------------------------------------------------------------

/// PEM files for [`ClusterBuilder::tls`]: what etcd serves its `https://`
/// client listener with.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// Server certificate (`--cert-file`). Its SAN must match what clients
    /// dial (e.g. `IP:127.0.0.1`) or the name they check instead.
    pub cert: PathBuf,
    /// The server certificate's private key (`--key-file`).
    pub key: PathBuf,
    /// CA that client certificates must chain to (`--trusted-ca-file`).
    pub ca: PathBuf,
    /// Require a client certificate signed by `ca` (`--client-cert-auth`).
    pub client_cert_auth: bool,
}

/// Builder for a [`Cluster`] of `n` members with extra etcd flags.
///
/// ```ignore
/// let c = ClusterBuilder::new(1).arg("--quota-backend-bytes=1048576").start();
/// ```
#[derive(Clone, Debug)]
pub struct ClusterBuilder {
    size: usize,
    args: Vec<String>,
    startup_timeout: Duration,
    log_level: String,
    tls: Option<TlsFiles>,
}

impl ClusterBuilder {
    /// A builder for `n` members (n >= 1).
    pub fn new(n: usize) -> Self {
        assert!(n >= 1, "a cluster needs at least one member");
        let startup_timeout = std::env::var("ETCD_HARNESS_TIMEOUT_SECS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_STARTUP_TIMEOUT);
        let log_level = std::env::var("ETCD_HARNESS_LOG_LEVEL")
            .ok()
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "warn".to_string());
        ClusterBuilder {
            size: n,
            args: Vec::new(),
            startup_timeout,
            log_level,
            tls: None,
        }
    }

    /// Adds one etcd flag (e.g. `"--quota-backend-bytes=1048576"`) passed to
    /// every member, after the harness's own flags (so it can override them).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds several etcd flags; see [`ClusterBuilder::arg`].
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Time allowed for the cluster (and later restarts) to serve
    /// (default 20 s, or `ETCD_HARNESS_TIMEOUT_SECS`).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// etcd's `--log-level` (default `warn`, or `ETCD_HARNESS_LOG_LEVEL`).
    pub fn log_level(mut self, level: &str) -> Self {
        self.log_level = level.to_string();
        self
    }

    /// Serves clients over TLS as well: every member gets a second client
    /// listener, `https://127.0.0.1:P` on a port of its own, with
    /// `--cert-file`, `--key-file`, `--trusted-ca-file` and (if asked)
    /// `--client-cert-auth` from `files`. The plain `http://` listener
    /// stays, unaffected by those flags, so the harness's probes (`/health`,
    /// the JSON gateway) and [`Cluster::endpoints`] / [`Cluster::client_urls`]
    /// work as usual; [`Cluster::tls_client_urls`] gives the `https://` URLs.
    pub fn tls(mut self, files: TlsFiles) -> Self {
        self.tls = Some(files);
        self
    }

    /// Starts the cluster and waits until every member serves; panics with
    /// the members' log tails on failure.
    pub fn start(self) -> Cluster {
        self.try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`ClusterBuilder::start`] but returns the failure (with log
    /// tails) instead of panicking.
    pub fn try_start(self) -> Result<Cluster, String> {
        let _ = etcd_version(); // fail early and clearly without a binary
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let cluster = Cluster::prepare(&self)?;
            let started = cluster
                .members_snapshot()
                .iter()
                .try_for_each(|m| cluster.spawn_member(m, "new"));
            let result = match started {
                Ok(()) => cluster.wait_all_healthy(self.startup_timeout),
                Err(e) => Err(format!("cannot spawn {}: {e}", etcd_bin().display())),
            };
            match result {
                Ok(()) => return Ok(cluster),
                Err(e) => {
                    let port_clash = cluster.any_log_contains("address already in use");
                    let report = format!(
                        "etcd cluster of {} (etcd {:?}, {}) failed to start (attempt {attempt}): {e}\n{}",
                        self.size,
                        etcd_version(),
                        etcd_bin().display(),
                        cluster.logs_report()
                    );
                    drop(cluster);
                    failures.push(report);
                    if !port_clash {
                        break;
                    }
                }
            }
        }
        Err(failures.join("\n"))
    }
}

/// A throwaway etcd cluster on loopback ports. Members are indexed from 0 in
/// start order (named `m0`, `m1`, …; extra members keep their given name).
/// Dropping it SIGKILLs and reaps every member and removes the data.
///
/// All methods take `&self`, so a test may share `&Cluster` between threads
/// (e.g. kill a member while another thread drives a client).
pub struct Cluster {
    token: String,
    args: Vec<String>,
    log_level: String,
    startup_timeout: Duration,
    tls: Option<TlsFiles>,
    members: RwLock<Vec<Arc<Member>>>,
    pending_peers: Mutex<Vec<PortGuard>>,
    // Last field: removed after the members' fields are dropped.
    dir: tempfile::TempDir,
}

struct Member {
    name: String,
    client: PortGuard,
    /// The `https://` client listener's port ([`ClusterBuilder::tls`]).
    tls_client: Option<PortGuard>,
    peer: PortGuard,
    dir: PathBuf,
    initial_cluster: String,
    proc: Mutex<Proc>,
}

#[derive(Default)]
struct Proc {
    child: Option<Child>,
    stopped: bool,
    last_exit: Option<ExitStatus>,
}

impl Member {
    fn client_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client.port)
    }
    fn tls_client_url(&self) -> Option<String> {
        let guard = self.tls_client.as_ref()?;
        Some(format!("https://127.0.0.1:{}", guard.port))
    }
    /// `--listen-client-urls` / `--advertise-client-urls`.
    fn all_client_urls(&self) -> String {
        match self.tls_client_url() {
            Some(tls) => format!("{},{tls}", self.client_url()),
            None => self.client_url(),
        }
    }
    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer.port)
    }
    fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client.port)
    }
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    fn log_path(&self) -> PathBuf {
        self.dir.join("etcd.log")
    }

    /// Reaps the process if it exited; true while it is alive (or stopped).
    fn poll_running(&self) -> bool {
        let mut p = lock(&self.proc);
        let exited = match p.child.as_mut() {
            None => return false,
            Some(child) => child.try_wait().ok().flatten(),
        };
        match exited {
            Some(status) => {
                p.child = None;
                p.stopped = false;
                p.last_exit = Some(status);
                false
            }
            None => true,
        }
    }

    fn kill(&self) {
        let mut p = lock(&self.proc);
        if let Some(mut child) = p.child.take() {
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGCONT) };
            let _ = child.kill();
            if let Ok(status) = child.wait() {
                p.last_exit = Some(status);
            }
        }
        p.stopped = false;
    }

    fn signal(&self, sig: libc::c_int) -> bool {
        let p = lock(&self.proc);
        match p.child.as_ref() {
            Some(child) => unsafe { libc::kill(child.id() as libc::pid_t, sig) == 0 },
            None => false,
        }
    }

    fn healthy(&self) -> bool {
        matches!(
            http_get(&self.endpoint(), "/health"),
            Ok((_, body)) if body.contains("\"health\":\"true\"")
        )
    }
}

impl Cluster {
    /// Starts a cluster of `n` members with default flags; panics (with log
    /// tails) if it does not serve within the startup timeout.
    pub fn start(n: usize) -> Cluster {
        ClusterBuilder::new(n).start()
    }

    /// Starts a single-member cluster; shorthand for `Cluster::start(1)`.
    pub fn single() -> Cluster {
        Cluster::start(1)
    }

    /// Allocates ports and directories for `b.size` members (not started).
    fn prepare(b: &ClusterBuilder) -> Result<Cluster, String> {
        static CLUSTERS: AtomicU64 = AtomicU64::new(0);
        let seq = CLUSTERS.fetch_add(1, Ordering::Relaxed);
        let dir = tempfile::Builder::new()
            .prefix(&format!("c{seq}-"))
            .tempdir_in(harness_root())
            .map_err(|e| {
                format!(
                    "cannot create a cluster dir in {}: {e}",
                    harness_root().display()
                )
            })?;
        let token = format!("etcd-harness-{}-{seq}-{:x}", std::process::id(), rand_u64());
        let ports: Vec<(String, PortGuard, PortGuard, Option<PortGuard>)> = (0..b.size)
            .map(|i| {
                let tls = b.tls.as_ref().map(|_| reserve_port());
                (format!("m{i}"), reserve_port(), reserve_port(), tls)
            })
            .collect();
        let initial_cluster = ports
            .iter()
            .map(|(name, _, peer, _)| format!("{name}=http://127.0.0.1:{}", peer.port))
            .collect::<Vec<_>>()
            .join(",");
        let mut members = Vec::new();
        for (name, client, peer, tls_client) in ports {
            let mdir = dir.path().join(&name);
            fs::create_dir_all(&mdir).map_err(|e| format!("{}: {e}", mdir.display()))?;
            members.push(Arc::new(Member {
                name,
                client,
                tls_client,
                peer,
                dir: mdir,
                initial_cluster: initial_cluster.clone(),
                proc: Mutex::new(Proc::default()),
            }));
        }
        Ok(Cluster {
            token,
            args: b.args.clone(),
            log_level: b.log_level.clone(),
            startup_timeout: b.startup_timeout,
            tls: b.tls.clone(),
            members: RwLock::new(members),
            pending_peers: Mutex::new(Vec::new()),
            dir,
        })
    }

    fn members_snapshot(&self) -> Vec<Arc<Member>> {
        self.members
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn member(&self, i: usize) -> Arc<Member> {
        let members = self.members.read().unwrap_or_else(|p| p.into_inner());
        match members.get(i) {
            Some(m) => m.clone(),
            None => panic!("no member {i}: the cluster has {} members", members.len()),
        }
    }

    fn spawn_member(&self, m: &Member, state: &str) -> io::Result<()> {
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.log_path())?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        writeln!(
            log,
            "=== etcd harness: starting {} (--initial-cluster-state {state}) at unix time {}.{:03}",
            m.name,
            now.as_secs(),
            now.subsec_millis()
        )?;
        let mut cmd = Command::new(etcd_bin());
        cmd.arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(m.data_dir())
            .arg("--listen-client-urls")
            .arg(m.all_client_urls())
            .arg("--advertise-client-urls")
            .arg(m.all_client_urls())
            .arg("--listen-peer-urls")
            .arg(m.peer_url())
            .arg("--initial-advertise-peer-urls")
            .arg(m.peer_url())
            .arg("--initial-cluster")
            .arg(&m.initial_cluster)
            .arg("--initial-cluster-token")
            .arg(&self.token)
            .arg("--initial-cluster-state")
            .arg(state);
        if etcd_at_least(3, 4) {
            // 3.4 defaults to capnslog; zap + --log-level works on 3.4 and 3.5.
            cmd.arg("--logger")
                .arg("zap")
                .arg("--log-outputs")
                .arg("stderr")
                .arg("--log-level")
                .arg(&self.log_level);
        }
        if let Some(tls) = &self.tls {
            cmd.arg("--cert-file")
                .arg(&tls.cert)
                .arg("--key-file")
                .arg(&tls.key)
                .arg("--trusted-ca-file")
                .arg(&tls.ca);
            if tls.client_cert_auth {
                cmd.arg("--client-cert-auth");
            }
        }
        cmd.args(&self.args)
            .current_dir(&m.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log));
        scrub_etcd_env(&mut cmd);
        let child = spawn_guarded(cmd)?;
        let mut p = lock(&m.proc);
        p.child = Some(child);
        p.stopped = false;
        Ok(())
    }

    fn wait_all_healthy(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let members = self.members_snapshot();
        loop {
            let mut all = true;
            for m in &members {
                if !m.poll_running() {
                    return Err(format!(
                        "member {} exited during startup ({})",
                        m.name,
                        exit_text(lock(&m.proc).last_exit)
                    ));
                }
                if !m.healthy() {
                    all = false;
                    break;
                }
            }
            if all {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!("not healthy after {timeout:?}"));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn any_log_contains(&self, needle: &str) -> bool {
        self.members_snapshot().iter().any(|m| {
            fs::read_to_string(m.log_path())
                .map(|l| l.contains(needle))
                .unwrap_or(false)
        })
    }

    /// The last `lines` lines of every member's log, labelled.
    pub fn logs_report(&self) -> String {
        let mut out = String::new();
        for (i, m) in self.members_snapshot().iter().enumerate() {
            out.push_str(&format!(
                "--- member {i} ({}) client {} peer {} log {} (last {LOG_TAIL_LINES} lines):\n{}\n",
                m.name,
                m.all_client_urls(),
                m.peer_url(),
                m.log_path().display(),
                tail(&m.log_path(), LOG_TAIL_LINES)
            ));
        }
        out
    }

    /// Number of members (including extra members started later).
    pub fn len(&self) -> usize {
        self.members.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when the cluster has no member (never, in practice).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Client endpoints `"127.0.0.1:P"` of every member, in index order.
    pub fn endpoints(&self) -> Vec<String> {
        self.members_snapshot()
            .iter()
            .map(|m| m.endpoint())
            .collect()
    }

    /// Client endpoint `"127.0.0.1:P"` of member `i`.
    pub fn endpoint(&self, i: usize) -> String {
        self.member(i).endpoint()
    }

    /// Client URLs `"http://127.0.0.1:P"` of every member.
    pub fn client_urls(&self) -> Vec<String> {
        self.members_snapshot()
            .iter()
            .map(|m| m.client_url())
            .collect()
    }

    /// Client URL `"http://127.0.0.1:P"` of member `i`.
    pub fn client_url(&self, i: usize) -> String {
        self.member(i).client_url()
    }

    /// `https://127.0.0.1:P` client URLs of every member; panics unless the
    /// cluster was built with [`ClusterBuilder::tls`].
    pub fn tls_client_urls(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.tls_client_url(i)).collect()
    }

    /// `https://127.0.0.1:P` client URL of member `i`; panics unless the
    /// cluster was built with [`ClusterBuilder::tls`].
    pub fn tls_client_url(&self, i: usize) -> String {
        self.member(i)
            .tls_client_url()
            .unwrap_or_else(|| panic!("member {i} has no TLS listener: use ClusterBuilder::tls"))
    }

    /// Peer URL `"http://127.0.0.1:P"` of member `i`.
    pub fn peer_url(&self, i: usize) -> String {
        self.member(i).peer_url()
    }

    /// etcd `--name` of member `i` (`m0`, `m1`, … or an extra member's name).
    pub fn name(&self, i: usize) -> String {
        self.member(i).name.clone()
    }

    /// Pid of member `i`'s etcd process, `None` when it is not running.
    pub fn pid(&self, i: usize) -> Option<u32> {
        let m = self.member(i);
        let p = lock(&m.proc);
        p.child.as_ref().map(Child::id)
    }

    /// Member `i`'s `--data-dir`.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.member(i).data_dir()
    }

    /// Member `i`'s log file (etcd's stdout and stderr, all runs appended).
    pub fn log_path(&self, i: usize) -> PathBuf {
        self.member(i).log_path()
    }

    /// The last `lines` lines of member `i`'s log.
    pub fn log_tail(&self, i: usize, lines: usize) -> String {
        tail(&self.member(i).log_path(), lines)
    }

    /// Directory holding all members' directories.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `--initial-cluster` value the members were started with
    /// (`m0=http://127.0.0.1:P,…`).
    pub fn initial_cluster(&self) -> String {
        self.member(0).initial_cluster.clone()
    }

    /// `name=peer_url` for every member the harness knows (including extra
    /// members), plus `name=peer_url` of a new member: the
    /// `--initial-cluster` for [`Cluster::start_extra_member`], valid as
    /// long as no member was removed through the API (etcd requires the
    /// list to match the current membership exactly).
    pub fn initial_cluster_with(&self, name: &str, peer_url: &str) -> String {
        let mut parts: Vec<String> = self
            .members_snapshot()
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect();
        parts.push(format!("{name}={peer_url}"));
        parts.join(",")
    }

    /// SIGKILLs member `i` and reaps it. No-op if it is not running.
    pub fn kill(&self, i: usize) {
        self.member(i).kill();
    }

    /// Freezes member `i` with SIGSTOP (it keeps its sockets but answers
    /// nothing) and returns once every thread of it is stopped. Panics if it
    /// is not running.
    pub fn stop(&self, i: usize) {
        let m = self.member(i);
        let pid = self.pid(i);
        assert!(
            m.signal(libc::SIGSTOP),
            "cannot SIGSTOP member {i}: not running"
        );
        lock(&m.proc).stopped = true;
        if let Some(pid) = pid {
            wait_stop_state(pid, true);
        }
    }

    /// Resumes member `i` with SIGCONT after [`Cluster::stop`] and returns
    /// once it runs again.
    pub fn cont(&self, i: usize) {
        let m = self.member(i);
        let pid = self.pid(i);
        assert!(
            m.signal(libc::SIGCONT),
            "cannot SIGCONT member {i}: not running"
        );
        lock(&m.proc).stopped = false;
        if let Some(pid) = pid {
            wait_stop_state(pid, false);
        }
    }

    /// True while member `i`'s process exists (running or stopped).
    pub fn is_running(&self, i: usize) -> bool {
        self.member(i).poll_running()
    }

    /// True while member `i` is frozen by [`Cluster::stop`].
    pub fn is_stopped(&self, i: usize) -> bool {
        let m = self.member(i);
        m.poll_running() && lock(&m.proc).stopped
    }

    /// Exit status of member `i`'s last process, if one exited or was killed.
    pub fn last_exit(&self, i: usize) -> Option<ExitStatus> {
        let m = self.member(i);
        m.poll_running();
        let p = lock(&m.proc);
        p.last_exit
    }

    /// Starts member `i` again on the same ports and data dir
    /// (`--initial-cluster-state existing`), SIGKILLing it first if it still
    /// runs, and waits until it serves. Waiting needs a quorum (etcd's
    /// `/health` does a quorum read): use [`Cluster::restart_no_wait`] when
    /// the rest of the cluster is down.
    pub fn restart(&self, i: usize) {
        self.restart_no_wait(i);
        if let Err(e) = self.wait_healthy(i, self.startup_timeout) {
            panic!(
                "restarted member {i} does not serve: {e}\n{}",
                self.logs_report()
            );
        }
    }

    /// Like [`Cluster::restart`] but returns as soon as the process is
    /// spawned.
    pub fn restart_no_wait(&self, i: usize) {
        let m = self.member(i);
        m.kill();
        if let Err(e) = self.spawn_member(&m, "existing") {
            panic!("cannot respawn member {i}: {e}");
        }
    }

    /// True when member `i` answers `GET /health` with `"health":"true"`
    /// (which on 3.4 and 3.5 means: it has a leader, no alarm, and a quorum
    /// read succeeded). Waits at most 3 s.
    pub fn is_healthy(&self, i: usize) -> bool {
        self.member(i).healthy()
    }

    /// Waits until member `i` is healthy; errors if its process exits or
    /// `timeout` passes.
    pub fn wait_healthy(&self, i: usize, timeout: Duration) -> Result<(), String> {
        let m = self.member(i);
        let deadline = Instant::now() + timeout;
        loop {
            if !m.poll_running() {
                return Err(format!(
                    "member {i} ({}) is not running ({})",
                    m.name,
                    exit_text(lock(&m.proc).last_exit)
                ));
            }
            if m.healthy() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "member {i} ({}) not healthy after {timeout:?}",
                    m.name
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every running member is healthy (panics with logs after
    /// the startup timeout).
    pub fn wait_all_running_healthy(&self) {
        let deadline = Instant::now() + self.startup_timeout;
        for i in 0..self.len() {
            if self.is_running(i) {
                let left = deadline.saturating_duration_since(Instant::now());
                if let Err(e) = self.wait_healthy(i, left) {
                    panic!("{e}\n{}", self.logs_report());
                }
            }
        }
    }

    /// `(member_id, leader_id)` as reported by member `i` through the JSON
    /// gateway (`POST /v3/maintenance/status`); `None` if it does not answer
    /// within 3 s. `leader_id` is 0 when it knows no leader.
    pub fn status(&self, i: usize) -> Option<(u64, u64)> {
        let m = self.member(i);
        if !m.poll_running() || lock(&m.proc).stopped {
            return None;
        }
        let (code, body) = http_post_json(&m.endpoint(), "/v3/maintenance/status", "{}").ok()?;
        if code != 200 {
            return None;
        }
        let id = json_field(&body, "member_id")?.parse().ok()?;
        let leader = json_field(&body, "leader")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        Some((id, leader))
    }

    /// etcd member ID of member `i` (asked over the gateway), if it answers.
    pub fn member_id(&self, i: usize) -> Option<u64> {
        self.status(i).map(|(id, _)| id)
    }

    /// Index of the running member with etcd member id `id` (as a response
    /// header's `member_id` names it). Panics if none has it.
    pub fn index_of_member(&self, id: u64) -> usize {
        (0..self.len())
            .find(|&i| self.member_id(i) == Some(id))
            .unwrap_or_else(|| panic!("no running member has id {id:x}"))
    }

    /// Index of the current leader, as seen by the running members, or
    /// `None` if none of them knows one.
    pub fn leader(&self) -> Option<usize> {
        let statuses: Vec<Option<(u64, u64)>> = (0..self.len()).map(|i| self.status(i)).collect();
        let leader_id = statuses
            .iter()
            .flatten()
            .map(|&(_, leader)| leader)
            .find(|&l| l != 0)?;
        statuses
            .iter()
            .position(|s| matches!(s, Some((id, _)) if *id == leader_id))
    }

    /// Waits until the running members agree on a leader; returns its index.
    pub fn wait_leader(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.leader() {
                return l;
            }
            if Instant::now() >= deadline {
                panic!("no leader after {timeout:?}\n{}", self.logs_report());
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Reserves a free loopback port for a member to be added through the
    /// API and returns its peer URL (`"http://127.0.0.1:P"`). Pass the same
    /// URL to `MemberAdd`, then start the member with
    /// [`Cluster::start_extra_member`].
    pub fn alloc_peer_url(&self) -> String {
        let guard = reserve_port();
        let url = format!("http://127.0.0.1:{}", guard.port);
        lock(&self.pending_peers).push(guard);
        url
    }

    /// Starts a member that was added through the API (voter or learner):
    /// `name` must appear in `initial_cluster` (e.g. from
    /// [`Cluster::initial_cluster_with`], or built from the `MemberAdd`
    /// answer) with a peer URL returned by [`Cluster::alloc_peer_url`]. It
    /// starts with `--initial-cluster-state existing` and the cluster's
    /// extra flags on a fresh client port, and the call waits until it
    /// serves. Returns its index.
    pub fn start_extra_member(&self, name: &str, initial_cluster: &str) -> usize {
        let i = self.start_extra_member_no_wait(name, initial_cluster);
        if let Err(e) = self.wait_healthy(i, self.startup_timeout) {
            panic!(
                "extra member {name} does not serve: {e}\n{}",
                self.logs_report()
            );
        }
        i
    }

    /// Like [`Cluster::start_extra_member`] without waiting for it to serve.
    pub fn start_extra_member_no_wait(&self, name: &str, initial_cluster: &str) -> usize {
        let peer_ports: Vec<u16> = initial_cluster
            .split(',')
            .filter_map(|entry| entry.trim().split_once('='))
            .filter(|(n, _)| *n == name)
            .filter_map(|(_, url)| url.rsplit(':').next()?.trim_end_matches('/').parse().ok())
            .collect();
        assert!(
            !peer_ports.is_empty(),
            "initial cluster {initial_cluster:?} has no entry for {name:?}"
        );
        let peer = {
            let mut pending = lock(&self.pending_peers);
            let pos = pending
                .iter()
                .position(|g| peer_ports.contains(&g.port))
                .unwrap_or_else(|| {
                    panic!(
                        "the peer URL of {name:?} in {initial_cluster:?} was not allocated \
                         with Cluster::alloc_peer_url()"
                    )
                });
            pending.swap_remove(pos)
        };
        let mdir = self.dir.path().join(name);
        fs::create_dir_all(&mdir).unwrap_or_else(|e| panic!("{}: {e}", mdir.display()));
        let member = Arc::new(Member {
            name: name.to_string(),
            client: reserve_port(),
            tls_client: self.tls.as_ref().map(|_| reserve_port()),
            peer,
            dir: mdir,
            initial_cluster: initial_cluster.to_string(),
            proc: Mutex::new(Proc::default()),
        });
        let index = {
            let mut members = self.members.write().unwrap_or_else(|p| p.into_inner());
            assert!(
                members.iter().all(|m| m.name != name),
                "a member named {name:?} already exists"
            );
            members.push(member.clone());
            members.len() - 1
        };
        if let Err(e) = self.spawn_member(&member, "existing") {
            panic!("cannot spawn extra member {name}: {e}");
        }
        index
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in self.members_snapshot() {
            m.kill();
        }
        // Then the port reservations and the TempDir go with the fields.
    }
}

/// Waits (up to 5 s) until every thread of `pid` is in state `T` (stopped),
/// or none is. A signal is delivered asynchronously: etcd could otherwise
/// still answer a request right after `kill(SIGSTOP)` returns.
fn wait_stop_state(pid: u32, stopped: bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
            return;
        };
        let states: Vec<bool> = tasks
            .flatten()
            .filter_map(|t| fs::read_to_string(t.path().join("stat")).ok())
            .filter_map(|stat| {
                let state = stat[stat.rfind(')')? + 1..].split_whitespace().next()?;
                Some(state == "T" || state == "t")
            })
            .collect();
        let done = if stopped {
            states.iter().all(|&s| s)
        } else {
            !states.iter().any(|&s| s)
        };
        if done || Instant::now() >= deadline {
            return;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

fn exit_text(status: Option<ExitStatus>) -> String {
    status.map_or_else(|| "no exit status".to_string(), |s| s.to_string())
}

fn tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    } else {
        return format!("(no log at {})", path.display());
    }
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------
// Shared single-member cluster
// ---------------------------------------------------------------------------

/// A process-wide single-member cluster, started on first use and shared by
/// every test of the binary (use [`unique_prefix`] to keep tests apart).
/// Never inject faults into it. It dies, and its data is removed, when the
/// test process exits.
pub fn shared() -> &'static Cluster {
    static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
    match SHARED.get_or_init(|| ClusterBuilder::new(1).try_start()) {
        Ok(cluster) => cluster,
        Err(e) => panic!("the shared etcd did not start:\n{e}"),
    }
}

/// A key prefix unique to this call, e.g. `"t/<name>/<n>/<pid>.<nanos>/"`,
/// so tests sharing [`shared`] never see each other's keys.
pub fn unique_prefix(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("t/{name}/{n}/{}.{nanos}/", std::process::id())
}

/// The keys of a read, as text.
pub fn keys(r: &etcd_blocking::GetResponse) -> Vec<String> {
    r.kvs()
        .iter()
        .map(|kv| kv.key_str().unwrap().to_string())
        .collect()
}

/// A 3-member cluster that accepts HTTP/2 pings every second, for tests
/// that must notice a frozen or cut-off member quickly.
pub fn fast_keepalive_cluster() -> Cluster {
    ClusterBuilder::new(3)
        .arg("--grpc-keepalive-min-time=1s")
        .start()
}

/// A client for [`fast_keepalive_cluster`]: pings every second and gives
/// up on a silent member after another.
pub fn fast_keepalive_client(cluster: &Cluster) -> etcd_blocking::ClientBuilder {
    etcd_blocking::Client::builder(cluster.endpoints())
        .keepalive_time(Duration::from_secs(1))
        .keepalive_timeout(Duration::from_secs(1))
}
