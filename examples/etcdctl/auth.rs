//! `user`, `role` and `auth enable|disable|status`: the Auth service's
//! admin calls, with etcdctl's arguments, checks and output.

use std::io::{BufRead, IsTerminal, Write};

use clap::{ArgAction, Subcommand};
use etcd_blocking::{
    Client, Error, EtcdError, Permission, PermissionType, ResponseHeader, RoleGetResponse,
};
use serde_json::{json, Map, Value};

use crate::exit::{bad_args, Res};
use crate::global::connect;
use crate::output::{
    b64, field, fields_header, go_quote, header, line, print_json, put_arr, Format,
};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Adds a new user
    Add {
        /// Read password from stdin instead of interactive terminal
        #[arg(long, action = ArgAction::Set, default_value_t = true, num_args = 0..=1,
              default_missing_value = "true", require_equals = true)]
        interactive: bool,
        /// Supply password from the command line flag
        #[arg(long, default_value = "")]
        new_user_password: String,
        /// Create a user without password (CN based auth only)
        #[arg(long)]
        no_password: bool,
        args: Vec<String>,
    },
    /// Deletes a user
    Delete { args: Vec<String> },
    /// Gets detailed information of a user
    Get {
        /// Show permissions of roles granted to the user
        #[arg(long)]
        detail: bool,
        args: Vec<String>,
    },
    /// Lists all users
    List { args: Vec<String> },
    /// Changes password of user
    Passwd {
        /// If true, read password from stdin instead of interactive terminal
        #[arg(long, action = ArgAction::Set, default_value_t = true, num_args = 0..=1,
              default_missing_value = "true", require_equals = true)]
        interactive: bool,
        args: Vec<String>,
    },
    /// Grants a role to a user
    GrantRole { args: Vec<String> },
    /// Revokes a role from a user
    RevokeRole { args: Vec<String> },
}

#[derive(Subcommand)]
pub enum RoleCommand {
    /// Adds a new role
    Add { args: Vec<String> },
    /// Deletes a role
    Delete { args: Vec<String> },
    /// Gets detailed information of a role
    Get { args: Vec<String> },
    /// Lists all roles
    List { args: Vec<String> },
    /// Grants a key to a role
    GrantPermission {
        #[command(flatten)]
        range: PermRange,
        args: Vec<String>,
    },
    /// Revokes a key from a role
    RevokePermission {
        #[command(flatten)]
        range: PermRange,
        args: Vec<String>,
    },
}

/// `--prefix` / `--from-key` of a permission.
#[derive(clap::Args)]
pub struct PermRange {
    /// a prefix permission
    #[arg(long)]
    prefix: bool,
    /// a permission of keys that are greater than or equal to the given key
    #[arg(long)]
    from_key: bool,
}

#[derive(Subcommand)]
pub enum AuthCommand {
    /// Enables authentication
    Enable { args: Vec<String> },
    /// Disables authentication
    Disable { args: Vec<String> },
    /// Returns authentication status
    Status { args: Vec<String> },
}

/// `args` when there are `n` of them, else etcdctl's complaint.
fn exactly<'a>(args: &'a [String], n: usize, complaint: &str) -> Res<&'a [String]> {
    if args.len() != n {
        return Err(bad_args(complaint));
    }
    Ok(args)
}

