//! `lease grant|revoke|timetolive|keep-alive|list`.

use std::io::Write;

use clap::Subcommand;
use etcd_blocking::{ResponseHeader, TimeToLiveOptions};
use serde_json::{json, Value};

use crate::exit::{bad_args, go_message, go_parse_int, Exit, Fail, Res};
use crate::global::connect;
use crate::output::{
    b64, field, fields_header, flat_header, go_quote, header, line, print_json, Format,
};

#[derive(Subcommand)]
pub enum LeaseCommand {
    /// Creates leases
    Grant {
        /// TTL
        args: Vec<String>,
    },
    /// Revokes leases
    Revoke {
        /// lease ID
        args: Vec<String>,
    },
    /// Get lease information
    Timetolive {
        /// lease ID
        args: Vec<String>,
        #[arg(long)]
        keys: bool,
    },
    /// Keeps leases alive (renew)
    KeepAlive {
        /// lease ID
        args: Vec<String>,
        #[arg(long)]
        once: bool,
    },
    /// List all active leases
    List,
}

pub fn lease(cmd: LeaseCommand, format: Format, out: &mut impl Write) -> Res {
    // etcdctl checks the number of arguments before anything else.
    let one = |args: &[String], why: &str| match args {
        [arg] => Ok(arg.clone()),
        _ => Err(bad_args(why)),
    };
    const NEEDS_ID: &str = "command needs lease ID as argument";
    match cmd {
        LeaseCommand::Grant { args } => grant(
            &one(&args, "lease grant command needs TTL argument")?,
            format,
            out,
        ),
        LeaseCommand::Revoke { args } => {
            let id = one(&args, "lease revoke command needs 1 argument")?;
            revoke(parse_id(&id)?, format, out)
        }
        LeaseCommand::Timetolive { args, keys } => {
            let id = one(&args, &format!("lease timetolive {NEEDS_ID}"))?;
            time_to_live(parse_id(&id)?, keys, format, out)
        }
        LeaseCommand::KeepAlive { args, once } => {
            let id = one(&args, &format!("lease keep-alive {NEEDS_ID}"))?;
            keep_alive(parse_id(&id)?, once, format, out)
        }
        LeaseCommand::List => list(format, out),
    }
}

/// A lease ID as etcdctl takes it: hex.
fn parse_id(s: &str) -> Res<i64> {
    go_parse_int(s, 16)
        .map_err(|e| bad_args(format!("bad lease ID arg ({e}), expecting ID in Hex")))
}

/// A failed lease call, worded as etcdctl's `failed to … lease (…)`.
fn failed(what: &str) -> impl Fn(etcd_blocking::Error) -> Fail + '_ {
    move |e| {
        Fail::new(
            Exit::Error,
            format!("failed to {what} lease ({})", go_message(&e)),
        )
    }
}

fn grant(ttl: &str, format: Format, out: &mut impl Write) -> Res {
    let ttl = go_parse_int(ttl, 10).map_err(|e| bad_args(format!("bad TTL ({e})")))?;
    let resp = connect()?.grant(ttl).map_err(failed("grant"))?;
    match format {
        Format::Json => {
            // clientv3.LeaseGrantResponse: the header embedded, no
            // omitempty on its own fields.
            let mut m = flat_header(resp.header());
            m.insert("ID".into(), json!(resp.id()));
            m.insert("TTL".into(), json!(resp.ttl()));
            m.insert("Error".into(), json!(""));
            print_json(out, m);
        }
        Format::Simple => {
            let msg = format!("lease {:016x} granted with TTL({}s)", resp.id(), resp.ttl());
            line(out, &msg);
        }
        Format::Fields => {
            fields_header(out, resp.header());
            field(out, "ID", resp.id());
            field(out, "TTL", resp.ttl());
        }
        Format::Table => return Err(format.unsupported()),
    }
    Ok(())
}

fn revoke(id: i64, format: Format, out: &mut impl Write) -> Res {
    let resp = connect()?.revoke(id).map_err(failed("revoke"))?;
    match format {
        Format::Json => print_json(out, header(resp.header())),
        Format::Simple => line(out, &format!("lease {id:016x} revoked")),
        Format::Fields => fields_header(out, resp.header()),
        Format::Table => return Err(format.unsupported()),
    }
    Ok(())
}

