//! A minimal HTTP/1.1 client, for etcd's `/health`, `/metrics` and JSON
//! gateway, and a flat-JSON field reader. Depends on `std` only.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Timeout of one `/health` probe (3.4 and 3.5 answer it with a quorum read).
const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Sends one HTTP/1.1 request (`Connection: close`) to `addr`
/// ("127.0.0.1:P") and returns `(status, body)`. `timeout` bounds the
/// connect and each read/write. Chunked bodies are decoded.
fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> io::Result<(u16, String)> {
    let sock: SocketAddr = addr
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let body = body.unwrap_or("");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" || method == "PUT" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_http_response(&raw)
}

/// `GET path` on `addr` with a 3 s timeout; see `http_request`.
pub fn http_get(addr: &str, path: &str) -> io::Result<(u16, String)> {
    http_request(addr, "GET", path, None, HEALTH_PROBE_TIMEOUT)
}

/// How many streams of one gRPC method (`"Watch"`, `"LeaseKeepAlive"`)
/// the server at `endpoint` has started: etcd's grpc-prometheus counter.
pub fn streams_started(endpoint: &str, method: &str) -> u64 {
    grpc_server_counter(endpoint, "grpc_server_started_total", method)
}

/// How many gRPC streams (or calls) of `method` the member at `endpoint`
/// has finished, in any way (etcd's `grpc_server_handled_total`): with
/// [`streams_started`], whether a client's streams were really ended on
/// the server.
pub fn streams_handled(endpoint: &str, method: &str) -> u64 {
    grpc_server_counter(endpoint, "grpc_server_handled_total", method)
}

/// One of etcd's go-grpc-prometheus counters for `method`, summed over its
/// other labels.
fn grpc_server_counter(endpoint: &str, counter: &str, method: &str) -> u64 {
    let (_, body) = http_get(endpoint, "/metrics").unwrap();
    let label = format!("grpc_method=\"{method}\"");
    body.lines()
        .filter(|l| l.starts_with(counter) && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// `POST path` with a JSON body on `addr` (3 s timeout), e.g. etcd's gRPC
/// gateway `/v3/maintenance/status`; see `http_request`.
pub fn http_post_json(addr: &str, path: &str, body: &str) -> io::Result<(u16, String)> {
    http_request(addr, "POST", path, Some(body), HEALTH_PROBE_TIMEOUT)
}

fn parse_http_response(raw: &[u8]) -> io::Result<(u16, String)> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("truncated HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut body = raw[split + 4..].to_vec();
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("bad HTTP status line"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size_str = String::from_utf8_lossy(&rest[..eol]);
            let size_str = size_str.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_str, 16).map_err(|_| bad("bad chunk size"))?;
            rest = &rest[eol + 2..];
            if size == 0 || rest.len() < size {
                out.extend_from_slice(&rest[..size.min(rest.len())]);
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = rest.get(size + 2..).unwrap_or(&[]);
        }
        body = out;
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Extracts a string (or bare number) field `"key":"value"` from a flat
/// JSON text (first occurrence). Good enough for etcd's gateway answers.
pub fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let needle = format!("\"{key}\":");
    let start = json.find(&needle)? + needle.len();
    let rest = json[start..].trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        Some(&s[..s.find('"')?])
    } else {
        let end = rest.find([',', '}', ']']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}