pub fn user(cmd: UserCommand, format: Format, out: &mut impl Write) -> Res {
    use UserCommand as U;
    let done =
        |out: &mut dyn Write, msg: String, h: &ResponseHeader| admin_done(out, format, &msg, h);
    match cmd {
        U::Add {
            interactive,
            new_user_password,
            no_password,
            args,
        } => {
            let a = exactly(
                &args,
                1,
                "user add command requires user name as its argument",
            )?;
            user_add(
                &a[0],
                interactive,
                &new_user_password,
                no_password,
                format,
                out,
            )
        }
        U::Delete { args } => {
            let a = exactly(
                &args,
                1,
                "user delete command requires user name as its argument",
            )?;
            let r = connect()?.user_delete(&a[0])?;
            done(out, format!("User {} deleted", a[0]), r.header())
        }
        U::Get { detail, args } => {
            let a = exactly(
                &args,
                1,
                "user get command requires user name as its argument",
            )?;
            user_get(&a[0], detail, format, out)
        }
        U::List { args } => {
            exactly(&args, 0, "user list command requires no arguments")?;
            let r = connect()?.user_list()?;
            names(out, format, r.header(), "users", r.users())
        }
        U::Passwd { interactive, args } => {
            let a = exactly(
                &args,
                1,
                "user passwd command requires user name as its argument",
            )?;
            let password = read_password(&a[0], interactive, out)?;
            let r = connect()?.user_change_password(&a[0], &password)?;
            done(out, "Password updated".into(), r.header())
        }
        U::GrantRole { args } => {
            let why = "user grant command requires user name and role name as its argument";
            let a = exactly(&args, 2, why)?;
            let r = connect()?.user_grant_role(&a[0], &a[1])?;
            done(
                out,
                format!("Role {} is granted to user {}", a[1], a[0]),
                r.header(),
            )
        }
        U::RevokeRole { args } => {
            let why = "user revoke-role requires user name and role name as its argument";
            let a = exactly(&args, 2, why)?;
            let r = connect()?.user_revoke_role(&a[0], &a[1])?;
            done(
                out,
                format!("Role {} is revoked from user {}", a[1], a[0]),
                r.header(),
            )
        }
    }
}

/// The output of an admin call that answers with a header alone: the
/// sentence (simple), the header (JSON, fields).
fn admin_done(out: &mut dyn Write, format: Format, msg: &str, h: &ResponseHeader) -> Res {
    match format {
        Format::Simple => line(out, msg),
        Format::Json => print_json(out, header(h)),
        Format::Fields => fields_header(out, h),
        Format::Table => return Err(format.unsupported()),
    }
    Ok(())
}

fn user_add(
    name: &str,
    interactive: bool,
    from_flag: &str,
    no_password: bool,
    format: Format,
    out: &mut impl Write,
) -> Res {
    let client_call = |user: &str, password: Option<&str>| -> Res<ResponseHeader> {
        let c = connect()?;
        let r = match password {
            Some(p) => c.user_add(user, p)?,
            None => c.user_add_no_password(user)?,
        };
        Ok(*r.header())
    };
    let (user, h) = if no_password {
        (name.to_string(), client_call(name, None)?)
    } else if !from_flag.is_empty() {
        (name.to_string(), client_call(name, Some(from_flag))?)
    } else if let Some((user, password)) = name.split_once(':') {
        if user.is_empty() {
            return Err(bad_args("empty user name is not allowed"));
        }
        (user.to_string(), client_call(user, Some(password))?)
    } else {
        let password = read_password(name, interactive, out)?;
        (name.to_string(), client_call(name, Some(&password))?)
    };
    admin_done(out, format, &format!("User {user} created"), &h)
}

/// A password as etcdctl asks for it: twice on a terminal, without echo
/// (`--interactive`, the default); else the first word of standard input.
fn read_password(name: &str, interactive: bool, out: &mut impl Write) -> Res<String> {
    let mut stdin = std::io::stdin().lock();
    if !interactive {
        let mut l = String::new();
        let _ = stdin.read_line(&mut l);
        return Ok(l.split_whitespace().next().unwrap_or("").to_string());
    }
    let mut ask = |prompt: String| -> String {
        let _ = write!(out, "{prompt}");
        let _ = out.flush();
        let terminal = std::io::stdin().is_terminal();
        // As speakeasy: `stty -echo` while the password is typed.
        let stty = |arg: &str| {
            let _ = std::process::Command::new("stty").arg(arg).status();
        };
        if terminal {
            stty("-echo");
        }
        let mut l = String::new();
        let _ = stdin.read_line(&mut l);
        if terminal {
            stty("echo");
        }
        line(out, "");
        l.trim_end_matches(['\r', '\n']).to_string()
    };
    let first = ask(format!("Password of {name}: "));
    if first.is_empty() {
        return Err(bad_args("empty password"));
    }
    let second = ask(format!("Type password of {name} again for confirmation: "));
    if first != second {
        return Err(bad_args("given passwords are different"));
    }
    Ok(first)
}

