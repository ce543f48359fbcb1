//! A small etcdctl-compatible command-line tool on etcd-blocking: the
//! client setup is one `ClientBuilder::from_env()` call, so it reads
//! etcdctl's `ETCDCTL_*` variables; its global flags (`--endpoints`,
//! `--cacert`, `--cert`, `--key`, `--user`, `--password`,
//! `--dial-timeout`, `--command-timeout`, `--keepalive-time`,
//! `--keepalive-timeout`, `--insecure-transport`, `--discovery-srv`,
//! `--discovery-srv-name`) are handed to it as the variables they stand
//! for, so flags and variables are parsed by the same code, etcdctl's way.
//!
//! Commands (etcdctl 3.4's output, `-w simple` or `-w json`): `get`,
//! `put`, `del`, `watch`, `lease grant|revoke|timetolive|keep-alive|list`,
//! `lock`, `elect`, `member list`, `endpoint status|health`,
//! `snapshot save`, `compaction`. Exit codes are etcdctl's: 1 for a failed
//! command, 2 for a failed connection, 128 for bad arguments.
//!
//! ```text
//! ETCDCTL_ENDPOINTS=127.0.0.1:2379 cargo run --features tls --example etcdctl -- put k v
//! cargo run --features tls --example etcdctl -- --endpoints=127.0.0.1:2379 get k -w json
//! ```
//! (`tests/etcdctl_compat.rs` compares it with the real etcdctl.)

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use etcd_blocking::{
    Client, ClientBuilder, CompactOptions, DeleteOptions, Error, EventType, GetOptions, KeyValue,
    PutOptions, ResponseHeader, SortOrder, SortTarget, TimeToLiveOptions, WatchOptions,
};
use serde_json::{json, Map, Value};

// etcdctl's exit codes (etcdctl/ctlv3/command/error.go).
const EXIT_ERROR: u8 = 1;
const EXIT_BAD_CONNECTION: u8 = 2;
const EXIT_BAD_FEATURE: u8 = 4;
const EXIT_BAD_ARGS: u8 = 128;

#[derive(Parser)]
#[command(
    name = "etcdctl",
    about = "A simple command line client for etcd3 (etcd-blocking example).",
    // A flag given twice: the last wins.
    args_override_self = true
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// The global flags: each stands for the `ETCDCTL_*` variable of its name.
#[derive(Args)]
struct Global {
    /// gRPC endpoints (repeated: they add up, as in etcdctl)
    #[arg(long, global = true, action = clap::ArgAction::Append)]
    endpoints: Vec<String>,
    /// verify certificates of TLS-enabled secure servers using this CA bundle
    #[arg(long, global = true)]
    cacert: Option<String>,
    /// identify secure client using this TLS certificate file
    #[arg(long, global = true)]
    cert: Option<String>,
    /// identify secure client using this TLS key file
    // Its own id: `key` is the positional argument of get, put, ...
    #[arg(long = "key", id = "tls_key", global = true)]
    key: Option<String>,
    /// username[:password] for authentication
    #[arg(long, global = true)]
    user: Option<String>,
    /// password for authentication
    #[arg(long, global = true)]
    password: Option<String>,
    /// dial timeout for client connections
    #[arg(long, global = true)]
    dial_timeout: Option<String>,
    /// timeout for short running command (excluding dial timeout)
    #[arg(long, global = true)]
    command_timeout: Option<String>,
    /// keepalive time for client connections
    #[arg(long, global = true)]
    keepalive_time: Option<String>,
    /// keepalive timeout for client connections
    #[arg(long, global = true)]
    keepalive_timeout: Option<String>,
    /// disable transport security for client connections
    #[arg(long, global = true)]
    insecure_transport: Option<String>,
    /// domain name to query for SRV records describing cluster endpoints
    #[arg(long, short = 'd', global = true)]
    discovery_srv: Option<String>,
    /// service name to query when using DNS discovery
    #[arg(long, global = true)]
    discovery_srv_name: Option<String>,
    /// set the output format (simple, json)
    #[arg(long, short = 'w', global = true, default_value = "simple")]
    write_out: String,
}

