//! `member list`: the Cluster service.

use std::io::Write;

use clap::Subcommand;
use etcd_blocking::Member;
use serde_json::{json, Map, Value};

use crate::exit::Res;
use crate::global::connect;
use crate::output::{header, line, print_json, put_arr, put_bool, put_num, put_str, Format};

#[derive(Subcommand)]
pub enum MemberCommand {
    /// Lists all members in the cluster
    List,
}

pub fn member(cmd: MemberCommand, format: Format, out: &mut impl Write) -> Res {
    match cmd {
        MemberCommand::List => list(format, out),
    }
}

fn list(format: Format, out: &mut impl Write) -> Res {
    let resp = connect()?.member_list()?;
    if format.is_json() {
        let mut m = header(resp.header());
        put_arr(&mut m, "members", resp.members().iter().map(member_json).collect());
        print_json(out, m);
        return Ok(());
    }
    for mb in resp.members() {
        let status = if mb.name().is_empty() {
            "unstarted"
        } else {
            "started"
        };
        line(
            out,
            &format!(
                "{:x}, {status}, {}, {}, {}, {}",
                mb.id(),
                mb.name(),
                mb.peer_urls().join(","),
                mb.client_urls().join(","),
                mb.is_learner()
            ),
        );
    }
    Ok(())
}

fn member_json(mb: &Member) -> Value {
    let mut o = Map::new();
    put_num(&mut o, "ID", mb.id());
    put_str(&mut o, "name", mb.name());
    put_arr(&mut o, "peerURLs", mb.peer_urls().iter().map(|u| json!(u)).collect());
    put_arr(&mut o, "clientURLs", mb.client_urls().iter().map(|u| json!(u)).collect());
    put_bool(&mut o, "isLearner", mb.is_learner());
    Value::Object(o)
}