fn user_get(name: &str, detail: bool, format: Format, out: &mut impl Write) -> Res {
    let client = connect()?;
    let r = client.user_get(name)?;
    if detail {
        line(out, &format!("User: {name}"));
        for role in r.roles() {
            line(out, "");
            let rr = client.role_get(role)?;
            show_role(out, format, role, &rr)?;
        }
        return Ok(());
    }
    match format {
        Format::Simple => {
            let roles: String = r.roles().iter().map(|r| format!(" {r}")).collect();
            line(out, &format!("User: {name}"));
            line(out, &format!("Roles:{roles}"));
        }
        Format::Json => {
            let mut m = header(r.header());
            put_arr(
                &mut m,
                "roles",
                r.roles().iter().map(|r| json!(r)).collect(),
            );
            print_json(out, m);
        }
        Format::Fields | Format::Table => return Err(format.unsupported()),
    }
    Ok(())
}

/// `user list` and `role list`: a name a line (simple).
fn names(
    out: &mut impl Write,
    format: Format,
    h: &ResponseHeader,
    what: &str,
    list: &[String],
) -> Res {
    match format {
        Format::Simple => list.iter().for_each(|n| line(out, n)),
        Format::Json => {
            let mut m = header(h);
            put_arr(&mut m, what, list.iter().map(|n| json!(n)).collect());
            print_json(out, m);
        }
        // etcdctl's fields printer lists roles but not users.
        Format::Fields if what == "roles" => {
            fields_header(out, h);
            let quoted: String = list
                .iter()
                .map(|n| format!(" {}", go_quote(n.as_bytes())))
                .collect();
            line(out, &format!("\"Roles\" :{quoted}"));
        }
        Format::Fields | Format::Table => return Err(format.unsupported()),
    }
    Ok(())
}

pub fn role(cmd: RoleCommand, format: Format, out: &mut impl Write) -> Res {
    use RoleCommand as R;
    let done =
        |out: &mut dyn Write, msg: String, h: &ResponseHeader| admin_done(out, format, &msg, h);
    match cmd {
        R::Add { args } => {
            let a = exactly(
                &args,
                1,
                "role add command requires role name as its argument",
            )?;
            let r = connect()?.role_add(&a[0])?;
            done(out, format!("Role {} created", a[0]), r.header())
        }
        R::Delete { args } => {
            let a = exactly(
                &args,
                1,
                "role delete command requires role name as its argument",
            )?;
            let r = connect()?.role_delete(&a[0])?;
            done(out, format!("Role {} deleted", a[0]), r.header())
        }
        R::Get { args } => {
            let a = exactly(
                &args,
                1,
                "role get command requires role name as its argument",
            )?;
            let r = connect()?.role_get(&a[0])?;
            show_role(out, format, &a[0], &r)
        }
        R::List { args } => {
            exactly(&args, 0, "role list command requires no arguments")?;
            let r = connect()?.role_list()?;
            names(out, format, r.header(), "roles", r.roles())
        }
        R::GrantPermission { range, args } => grant_permission(&range, &args, format, out),
        R::RevokePermission { range, args } => revoke_permission(&range, &args, format, out),
    }
}

