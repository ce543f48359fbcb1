//! Throwaway etcd clusters ([`ClusterBuilder`], [`Cluster`]) and the faults
//! tests inject into them: kill, SIGSTOP/SIGCONT, restart, extra members.
//! Depends on `std`, `libc`, `tempfile` and the rest of this crate.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::bin::{etcd_at_least, etcd_bin, etcd_version, scrub_etcd_env};
use crate::http::{http_get, http_post_json, json_field};
use crate::ports::{reserve_port, PortGuard};
use crate::process::{harness_root, lock, rand_u64, spawn_guarded};
use crate::proxy::Proxy;

/// How many times a cluster start is retried with fresh ports when a member
/// fails to bind its ports.
const START_ATTEMPTS: u32 = 4;
/// Default time allowed for a cluster (or a restarted member) to serve.
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Lines of each member's log quoted in panic messages.
const LOG_TAIL_LINES: usize = 40;

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
    unix_socket: bool,
    peer_proxies: bool,
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
            unix_socket: false,
            peer_proxies: false,
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

    /// Serves clients on a Unix socket as well (not advertised): see
    /// [`Cluster::unix_socket`].
    pub fn unix_socket(mut self) -> Self {
        self.unix_socket = true;
        self
    }

    /// Puts a [`Proxy`] in front of every member's peer listener and
    /// advertises the proxy, so all raft traffic to a member passes
    /// through it: [`Cluster::isolate`] can then cut a member off from its
    /// peers while clients still reach it.
    pub fn peer_proxies(mut self) -> Self {
        self.peer_proxies = true;
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
    unix_socket: bool,
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
    /// In front of the peer listener ([`ClusterBuilder::peer_proxies`]).
    peer_proxy: Option<Proxy>,
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
    /// The name of the member's Unix socket in its directory.
    fn unix_socket_name(&self) -> String {
        format!("localhost:{}", self.client.port)
    }
    /// The peer URL the member is known by (its proxy's, if it has one).
    fn peer_url(&self) -> String {
        match &self.peer_proxy {
            Some(p) => format!("http://{}", p.addr()),
            None => self.listen_peer_url(),
        }
    }
    fn listen_peer_url(&self) -> String {
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
        let proxies: Vec<Option<Proxy>> = ports
            .iter()
            .map(|(_, _, peer, _)| {
                b.peer_proxies
                    .then(|| Proxy::start(&format!("127.0.0.1:{}", peer.port)))
            })
            .collect();
        let initial_cluster = ports
            .iter()
            .zip(&proxies)
            .map(|((name, _, peer, _), proxy)| match proxy {
                Some(p) => format!("{name}=http://{}", p.addr()),
                None => format!("{name}=http://127.0.0.1:{}", peer.port),
            })
            .collect::<Vec<_>>()
            .join(",");
        let mut members = Vec::new();
        for ((name, client, peer, tls_client), peer_proxy) in ports.into_iter().zip(proxies) {
            let mdir = dir.path().join(&name);
            fs::create_dir_all(&mdir).map_err(|e| format!("{}: {e}", mdir.display()))?;
            members.push(Arc::new(Member {
                name,
                client,
                tls_client,
                peer,
                peer_proxy,
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
            unix_socket: b.unix_socket,
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
            .arg(if self.unix_socket {
                // etcd reads `unix://localhost:P` as the file `localhost:P`
                // in its working directory, the member's directory.
                format!("{},unix://{}", m.all_client_urls(), m.unix_socket_name())
            } else {
                m.all_client_urls()
            })
            .arg("--advertise-client-urls")
            .arg(m.all_client_urls())
            .arg("--listen-peer-urls")
            .arg(m.listen_peer_url())
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

    /// Whether the cluster has no members (never, once started).
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

    /// Member `i`'s Unix socket, as a `unix://` endpoint with an absolute
    /// path ([`ClusterBuilder::unix_socket`]).
    pub fn unix_socket(&self, i: usize) -> String {
        assert!(
            self.unix_socket,
            "the cluster was built without unix_socket()"
        );
        let m = self.member(i);
        format!("unix://{}", m.dir.join(m.unix_socket_name()).display())
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
    fn pid(&self, i: usize) -> Option<u32> {
        let m = self.member(i);
        let p = lock(&m.proc);
        p.child.as_ref().map(Child::id)
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

    /// Waits until member `i` is healthy; errors if its process exits or
    /// `timeout` passes.
    fn wait_healthy(&self, i: usize, timeout: Duration) -> Result<(), String> {
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
    fn status(&self, i: usize) -> Option<(u64, u64)> {
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
    fn leader(&self) -> Option<usize> {
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

    /// Cuts member `i` off from its peers (true) or reconnects it (false),
    /// while clients still reach it: a network partition of one. Needs
    /// [`ClusterBuilder::peer_proxies`]. Raft traffic to `i` is swallowed
    /// by its proxy, and traffic from `i` by the others' proxies (they
    /// recognize it by the peer URL etcd sends with each request); the
    /// member keeps serving what it has, serializable reads included, and
    /// falls behind as the others take writes.
    pub fn isolate(&self, i: usize, on: bool) {
        let members = self.members_snapshot();
        let cut = &members[i];
        let url = cut.peer_url();
        for (j, m) in members.iter().enumerate() {
            let proxy = m.peer_proxy.as_ref().unwrap_or_else(|| {
                panic!("isolate needs a cluster built with ClusterBuilder::peer_proxies")
            });
            if j == i {
                proxy.blackhole(on);
            } else {
                proxy.blackhole_from(&url, on);
            }
        }
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
    fn start_extra_member_no_wait(&self, name: &str, initial_cluster: &str) -> usize {
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
            peer_proxy: None,
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
