//! Output as etcdctl prints it: the `-w` formats, the raw key-value lines
//! of the simple format, and Go's `encoding/json` of etcd's messages (every
//! protobuf field `omitempty`, byte strings in base64, Go's field order).

use std::io::Write;

use etcd_blocking::{KeyValue, ResponseHeader};
use serde_json::{json, Map, Value};

use crate::exit::{Exit, Fail, Res};

/// The `-w` / `--write-out` formats (etcdctl's `protobuf` aside).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// etcdctl's default: raw keys and values, one sentence per answer.
    Simple,
    /// Go's `encoding/json` of the answer.
    Json,
    /// `"Field" : value` lines.
    Fields,
    /// A table: member list, endpoint status and health only.
    Table,
}

impl Format {
    /// etcdctl's `NewPrinter`: an unknown format is a bad feature.
    pub fn parse(s: &str) -> Res<Format> {
        match s {
            "simple" => Ok(Format::Simple),
            "json" => Ok(Format::Json),
            "fields" => Ok(Format::Fields),
            "table" => Ok(Format::Table),
            _ => Err(Fail::new(Exit::BadFeature, "unsupported output format")),
        }
    }

    pub fn is_json(self) -> bool {
        self == Format::Json
    }

    /// An answer this format does not print: etcdctl's
    /// `printerUnsupported`, after the request was made.
    pub fn unsupported(self) -> Fail {
        let name = match self {
            Format::Simple => "simple",
            Format::Json => "json",
            Format::Fields => "fields",
            Format::Table => "table",
        };
        Fail::new(
            Exit::BadFeature,
            format!("{name} not supported as output format"),
        )
    }
}

pub fn line(out: &mut (impl Write + ?Sized), s: &str) {
    let _ = writeln!(out, "{s}");
}

/// etcdctl's printKV: the key's and the value's raw bytes, a line each.
pub fn print_kv(out: &mut (impl Write + ?Sized), kv: &KeyValue, value_only: bool) {
    if !value_only {
        let _ = out.write_all(kv.key());
        let _ = out.write_all(b"\n");
    }
    let _ = out.write_all(kv.value());
    let _ = out.write_all(b"\n");
}

pub fn print_json(out: &mut (impl Write + ?Sized), m: Map<String, Value>) {
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

/// etcdctl's `-w table` (member list, endpoint status and health): the
/// header in capitals, centred; the cells right-aligned; borders as
/// etcdctl 3.5's tablewriter draws them (3.4 draws the same table in
/// ASCII: `+`, `-`, `|`).
pub fn print_table(out: &mut (impl Write + ?Sized), header: &[&str], rows: &[Vec<String>]) {
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let rule = |left: &str, mid: &str, right: &str| {
        let bars: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
        format!("{left}{}{right}", bars.join(mid))
    };
    let cells = |cells: Vec<String>| format!("│ {} │", cells.join(" │ "));
    line(out, &rule("┌", "┬", "┐"));
    let titles = header.iter().zip(&widths).map(|(h, w)| {
        // tablewriter's Pad: the smaller half of the gap on the left.
        let gap = w - width(h);
        let (l, r) = (gap / 2, gap - gap / 2);
        format!("{}{}{}", " ".repeat(l), h.to_uppercase(), " ".repeat(r))
    });
    line(out, &cells(titles.collect()));
    line(out, &rule("├", "┼", "┤"));
    for row in rows {
        let padded = row.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}"));
        line(out, &cells(padded.collect()));
    }
    line(out, &rule("└", "┴", "┘"));
}

/// Go's `%q` of a string made of `bytes` (`strconv.Quote`): printable
/// characters as they are, the usual escapes, `\xNN` for bytes that are
/// not UTF-8.
pub fn go_quote(bytes: &[u8]) -> String {
    let mut s = String::from("\"");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\x07' => s.push_str("\\a"),
                '\x08' => s.push_str("\\b"),
                '\x0c' => s.push_str("\\f"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                '\x0b' => s.push_str("\\v"),
                c if c.is_control() && (c as u32) < 0x80 => {
                    s.push_str(&format!("\\x{:02x}", c as u32))
                }
                c if c.is_control() => s.push_str(&format!("\\u{:04x}", c as u32)),
                c => s.push(c),
            }
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s.push('"');
    s
}

/// `-w fields`: a response header, as etcdctl's fieldsPrinter.
pub fn fields_header(out: &mut (impl Write + ?Sized), h: &ResponseHeader) {
    line(out, &format!("\"ClusterID\" : {}", h.cluster_id()));
    line(out, &format!("\"MemberID\" : {}", h.member_id()));
    line(out, &format!("\"Revision\" : {}", h.revision()));
    line(out, &format!("\"RaftTerm\" : {}", h.raft_term()));
}

/// `-w fields`: a key-value, its field names after `prefix` (`Prev`).
pub fn fields_kv(out: &mut (impl Write + ?Sized), prefix: &str, kv: &KeyValue) {
    line(out, &format!("\"{prefix}Key\" : {}", go_quote(kv.key())));
    line(
        out,
        &format!("\"{prefix}CreateRevision\" : {}", kv.create_revision()),
    );
    line(
        out,
        &format!("\"{prefix}ModRevision\" : {}", kv.mod_revision()),
    );
    line(out, &format!("\"{prefix}Version\" : {}", kv.version()));
    line(
        out,
        &format!("\"{prefix}Value\" : {}", go_quote(kv.value())),
    );
    line(out, &format!("\"{prefix}Lease\" : {}", kv.lease()));
}

/// `-w fields`: one more field, Go's `fmt.Println` of its value.
pub fn field(out: &mut (impl Write + ?Sized), name: &str, value: impl std::fmt::Display) {
    line(out, &format!("\"{name}\" : {value}"));
}
