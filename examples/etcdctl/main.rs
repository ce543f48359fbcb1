//! A small etcdctl-compatible command-line tool on etcd-blocking: the
//! client setup is one `ClientBuilder::from_env()` call, so it reads
//! etcdctl's `ETCDCTL_*` variables; its global flags (`--endpoints`,
//! `--cacert`, `--cert`, `--key`, `--user`, `--password`,
//! `--dial-timeout`, `--command-timeout`, `--keepalive-time`,
//! `--keepalive-timeout`, `--insecure-transport`, `--discovery-srv`,
//! `--discovery-srv-name`) are handed to it as the variables they stand
//! for, so flags and variables are parsed by the same code, etcdctl's way.
//!
//! Commands (etcdctl's output, `-w simple`, `json`, `fields`, and `table`
//! where etcdctl has one): `get`, `put`, `del`, `txn` (`-i` too), `watch`,
//! `lease grant|revoke|timetolive|keep-alive|list`, `lock`, `elect`,
//! `member list`, `endpoint status|health`, `snapshot save`,
//! `compaction`, `user add|delete|get|list|passwd|grant-role|revoke-role`,
//! `role add|delete|get|list|grant-permission|revoke-permission`,
//! `auth enable|disable|status`. Exit codes are etcdctl's (`exit.rs`).
//!
//! One file per command group: `kv.rs` (get, put, del, compaction),
//! `txn.rs`, `watch.rs`, `lease.rs`, `cluster.rs` (member),
//! `endpoint.rs`, `maintenance.rs` (snapshot), `concurrency.rs` (lock,
//! elect), `auth.rs` (user, role, auth); the global flags and the client
//! in `global.rs`, output formatting in `output.rs`, exit codes and error
//! wording in `exit.rs`.
//!
//! ```text
//! ETCDCTL_ENDPOINTS=127.0.0.1:2379 cargo run --features tls --example etcdctl -- put k v
//! cargo run --features tls --example etcdctl -- --endpoints=127.0.0.1:2379 get k -w json
//! ```
//! (`tests/etcdctl_compat.rs` compares it with the real etcdctl.)

mod auth;
mod cluster;
mod concurrency;
mod endpoint;
mod exit;
mod global;
mod kv;
mod lease;
mod maintenance;
mod output;
mod txn;
mod watch;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use exit::{Exit, Fail, Res};
use global::Global;
use output::Format;

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

#[derive(Subcommand)]
enum Command {
    /// Gets the key or a range of keys
    Get(kv::GetArgs),
    /// Puts the given key into the store
    Put(kv::PutArgs),
    /// Removes the specified key or range of keys [key, range_end)
    Del(kv::DelArgs),
    /// Txn processes all the requests in one transaction
    Txn(txn::TxnArgs),
    /// Watches events stream on keys or prefixes
    Watch(watch::WatchArgs),
    /// Lease related commands
    #[command(subcommand)]
    Lease(lease::LeaseCommand),
    /// Acquires a named lock
    Lock(concurrency::LockArgs),
    /// Observes and participates in leader election
    Elect(concurrency::ElectArgs),
    /// Membership related commands
    #[command(subcommand)]
    Member(cluster::MemberCommand),
    /// Endpoint related commands
    #[command(subcommand)]
    Endpoint(endpoint::EndpointCommand),
    /// Manages etcd node snapshots
    #[command(subcommand)]
    Snapshot(maintenance::SnapshotCommand),
    /// Compacts the event history in etcd
    Compaction(kv::CompactionArgs),
    /// User related commands
    #[command(subcommand)]
    User(auth::UserCommand),
    /// Role related commands
    #[command(subcommand)]
    Role(auth::RoleCommand),
    /// Enable or disable authentication
    #[command(subcommand)]
    Auth(auth::AuthCommand),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version to stdout with 0; a flag or command cobra
        // cannot parse with `Error: …` and 1, as etcdctl.
        Err(e) if e.use_stderr() => {
            let text = e.render().to_string();
            eprint!("Error: {}", text.strip_prefix("error: ").unwrap_or(&text));
            return ExitCode::from(Exit::Error as u8);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(code, msg)) => {
            eprintln!("Error: {msg}");
            ExitCode::from(code as u8)
        }
    }
}

fn run(cli: Cli) -> Res {
    global::apply_flags(&cli.global);
    let format = Format::parse(&cli.global.write_out)?;
    let out = &mut std::io::stdout().lock();
    match cli.command {
        Command::Get(a) => kv::get(a, format, out),
        Command::Put(a) => kv::put(a, format, out),
        Command::Del(a) => kv::del(a, format, out),
        Command::Compaction(a) => kv::compaction(a, out),
        Command::Txn(a) => txn::txn(a, format, out),
        Command::Watch(a) => watch::watch(a, format, out),
        Command::Lease(cmd) => lease::lease(cmd, format, out),
        Command::Lock(a) => concurrency::lock(a, out),
        Command::Elect(a) => concurrency::elect(a, out),
        Command::Member(cmd) => cluster::member(cmd, format, out),
        Command::Endpoint(cmd) => endpoint::endpoint(cmd, format, out),
        Command::Snapshot(cmd) => maintenance::snapshot(cmd, out),
        Command::User(cmd) => auth::user(cmd, format, out),
        Command::Role(cmd) => auth::role(cmd, format, out),
        Command::Auth(cmd) => auth::auth(cmd, format, out),
    }
}
