//! Authentication: users, roles and permissions, turning auth on, clients
//! that log in, the typed errors of the calls etcd refuses, and turning it
//! all off again.
//!
//! `app-reader` may read `app/`, `app-writer` may read and write it; alice
//! is a reader, bob a writer. With auth on, a client without credentials
//! is refused, alice's write is refused, bob's is not, and a wrong
//! password fails at connect.
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway etcd.
//! It turns auth on, so it refuses to run against a cluster that already
//! has a `root` user, and it turns auth off and removes its users and
//! roles at the end, even after a failure.
//!
//!     cargo run --example auth

mod support;

use std::time::Duration;

use etcd_blocking::{Client, Credentials, DeleteOptions, Error, EtcdError, Permission};

const ROOT_PASSWORD: &str = "root-secret";
const USERS: [(&str, &str, &str); 2] = [
    ("alice", "alice-secret", "app-reader"),
    ("bob", "bob-secret", "app-writer"),
];

/// A client that logs in as `user` (at connect, and again whenever etcd
/// says the token went stale).
fn login(endpoints: &[String], user: &str, password: &str) -> Result<Client, Error> {
    Client::builder(endpoints)
        .request_timeout(Duration::from_secs(2))
        .credentials(Credentials::new(user, password))
        .connect()
}

fn main() -> Result<(), Error> {
    let etcd = support::etcd();
    let admin = Client::builder(&etcd.endpoints)
        .request_timeout(Duration::from_secs(2))
        .connect()?;

    // The root user (with the built-in root role) must exist before auth
    // can be turned on; it is the one who can turn it off again.
    match admin.user_add("root", ROOT_PASSWORD) {
        Ok(_) => {}
        Err(e @ Error::Etcd(EtcdError::UserAlreadyExists | EtcdError::UserEmpty)) => {
            eprintln!("this cluster already has users or auth on ({e}): run against a throwaway etcd (unset ETCD_ENDPOINTS)");
            return Err(e);
        }
        Err(e) => return Err(e),
    }
    let shown = show(&etcd.endpoints, &admin);
    let cleaned = cleanup(&etcd.endpoints, &admin);
    if let Err(e) = &shown {
        eprintln!("failed: {e}");
    }
    shown.and(cleaned)?;
    admin.close()?;
    println!("done");
    Ok(())
}

fn show(endpoints: &[String], admin: &Client) -> Result<(), Error> {
    admin.user_grant_role("root", "root")?;
    admin.role_add("app-reader")?;
    admin.role_grant_permission("app-reader", Permission::read("app/").prefix())?;
    admin.role_add("app-writer")?;
    admin.role_grant_permission("app-writer", Permission::read_write("app/").prefix())?;
    for (user, password, role) in USERS {
        admin.user_add(user, password)?;
        admin.user_grant_role(user, role)?;
    }
    admin.put("app/config", "v1")?;
    println!(
        "users {:?}, roles {:?}",
        admin.user_list()?.users(),
        admin.role_list()?.roles()
    );
    for role in ["app-reader", "app-writer"] {
        for p in admin.role_get(role)?.permissions() {
            println!(
                "role {role}: {:?} on [{}, {})",
                p.permission_type(),
                String::from_utf8_lossy(p.key()),
                String::from_utf8_lossy(p.end())
            );
        }
    }

    admin.auth_enable()?;
    println!("auth enabled");

    // The client made before auth was on has no token: etcd no longer
    // serves it.
    match admin.get("app/config") {
        Err(Error::Etcd(EtcdError::UserEmpty)) => {
            println!("without credentials: refused (EtcdError::UserEmpty)")
        }
        other => println!("without credentials: unexpected {other:?}"),
    }

    // A wrong password fails at connect, not at the first call.
    match login(endpoints, "alice", "not-her-password") {
        Err(Error::Etcd(EtcdError::AuthFailed)) => {
            println!("wrong password: refused at connect (EtcdError::AuthFailed)")
        }
        Err(e) => println!("wrong password: unexpected error {e:?}"),
        Ok(_) => println!("wrong password: unexpectedly accepted"),
    }

    let alice = login(endpoints, "alice", "alice-secret")?;
    let v = alice.get("app/config")?;
    println!("alice reads app/config = {}", v.kvs()[0].value_str()?);
    match alice.put("app/config", "v2") {
        Err(Error::Etcd(EtcdError::PermissionDenied)) => {
            println!("alice writes app/config: refused (EtcdError::PermissionDenied)")
        }
        other => println!("alice writes app/config: unexpected {other:?}"),
    }
    match alice.get("other/key") {
        Err(Error::Etcd(EtcdError::PermissionDenied)) => {
            println!("alice reads other/key: refused (EtcdError::PermissionDenied)")
        }
        other => println!("alice reads other/key: unexpected {other:?}"),
    }

    let bob = login(endpoints, "bob", "bob-secret")?;
    let put = bob.put("app/config", "v2")?;
    println!(
        "bob writes app/config = v2 at revision {}",
        put.header().revision()
    );
    println!(
        "alice now reads app/config = {}",
        alice.get("app/config")?.kvs()[0].value_str()?
    );
    alice.close()?;
    bob.close()
}

/// Turns auth off (as root) and removes what `show` made; a step that
/// finds its work already undone (auth not on, no such user) is fine, so
/// this cleans up after a failure at any point.
fn cleanup(endpoints: &[String], admin: &Client) -> Result<(), Error> {
    match login(endpoints, "root", ROOT_PASSWORD) {
        Ok(root) => {
            root.auth_disable()?;
            root.close()?;
            println!("auth disabled");
        }
        Err(Error::Etcd(EtcdError::AuthNotEnabled)) => {}
        Err(e) => return Err(e),
    }
    let gone = |r: Result<_, Error>| match r {
        Ok(_)
        | Err(Error::Etcd(EtcdError::UserNotFound))
        | Err(Error::Etcd(EtcdError::RoleNotFound)) => Ok(()),
        Err(e) => Err(e),
    };
    for user in ["alice", "bob", "root"] {
        gone(admin.user_delete(user))?;
    }
    for role in ["app-reader", "app-writer"] {
        gone(admin.role_delete(role))?;
    }
    admin.delete_with("app/", DeleteOptions::new().prefix())?;
    println!("users and roles removed");
    Ok(())
}
