//! `txn`: one transaction read from standard input in etcdctl's syntax,
//! interactively (`-i`, with prompts) or not: compares, a blank line, the
//! success requests, a blank line, the failure requests, a blank line.
//!
//! ```text
//! mod("k") > "0"
//! value("k") = "v"
//!
//! put k v2
//! get k --prefix
//!
//! del k
//!
//! ```

use std::io::{BufRead, Write};

use clap::{Args, Parser, Subcommand};
use etcd_blocking::{Compare, CompareOp, Op, Txn, TxnResponse};

use crate::exit::{bad_args, go_parse_int, Exit, Fail, Res};
use crate::global::connect;
use crate::kv::{self, DelArgs, GetArgs, PutArgs};
use crate::output::{field, fields_header, line, print_json, Format};

/// Txn processes all the requests in one transaction
#[derive(Args)]
pub struct TxnArgs {
    /// Input transaction in interactive mode
    #[arg(long, short = 'i')]
    interactive: bool,
    args: Vec<String>,
}

pub fn txn(a: TxnArgs, format: Format, out: &mut impl Write) -> Res {
    if !a.args.is_empty() {
        return Err(bad_args("txn command does not accept argument"));
    }
    let client = connect()?;
    let mut input = std::io::stdin().lock();
    let prompt = |out: &mut dyn Write, s: &str| {
        if a.interactive {
            let _ = writeln!(out, "{s}");
            let _ = out.flush();
        }
    };
    prompt(out, "compares:");
    let compares = read_section(&mut input, parse_compare)?;
    prompt(out, "success requests (get, put, del):");
    let then = read_section(&mut input, parse_op)?;
    prompt(out, "failure requests (get, put, del):");
    let otherwise = read_section(&mut input, parse_op)?;
    let txn = Txn::new().when(compares).and_then(then).or_else(otherwise);
    let resp = client.txn(txn)?;
    print(&resp, format, out)
}

/// Lines up to a blank one, each parsed by `parse`. As etcdctl's
/// `bufio.ReadString('\n')`, input that ends before the blank line is
/// the error `EOF`.
fn read_section<T>(input: &mut impl BufRead, parse: fn(&str) -> Res<T>) -> Res<Vec<T>> {
    let mut items = Vec::new();
    loop {
        let mut l = String::new();
        match input.read_line(&mut l) {
            Ok(_) if l.ends_with('\n') => {}
            Ok(_) => return Err(Fail::new(Exit::InvalidInput, "EOF")),
            Err(e) => return Err(Fail::new(Exit::InvalidInput, e.to_string())),
        }
        let l = l.trim();
        if l.is_empty() {
            return Ok(items);
        }
        items.push(parse(l)?);
    }
}

/// A compare: `target("key") op "value"`, the target one of `ver` /
/// `version`, `c` / `create`, `m` / `mod`, `val` / `value`, `lease`.
fn parse_compare(l: &str) -> Res<Compare> {
    let malformed = |why: String| {
        Fail::new(
            Exit::InvalidInput,
            format!("malformed comparison: {l}{why}"),
        )
    };
    let Some((target, rest)) = l.split_once('(') else {
        return Err(malformed(String::new()));
    };
    let (key, op, value) = compare_parts(rest).ok_or_else(|| malformed(String::new()))?;
    let invalid = || {
        Fail::new(
            Exit::InvalidInput,
            format!("invalid txn compare request: {l}"),
        )
    };
    let op = match op.as_str() {
        "=" | "==" => CompareOp::Equal,
        "!=" => CompareOp::NotEqual,
        "<" => CompareOp::Less,
        ">" => CompareOp::Greater,
        _ => return Err(invalid()),
    };
    let int = |radix| go_parse_int(&value, radix).map_err(|_| invalid());
    Ok(match target {
        "ver" | "version" => Compare::version(key, op, int(10)?),
        "c" | "create" => Compare::create_revision(key, op, int(10)?),
        "m" | "mod" => Compare::mod_revision(key, op, int(10)?),
        "val" | "value" => Compare::value(key, op, value),
        "lease" => Compare::lease(key, op, int(16)?),
        _ => return Err(malformed(format!(" (unknown target {target})"))),
    })
}