fn grant_permission(
    range: &PermRange,
    args: &[String],
    format: Format,
    out: &mut impl Write,
) -> Res {
    if args.len() < 3 {
        return Err(bad_args(
            "role grant command requires role name, permission type, and key [endkey] as its argument",
        ));
    }
    let kind = match args[1].to_uppercase().as_str() {
        "READ" => PermissionType::Read,
        "WRITE" => PermissionType::Write,
        "READWRITE" => PermissionType::ReadWrite,
        _ => return Err(bad_args(format!("invalid permission type: {}", args[1]))),
    };
    let (key, end) = perm_range(range, &args[2..])?;
    let perm = match kind {
        PermissionType::Read => Permission::read(key),
        PermissionType::Write => Permission::write(key),
        PermissionType::ReadWrite => Permission::read_write(key),
    };
    let r = connect()?.role_grant_permission(&args[0], perm.range_end(end))?;
    admin_done(
        out,
        format,
        &format!("Role {} updated", args[0]),
        r.header(),
    )
}

fn revoke_permission(
    range: &PermRange,
    args: &[String],
    format: Format,
    out: &mut impl Write,
) -> Res {
    if args.len() < 2 {
        return Err(bad_args(
            "role revoke-permission command requires role name and key [endkey] as its argument",
        ));
    }
    let (key, end) = perm_range(range, &args[1..])?;
    let perm = Permission::read(key.clone()).range_end(end.clone());
    let r = connect()?.role_revoke_permission(&args[0], &perm)?;
    let (role, key) = (&args[0], String::from_utf8_lossy(&key));
    let msg = if end.is_empty() {
        format!("Permission of key {} is revoked from role {role}", args[1])
    } else if end != b"\0" {
        let end = String::from_utf8_lossy(&end);
        format!("Permission of range [{key}, {end}) is revoked from role {role}")
    } else {
        format!("Permission of range [{key}, <open ended> is revoked from role {role}")
    };
    admin_done(out, format, &msg, r.header())
}

/// etcdctl's `permRange`: the key and range end of `key [endkey]` with
/// `--prefix` / `--from-key`.
fn perm_range(range: &PermRange, args: &[String]) -> Res<(Vec<u8>, Vec<u8>)> {
    let both = "--from-key and --prefix flags are mutually exclusive";
    let key = args[0].as_bytes().to_vec();
    if key.is_empty() {
        if range.prefix && range.from_key {
            return Err(bad_args(both));
        }
        let end = if range.prefix || range.from_key {
            vec![0]
        } else {
            Vec::new()
        };
        return Ok((vec![0], end));
    }
    if args.len() == 1 {
        return match (range.prefix, range.from_key) {
            (true, true) => Err(bad_args(both)),
            (true, false) => Ok((key.clone(), Permission::read(key).prefix().end().to_vec())),
            (false, true) => Ok((key, vec![0])),
            (false, false) => Ok((key, Vec::new())),
        };
    }
    if range.prefix {
        return Err(bad_args("unexpected endkey argument with --prefix flag"));
    }
    if range.from_key {
        return Err(bad_args("unexpected endkey argument with --from-key flag"));
    }
    Ok((key, args[1].as_bytes().to_vec()))
}

/// etcdctl's `RoleGet` in each format.
fn show_role(out: &mut impl Write, format: Format, name: &str, r: &RoleGetResponse) -> Res {
    match format {
        Format::Simple => role_simple(out, name, r),
        Format::Json => {
            let mut m = header(r.header());
            put_arr(
                &mut m,
                "perm",
                r.permissions().iter().map(perm_json).collect(),
            );
            print_json(out, m);
        }
        Format::Fields => {
            fields_header(out, r.header());
            for p in r.permissions() {
                // etcdctl's own spacing: `"PermType" : ` then Println's.
                line(
                    out,
                    &format!("\"PermType\" :  {}", perm_name(p.permission_type())),
                );
                field(out, "Key", go_quote(p.key()));
                field(out, "RangeEnd", go_quote(p.end()));
            }
        }
        Format::Table => return Err(format.unsupported()),
    }
    Ok(())
}