fn time_to_live(id: i64, keys: bool, format: Format, out: &mut impl Write) -> Res {
    let opts = if keys {
        TimeToLiveOptions::new().keys()
    } else {
        TimeToLiveOptions::new()
    };
    let resp = connect()?
        .time_to_live_with(id, opts)
        .map_err(|e| Fail(Exit::BadConnection, go_message(&e)))?;
    if format == Format::Table {
        return Err(format.unsupported());
    }
    if format == Format::Fields {
        fields_header(out, resp.header());
        field(out, "ID", resp.id());
        field(out, "TTL", resp.ttl());
        field(out, "GrantedTTL", resp.granted_ttl());
        resp.keys().for_each(|k| field(out, "Key", go_quote(k)));
    } else if format.is_json() {
        // clientv3.LeaseTimeToLiveResponse.
        let mut m = flat_header(resp.header());
        m.insert("id".into(), json!(resp.id()));
        m.insert("ttl".into(), json!(resp.ttl()));
        m.insert("granted-ttl".into(), json!(resp.granted_ttl()));
        let keys: Vec<Value> = resp.keys().map(|k| json!(b64(k))).collect();
        let keys = if keys.is_empty() {
            Value::Null
        } else {
            Value::Array(keys)
        };
        m.insert("keys".into(), keys);
        print_json(out, m);
    } else if resp.granted_ttl() == 0 && resp.ttl() == -1 {
        line(out, &format!("lease {:016x} already expired", resp.id()));
    } else {
        let mut txt = format!(
            "lease {:016x} granted with TTL({}s), remaining({}s)",
            resp.id(),
            resp.granted_ttl(),
            resp.ttl()
        );
        if keys {
            let ks: Vec<String> = resp
                .keys()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .collect();
            // Go's %v of a []string.
            txt += &format!(", attached keys([{}])", ks.join(" "));
        }
        line(out, &txt);
    }
    Ok(())
}

fn keep_alive(id: i64, once: bool, format: Format, out: &mut impl Write) -> Res {
    let client = connect()?;
    if format == Format::Table {
        return Err(format.unsupported());
    }
    let print = |out: &mut dyn Write, header: &ResponseHeader, ttl: i64| {
        if format == Format::Fields {
            let mut w = Vec::new();
            fields_header(&mut w, header);
            field(&mut w, "ID", id);
            field(&mut w, "TTL", ttl);
            let _ = out.write_all(&w);
        } else if format.is_json() {
            // clientv3.LeaseKeepAliveResponse.
            let mut m = flat_header(header);
            m.insert("ID".into(), json!(id));
            m.insert("TTL".into(), json!(ttl));
            let _ = writeln!(out, "{}", Value::Object(m));
        } else {
            let _ = writeln!(out, "lease {id:016x} keepalived with TTL({ttl})");
        }
        let _ = out.flush();
    };
    let bad_connection = |e: etcd_blocking::Error| Fail(Exit::BadConnection, go_message(&e));
    if once {
        let r = client.keep_alive_once(id).map_err(bad_connection)?;
        print(out, r.header(), r.ttl());
        return Ok(());
    }
    let ka = client.keep_alive(id).map_err(bad_connection)?;
    for r in ka.receiver().iter() {
        match r {
            Ok(r) => print(out, r.header(), r.ttl()),
            Err(_) => break,
        }
    }
    line(out, &format!("lease {id:016x} expired or revoked."));
    Ok(())
}

fn list(format: Format, out: &mut impl Write) -> Res {
    let resp = connect()?.leases().map_err(failed("list"))?;
    match format {
        Format::Json => {
            // clientv3.LeaseLeasesResponse.
            let mut m = flat_header(resp.header());
            let leases = resp.ids().iter().map(|id| json!({ "id": id })).collect();
            m.insert("leases".into(), Value::Array(leases));
            print_json(out, m);
        }
        Format::Simple => {
            line(out, &format!("found {} leases", resp.ids().len()));
            for id in resp.ids() {
                line(out, &format!("{id:016x}"));
            }
        }
        Format::Fields => {
            fields_header(out, resp.header());
            resp.ids().iter().for_each(|id| field(out, "ID", id));
        }
        Format::Table => return Err(format.unsupported()),
    }
    Ok(())
}
