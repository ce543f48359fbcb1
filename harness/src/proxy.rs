//! A TCP proxy on 127.0.0.1 for fault tests: it forwards to one upstream
//! until told to blackhole, after which connections stay open but every
//! byte in either direction is swallowed, as with a network partition that
//! TCP itself does not notice. It can also cut a connection after a request
//! went through and before its answer comes back, the case where a client
//! cannot know whether its write was applied. Depends on `std` only.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A running proxy; dropping it closes the listener and every connection.
pub struct Proxy {
    addr: String,
    blackhole: Arc<AtomicBool>,
    /// What to do with answers: [`FORWARD`], [`CUT_ONCE`] or [`CUT_ALWAYS`].
    cut: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port forwarding to `upstream`
    /// (`host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().unwrap().to_string();
        let blackhole = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(AtomicU8::new(FORWARD));
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_string();
        let accept = {
            let (blackhole, cut, stop, conns) =
                (blackhole.clone(), cut.clone(), stop.clone(), conns.clone());
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(&upstream) else {
                        continue;
                    };
                    let mut list = conns.lock().unwrap();
                    list.push(client.try_clone().unwrap());
                    list.push(server.try_clone().unwrap());
                    drop(list);
                    pipe(
                        client.try_clone().unwrap(),
                        server.try_clone().unwrap(),
                        &blackhole,
                        None,
                    );
                    pipe(server, client, &blackhole, Some(&cut));
                }
            })
        };
        Proxy {
            addr,
            blackhole,
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

    /// Stops (true) or resumes (false) forwarding; connections stay open.
    pub fn blackhole(&self, on: bool) {
        self.blackhole.store(on, Ordering::SeqCst);
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

/// Copies `from` to `to` on a thread, dropping bytes while blackholed, and
/// cutting the connection on the first bytes after `cut` is armed.
fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    blackhole: &Arc<AtomicBool>,
    cut: Option<&Arc<AtomicU8>>,
) {
    let blackhole = blackhole.clone();
    let cut = cut.cloned();
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) if cut.as_deref().is_some_and(cut_now) => {
                    thread::sleep(CUT_HOLD);
                    let _ = from.shutdown(Shutdown::Both);
                    break;
                }
                Ok(n) => {
                    if !blackhole.load(Ordering::SeqCst) && to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
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
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}