#[derive(Subcommand)]
enum Command {
    /// Gets the key or a range of keys
    Get {
        key: Option<String>,
        range_end: Option<String>,
        #[arg(long)]
        prefix: bool,
        #[arg(long)]
        from_key: bool,
        #[arg(long, default_value_t = 0)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        rev: i64,
        #[arg(long)]
        keys_only: bool,
        #[arg(long)]
        print_value_only: bool,
        #[arg(long, default_value = "")]
        sort_by: String,
        #[arg(long, default_value = "")]
        order: String,
        #[arg(long, default_value = "l")]
        consistency: String,
    },
    /// Puts the given key into the store
    Put {
        key: Option<String>,
        value: Option<String>,
        #[arg(long, default_value = "0")]
        lease: String,
        #[arg(long)]
        prev_kv: bool,
    },
    /// Removes the specified key or range of keys [key, range_end)
    Del {
        key: Option<String>,
        range_end: Option<String>,
        #[arg(long)]
        prefix: bool,
        #[arg(long)]
        from_key: bool,
        #[arg(long)]
        prev_kv: bool,
    },
    /// Watches events stream on keys or prefixes
    Watch {
        key: String,
        range_end: Option<String>,
        #[arg(long)]
        prefix: bool,
        #[arg(long, default_value_t = 0)]
        rev: i64,
        #[arg(long)]
        prev_kv: bool,
    },
    /// Lease related commands
    #[command(subcommand)]
    Lease(LeaseCommand),
    /// Acquires a named lock
    Lock {
        name: String,
        /// Command to run while holding the lock; without it, the lock is
        /// held until the process is interrupted.
        exec: Vec<String>,
        #[arg(long, default_value_t = 60)]
        ttl: i64,
    },
    /// Observes and participates in leader election
    Elect {
        name: String,
        proposal: Option<String>,
        #[arg(long, short = 'l')]
        listen: bool,
    },
    /// Membership related commands
    #[command(subcommand)]
    Member(MemberCommand),
    /// Endpoint related commands
    #[command(subcommand)]
    Endpoint(EndpointCommand),
    /// Manages etcd node snapshots
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Compacts the event history in etcd
    Compaction {
        revision: String,
        #[arg(long)]
        physical: bool,
    },
}

#[derive(Subcommand)]
enum LeaseCommand {
    /// Creates leases
    Grant { ttl: String },
    /// Revokes leases
    Revoke { id: String },
    /// Get lease information
    Timetolive {
        id: String,
        #[arg(long)]
        keys: bool,
    },
    /// Keeps leases alive (renew)
    KeepAlive {
        id: String,
        #[arg(long)]
        once: bool,
    },
    /// List all active leases
    List,
}

#[derive(Subcommand)]
enum MemberCommand {
    /// Lists all members in the cluster
    List,
}

#[derive(Subcommand)]
enum EndpointCommand {
    /// Prints out the status of endpoints specified in `--endpoints` flag
    Status,
    /// Checks the healthiness of endpoints specified in `--endpoints` flag
    Health,
}

#[derive(Subcommand)]
enum SnapshotCommand {
    /// Stores an etcd node backend snapshot to a given file
    Save { path: String },
}

/// A failed command: etcdctl's exit code and message.
struct Fail(u8, String);

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail(EXIT_ERROR, go_message(&e))
    }
}

/// The error as etcdctl words it: etcd's own message (`etcdserver: …`),
/// Go's `context deadline exceeded`; our own text for the rest.
fn go_message(e: &Error) -> String {
    match e {
        Error::Etcd(e) => format!("etcdserver: {e}"),
        Error::DeadlineExceeded(_) => "context deadline exceeded".into(),
        // The conditions the client may find itself too, in etcd's words
        // when etcd found them.
        Error::EmptyKey => "etcdserver: key is not provided".into(),
        Error::RequestTooLarge { size: None, .. } => "etcdserver: request is too large".into(),
        Error::Compacted {
            compact_revision: None,
        } => "etcdserver: mvcc: required revision has been compacted".into(),
        Error::LeaseNotFound { id: None, reason } => format!("etcdserver: {reason}"),
        other => other.to_string(),
    }
}

type Res<T = ()> = std::result::Result<T, Fail>;

fn bad_args(msg: impl Into<String>) -> Fail {
    Fail(EXIT_BAD_ARGS, msg.into())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version to stdout with 0; usage errors with 1, as
        // cobra does for etcdctl.
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            eprintln!("Error: {msg}");
            ExitCode::from(code)
        }
    }
}

/// Hands the global flags to `from_env` as the variables they stand for.
fn apply_flags(g: &Global) {
    let endpoints = (!g.endpoints.is_empty()).then(|| g.endpoints.join(","));
    let flags = [
        ("ETCDCTL_ENDPOINTS", &endpoints),
        ("ETCDCTL_CACERT", &g.cacert),
        ("ETCDCTL_CERT", &g.cert),
        ("ETCDCTL_KEY", &g.key),
        ("ETCDCTL_USER", &g.user),
        ("ETCDCTL_PASSWORD", &g.password),
        ("ETCDCTL_DIAL_TIMEOUT", &g.dial_timeout),
        ("ETCDCTL_COMMAND_TIMEOUT", &g.command_timeout),
        ("ETCDCTL_KEEPALIVE_TIME", &g.keepalive_time),
        ("ETCDCTL_KEEPALIVE_TIMEOUT", &g.keepalive_timeout),
        ("ETCDCTL_INSECURE_TRANSPORT", &g.insecure_transport),
        ("ETCDCTL_DISCOVERY_SRV", &g.discovery_srv),
        ("ETCDCTL_DISCOVERY_SRV_NAME", &g.discovery_srv_name),
    ];
    for (var, value) in flags {
        if let Some(v) = value {
            // Still one thread: nothing reads the environment concurrently.
            std::env::set_var(var, v);
        }
    }
}

