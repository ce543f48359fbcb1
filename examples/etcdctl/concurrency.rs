//! `lock` and `elect`: the Lock and Election services, held until the
//! process is interrupted (or, for `lock`, while a command runs).

use std::io::Write;
use std::time::Duration;

use clap::Args;

use crate::exit::{bad_args, Exit, Fail, Res};
use crate::global::connect;
use crate::output::{line, print_kv};

/// As long as a wait may take: etcdctl waits without a deadline.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// Acquires a named lock
#[derive(Args)]
pub struct LockArgs {
    /// The lock's name, then a command to run while holding the lock;
    /// without a command, the lock is held until the process is
    /// interrupted.
    args: Vec<String>,
    #[arg(long, default_value_t = 60)]
    ttl: i64,
}

/// Observes and participates in leader election
#[derive(Args)]
pub struct ElectArgs {
    /// The election's name [proposal]
    args: Vec<String>,
    #[arg(long, short = 'l')]
    listen: bool,
}

pub fn lock(a: LockArgs, out: &mut impl Write) -> Res {
    let Some((name, exec)) = a.args.split_first() else {
        return Err(bad_args(
            "lock takes a lock name argument and an optional command to execute",
        ));
    };
    let client = connect()?;
    let lease = client.grant(a.ttl)?;
    let _alive = client.keep_alive(lease.id())?;
    let locked = client
        .with_timeout(FOREVER)
        .lock(name.as_str(), lease.id())?;
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
        .map_err(|e| Fail::new(Exit::Error, e.to_string()))?;
    client.unlock(locked.key())?;
    let _ = client.revoke(lease.id());
    if !status.success() {
        return Err(Fail::new(Exit::Error, format!("{status}")));
    }
    Ok(())
}

pub fn elect(a: ElectArgs, out: &mut impl Write) -> Res {
    let (name, proposal) = match a.args.as_slice() {
        [name] => (name.clone(), None),
        [name, proposal] => (name.clone(), Some(proposal.clone())),
        _ => {
            return Err(bad_args(
                "elect takes one election name argument and an optional proposal argument",
            ))
        }
    };
    if a.listen && proposal.is_some() {
        return Err(bad_args("proposal given but -l is set"));
    }
    let client = connect()?;
    let forever = client.with_timeout(FOREVER);
    if a.listen {
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
    Ok(())
}

/// Waits for SIGINT or SIGTERM: etcdctl's lock and elect give up what they
/// hold and exit 0 then.
fn until_signal() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .expect("cannot install the signal handler");
    let _ = signals.forever().next();
}
