//! `get`, `put`, `del` and `compaction`: the KV service.

use std::io::{Read, Write};

use clap::Args;
use etcd_blocking::{
    CompactOptions, DeleteOptions, DeleteResponse, GetOptions, GetResponse, OpResponse, PutOptions,
    PutResponse, SortOrder, SortTarget, TxnResponse,
};
use serde_json::{json, Map, Value};

use crate::exit::{bad_args, go_parse_int, Exit, Fail, Res};
use crate::global::connect;
use crate::output::{
    field, fields_header, fields_kv, header, kv_json, line, print_json, print_kv, put_arr,
    put_bool, put_num, Format,
};

/// Gets the key or a range of keys
#[derive(Args)]
pub struct GetArgs {
    /// key [range_end]
    args: Vec<String>,
    #[arg(long)]
    prefix: bool,
    #[arg(long)]
    from_key: bool,
    #[arg(long, default_value_t = 0)]
    limit: i64,
    #[arg(long, default_value_t = 0)]
    rev: i64,
    #[arg(long)]
    keys_only: bool,
    #[arg(long)]
    print_value_only: bool,
    #[arg(long, default_value = "")]
    sort_by: String,
    #[arg(long, default_value = "")]
    order: String,
    #[arg(long, default_value = "l")]
    consistency: String,
}

/// Puts the given key into the store
#[derive(Args)]
pub struct PutArgs {
    /// key [value]
    args: Vec<String>,
    #[arg(long, default_value = "0")]
    lease: String,
    #[arg(long)]
    prev_kv: bool,
}

/// Removes the specified key or range of keys [key, range_end)
#[derive(Args)]
pub struct DelArgs {
    /// key [range_end]
    args: Vec<String>,
    #[arg(long)]
    prefix: bool,
    #[arg(long)]
    from_key: bool,
    #[arg(long)]
    prev_kv: bool,
}

/// Compacts the event history in etcd
#[derive(Args)]
pub struct CompactionArgs {
    /// revision
    args: Vec<String>,
    #[arg(long)]
    physical: bool,
}

const PREFIX_AND_FROM_KEY: &str =
    "`--prefix` and `--from-key` cannot be set at the same time, choose one";
const TOO_MANY: &str =
    "too many arguments, only accept one argument when `--prefix` or `--from-key` is set";

pub fn get(a: GetArgs, format: Format, out: &mut impl Write) -> Res {
    let (key, opts) = get_request(&a)?;
    let resp = connect()?.get_with(key, opts)?;
    if a.print_value_only && format != Format::Simple {
        return Err(bad_args(
            "print-value-only is only for `--write-out=simple`",
        ));
    }
    show_get(&resp, format, a.print_value_only, out)
}

/// A range's answer in each format.
fn show_get(resp: &GetResponse, format: Format, value_only: bool, out: &mut impl Write) -> Res {
    match format {
        Format::Simple => resp
            .kvs()
            .iter()
            .for_each(|kv| print_kv(out, kv, value_only)),
        Format::Json => print_json(out, get_json(resp)),
        Format::Fields => {
            fields_header(out, resp.header());
            resp.kvs().iter().for_each(|kv| fields_kv(out, "", kv));
            field(out, "More", resp.more());
            field(out, "Count", resp.count());
        }
        Format::Table => return Err(format.unsupported()),
    }
    Ok(())
}

fn get_json(resp: &GetResponse) -> Map<String, Value> {
    let mut m = header(resp.header());
    put_arr(&mut m, "kvs", resp.kvs().iter().map(kv_json).collect());
    put_bool(&mut m, "more", resp.more());
    put_num(&mut m, "count", resp.count());
    m
}

/// etcdctl's `getGetOp`: the key and the options of a `get`.
pub fn get_request(a: &GetArgs) -> Res<(Vec<u8>, GetOptions)> {
    if a.prefix && a.from_key {
        return Err(bad_args(PREFIX_AND_FROM_KEY));
    }
    let Some(key) = a.args.first() else {
        return Err(bad_args(
            "get command needs one argument as key and an optional argument as range_end",
        ));
    };
    let mut opts = GetOptions::new().limit(a.limit);
    match a.consistency.as_str() {
        "s" => opts = opts.serializable(),
        "l" => {}
        other => {
            return Err(Fail::new(
                Exit::BadFeature,
                format!("unknown consistency flag {other:?}"),
            ))
        }
    }
    if let Some(end) = a.args.get(1) {
        if a.prefix || a.from_key {
            return Err(bad_args(TOO_MANY));
        }
        opts = opts.range_end(end.as_str());
    }
    if a.rev > 0 {
        opts = opts.revision(a.rev);
    }
    let (target, order) = sort(&a.sort_by, &a.order)?;
    opts = opts.sort(target, order);
    let (key, opts) = open_range(key.clone().into_bytes(), opts, a.prefix, a.from_key);
    Ok((key, if a.keys_only { opts.keys_only() } else { opts }))
}