/// The endpoints as the user wrote them, for `endpoint status|health`.
fn written_endpoints() -> Vec<String> {
    std::env::var("ETCDCTL_ENDPOINTS")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "127.0.0.1:2379".into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn builder() -> Res<ClientBuilder> {
    ClientBuilder::from_env().map_err(|e| bad_args(e.to_string()))
}

fn connect() -> Res<Client> {
    builder()?.connect().map_err(|e| match e {
        // etcdctl 3.4 does not fail the dial itself: its first call fails
        // with Go's words and exit code 1.
        Error::Unavailable(_) => Fail(EXIT_ERROR, format!("context deadline exceeded ({e})")),
        e => Fail(EXIT_BAD_CONNECTION, go_message(&e)),
    })
}

fn run(cli: Cli) -> Res {
    apply_flags(&cli.global);
    let json = match cli.global.write_out.as_str() {
        "simple" => false,
        "json" => true,
        _ => return Err(Fail(EXIT_BAD_FEATURE, "unsupported output format".into())),
    };
    let out = &mut std::io::stdout().lock();
    match cli.command {
        Command::Get {
            key,
            range_end,
            prefix,
            from_key,
            limit,
            rev,
            keys_only,
            print_value_only,
            sort_by,
            order,
            consistency,
        } => {
            if prefix && from_key {
                return Err(bad_args(
                    "`--prefix` and `--from-key` cannot be set at the same time, choose one",
                ));
            }
            let Some(key) = key else {
                return Err(bad_args(
                    "get command needs one argument as key and an optional argument as range_end",
                ));
            };
            let mut opts = GetOptions::new().limit(limit);
            match consistency.as_str() {
                "s" => opts = opts.serializable(),
                "l" => {}
                other => {
                    return Err(Fail(
                        EXIT_BAD_FEATURE,
                        format!("unknown consistency flag {other:?}"),
                    ))
                }
            }
            let mut key = key.into_bytes();
            if let Some(end) = range_end {
                if prefix || from_key {
                    return Err(bad_args("too many arguments, only accept one argument when `--prefix` or `--from-key` is set"));
                }
                opts = opts.range_end(end);
            }
            if rev > 0 {
                opts = opts.revision(rev);
            }
            let order = match order.to_uppercase().as_str() {
                "ASCEND" => SortOrder::Ascend,
                "DESCEND" => SortOrder::Descend,
                "" => SortOrder::None,
                _ => return Err(Fail(EXIT_BAD_FEATURE, format!("bad sort order {order}"))),
            };
            let target = match sort_by.to_uppercase().as_str() {
                "CREATE" => SortTarget::Create,
                "KEY" | "" => SortTarget::Key,
                "MODIFY" => SortTarget::Mod,
                "VALUE" => SortTarget::Value,
                "VERSION" => SortTarget::Version,
                _ => return Err(Fail(EXIT_BAD_FEATURE, format!("bad sort target {sort_by}"))),
            };
            // As clientv3's WithSort: a target other than the key with no
            // order means ascending.
            let order = if target != SortTarget::Key && order == SortOrder::None {
                SortOrder::Ascend
            } else {
                order
            };
            opts = opts.sort(target, order);
            if prefix {
                if key.is_empty() {
                    key = vec![0];
                    opts = opts.from_key();
                } else {
                    opts = opts.prefix();
                }
            }
            if from_key {
                if key.is_empty() {
                    key = vec![0];
                }
                opts = opts.from_key();
            }
            if keys_only {
                opts = opts.keys_only();
            }
            let resp = connect()?.get_with(key, opts)?;
            if print_value_only && json {
                return Err(bad_args(
                    "print-value-only is only for `--write-out=simple`",
                ));
            }
            if json {
                let mut m = header(resp.header());
                put_arr(&mut m, "kvs", resp.kvs().iter().map(kv_json).collect());
                put_bool(&mut m, "more", resp.more());
                put_num(&mut m, "count", resp.count());
                print_json(out, m);
            } else {
                for kv in resp.kvs() {
                    print_kv(out, kv, print_value_only);
                }
            }
        }
        Command::Put {
            key,
            value,
            lease,
            prev_kv,
        } => {
            let Some(key) = key else {
                return Err(bad_args(
                    "put command needs 1 argument and input from stdin or 2 arguments",
                ));
            };
            let value = match value {
                Some(v) => v,
                None => {
                    let mut s = String::new();
                    let _ = std::io::stdin().read_to_string(&mut s);
                    if s.is_empty() {
                        return Err(bad_args(
                            "put command needs 1 argument and input from stdin or 2 arguments",
                        ));
                    }
                    s
                }
            };
            let id = go_parse_int(&lease, 16)
                .map_err(|e| bad_args(format!("bad lease ID ({e}), expecting ID in Hex")))?;
            let mut opts = PutOptions::new();
            if id != 0 {
                opts = opts.lease(id);
            }
            if prev_kv {
                opts = opts.prev_kv();
            }
            let resp = connect()?.put_with(key, value, opts)?;
            if json {
                let mut m = header(resp.header());
                if let Some(kv) = resp.prev_kv() {
                    m.insert("prev_kv".into(), kv_json(kv));
                }
                print_json(out, m);
            } else {
                line(out, "OK");
                if let Some(kv) = resp.prev_kv() {
                    print_kv(out, kv, false);
                }
            }
        }
        Command::Del {
            key,
            range_end,
            prefix,
            from_key,
            prev_kv,
        } => {
            if prefix && from_key {
                return Err(bad_args(
                    "`--prefix` and `--from-key` cannot be set at the same time, choose one",
                ));
            }
            let Some(key) = key else {
                return Err(bad_args(
                    "del command needs one argument as key and an optional argument as range_end",
                ));
            };
            let mut key = key.into_bytes();
            let mut opts = DeleteOptions::new();
            if let Some(end) = range_end {
                if prefix || from_key {
                    return Err(bad_args("too many arguments, only accept one argument when `--prefix` or `--from-key` is set"));
                }
                opts = opts.range_end(end);
            }
            if prefix {
                if key.is_empty() {
                    key = vec![0];
                    opts = opts.from_key();
                } else {
                    opts = opts.prefix();
                }
            }
            if prev_kv {
                opts = opts.prev_kv();
            }
            if from_key {
                if key.is_empty() {
                    key = vec![0];
                }
                opts = opts.from_key();
            }
            let resp = connect()?.delete_with(key, opts)?;
            if json {
                let mut m = header(resp.header());
                put_num(&mut m, "deleted", resp.deleted());
                put_arr(
                    &mut m,
                    "prev_kvs",
                    resp.prev_kvs().iter().map(kv_json).collect(),
                );
                print_json(out, m);
            } else {
                line(out, &resp.deleted().to_string());
                for kv in resp.prev_kvs() {
                    print_kv(out, kv, false);
                }
            }
        }
        Command::Watch {
            key,
            range_end,
            prefix,
            rev,
            prev_kv,
        } => {
            let mut opts = WatchOptions::new();
            if let Some(end) = range_end {
                opts = opts.range_end(end);
            }
            if prefix {
                opts = opts.prefix();
            }
            if rev > 0 {
                opts = opts.start_revision(rev);
            }
            if prev_kv {
                opts = opts.prev_kv();
            }
            let client = connect()?;
            let w = client.watch_with(key, opts)?;
            for resp in w.iter() {
                let resp = resp?;
                if json {
                    // clientv3.WatchResponse has no JSON tags: Go's field
                    // names, nothing omitted (the events inside are protobuf
                    // structs again).
                    let mut m = Map::new();
                    m.insert("Header".into(), header(resp.header())["header"].clone());
                    let events: Vec<Value> = resp
                        .events()
                        .iter()
                        .map(|e| {
                            let mut ev = Map::new();
                            if e.event_type() == EventType::Delete {
                                ev.insert("type".into(), json!(1));
                            }
                            ev.insert("kv".into(), kv_json(e.kv()));
                            if let Some(p) = e.prev_kv() {
                                ev.insert("prev_kv".into(), kv_json(p));
                            }
                            Value::Object(ev)
                        })
                        .collect();
                    m.insert("Events".into(), Value::Array(events));
                    m.insert("CompactRevision".into(), json!(0));
                    m.insert("Canceled".into(), json!(false));
                    m.insert("Created".into(), json!(false));
                    print_json(out, m);
                } else {
                    for e in resp.events() {
                        let t = match e.event_type() {
                            EventType::Put => "PUT",
                            EventType::Delete => "DELETE",
                        };
                        line(out, t);
                        if let Some(p) = e.prev_kv() {
                            print_kv(out, p, false);
                        }
                        print_kv(out, e.kv(), false);
                    }
                }
                let _ = out.flush();
            }
        }
        Command::Lease(cmd) => lease(cmd, json, out)?,
        Command::Lock { name, exec, ttl } => {
            let client = connect()?;
            let lease = client.grant(ttl)?;
            let _alive = client.keep_alive(lease.id())?;
            let locked = client
                .with_timeout(Duration::from_secs(365 * 24 * 3600))
                .lock(name, lease.id())?;
            let key = String::from_utf8_lossy(locked.key()).into_owned();
            if exec.is_empty() {
                // etcdctl prints the lock key's kv: the key, an empty value.
                line(out, &key);
                line(out, "");
                let _ = out.flush();
                // Held until the process is interrupted, as etcdctl.
                until_signal();
                client.unlock(locked.key())?;
                let _ = client.revoke(lease.id());
                return Ok(());
            }
            let status = std::process::Command::new(&exec[0])
                .args(&exec[1..])
                .env("ETCD_LOCK_KEY", &key)
                .env("ETCD_LOCK_REV", locked.header().revision().to_string())
                .status()
                .map_err(|e| Fail(EXIT_ERROR, e.to_string()))?;
            client.unlock(locked.key())?;
            let _ = client.revoke(lease.id());
            if !status.success() {
                return Err(Fail(EXIT_ERROR, format!("{status}")));
            }
        }
        Command::Elect {
            name,
            proposal,
            listen,
        } => {
            let client = connect()?;
            let forever = client.with_timeout(Duration::from_secs(365 * 24 * 3600));
            if listen {
                forever.observe(name, |resp| {
                    if let Some(kv) = resp.kv() {
                        print_kv(&mut std::io::stdout().lock(), kv, false);
                    }
                    true
                })?;
                return Ok(());
            }
            let Some(proposal) = proposal else {
                return Err(bad_args("no proposal argument but -l not set"));
            };
            let lease = client.grant(60)?;
            let _alive = client.keep_alive(lease.id())?;
            let leader = forever
                .campaign(name, lease.id(), proposal.clone())?
                .into_leader();
            line(out, &String::from_utf8_lossy(leader.key()));
            line(out, &proposal);
            let _ = out.flush();
            until_signal();
            client.resign(&leader)?;
            let _ = client.revoke(lease.id());
        }
        Command::Member(MemberCommand::List) => {
            let resp = connect()?.member_list()?;
            if json {
                let mut m = header(resp.header());
                let members = resp
                    .members()
                    .iter()
                    .map(|mb| {
                        let mut o = Map::new();
                        put_num(&mut o, "ID", mb.id());
                        put_str(&mut o, "name", mb.name());
                        put_arr(
                            &mut o,
                            "peerURLs",
                            mb.peer_urls().iter().map(|u| json!(u)).collect(),
                        );
                        put_arr(
                            &mut o,
                            "clientURLs",
                            mb.client_urls().iter().map(|u| json!(u)).collect(),
                        );
                        put_bool(&mut o, "isLearner", mb.is_learner());
                        Value::Object(o)
                    })
                    .collect();
                put_arr(&mut m, "members", members);
                print_json(out, m);
            } else {
                for mb in resp.members() {
                    let status = if mb.name().is_empty() {
                        "unstarted"
                    } else {
                        "started"
                    };
                    line(
                        out,
                        &format!(
                            "{:x}, {status}, {}, {}, {}, {}",
                            mb.id(),
                            mb.name(),
                            mb.peer_urls().join(","),
                            mb.client_urls().join(","),
                            mb.is_learner()
                        ),
                    );
                }
            }
        }
        Command::Endpoint(EndpointCommand::Status) => {
            let client = connect()?;
            let mut failed = false;
            let mut rows = Vec::new();
            for ep in written_endpoints() {
                let resp = aim(&client, &ep).and_then(|c| Ok(c.status()?));
                match resp {
                    Ok(st) => rows.push((ep, st)),
                    Err(Fail(_, e)) => {
                        failed = true;
                        eprintln!("Failed to get the status of endpoint {ep} ({e})");
                    }
                }
            }
            if json {
                let list: Vec<Value> = rows
                    .iter()
                    .map(|(ep, st)| {
                        let mut s = header(st.header());
                        put_str(&mut s, "version", st.version());
                        put_num(&mut s, "dbSize", st.db_size());
                        put_num(&mut s, "leader", st.leader());
                        put_num(&mut s, "raftIndex", st.raft_index());
                        put_num(&mut s, "raftTerm", st.raft_term());
                        put_num(&mut s, "raftAppliedIndex", st.raft_applied_index());
                        put_arr(
                            &mut s,
                            "errors",
                            st.errors().iter().map(|e| json!(e)).collect(),
                        );
                        put_num(&mut s, "dbSizeInUse", st.db_size_in_use());
                        put_bool(&mut s, "isLearner", st.is_learner());
                        json!({"Endpoint": ep, "Status": Value::Object(s)})
                    })
                    .collect();
                line(out, &Value::Array(list).to_string());
            } else {
                for (ep, st) in &rows {
                    line(
                        out,
                        &format!(
                            "{ep}, {:x}, {}, {}, {}, {}, {}, {}, {}, {}",
                            st.header().member_id(),
                            st.version(),
                            humanize_bytes(st.db_size() as u64),
                            st.leader() == st.header().member_id(),
                            st.is_learner(),
                            st.raft_term(),
                            st.raft_index(),
                            st.raft_applied_index(),
                            st.errors().join(", ")
                        ),
                    );
                }
            }
            if failed {
                let _ = out.flush();
                std::process::exit(EXIT_ERROR.into());
            }
        }
        Command::Endpoint(EndpointCommand::Health) => {
            // One client per endpoint, as etcdctl: an endpoint that cannot
            // be reached is unhealthy, not a failed command.
            let mut list = Vec::new();
            for ep in written_endpoints() {
                let started = Instant::now();
                let r = builder()?
                    .endpoints([&ep])
                    .connect()
                    .and_then(|c| c.get("health"));
                let took = format!("{:?}", started.elapsed());
                let error = match r {
                    Ok(_) | Err(Error::Etcd(etcd_blocking::EtcdError::PermissionDenied)) => None,
                    Err(e) => Some(go_message(&e)),
                };
                list.push((ep, took, error));
            }
            if json {
                let v: Vec<Value> = list
                    .iter()
                    .map(|(ep, took, err)| {
                        let mut o = Map::new();
                        o.insert("endpoint".into(), json!(ep));
                        o.insert("health".into(), json!(err.is_none()));
                        o.insert("took".into(), json!(took));
                        if let Some(e) = err {
                            o.insert("error".into(), json!(e));
                        }
                        Value::Object(o)
                    })
                    .collect();
                line(out, &Value::Array(v).to_string());
            } else {
                for (ep, took, err) in &list {
                    match err {
                        None => eprintln!(
                            "{ep} is healthy: successfully committed proposal: took = {took}"
                        ),
                        Some(e) => {
                            eprintln!("{ep} is unhealthy: failed to commit proposal: {e}")
                        }
                    }
                }
            }
            if list.iter().any(|(_, _, e)| e.is_some()) {
                return Err(Fail(EXIT_ERROR, "unhealthy cluster".into()));
            }
        }
        Command::Snapshot(SnapshotCommand::Save { path }) => {
            let eps = written_endpoints();
            if eps.len() != 1 {
                return Err(bad_args(format!(
                    "snapshot must be requested to one selected node, not multiple {eps:?}"
                )));
            }
            let client = connect()?;
            // A snapshot streams for as long as it takes.
            let long = client.with_timeout(Duration::from_secs(3600));
            let tmp = format!("{path}.part");
            let file = std::fs::File::create(&tmp).map_err(|e| Fail(EXIT_ERROR, e.to_string()))?;
            let bar = if std::io::stderr().is_terminal() {
                let b = indicatif::ProgressBar::new_spinner();
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} {bytes} received ({bytes_per_sec})",
                    )
                    .expect("a valid template"),
                );
                Some(b)
            } else {
                None
            };
            let mut writer = std::io::BufWriter::new(file);
            let r = long.snapshot_to(&mut writer, |got, _| {
                if let Some(b) = &bar {
                    b.set_position(got);
                }
            });
            let flushed = writer.flush();
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            if let Err(e) = r {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            flushed.map_err(|e| Fail(EXIT_ERROR, e.to_string()))?;
            std::fs::rename(&tmp, &path).map_err(|e| Fail(EXIT_ERROR, e.to_string()))?;
            line(out, &format!("Snapshot saved at {path}"));
        }
        Command::Compaction { revision, physical } => {
            let rev = go_parse_int(&revision, 10).map_err(|e| Fail(EXIT_ERROR, e))?;
            let mut opts = CompactOptions::new();
            if physical {
                opts = opts.physical();
            }
            connect()?.compact_with(rev, opts)?;
            line(out, &format!("compacted revision {rev}"));
        }
    }
    Ok(())
}

