//! A TCP proxy on 127.0.0.1 for fault tests: it forwards to one upstream
//! until told to blackhole, after which connections stay open but every
//! byte in either direction is swallowed, as with a network partition that
//! TCP itself does not notice. Swallowed bytes are gone, so a connection
//! that lost any is closed when the blackhole ends rather than carrying on
//! with a hole in its stream: TCP never delivers a stream with bytes
//! missing (it retransmits, or the connection breaks), and a connection
//! that did would let HTTP/2 carry on in step while whole frames (watch
//! events, answers) vanished without anyone being told. It can also cut a
//! connection after a request went through and before its answer comes
//! back, the case where a client cannot know whether its write was
//! applied. For etcd's peer traffic (HTTP/1.1), it can also blackhole
//! only the connections whose first request names a given member in its
//! headers (etcd's `X-PeerURLs`), which cuts one member off from the one
//! behind this proxy while the others still reach it. Depends on `std`
//! only.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Both sockets of one proxied connection, and whether bytes were
/// swallowed on it.
struct Conn {
    client: TcpStream,
    server: TcpStream,
    lost_bytes: Arc<AtomicBool>,
    /// The head of the first request (up to its blank line), once read.
    head: Mutex<Option<String>>,
}

impl Conn {
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

/// A running proxy; dropping it closes the listener and every connection.
pub struct Proxy {
    addr: String,
    blackhole: Arc<AtomicBool>,
    /// Connections whose first request head carries one of these are
    /// blackholed ([`Proxy::blackhole_from`]).
    blocked: Arc<Mutex<Vec<String>>>,
    /// New connections are closed at once ([`Proxy::refuse`]).
    refuse: Arc<AtomicBool>,
    /// What to do with answers: [`FORWARD`], [`CUT_ONCE`] or [`CUT_ALWAYS`].
    cut: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<Arc<Conn>>>>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port forwarding to `upstream`
    /// (`host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().unwrap().to_string();
        let blackhole = Arc::new(AtomicBool::new(false));
        let blocked = Arc::new(Mutex::new(Vec::new()));
        let refuse = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(AtomicU8::new(FORWARD));
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_string();
        let accept = {
            let (blackhole, blocked, refuse, cut, stop, conns) = (
                blackhole.clone(),
                blocked.clone(),
                refuse.clone(),
                cut.clone(),
                stop.clone(),
                conns.clone(),
            );
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    if refuse.load(Ordering::SeqCst) {
                        let _ = client.shutdown(Shutdown::Both);
                        continue;
                    }
                    let Ok(server) = TcpStream::connect(&upstream) else {
                        continue;
                    };
                    let conn = Arc::new(Conn {
                        client: client.try_clone().unwrap(),
                        server: server.try_clone().unwrap(),
                        lost_bytes: Arc::new(AtomicBool::new(false)),
                        head: Mutex::new(None),
                    });
                    conns.lock().unwrap().push(conn.clone());
                    let holes = Holes {
                        all: blackhole.clone(),
                        from: blocked.clone(),
                    };
                    pipe(
                        client.try_clone().unwrap(),
                        server.try_clone().unwrap(),
                        &holes,
                        &conn,
                        None,
                    );
                    pipe(server, client, &holes, &conn, Some(&cut));
                }
            })
        };
        Proxy {
            addr,
            blackhole,
            blocked,
            refuse,
            cut,
            stop,
            conns,
            accept: Some(accept),
        }
    }

    /// The proxy's `127.0.0.1:port`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Stops (true) or resumes (false) forwarding. Connections stay open
    /// while blackholed; on resuming, those that lost bytes are closed (new
    /// connections are served as usual).
    pub fn blackhole(&self, on: bool) {
        if !on {
            self.close_damaged();
        }
        self.blackhole.store(on, Ordering::SeqCst);
    }

    /// Closes every connection and, while on, each new one as soon as it
    /// is accepted: a member that is down, as its clients see it, with the
    /// address kept for when it comes back (false).
    pub fn refuse(&self, on: bool) {
        self.refuse.store(on, Ordering::SeqCst);
        if on {
            for c in self.conns.lock().unwrap().drain(..) {
                c.close();
            }
        }
    }

    /// Blackholes (true) or forwards again (false) the connections whose
    /// first request's head names `url` as a whole word (etcd's peers send
    /// their advertised peer URLs in `X-PeerURLs` on every raft request),
    /// existing ones and new ones alike. On forwarding again, those that
    /// lost bytes are closed.
    pub fn blackhole_from(&self, url: &str, on: bool) {
        {
            let mut blocked = self.blocked.lock().unwrap();
            blocked.retain(|u| u != url);
            if on {
                blocked.push(url.to_string());
            }
        }
        if !on {
            self.close_damaged();
        }
    }

    fn close_damaged(&self) {
        for c in self.conns.lock().unwrap().iter() {
            if c.lost_bytes.load(Ordering::SeqCst) {
                c.close();
            }
        }
    }

    /// Arms a one-shot cut: the next bytes the upstream sends back on any
    /// connection are swallowed, and [`CUT_HOLD`] later (time for the
    /// upstream to finish what the request asked) that connection is shut
    /// down without them. The request itself went through; its answer
    /// never arrives. Later connections are forwarded as usual.
    pub fn cut_after_request(&self) {
        self.cut.store(CUT_ONCE, Ordering::SeqCst);
    }

    /// Whether an armed one-shot cut has happened.
    pub fn cut_done(&self) -> bool {
        self.cut.load(Ordering::SeqCst) != CUT_ONCE
    }

    /// Cuts every connection that way, on its first answer, until told
    /// otherwise (for clients that open a connection per request).
    pub fn cut_answers(&self, on: bool) {
        self.cut
            .store(if on { CUT_ALWAYS } else { FORWARD }, Ordering::SeqCst);
    }
}