/// `"key") op "value"`: the key, the operator and the value.
fn compare_parts(rest: &str) -> Option<(String, String, String)> {
    let (key, rest) = go_unquote_prefix(rest.trim_start())?;
    let rest = rest.strip_prefix(')')?.trim_start();
    let (op, rest) = rest.split_once(char::is_whitespace)?;
    let (value, _) = go_unquote_prefix(rest.trim_start())?;
    Some((key, op.to_string(), value))
}

/// A request line: `get`, `put` or `del` with their own arguments and
/// flags, parsed by the commands' own definitions.
#[derive(Parser)]
#[command(no_binary_name = true)]
struct RequestLine {
    #[command(subcommand)]
    request: Request,
}

#[derive(Subcommand)]
enum Request {
    Get(GetArgs),
    Put(PutArgs),
    Del(DelArgs),
}

fn parse_op(l: &str) -> Res<Op> {
    let args = argify(l)?;
    if args.len() < 2 {
        return Err(Fail::new(
            Exit::InvalidInput,
            format!("invalid txn compare request: {l}"),
        ));
    }
    let parsed = RequestLine::try_parse_from(args)
        .map_err(|_| Fail::new(Exit::InvalidInput, format!("invalid txn request: {l}")))?;
    Ok(match parsed.request {
        Request::Get(a) => {
            let (key, opts) = kv::get_request(&a)?;
            Op::get_with(key, opts)
        }
        Request::Put(a) => {
            let (key, value, opts) = kv::put_request(a, false)?;
            Op::put_with(key, value, opts)
        }
        Request::Del(a) => {
            let (key, opts) = kv::del_request(a)?;
            Op::delete_with(key, opts)
        }
    })
}

/// etcdctl's `argify`: words, `"Go-quoted"` or `'single-quoted'`.
fn argify(l: &str) -> Res<Vec<String>> {
    let mut args = Vec::new();
    let mut rest = l.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('"') {
            let (word, after) = go_unquote_prefix(rest)
                .ok_or_else(|| Fail::new(Exit::InvalidInput, "invalid syntax"))?;
            args.push(word);
            rest = after;
        } else if let Some(quoted) = rest.strip_prefix('\'') {
            let end = quoted.find('\'').unwrap_or(quoted.len());
            args.push(quoted[..end].to_string());
            rest = quoted.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            args.push(rest[..end].to_string());
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    Ok(args)
}

/// A Go string literal at the start of `s` (`"…"` with Go's escapes, or
/// `` `…` ``): its value and what follows it.
fn go_unquote_prefix(s: &str) -> Option<(String, &str)> {
    if let Some(raw) = s.strip_prefix('`') {
        let end = raw.find('`')?;
        return Some((raw[..end].to_string(), &raw[end + 1..]));
    }
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &s[i + 2..])),
            '\\' => {
                let (_, e) = chars.next()?;
                value.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'a' => '\x07',
                    'b' => '\x08',
                    'f' => '\x0c',
                    'v' => '\x0b',
                    '\\' | '"' | '\'' => e,
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                    }
                    _ => return None,
                });
            }
            c => value.push(c),
        }
    }
    None
}

fn print(resp: &TxnResponse, format: Format, out: &mut impl Write) -> Res {
    match format {
        Format::Simple => {
            line(
                out,
                if resp.succeeded() {
                    "SUCCESS"
                } else {
                    "FAILURE"
                },
            );
            for r in resp.responses() {
                line(out, "");
                kv::show_op(r, format, out)?;
            }
        }
        Format::Json => print_json(out, kv::txn_json(resp)),
        Format::Fields => {
            fields_header(out, resp.header());
            field(out, "Succeeded", resp.succeeded());
            for r in resp.responses() {
                kv::show_op(r, format, out)?;
            }
        }
        Format::Table => return Err(format.unsupported()),
    }
    Ok(())
}
