//! Loopback port reservation outside the kernel's ephemeral range. Depends
//! on `std` and this crate's random source (`process.rs`).

use std::fs;
use std::net::TcpListener;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixSocketAddr, UnixListener};

use crate::process::rand_u64;

/// A loopback TCP port reserved for this process until dropped: an abstract
/// unix socket `etcd-harness-port-<port>` is held, which other harness users
/// (this process or another) cannot bind.
pub(crate) struct PortGuard {
    pub(crate) port: u16,
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

pub(crate) fn reserve_port() -> PortGuard {
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
