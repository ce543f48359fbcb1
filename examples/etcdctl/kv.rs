//! `get`, `put`, `del` and `compaction`: the KV service.

use std::io::{Read, Write};

use clap::Args;
use etcd_blocking::{
    CompactOptions, DeleteOptions, GetOptions, PutOptions, SortOrder, SortTarget,
};

use crate::exit::{bad_args, go_parse_int, Exit, Fail, Res};
use crate::global::connect;
use crate::output::{header, kv_json, line, print_json, print_kv, put_arr, put_bool, put_num, Format};

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
    if a.print_value_only && format.is_json() {
        return Err(bad_args("print-value-only is only for `--write-out=simple`"));
    }
    if format.is_json() {
        let mut m = header(resp.header());
        put_arr(&mut m, "kvs", resp.kvs().iter().map(kv_json).collect());
        put_bool(&mut m, "more", resp.more());
        put_num(&mut m, "count", resp.count());
        print_json(out, m);
    } else {
        for kv in resp.kvs() {
            print_kv(out, kv, a.print_value_only);
        }
    }
    Ok(())
}

/// etcdctl's `getGetOp`: the key and the options of a `get`.
fn get_request(a: &GetArgs) -> Res<(Vec<u8>, GetOptions)> {
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
    fn prefix(self) -> Self;
    fn from_key(self) -> Self;
}

impl OpenRange for GetOptions {
    fn prefix(self) -> Self {
        GetOptions::prefix(self)
    }
    fn from_key(self) -> Self {
        GetOptions::from_key(self)
    }
}

impl OpenRange for DeleteOptions {
    fn prefix(self) -> Self {
        DeleteOptions::prefix(self)
    }
    fn from_key(self) -> Self {
        DeleteOptions::from_key(self)
    }
}

fn open_range<O: OpenRange>(mut key: Vec<u8>, mut opts: O, prefix: bool, from_key: bool) -> (Vec<u8>, O) {
    if prefix {
        if key.is_empty() {
            key = vec![0];
            opts = opts.from_key();
        } else {
            opts = opts.prefix();
        }
    }
    if from_key {
        if key.is_empty() {
            key = vec![0];
        }
        opts = opts.from_key();
    }
    (key, opts)
}

pub fn put(a: PutArgs, format: Format, out: &mut impl Write) -> Res {
    const USAGE: &str = "put command needs 1 argument and input from stdin or 2 arguments";
    let Some(key) = a.args.first().cloned() else {
        return Err(bad_args(USAGE));
    };
    let value = match a.args.get(1).cloned() {
        Some(v) => v,
        None => {
            let mut s = String::new();
            let _ = std::io::stdin().read_to_string(&mut s);
            if s.is_empty() {
                return Err(bad_args(USAGE));
            }
            s
        }
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
    let resp = connect()?.put_with(key, value, opts)?;
    if format.is_json() {
        let mut m = header(resp.header());
        if let Some(kv) = resp.prev_kv() {
            m.insert("prev_kv".into(), kv_json(kv));
        }
        print_json(out, m);
    } else {
        line(out, "OK");
        if let Some(kv) = resp.prev_kv() {
            print_kv(out, kv, false);
        }
    }
    Ok(())
}

pub fn del(a: DelArgs, format: Format, out: &mut impl Write) -> Res {
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
    let (key, opts) = open_range(key.into_bytes(), opts, a.prefix, a.from_key);
    let resp = connect()?.delete_with(key, opts)?;
    if format.is_json() {
        let mut m = header(resp.header());
        put_num(&mut m, "deleted", resp.deleted());
        let prev = resp.prev_kvs().iter().map(kv_json).collect();
        put_arr(&mut m, "prev_kvs", prev);
        print_json(out, m);
    } else {
        line(out, &resp.deleted().to_string());
        for kv in resp.prev_kvs() {
            print_kv(out, kv, false);
        }
    }
    Ok(())
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
