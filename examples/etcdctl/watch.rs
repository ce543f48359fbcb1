//! `watch`: events as etcdctl prints them, until interrupted.

use std::io::Write;

use clap::Args;
use etcd_blocking::{Client, Error, EventType, WatchOptions, WatchResponse};
use serde_json::{json, Map, Value};

use crate::exit::{bad_args, Exit, Fail, Res};
use crate::global::connect;
use crate::output::{
    field, fields_header, fields_kv, header, kv_json, line, print_json, print_kv, put_num, Format,
};

/// Watches events stream on keys or prefixes
#[derive(Args)]
pub struct WatchArgs {
    /// key [range_end]
    args: Vec<String>,
    #[arg(long)]
    prefix: bool,
    #[arg(long, default_value_t = 0)]
    rev: i64,
    #[arg(long)]
    prev_kv: bool,
}

pub fn watch(a: WatchArgs, format: Format, out: &mut impl Write) -> Res {
    let (key, end) = match a.args.as_slice() {
        [key] => (key.clone(), None),
        [key, end] => (key.clone(), Some(end.clone())),
        _ => return Err(bad_args("bad number of arguments")),
    };
    let mut opts = WatchOptions::new();
    if let Some(end) = end {
        if a.prefix {
            return Err(bad_args(
                "`range_end` and `--prefix` are mutually exclusive",
            ));
        }
        opts = opts.range_end(end);
    }
    if a.prefix {
        opts = opts.prefix();
    }
    if a.rev > 0 {
        opts = opts.start_revision(a.rev);
    }
    if a.prev_kv {
        opts = opts.prev_kv();
    }
    let client = connect()?;
    let w = client.watch_with(key.as_str(), opts)?;
    for resp in w.iter() {
        let resp = match resp {
            Err(Error::Compacted {
                compact_revision: Some(compact_revision),
            }) => return compacted(&client, &key, compact_revision, format, out),
            r => r?,
        };
        match format {
            Format::Json => print_json(out, response_json(&resp)),
            Format::Simple => print_events(out, &resp),
            Format::Fields => print_fields(out, &resp),
            Format::Table => return Err(format.unsupported()),
        }
        let _ = out.flush();
    }
    Ok(())
}

/// The server cancelled the watch: the revision it starts from was
/// compacted away. etcdctl prints the cancelling response, says why on
/// stderr, and exits with `ExitInterrupted`.
fn compacted(
    client: &Client,
    key: &str,
    compact_revision: i64,
    format: Format,
    out: &mut impl Write,
) -> Res {
    eprintln!("watch was canceled (etcdserver: mvcc: required revision has been compacted)");
    // The cancelling response's header: the member's, with no revision
    // (the crate reports the compaction as an error, without the header).
    let h = *client.get(key)?.header();
    if format == Format::Fields {
        field(out, "ClusterID", h.cluster_id());
        field(out, "MemberID", h.member_id());
        field(out, "Revision", 0);
        field(out, "RaftTerm", h.raft_term());
    }
    if format.is_json() {
        let mut hm = Map::new();
        put_num(&mut hm, "cluster_id", h.cluster_id());
        put_num(&mut hm, "member_id", h.member_id());
        put_num(&mut hm, "raft_term", h.raft_term());
        let mut m = Map::new();
        m.insert("Header".into(), Value::Object(hm));
        m.insert("Events".into(), json!([]));
        m.insert("CompactRevision".into(), json!(compact_revision));
        m.insert("Canceled".into(), json!(true));
        m.insert("Created".into(), json!(false));
        print_json(out, m);
    }
    let _ = out.flush();
    Err(Fail::new(
        Exit::Interrupted,
        "watch is canceled by the server",
    ))
}

/// clientv3.WatchResponse has no JSON tags: Go's field names, nothing
/// omitted (the events inside are protobuf structs again).
fn response_json(resp: &WatchResponse) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("Header".into(), header(resp.header())["header"].clone());
    let events: Vec<Value> = resp
        .events()
        .iter()
        .map(|e| {
            let mut ev = Map::new();
            if e.event_type() == EventType::Delete {
                ev.insert("type".into(), json!(1));
            }
            ev.insert("kv".into(), kv_json(e.kv()));
            if let Some(p) = e.prev_kv() {
                ev.insert("prev_kv".into(), kv_json(p));
            }
            Value::Object(ev)
        })
        .collect();
    m.insert("Events".into(), Value::Array(events));
    m.insert("CompactRevision".into(), json!(0));
    m.insert("Canceled".into(), json!(false));
    m.insert("Created".into(), json!(false));
    m
}

/// etcdctl's fields watch output: the header, then each event's type,
/// previous kv and kv.
fn print_fields(out: &mut impl Write, resp: &WatchResponse) {
    fields_header(out, resp.header());
    for e in resp.events() {
        let t = match e.event_type() {
            EventType::Put => "PUT",
            EventType::Delete => "DELETE",
        };
        field(out, "Type", t);
        if let Some(p) = e.prev_kv() {
            fields_kv(out, "Prev", p);
        }
        fields_kv(out, "", e.kv());
    }
}

/// etcdctl's simple watch output: the event type, the previous kv, the kv.
fn print_events(out: &mut impl Write, resp: &WatchResponse) {
    for e in resp.events() {
        let t = match e.event_type() {
            EventType::Put => "PUT",
            EventType::Delete => "DELETE",
        };
        line(out, t);
        if let Some(p) = e.prev_kv() {
            print_kv(out, p, false);
        }
        print_kv(out, e.kv(), false);
    }
}