/// `--sort-by` and `--order`, as clientv3's `WithSort` takes them.
fn sort(sort_by: &str, order: &str) -> Res<(SortTarget, SortOrder)> {
    let bad = |what: &str, v: &str| Fail::new(Exit::BadFeature, format!("bad sort {what} {v}"));
    let order_v = match order.to_uppercase().as_str() {
        "ASCEND" => SortOrder::Ascend,
        "DESCEND" => SortOrder::Descend,
        "" => SortOrder::None,
        _ => return Err(bad("order", order)),
    };
    let target = match sort_by.to_uppercase().as_str() {
        "CREATE" => SortTarget::Create,
        "KEY" | "" => SortTarget::Key,
        "MODIFY" => SortTarget::Mod,
        "VALUE" => SortTarget::Value,
        "VERSION" => SortTarget::Version,
        _ => return Err(bad("target", sort_by)),
    };
    // As clientv3's WithSort: a target other than the key with no order
    // means ascending.
    if target != SortTarget::Key && order_v == SortOrder::None {
        return Ok((target, SortOrder::Ascend));
    }
    Ok((target, order_v))
}

/// The options shared by `get` and `del`: `--prefix` and `--from-key`
/// (an empty key with either means every key, as etcdctl's `\x00`).
trait OpenRange: Sized {
    fn with_prefix(self) -> Self;
    fn with_from_key(self) -> Self;
}

impl OpenRange for GetOptions {
    fn with_prefix(self) -> Self {
        GetOptions::prefix(self)
    }
    fn with_from_key(self) -> Self {
        GetOptions::from_key(self)
    }
}

impl OpenRange for DeleteOptions {
    fn with_prefix(self) -> Self {
        DeleteOptions::prefix(self)
    }
    fn with_from_key(self) -> Self {
        DeleteOptions::from_key(self)
    }
}

fn open_range<O: OpenRange>(
    mut key: Vec<u8>,
    mut opts: O,
    prefix: bool,
    from_key: bool,
) -> (Vec<u8>, O) {
    if prefix {
        if key.is_empty() {
            key = vec![0];
            opts = opts.with_from_key();
        } else {
            opts = opts.with_prefix();
        }
    }
    if from_key {
        if key.is_empty() {
            key = vec![0];
        }
        opts = opts.with_from_key();
    }
    (key, opts)
}

pub fn put(a: PutArgs, format: Format, out: &mut impl Write) -> Res {
    let (key, value, opts) = put_request(a, true)?;
    let resp = connect()?.put_with(key, value, opts)?;
    show_put(&resp, format, out)
}

/// etcdctl's `getPutOp`: the key, the value (from standard input when
/// `stdin` and there is no second argument) and the options of a `put`.
pub fn put_request(a: PutArgs, stdin: bool) -> Res<(String, String, PutOptions)> {
    const USAGE: &str = "put command needs 1 argument and input from stdin or 2 arguments";
    let Some(key) = a.args.first().cloned() else {
        return Err(bad_args(USAGE));
    };
    let value = match a.args.get(1).cloned() {
        Some(v) => v,
        None if stdin => {
            let mut s = String::new();
            let _ = std::io::stdin().read_to_string(&mut s);
            if s.is_empty() {
                return Err(bad_args(USAGE));
            }
            s
        }
        None => return Err(bad_args(USAGE)),
    };
    let id = go_parse_int(&a.lease, 16)
        .map_err(|e| bad_args(format!("bad lease ID ({e}), expecting ID in Hex")))?;
    let mut opts = PutOptions::new();
    if id != 0 {
        opts = opts.lease(id);
    }
    if a.prev_kv {
        opts = opts.prev_kv();
    }
    Ok((key, value, opts))
}

/// A put's answer in each format.
fn show_put(resp: &PutResponse, format: Format, out: &mut impl Write) -> Res {
    match format {
        Format::Simple => {
            line(out, "OK");
            if let Some(kv) = resp.prev_kv() {
                print_kv(out, kv, false);
            }
        }
        Format::Json => print_json(out, put_json(resp)),
        Format::Fields => {
            fields_header(out, resp.header());
            if let Some(kv) = resp.prev_kv() {
                fields_kv(out, "Prev", kv);
            }
        }
        Format::Table => return Err(format.unsupported()),
    }
    Ok(())
}