fn lease(cmd: LeaseCommand, json: bool, out: &mut impl Write) -> Res {
    let parse_id = |s: &str| {
        go_parse_int(s, 16)
            .map_err(|e| bad_args(format!("bad lease ID arg ({e}), expecting ID in Hex")))
    };
    match cmd {
        LeaseCommand::Grant { ttl } => {
            let ttl = go_parse_int(&ttl, 10).map_err(|e| bad_args(format!("bad TTL ({e})")))?;
            let resp = connect()?.grant(ttl).map_err(|e| {
                Fail(
                    EXIT_ERROR,
                    format!("failed to grant lease ({})", go_message(&e)),
                )
            })?;
            if json {
                // clientv3.LeaseGrantResponse: the header embedded, no
                // omitempty on its own fields.
                let mut m = flat_header(resp.header());
                m.insert("ID".into(), json!(resp.id()));
                m.insert("TTL".into(), json!(resp.ttl()));
                m.insert("Error".into(), json!(""));
                print_json(out, m);
            } else {
                line(
                    out,
                    &format!("lease {:016x} granted with TTL({}s)", resp.id(), resp.ttl()),
                );
            }
        }
        LeaseCommand::Revoke { id } => {
            let id = parse_id(&id)?;
            let resp = connect()?.revoke(id).map_err(|e| {
                Fail(
                    EXIT_ERROR,
                    format!("failed to revoke lease ({})", go_message(&e)),
                )
            })?;
            if json {
                print_json(out, header(resp.header()));
            } else {
                line(out, &format!("lease {id:016x} revoked"));
            }
        }
        LeaseCommand::Timetolive { id, keys } => {
            let id = parse_id(&id)?;
            let resp = connect()?
                .time_to_live_with(
                    id,
                    if keys {
                        TimeToLiveOptions::new().keys()
                    } else {
                        TimeToLiveOptions::new()
                    },
                )
                .map_err(|e| Fail(EXIT_BAD_CONNECTION, go_message(&e)))?;
            if json {
                // clientv3.LeaseTimeToLiveResponse.
                let mut m = flat_header(resp.header());
                m.insert("id".into(), json!(resp.id()));
                m.insert("ttl".into(), json!(resp.ttl()));
                m.insert("granted-ttl".into(), json!(resp.granted_ttl()));
                let keys: Vec<Value> = resp.keys().map(|k| json!(b64(k))).collect();
                let keys = if keys.is_empty() {
                    Value::Null
                } else {
                    Value::Array(keys)
                };
                m.insert("keys".into(), keys);
                print_json(out, m);
            } else if resp.granted_ttl() == 0 && resp.ttl() == -1 {
                line(out, &format!("lease {:016x} already expired", resp.id()));
            } else {
                let mut txt = format!(
                    "lease {:016x} granted with TTL({}s), remaining({}s)",
                    resp.id(),
                    resp.granted_ttl(),
                    resp.ttl()
                );
                if keys {
                    let ks: Vec<String> = resp
                        .keys()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .collect();
                    // Go's %v of a []string.
                    txt += &format!(", attached keys([{}])", ks.join(" "));
                }
                line(out, &txt);
            }
        }
        LeaseCommand::KeepAlive { id, once } => {
            let id = parse_id(&id)?;
            let client = connect()?;
            let print = |out: &mut dyn Write, header: &ResponseHeader, ttl: i64| {
                if json {
                    // clientv3.LeaseKeepAliveResponse.
                    let mut m = flat_header(header);
                    m.insert("ID".into(), json!(id));
                    m.insert("TTL".into(), json!(ttl));
                    let _ = writeln!(out, "{}", Value::Object(m));
                } else {
                    let _ = writeln!(out, "lease {id:016x} keepalived with TTL({ttl})");
                }
                let _ = out.flush();
            };
            if once {
                let r = client
                    .keep_alive_once(id)
                    .map_err(|e| Fail(EXIT_BAD_CONNECTION, go_message(&e)))?;
                print(out, r.header(), r.ttl());
                return Ok(());
            }
            let ka = client
                .keep_alive(id)
                .map_err(|e| Fail(EXIT_BAD_CONNECTION, go_message(&e)))?;
            for r in ka.receiver().iter() {
                match r {
                    Ok(r) => print(out, r.header(), r.ttl()),
                    Err(_) => break,
                }
            }
            line(out, &format!("lease {id:016x} expired or revoked."));
        }
        LeaseCommand::List => {
            let resp = connect()?.leases().map_err(|e| {
                Fail(
                    EXIT_ERROR,
                    format!("failed to list leases ({})", go_message(&e)),
                )
            })?;
            if json {
                // clientv3.LeaseLeasesResponse.
                let mut m = flat_header(resp.header());
                m.insert(
                    "leases".into(),
                    Value::Array(resp.ids().iter().map(|id| json!({ "id": id })).collect()),
                );
                print_json(out, m);
            } else {
                line(out, &format!("found {} leases", resp.ids().len()));
                for id in resp.ids() {
                    line(out, &format!("{id:016x}"));
                }
            }
        }
    }
    Ok(())
}