/// Answers are forwarded.
const FORWARD: u8 = 0;
/// The next answer is cut, then answers are forwarded again.
const CUT_ONCE: u8 = 1;
/// Every answer is cut.
const CUT_ALWAYS: u8 = 2;

/// Whether an answer is to be cut now; a one-shot cut is used up.
fn cut_now(mode: &AtomicU8) -> bool {
    mode.compare_exchange(CUT_ONCE, FORWARD, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
        || mode.load(Ordering::SeqCst) == CUT_ALWAYS
}

/// How long a cut connection is held, answer unread, before it is shut.
pub const CUT_HOLD: Duration = Duration::from_millis(300);

/// What is blackholed: everything, or the connections from some peers.
#[derive(Clone)]
struct Holes {
    all: Arc<AtomicBool>,
    from: Arc<Mutex<Vec<String>>>,
}

impl Holes {
    fn swallows(&self, conn: &Conn) -> bool {
        if self.all.load(Ordering::SeqCst) {
            return true;
        }
        let from = self.from.lock().unwrap();
        if from.is_empty() {
            return false;
        }
        let head = conn.head.lock().unwrap();
        head.as_deref()
            .is_some_and(|h| from.iter().any(|url| names(h, url)))
    }
}

/// Whether `head` contains `url` not followed by more of a URL (so that
/// `:2380` does not match `:23801`).
fn names(head: &str, url: &str) -> bool {
    head.match_indices(url).any(|(at, _)| {
        head[at + url.len()..]
            .chars()
            .next()
            .is_none_or(|c| matches!(c, '\r' | '\n' | ',' | ' ' | ';'))
    })
}

/// The size of one read, and so the longest request head looked at.
const HEAD_LIMIT: usize = 16 * 1024;

/// Copies `from` to `to` on a thread, dropping bytes while blackholed
/// (after a drop, the connection forwards nothing more and is closed), and
/// cutting the connection on the first bytes after `cut` is armed. On the
/// client-to-server side (`cut` is `None`), the first read is kept as the
/// connection's head, so it can be told apart by its sender: one read,
/// never a wait for more (a TLS client waits for an answer to its first
/// bytes), which holds the whole head of a request written at once, as
/// Go's HTTP client writes it.
fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    holes: &Holes,
    conn: &Arc<Conn>,
    cut: Option<&Arc<AtomicU8>>,
) {
    let (holes, conn) = (holes.clone(), conn.clone());
    let cut = cut.cloned();
    thread::spawn(move || {
        let mut buf = vec![0u8; HEAD_LIMIT];
        let mut first = 0;
        if cut.is_none() {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => {
                    conn.close();
                    return;
                }
                Ok(n) => first = n,
            }
            let head = String::from_utf8_lossy(&buf[..first]).into_owned();
            *conn.head.lock().unwrap() = Some(head);
        }
        loop {
            let n = if first > 0 {
                std::mem::take(&mut first)
            } else {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if cut.as_deref().is_some_and(cut_now) => {
                        thread::sleep(CUT_HOLD);
                        break;
                    }
                    Ok(n) => n,
                }
            };
            if holes.swallows(&conn) {
                conn.lost_bytes.store(true, Ordering::SeqCst);
            } else if conn.lost_bytes.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        conn.close();
    });
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr.parse().unwrap(), Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            c.close();
        }
    }
}
