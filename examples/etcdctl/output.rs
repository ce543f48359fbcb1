//! Output as etcdctl prints it: the `-w` formats, the raw key-value lines
//! of the simple format, and Go's `encoding/json` of etcd's messages (every
//! protobuf field `omitempty`, byte strings in base64, Go's field order).

use std::io::Write;

use etcd_blocking::{KeyValue, ResponseHeader};
use serde_json::{json, Map, Value};

use crate::exit::{Exit, Fail, Res};

/// The `-w` / `--write-out` formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Simple,
    Json,
}

impl Format {
    /// etcdctl's `NewPrinter`: an unknown format is a bad feature.
    pub fn parse(s: &str) -> Res<Format> {
        match s {
            "simple" => Ok(Format::Simple),
            "json" => Ok(Format::Json),
            _ => Err(Fail::new(Exit::BadFeature, "unsupported output format")),
        }
    }

    pub fn is_json(self) -> bool {
        self == Format::Json
    }
}

pub fn line(out: &mut impl Write, s: &str) {
    let _ = writeln!(out, "{s}");
}

/// etcdctl's printKV: the key's and the value's raw bytes, a line each.
pub fn print_kv(out: &mut impl Write, kv: &KeyValue, value_only: bool) {
    if !value_only {
        let _ = out.write_all(kv.key());
        let _ = out.write_all(b"\n");
    }
    let _ = out.write_all(kv.value());
    let _ = out.write_all(b"\n");
}

pub fn print_json(out: &mut impl Write, m: Map<String, Value>) {
    let _ = writeln!(out, "{}", Value::Object(m));
}

// Go's encoding/json of etcd's protobuf structs: every field is
// `omitempty`, byte strings are base64.
pub fn put_num<T: Into<Value> + Default + PartialEq>(m: &mut Map<String, Value>, k: &str, v: T) {
    if v != T::default() {
        m.insert(k.into(), v.into());
    }
}

pub fn put_bool(m: &mut Map<String, Value>, k: &str, v: bool) {
    if v {
        m.insert(k.into(), json!(true));
    }
}

pub fn put_str(m: &mut Map<String, Value>, k: &str, v: &str) {
    if !v.is_empty() {
        m.insert(k.into(), json!(v));
    }
}

pub fn put_arr(m: &mut Map<String, Value>, k: &str, v: Vec<Value>) {
    if !v.is_empty() {
        m.insert(k.into(), Value::Array(v));
    }
}

pub fn header(h: &ResponseHeader) -> Map<String, Value> {
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
pub fn flat_header(h: &ResponseHeader) -> Map<String, Value> {
    match header(h).remove("header") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

pub fn kv_json(kv: &KeyValue) -> Value {
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
pub fn b64(data: &[u8]) -> String {
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
pub fn humanize_bytes(s: u64) -> String {
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
