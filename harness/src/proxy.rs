//! A TCP proxy on 127.0.0.1 for fault tests: it forwards to one upstream
//! until told to blackhole, after which connections stay open but every
//! byte in either direction is swallowed, as with a network partition that
//! TCP itself does not notice. Swallowed bytes are gone, so a connection
//! that lost any is closed when the blackhole ends rather than carrying on
//! with a hole in its stream: TCP never delivers a stream with bytes
//! missing (it retransmits, or the connection breaks), and a connection
//! that did would let HTTP/2 carry on in step while whole frames (watch
//! events, answers) vanished without anyone being told. Depends on `std`
//! only.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Both sockets of one proxied connection, and whether bytes were
/// swallowed on it.
struct Conn {
    client: TcpStream,
    server: TcpStream,
    lost_bytes: Arc<AtomicBool>,
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
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_string();
        let accept = {
            let (blackhole, stop, conns) = (blackhole.clone(), stop.clone(), conns.clone());
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(server) = TcpStream::connect(&upstream) else {
                        continue;
                    };
                    let conn = Arc::new(Conn {
                        client: client.try_clone().unwrap(),
                        server: server.try_clone().unwrap(),
                        lost_bytes: Arc::new(AtomicBool::new(false)),
                    });
                    conns.lock().unwrap().push(conn.clone());
                    pipe(
                        client.try_clone().unwrap(),
                        server.try_clone().unwrap(),
                        &blackhole,
                        &conn,
                    );
                    pipe(server, client, &blackhole, &conn);
                }
            })
        };
        Proxy {
            addr,
            blackhole,
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
            for c in self.conns.lock().unwrap().iter() {
                if c.lost_bytes.load(Ordering::SeqCst) {
                    c.close();
                }
            }
        }
        self.blackhole.store(on, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` on a thread, dropping bytes while blackholed;
/// after a drop, the connection forwards nothing more and is closed.
fn pipe(mut from: TcpStream, mut to: TcpStream, blackhole: &Arc<AtomicBool>, conn: &Arc<Conn>) {
    let (blackhole, conn) = (blackhole.clone(), conn.clone());
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if blackhole.load(Ordering::SeqCst) {
                        conn.lost_bytes.store(true, Ordering::SeqCst);
                    } else if conn.lost_bytes.load(Ordering::SeqCst)
                        || to.write_all(&buf[..n]).is_err()
                    {
                        break;
                    }
                }
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
