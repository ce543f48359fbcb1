//! A TCP proxy on 127.0.0.1 for fault tests: it forwards to one upstream
//! until told to blackhole, after which connections stay open but every
//! byte in either direction is swallowed, as with a network partition that
//! TCP itself does not notice.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A running proxy; dropping it closes the listener and every connection.
pub struct Proxy {
    addr: String,
    blackhole: Arc<AtomicBool>,
    /// Cut-after-send mode (see [`Proxy::cut_answers`]).
    cut: Arc<AtomicBool>,
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
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_string();
        let accept = {
            let (blackhole, stop, conns) = (blackhole.clone(), stop.clone(), conns.clone());
            let cut = cut.clone();
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
                    );
                    if cut.load(Ordering::SeqCst) {
                        cut_on_answer(server, client);
                    } else {
                        pipe(server, client, &blackhole);
                    }
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
}

impl Proxy {
    /// For connections accepted from now on (true): forward the request
    /// to the upstream, and when its answer starts, close both sides
    /// without passing a byte of it on, as a network that fails right
    /// after the request was sent.
    pub fn cut_answers(&self, on: bool) {
        self.cut.store(on, Ordering::SeqCst);
    }
}

/// Waits for the upstream's first answer byte on a thread, then closes
/// both connections (see [`Proxy::cut_answers`]).
fn cut_on_answer(mut server: TcpStream, client: TcpStream) {
    thread::spawn(move || {
        let mut buf = [0u8; 1];
        let _ = server.read(&mut buf);
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
    });
}

/// Copies `from` to `to` on a thread, dropping bytes while blackholed.
fn pipe(mut from: TcpStream, mut to: TcpStream, blackhole: &Arc<AtomicBool>) {
    let blackhole = blackhole.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
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
