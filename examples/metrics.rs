//! Metrics: runs some traffic (puts, reads, a failing read, a watch, a
//! kept-alive lease) and serves the client's series in the Prometheus text
//! format on a loopback port, from a plain blocking HTTP server (no async
//! runtime). Scrape it with Prometheus, or look with curl.
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway etcd.
//! Serves for `SERVE_SECS` seconds (default 60) on `METRICS_ADDR`
//! (default `127.0.0.1:0`, a free port).
//!
//!     cargo run --features tls,metrics --example metrics

mod support;

use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::{Client, GetOptions, WatchOptions};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The application picks the exporter; the client only records. Go's
    // default buckets keep `histogram_quantile` over the `_bucket` series
    // working as with go-grpc-prometheus (without buckets the exporter
    // renders summaries).
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        )?
        .install_recorder()?;

    let etcd = support::etcd();
    let client = Client::connect(&etcd.endpoints)?;

    let addr = std::env::var("METRICS_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let server = tiny_http::Server::http(&addr).map_err(|e| format!("listen on {addr}: {e}"))?;
    let url = format!("http://{}/metrics", server.server_addr());

    // Traffic in the background: a watch, a kept-alive lease, and a put and
    // a read every 100 ms, with a read that fails now and then.
    let watcher = client.watch_with("demo/", WatchOptions::new().prefix())?;
    let lease = client.grant(10)?;
    let keepalive = client.keep_alive(lease.id())?;
    let traffic = {
        let client = client.clone();
        thread::Builder::new()
            .name("traffic".into())
            .spawn(move || {
                for i in 0u64.. {
                    if client.is_closed() {
                        break;
                    }
                    let _ = client.put(format!("demo/{}", i % 10), i.to_string());
                    let _ = client.get(format!("demo/{}", i % 10));
                    if i % 10 == 0 {
                        // A future revision: OutOfRange, counted as such.
                        let _ = client.get_with("demo/0", GetOptions::new().revision(1 << 40));
                    }
                    while let Ok(Some(_)) = watcher.try_recv() {}
                    thread::sleep(Duration::from_millis(100));
                }
            })?
    };
    // The first scrape already shows a put, whenever it comes.
    client.put("demo/0", "first")?;
    println!("serving metrics at {url}");

    let serve_for = Duration::from_secs(
        std::env::var("SERVE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let until = Instant::now() + serve_for;
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        let Some(req) = server.recv_timeout(left)? else {
            break;
        };
        let resp = if req.url() == "/metrics" {
            tiny_http::Response::from_string(handle.render()).with_header(
                "Content-Type: text/plain; version=0.0.4"
                    .parse::<tiny_http::Header>()
                    .expect("static header"),
            )
        } else {
            tiny_http::Response::from_string(format!("see {url}\n")).with_status_code(404)
        };
        let _ = req.respond(resp);
    }

    drop(keepalive);
    client.close()?;
    let _ = traffic.join();
    Ok(())
}
