//! `endpoint status|health`: each endpoint the user wrote, one at a time.

use std::io::Write;
use std::time::Instant;

use clap::Subcommand;
use etcd_blocking::{Error, EtcdError, StatusResponse};
use serde_json::{json, Map, Value};

use crate::exit::{go_message, Exit, Fail, Res};
use crate::global::{aim, builder, connect, written_endpoints};
use crate::output::{
    field, fields_header, go_quote, header, humanize_bytes, line, print_table, put_arr, put_bool,
    put_num, put_str, Format,
};

#[derive(Subcommand)]
pub enum EndpointCommand {
    /// Prints out the status of endpoints specified in `--endpoints` flag
    Status,
    /// Checks the healthiness of endpoints specified in `--endpoints` flag
    Health,
}

pub fn endpoint(cmd: EndpointCommand, format: Format, out: &mut impl Write) -> Res {
    match cmd {
        EndpointCommand::Status => status(format, out),
        EndpointCommand::Health => health(format, out),
    }
}

fn status(format: Format, out: &mut impl Write) -> Res {
    let client = connect()?;
    let mut failed = false;
    let mut rows = Vec::new();
    for ep in written_endpoints() {
        match aim(&client, &ep).and_then(|c| Ok(c.status()?)) {
            Ok(st) => rows.push((ep, st)),
            // Worded by go_message: `context deadline exceeded` for an
            // endpoint that cannot be reached, as etcdctl.
            Err(Fail(_, e)) => {
                failed = true;
                eprintln!("Failed to get the status of endpoint {ep} ({e})");
            }
        }
    }
    match format {
        Format::Json => {
            let list: Vec<Value> = rows
                .iter()
                .map(|(ep, st)| json!({"Endpoint": ep, "Status": status_json(st)}))
                .collect();
            line(out, &Value::Array(list).to_string());
        }
        Format::Simple => {
            for (ep, st) in &rows {
                line(out, &status_row(ep, st).join(", "));
            }
        }
        Format::Table => {
            let table: Vec<Vec<String>> = rows.iter().map(|(ep, st)| status_row(ep, st)).collect();
            print_table(out, &STATUS_HEADER, &table);
        }
        Format::Fields => rows.iter().for_each(|(ep, st)| status_fields(out, ep, st)),
    }
    if failed {
        let _ = out.flush();
        std::process::exit(Exit::Error as i32);
    }
    Ok(())
}

fn status_json(st: &StatusResponse) -> Value {
    let mut s = header(st.header());
    put_str(&mut s, "version", st.version());
    put_num(&mut s, "dbSize", st.db_size());
    put_num(&mut s, "leader", st.leader());
    put_num(&mut s, "raftIndex", st.raft_index());
    put_num(&mut s, "raftTerm", st.raft_term());
    put_num(&mut s, "raftAppliedIndex", st.raft_applied_index());
    put_arr(
        &mut s,
        "errors",
        st.errors().iter().map(|e| json!(e)).collect(),
    );
    put_num(&mut s, "dbSizeInUse", st.db_size_in_use());
    put_bool(&mut s, "isLearner", st.is_learner());
    Value::Object(s)
}

const STATUS_HEADER: [&str; 10] = [
    "endpoint",
    "ID",
    "version",
    "db size",
    "is leader",
    "is learner",
    "raft term",
    "raft index",
    "raft applied index",
    "errors",
];

/// etcdctl's `makeEndpointStatusTable` row, shared by simple and table.
fn status_row(ep: &str, st: &StatusResponse) -> Vec<String> {
    vec![
        ep.to_string(),
        format!("{:x}", st.header().member_id()),
        st.version().to_string(),
        humanize_bytes(st.db_size() as u64),
        (st.leader() == st.header().member_id()).to_string(),
        st.is_learner().to_string(),
        st.raft_term().to_string(),
        st.raft_index().to_string(),
        st.raft_applied_index().to_string(),
        st.errors().join(", "),
    ]
}

fn status_fields(out: &mut impl Write, ep: &str, st: &StatusResponse) {
    fields_header(out, st.header());
    field(out, "Version", go_quote(st.version().as_bytes()));
    field(out, "DBSize", st.db_size());
    field(out, "Leader", st.leader());
    field(out, "IsLearner", st.is_learner());
    field(out, "RaftIndex", st.raft_index());
    field(out, "RaftTerm", st.raft_term());
    field(out, "RaftAppliedIndex", st.raft_applied_index());
    // Go's Println of a []string.
    field(out, "Errors", format!("[{}]", st.errors().join(" ")));
    field(out, "Endpoint", go_quote(ep.as_bytes()));
    line(out, "");
}

/// One endpoint's health: where, how long the check took, what failed.
struct Health {
    ep: String,
    took: String,
    error: Option<String>,
}

/// One client per endpoint, checked at once, reported in the order the
/// checks end (as etcdctl): an endpoint that cannot be reached is
/// unhealthy, not a failed command.
fn check_all() -> Res<Vec<Health>> {
    let endpoints = written_endpoints();
    let mut builders = Vec::new();
    for ep in &endpoints {
        builders.push(builder()?.endpoints([ep]));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        for (ep, b) in endpoints.into_iter().zip(builders) {
            let tx = tx.clone();
            s.spawn(move || {
                let started = Instant::now();
                let r = b.connect().and_then(|c| c.get("health"));
                let took = format!("{:?}", started.elapsed());
                let error = match r {
                    // etcd answers a read it refuses: the member works.
                    Ok(_) | Err(Error::Etcd(EtcdError::PermissionDenied)) => None,
                    Err(e) => Some(go_message(&e)),
                };
                let _ = tx.send(Health { ep, took, error });
            });
        }
    });
    drop(tx);
    Ok(rx.iter().collect())
}

fn health(format: Format, out: &mut impl Write) -> Res {
    let list = check_all()?;
    match format {
        Format::Json => {
            let v: Vec<Value> = list.iter().map(health_json).collect();
            line(out, &Value::Array(v).to_string());
        }
        Format::Simple => {
            for Health { ep, took, error } in &list {
                match error {
                    // On stdout as etcdctl 3.5 (3.4 wrote it to stderr).
                    None => line(
                        out,
                        &format!("{ep} is healthy: successfully committed proposal: took = {took}"),
                    ),
                    Some(e) => eprintln!("{ep} is unhealthy: failed to commit proposal: {e}"),
                }
            }
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|h| {
                    let error = h.error.clone().unwrap_or_default();
                    vec![
                        h.ep.clone(),
                        h.error.is_none().to_string(),
                        h.took.clone(),
                        error,
                    ]
                })
                .collect();
            print_table(out, &["endpoint", "health", "took", "error"], &rows);
        }
        Format::Fields => {
            for h in &list {
                field(out, "Endpoint", go_quote(h.ep.as_bytes()));
                field(out, "Health", h.error.is_none());
                field(out, "Took", &h.took);
                field(out, "Error", h.error.as_deref().unwrap_or(""));
                line(out, "");
            }
        }
    }
    if list.iter().any(|h| h.error.is_some()) {
        return Err(Fail::new(Exit::Error, "unhealthy cluster"));
    }
    Ok(())
}

fn health_json(h: &Health) -> Value {
    let mut o = Map::new();
    o.insert("endpoint".into(), json!(h.ep));
    o.insert("health".into(), json!(h.error.is_none()));
    o.insert("took".into(), json!(h.took));
    if let Some(e) = &h.error {
        o.insert("error".into(), json!(e));
    }
    Value::Object(o)
}