fn perm_name(t: PermissionType) -> &'static str {
    match t {
        PermissionType::Read => "READ",
        PermissionType::Write => "WRITE",
        PermissionType::ReadWrite => "READWRITE",
    }
}

/// authpb.Permission as Go's encoding/json writes it.
fn perm_json(p: &Permission) -> Value {
    let mut m = Map::new();
    let kind = match p.permission_type() {
        PermissionType::Read => 0,
        PermissionType::Write => 1,
        PermissionType::ReadWrite => 2,
    };
    if kind != 0 {
        m.insert("permType".into(), json!(kind));
    }
    if !p.key().is_empty() {
        m.insert("key".into(), json!(b64(p.key())));
    }
    if !p.end().is_empty() {
        m.insert("range_end".into(), json!(b64(p.end())));
    }
    Value::Object(m)
}

/// etcdctl's simple `RoleGet`: read then write permissions, ranges as
/// `[key, end)`, prefixes named.
fn role_simple(out: &mut impl Write, name: &str, r: &RoleGetResponse) {
    line(out, &format!("Role {name}"));
    let show = |out: &mut dyn Write, p: &Permission| {
        let key = String::from_utf8_lossy(p.key());
        if p.end().is_empty() {
            let _ = writeln!(out, "\t{key}");
            return;
        }
        let end = String::from_utf8_lossy(p.end());
        let mut s = if p.end() != b"\0" {
            format!("\t[{key}, {end})")
        } else {
            format!("\t[{key}, <open ended>")
        };
        if Permission::read(p.key()).prefix().end() == p.end() {
            s += &format!(" (prefix {key})");
        }
        let _ = writeln!(out, "{s}");
    };
    let reads = [PermissionType::Read, PermissionType::ReadWrite];
    let writes = [PermissionType::Write, PermissionType::ReadWrite];
    for (title, kinds) in [("KV Read:", reads), ("KV Write:", writes)] {
        line(out, title);
        for p in r
            .permissions()
            .iter()
            .filter(|p| kinds.contains(&p.permission_type()))
        {
            show(out, p);
        }
    }
}

pub fn auth(cmd: AuthCommand, format: Format, out: &mut impl Write) -> Res {
    match cmd {
        AuthCommand::Enable { args } => {
            exactly(
                &args,
                0,
                "auth enable command does not accept any arguments",
            )?;
            enable(&connect()?)?;
            line(out, "Authentication Enabled");
        }
        AuthCommand::Disable { args } => {
            exactly(
                &args,
                0,
                "auth disable command does not accept any arguments",
            )?;
            connect()?.auth_disable()?;
            line(out, "Authentication Disabled");
        }
        AuthCommand::Status { args } => {
            exactly(
                &args,
                0,
                "auth status command does not accept any arguments",
            )?;
            let r = connect()?.auth_status()?;
            match format {
                Format::Simple => {
                    line(out, &format!("Authentication Status: {}", r.enabled()));
                    line(out, &format!("AuthRevision: {}", r.auth_revision()));
                }
                Format::Json => {
                    let mut m = header(r.header());
                    if r.enabled() {
                        m.insert("enabled".into(), json!(true));
                    }
                    if r.auth_revision() != 0 {
                        m.insert("authRevision".into(), json!(r.auth_revision()));
                    }
                    print_json(out, m);
                }
                Format::Fields | Format::Table => return Err(format.unsupported()),
            }
        }
    }
    Ok(())
}

/// etcdctl's `auth enable`: a missing root role is created and granted
/// to root, then enabling is tried again.
fn enable(client: &Client) -> Res {
    loop {
        match client.auth_enable() {
            Err(Error::Etcd(EtcdError::RootRoleNotExist)) => {
                client.role_add("root")?;
                client.user_grant_role("root", "root")?;
            }
            r => return Ok(r.map(|_| ())?),
        }
    }
}