/// Go's `strconv.ParseInt(s, radix, 64)`, with its error text.
fn go_parse_int(s: &str, radix: u32) -> std::result::Result<i64, String> {
    i64::from_str_radix(s, radix).map_err(|e| {
        let why = match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                "value out of range"
            }
            _ => "invalid syntax",
        };
        format!("strconv.ParseInt: parsing {s:?}: {why}")
    })
}

/// Waits for SIGINT or SIGTERM: etcdctl's lock and elect give up what they
/// hold and exit 0 then.
fn until_signal() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .expect("cannot install the signal handler");
    let _ = signals.forever().next();
}

/// A handle aimed at `ep` as the user wrote it (with TLS on, a written
/// `host:port` is dialed as `https://host:port`).
fn aim(client: &Client, ep: &str) -> Res<Client> {
    client
        .with_endpoint(ep)
        .or_else(|_| client.with_endpoint(&format!("https://{ep}")))
        .map_err(Fail::from)
}

// ---------------------------------------------------------------------------
// Output, as etcdctl 3.4 prints it
// ---------------------------------------------------------------------------

fn line(out: &mut impl Write, s: &str) {
    let _ = writeln!(out, "{s}");
}

/// etcdctl's printKV: the key's and the value's raw bytes, a line each.
fn print_kv(out: &mut impl Write, kv: &KeyValue, value_only: bool) {
    if !value_only {
        let _ = out.write_all(kv.key());
        let _ = out.write_all(b"\n");
    }
    let _ = out.write_all(kv.value());
    let _ = out.write_all(b"\n");
}