fn put_json(resp: &PutResponse) -> Map<String, Value> {
    let mut m = header(resp.header());
    if let Some(kv) = resp.prev_kv() {
        m.insert("prev_kv".into(), kv_json(kv));
    }
    m
}

pub fn del(a: DelArgs, format: Format, out: &mut impl Write) -> Res {
    let (key, opts) = del_request(a)?;
    let resp = connect()?.delete_with(key, opts)?;
    show_del(&resp, format, out)
}

/// etcdctl's `getDelOp`: the key and the options of a `del`.
pub fn del_request(a: DelArgs) -> Res<(Vec<u8>, DeleteOptions)> {
    if a.prefix && a.from_key {
        return Err(bad_args(PREFIX_AND_FROM_KEY));
    }
    let Some(key) = a.args.first().cloned() else {
        return Err(bad_args(
            "del command needs one argument as key and an optional argument as range_end",
        ));
    };
    let mut opts = DeleteOptions::new();
    if let Some(end) = a.args.get(1).cloned() {
        if a.prefix || a.from_key {
            return Err(bad_args(TOO_MANY));
        }
        opts = opts.range_end(end);
    }
    if a.prev_kv {
        opts = opts.prev_kv();
    }
    Ok(open_range(key.into_bytes(), opts, a.prefix, a.from_key))
}

/// A delete's answer in each format.
fn show_del(resp: &DeleteResponse, format: Format, out: &mut impl Write) -> Res {
    match format {
        Format::Simple => {
            line(out, &resp.deleted().to_string());
            for kv in resp.prev_kvs() {
                print_kv(out, kv, false);
            }
        }
        Format::Json => print_json(out, del_json(resp)),
        Format::Fields => {
            fields_header(out, resp.header());
            field(out, "Deleted", resp.deleted());
            resp.prev_kvs()
                .iter()
                .for_each(|kv| fields_kv(out, "Prev", kv));
        }
        Format::Table => return Err(format.unsupported()),
    }
    Ok(())
}

fn del_json(resp: &DeleteResponse) -> Map<String, Value> {
    let mut m = header(resp.header());
    put_num(&mut m, "deleted", resp.deleted());
    put_arr(
        &mut m,
        "prev_kvs",
        resp.prev_kvs().iter().map(kv_json).collect(),
    );
    m
}

/// One response of a transaction, as its own command prints it.
pub fn show_op(r: &OpResponse, format: Format, out: &mut impl Write) -> Res {
    if let Some(g) = r.as_get() {
        show_get(g, format, false, out)
    } else if let Some(p) = r.as_put() {
        show_put(p, format, out)
    } else if let Some(d) = r.as_delete() {
        show_del(d, format, out)
    } else {
        // etcdctl's txn never nests one.
        Ok(())
    }
}

/// etcdctl 3.5's JSON of a transaction (pb.TxnResponse): each response in
/// its oneof, named `response_range`, `response_put`,
/// `response_delete_range` (3.4 spells them `ResponseRange`, … ).
pub fn txn_json(resp: &TxnResponse) -> Map<String, Value> {
    let mut m = header(resp.header());
    put_bool(&mut m, "succeeded", resp.succeeded());
    let responses: Vec<Value> = resp
        .responses()
        .iter()
        .filter_map(|r| {
            let (name, v) = if let Some(g) = r.as_get() {
                ("response_range", get_json(g))
            } else if let Some(p) = r.as_put() {
                ("response_put", put_json(p))
            } else {
                ("response_delete_range", del_json(r.as_delete()?))
            };
            Some(json!({ "Response": { name: Value::Object(v) } }))
        })
        .collect();
    put_arr(&mut m, "responses", responses);
    m
}

pub fn compaction(a: CompactionArgs, out: &mut impl Write) -> Res {
    let [revision] = a.args.as_slice() else {
        return Err(bad_args("compaction command needs 1 argument"));
    };
    let rev = go_parse_int(revision, 10).map_err(|e| Fail::new(Exit::Error, e))?;
    let mut opts = CompactOptions::new();
    if a.physical {
        opts = opts.physical();
    }
    connect()?.compact_with(rev, opts)?;
    line(out, &format!("compacted revision {rev}"));
    Ok(())
}
