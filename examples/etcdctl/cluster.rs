//! `member list`: the Cluster service.

use std::io::Write;

use clap::Subcommand;
use etcd_blocking::Member;
use serde_json::{json, Map, Value};

use crate::exit::Res;
use crate::global::connect;
use crate::output::{
    field, fields_header, go_quote, header, line, print_json, print_table, put_arr, put_bool,
    put_num, put_str, Format,
};

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
    match format {
        Format::Json => {
            let mut m = header(resp.header());
            put_arr(
                &mut m,
                "members",
                resp.members().iter().map(member_json).collect(),
            );
            print_json(out, m);
        }
        Format::Simple => {
            for row in resp.members().iter().map(member_row) {
                line(out, &row.join(", "));
            }
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = resp.members().iter().map(member_row).collect();
            let header = [
                "ID",
                "Status",
                "Name",
                "Peer Addrs",
                "Client Addrs",
                "Is Learner",
            ];
            print_table(out, &header, &rows);
        }
        Format::Fields => {
            fields_header(out, resp.header());
            for mb in resp.members() {
                field(out, "ID", mb.id());
                field(out, "Name", go_quote(mb.name().as_bytes()));
                for u in mb.peer_urls() {
                    field(out, "PeerURL", go_quote(u.as_bytes()));
                }
                for u in mb.client_urls() {
                    field(out, "ClientURL", go_quote(u.as_bytes()));
                }
                field(out, "IsLearner", mb.is_learner());
                line(out, "");
            }
        }
    }
    Ok(())
}

/// etcdctl's `makeMemberListTable` row, shared by simple and table.
fn member_row(mb: &Member) -> Vec<String> {
    let status = if mb.name().is_empty() {
        "unstarted"
    } else {
        "started"
    };
    vec![
        format!("{:x}", mb.id()),
        status.to_string(),
        mb.name().to_string(),
        mb.peer_urls().join(","),
        mb.client_urls().join(","),
        mb.is_learner().to_string(),
    ]
}

fn member_json(mb: &Member) -> Value {
    let mut o = Map::new();
    put_num(&mut o, "ID", mb.id());
    put_str(&mut o, "name", mb.name());
    put_arr(
        &mut o,
        "peerURLs",
        mb.peer_urls().iter().map(|u| json!(u)).collect(),
    );
    put_arr(
        &mut o,
        "clientURLs",
        mb.client_urls().iter().map(|u| json!(u)).collect(),
    );
    put_bool(&mut o, "isLearner", mb.is_learner());
    Value::Object(o)
}