fn print_json(out: &mut impl Write, m: Map<String, Value>) {
    let _ = writeln!(out, "{}", Value::Object(m));
}

// Go's encoding/json of etcd's protobuf structs: every field is
// `omitempty`, byte strings are base64.
fn put_num<T: Into<Value> + Default + PartialEq>(m: &mut Map<String, Value>, k: &str, v: T) {
    if v != T::default() {
        m.insert(k.into(), v.into());
    }
}

fn put_bool(m: &mut Map<String, Value>, k: &str, v: bool) {
    if v {
        m.insert(k.into(), json!(true));
    }
}

fn put_str(m: &mut Map<String, Value>, k: &str, v: &str) {
    if !v.is_empty() {
        m.insert(k.into(), json!(v));
    }
}

fn put_arr(m: &mut Map<String, Value>, k: &str, v: Vec<Value>) {
    if !v.is_empty() {
        m.insert(k.into(), Value::Array(v));
    }
}

fn header(h: &ResponseHeader) -> Map<String, Value> {
    let mut hm = Map::new();
    put_num(&mut hm, "cluster_id", h.cluster_id());
    put_num(&mut hm, "member_id", h.member_id());
    put_num(&mut hm, "revision", h.revision());
    put_num(&mut hm, "raft_term", h.raft_term());
    let mut m = Map::new();
    m.insert("header".into(), Value::Object(hm));
    m
}

/// A header embedded in a clientv3 struct: its fields at the top level.
fn flat_header(h: &ResponseHeader) -> Map<String, Value> {
    match header(h).remove("header") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn kv_json(kv: &KeyValue) -> Value {
    let mut m = Map::new();
    if !kv.key().is_empty() {
        m.insert("key".into(), json!(b64(kv.key())));
    }
    put_num(&mut m, "create_revision", kv.create_revision());
    put_num(&mut m, "mod_revision", kv.mod_revision());
    put_num(&mut m, "version", kv.version());
    if !kv.value().is_empty() {
        m.insert("value".into(), json!(b64(kv.value())));
    }
    put_num(&mut m, "lease", kv.lease());
    Value::Object(m)
}

/// Standard base64 with padding, as Go's encoding/json writes `[]byte`.
fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        s.push(A[(n >> 18) as usize & 63] as char);
        s.push(A[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 {
            A[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if c.len() > 2 {
            A[n as usize & 63] as char
        } else {
            '='
        });
    }
    s
}

/// go-humanize's `Bytes`: SI units, one decimal below 10.
fn humanize_bytes(s: u64) -> String {
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if s < 10 {
        return format!("{s} B");
    }
    let e = ((s as f64).ln() / 1000f64.ln()).floor() as usize;
    let val = ((s as f64) / 1000f64.powi(e as i32) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {}", SIZES[e])
    } else {
        format!("{val:.0} {}", SIZES[e])
    }
}
